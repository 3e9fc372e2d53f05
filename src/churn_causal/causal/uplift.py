"""Who to touch next: each customer-trial's own effect, learned doubly robustly, and a policy
that spends a budget where the touch prevents the most churn.

**The learner** (a DR-learner, Kennedy 2023). On the target-trial cohort, with the product
estimator's covariates and the days to the next renewal, its sampling weights, a propensity p
and per arm an outcome model m_a (of churn by the horizon, and of days retained up to it), each
row gets the doubly robust score of its effect

    psi = m_1 - m_0 + t c (y - m_1) / p - (1 - t) c (y - m_0) / (1 - p)

(c: the censoring weight of the product's doubly robust estimate, 0 where the status at the
horizon is unknown; p clipped to [0.01, 0.99]). Its mean over any group of rows is a doubly
robust estimate of the group's mean effect; regressing it on the covariates learns the
conditional effect. Every model is **cross-fitted**: customers are split into folds, and a
row's propensity, outcome predictions and predicted effect come from models fitted on the other
folds, so none of them saw its own outcome. The nuisances are gradient-boosted trees
(scikit-learn's histogram GBM): main-effects logits left the scores of whole tiers biased where
uptake follows falling health (docs/methods.md). The effect regression is the same kind of
model with shallow trees and large leaves, because the scores are noisy.

**Money per touch**: gross profit kept = the change in days retained / (365.25 / 12) x the
customer's MRR x the gross margin; net = that minus the touch's cost.

**A policy under a budget** touches, in order of net value per cost, the customers whose net
value is positive, until the period's budget is spent. Its value, and that of the current
practice (the customers CS touches now, at the same spend) and of random targeting at the same
spend, are means of the scores over the rows each would touch, on cross-fitted predictions;
their 95% intervals are cluster-robust (by customer) from the scores' influence functions, and
the differences between them get intervals of their own (paired, on the same rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.tree import DecisionTreeRegressor

from churn_causal import i18n
from churn_causal.causal.estimate import cluster_se
from churn_causal.design.trials import MONTH_DAYS
from churn_causal.i18n import t

CLIP = 0.01  # propensities are clipped to [CLIP, 1 - CLIP] in the scores
BINS = 255  # quantile bins per number, as the trees' own
NUISANCE_DEPTH = 4  # the nuisance models' trees
NUISANCE_LEAF = 100  # rows at least in a nuisance tree's leaf
NUISANCE_RATE = 0.15  # the nuisance models' learning rate
NUISANCE_ROWS = 400_000  # rows at most a nuisance model is fitted on (Nuisances._capped)
GAIN_POINTS = 21  # the gain curve at shares 0, 5%, ..., 100% of the rows touched


@dataclass
class Features:
    """The models' inputs: each number as its quantile bin (the trees bin them so anyway; a
    bin's upper edges are fixed when fitting, so that rows encoded later fall in the same
    bins, and binning once spares the weighted fits their slow weighted quantiles), missing
    kept; categories as codes of the levels seen when fitting (an unseen level is missing)."""

    edges: dict[str, np.ndarray]
    categories: dict[str, list[str]]

    @classmethod
    def of(cls, table: pd.DataFrame, covariates: list[str]) -> Features:
        numeric = [c for c in covariates if pd.api.types.is_numeric_dtype(table[c])]
        return cls(
            {c: _edges(table[c].to_numpy(dtype=float)) for c in numeric},
            {c: sorted(table[c].astype(str).unique()) for c in covariates if c not in numeric},
        )

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.r_[np.zeros(len(self.edges), bool), np.ones(len(self.categories), bool)]

    def matrix(self, table: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(table), len(self.edges) + len(self.categories)), dtype=np.float32)
        for j, (c, edges) in enumerate(self.edges.items()):
            v = table[c].to_numpy(dtype=float)
            out[:, j] = np.where(np.isnan(v), np.nan, np.searchsorted(edges, v, side="left"))
        for j, (c, levels) in enumerate(self.categories.items(), start=len(self.edges)):
            codes = pd.Categorical(table[c].astype(str), categories=levels).codes
            out[:, j] = np.where(codes >= 0, codes, np.nan)
        return out


def _edges(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Upper edges of at most ``bins`` quantile bins of the known values (every distinct
    value its own bin where there are few)."""
    known = values[~np.isnan(values)]
    distinct = np.unique(known)
    if len(distinct) <= bins:
        return distinct
    return np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:]))


@dataclass
class Scores:
    """Per cohort row: the doubly robust scores of the effect on churn by the horizon (risk,
    1/0 scale) and on days retained, the cross-fitted predictions of both, and each row's
    weight (its sampling weight) and customer (the cluster)."""

    risk: np.ndarray
    days: np.ndarray
    risk_hat: np.ndarray
    days_hat: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray
    risk_att: np.ndarray  # scores whose mean is the effect among the treated
    days_att: np.ndarray


class UpliftLearner:
    """Cross-fitted DR-learner of the effect of a touch on churn by the horizon and on days
    retained (scikit-learn style: parameters here, ``fit`` on the prepared cohort, then
    ``effect`` on any rows encoded the same way)."""

    def __init__(
        self,
        folds: int = 2,
        max_iter: int = 60,
        max_depth: int = 3,
        min_leaf_share: float = 0.02,
        learning_rate: float = 0.08,
        nuisance_iter: int = 60,
        seed: int = 0,
    ) -> None:
        self.folds, self.max_iter, self.max_depth = folds, max_iter, max_depth
        self.nuisance_iter = nuisance_iter
        self.min_leaf_share, self.learning_rate, self.seed = min_leaf_share, learning_rate, seed

    def fit(
        self, data: Any, horizon: int, features: Features, table: pd.DataFrame
    ) -> UpliftLearner:
        """``data``: a prepared cohort's encoded inputs (``EffectEstimator.prepare(...).data``:
        treatment, sampling weights, customers, the event by the horizon with its censoring
        weights, durations); ``features`` of ``table`` (the prepared rows) are the inputs of
        every model, so that rows encoded later (customers now) are read the same way."""
        t, b = data.t, data.base
        y, c = data.by_horizon
        x = features.matrix(table)
        self.features_ = features
        fold = _folds(data.cluster, self.folds, self.seed)
        nuisance = Nuisances(self.nuisance_iter, self.seed, features.categorical_mask)
        p = nuisance.propensity(x, t, b, fold)
        days = np.minimum(data.duration, horizon).astype(float)
        risk, risk_att = _dr_scores(nuisance.outcomes(x, t, y, c * b, fold, True), t, y, c, b, p)
        retained, days_att = _dr_scores(
            nuisance.outcomes(x, t, days, c * b, fold, False), t, days, c, b, p
        )
        self.models_: dict[str, list] = {"risk": [], "days": []}
        self.blp_: dict[str, dict[str, float]] = {}
        hats = {}
        for name, score in (("risk", risk), ("days", retained)):
            hat = np.empty(len(t))
            for k in range(self.folds):
                out = fold == k
                model = self._model(int((~out).sum())).fit(
                    x[~out], score[~out], sample_weight=b[~out]
                )
                hat[out] = model.predict(x[out])
                self.models_[name].append(model)
            # the best linear predictor of the scores from the predictions (Chernozhukov et
            # al. 2018): its slope says how much of the predicted spread is real; predictions
            # are shrunk by it (ranks unchanged), so that amounts are not overstated
            self.blp_[name] = _blp(score, hat, b, data.cluster)
            hats[name] = self._calibrated(name, hat)
        self.scores_ = Scores(
            risk, retained, hats["risk"], hats["days"], b, data.cluster, risk_att, days_att
        )
        self.propensity_ = p
        return self

    def _model(self, rows: int) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            min_samples_leaf=max(50, int(self.min_leaf_share * rows)),
            l2_regularization=1.0,
            early_stopping=False,
            categorical_features=self.features_.categorical_mask,
            random_state=self.seed,
        )

    def effect(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Predicted effect on churn by the horizon and on days retained for the rows of
        ``table`` (the covariates' columns): the mean of the folds' models, calibrated."""
        x = self.features_.matrix(table)
        return tuple(
            self._calibrated(name, np.mean([m.predict(x) for m in self.models_[name]], axis=0))
            for name in ("risk", "days")
        )

    def _calibrated(self, name: str, hat: np.ndarray) -> np.ndarray:
        """Predictions shrunk towards their mean by the BLP slope (0 if it is negative)."""
        b = self.blp_[name]
        return b["mean_score"] + max(b["slope"], 0.0) * (hat - b["mean_hat"])


class Nuisances:
    """Cross-fitted gradient-boosted nuisance models: every row's propensity and outcome
    predictions come from models fitted on the other folds' customers (Chernozhukov et al.
    2018), so that the doubly robust scores do not reuse a row's own outcome. Flexible
    models, because uptake and churn interact with tier, phase and the renewal date in ways
    a main-effects logit misses, and that misfit biases per-group effects (docs/methods.md)."""

    def __init__(self, max_iter: int, seed: int, categorical: np.ndarray) -> None:
        self.max_iter, self.seed, self.categorical = max_iter, seed, categorical
        self._rng = np.random.default_rng(seed)

    def _capped(self, part: np.ndarray, w: np.ndarray, keep: np.ndarray | None = None):
        """The rows of ``part`` a model is fitted on, with their weights: all of them up to
        ``NUISANCE_ROWS``; beyond it, every row of ``keep`` (the rare treated, if given) and a
        random share of the others, weighted up by its inverse. The scores are still every
        row's; only the nuisance fits, whose precision gains little beyond that size, are
        spared."""
        keep = np.zeros(len(part), bool) if keep is None else keep
        n_keep = int((part & keep).sum())
        others = int(part.sum()) - n_keep
        if n_keep + others <= NUISANCE_ROWS:
            return part, w
        q = max(NUISANCE_ROWS - n_keep, 1) / others
        drawn = self._rng.random(len(part)) < q
        return part & (keep | drawn), np.where(keep, w, w / q)

    def _fit(self, model, x, y, w):
        return model(
            max_iter=self.max_iter,
            max_depth=NUISANCE_DEPTH,
            learning_rate=NUISANCE_RATE,
            min_samples_leaf=NUISANCE_LEAF,
            categorical_features=self.categorical,
            early_stopping=False,
            random_state=self.seed,
        ).fit(x, y, sample_weight=w)

    def propensity(self, x, t, b, fold) -> np.ndarray:
        """P(treated | x), clipped to [CLIP, 1 - CLIP]."""
        p = np.empty(len(t))
        for k in np.unique(fold):
            out = fold == k
            rows, w = self._capped(~out, b, t)
            p[out] = self._fit(HistGradientBoostingClassifier, x[rows], t[rows], w[rows]) \
                .predict_proba(x[out])[:, 1]  # fmt: skip
        return np.clip(p, CLIP, 1.0 - CLIP)

    def outcomes(self, x, t, y, w, fold, binary: bool) -> dict[bool, np.ndarray]:
        """Per arm, the outcome's expectation given x (rows of weight 0, e.g. censored before
        the horizon, are left out of the fits)."""
        m = {arm: np.empty(len(t)) for arm in (True, False)}
        for k in np.unique(fold):
            out = fold == k
            for arm in (True, False):
                part, v = self._capped(~out & (t == arm) & (w > 0), w)
                m[arm][out] = self._predict(x[part], y[part], v[part], x[out], binary)
        return m

    def _predict(self, x, y, w, new, binary: bool) -> np.ndarray:
        if len(np.unique(y)) < 2 or len(y) < 2 * NUISANCE_LEAF:  # nothing to learn
            return np.full(len(new), float(np.average(y, weights=w)) if w.sum() > 0 else 0.0)
        if binary:
            return self._fit(HistGradientBoostingClassifier, x, y.astype(int), w) \
                .predict_proba(new)[:, 1]  # fmt: skip
        return self._fit(HistGradientBoostingRegressor, x, y, w).predict(new)


def _dr_scores(m, t, y, c, b, p) -> tuple[np.ndarray, np.ndarray]:
    """Each row's doubly robust score of its effect (see the module's docstring) from the
    arms' outcome predictions ``m``, and its score of the effect among the treated (whose
    weighted mean is the ATT)."""
    y0 = np.where(c > 0, y, 0.0)
    ate = m[True] - m[False] + t * c * (y0 - m[True]) / p - (~t) * c * (y0 - m[False]) / (1 - p)
    # among the treated: the untreated weighted by the odds, no division by a small p
    att = (t * c * (y0 - m[False]) - (~t) * p / (1 - p) * c * (y0 - m[False])) / np.average(
        t, weights=b
    )
    return ate, att


def _blp(score, hat, weight, cluster) -> dict[str, float]:
    """Weighted least squares of the scores on the centred predictions: the slope (1: the
    predicted differences are right on average; 0: they are noise) with a cluster-robust SE."""
    w = weight / weight.sum()
    mean_hat, mean_score = float(w @ hat), float(w @ score)
    d = hat - mean_hat
    var = float(w @ d**2)
    slope = float(w @ (d * (score - mean_score))) / var if var > 0 else 0.0
    phi = weight * d * (score - mean_score - slope * d) / (var * weight.sum()) * len(score)
    se = cluster_se(phi, cluster)
    return {"slope": slope, "se": se, "mean_hat": mean_hat, "mean_score": mean_score}


def _folds(cluster: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold per customer (all of a customer's rows in one), at random."""
    codes, inverse = np.unique(cluster, return_inverse=True)
    return np.random.default_rng(seed).integers(0, folds, size=len(codes))[inverse]


# ------------------------------------------------------------------------------ money
def gross_profit_per_touch(days: np.ndarray, mrr: np.ndarray, gross_margin: float) -> np.ndarray:
    """Gross profit kept by a touch, from its effect on days retained."""
    return days / MONTH_DAYS * mrr * gross_margin


# ------------------------------------------------------------------------------ policy
def choose(
    value: np.ndarray,
    cost: float,
    budget_share: float | np.ndarray,
    weight: np.ndarray,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """Rows to touch: the highest ``value`` per ``cost`` first, only where the net value is
    positive, until the (``weight``-weighted) share ``budget_share`` of the rows is reached;
    the last row taken in part (its share of the weight), so that spends match exactly. Given
    several shares, one row of shares per share (from one sort: ``order``, if already made)."""
    order = np.argsort(-value, kind="stable") if order is None else order
    total, w = weight.sum(), weight[order]
    before = np.cumsum(w) / total - w / total  # share of the weight ranked above each row
    shares = np.atleast_1d(np.asarray(budget_share, dtype=float))[:, None]
    take = np.clip((shares - before) * total / w, 0.0, 1.0)
    take[:, value[order] <= cost] = 0.0
    out = np.zeros((len(shares), len(value)))
    out[:, order] = take
    return out if np.ndim(budget_share) else out[0]


def mean_and_influence(values: np.ndarray, weight: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted mean and each row's influence on it."""
    total = weight.sum()
    mean = float((weight * values).sum() / total)
    return mean, weight * (values - mean) / total * len(values)


def _interval(point: float, se: float) -> dict[str, float]:
    return {"estimate": point, "se": se, "ci_low": point - 1.96 * se, "ci_high": point + 1.96 * se}


@dataclass
class PolicyValue:
    """Per row touched (per period, times the customers of a period): the effect on churn
    (risk, negative = prevented) and the gross profit kept, of the policy, of the current
    practice and of random targeting at the same spend, with paired differences."""

    share: float  # of the rows touched by each, at the same spend
    outcomes: dict[str, dict[str, dict[str, float]]]


def policy_value(
    scores: Scores,
    touched: np.ndarray,
    gp: tuple[np.ndarray, np.ndarray],
) -> PolicyValue:
    """The value per cohort row of touching ``touched`` (a share per row), of the current
    practice (the effect among those CS touches now, at the same share) and of random
    targeting at that share: mean effect on churn and gross profit kept (``gp``: its scores,
    and its scores among the treated), and the policy's gains over the other two."""
    w, cl = scores.weight, scores.cluster
    share = float((w * touched).sum() / w.sum())
    out: dict[str, dict[str, dict[str, float]]] = {}
    for outcome, (score, att) in (
        ("risk", (scores.risk, scores.risk_att)),
        ("gross_profit", gp),
    ):
        pol, phi_pol = mean_and_influence(touched * score, w)
        rnd, phi_rnd = mean_and_influence(share * score, w)
        cur, phi_cur = mean_and_influence(share * att, w)
        out[outcome] = {
            "policy": _interval(pol, cluster_se(phi_pol, cl)),
            "current": _interval(cur, cluster_se(phi_cur, cl)),
            "random": _interval(rnd, cluster_se(phi_rnd, cl)),
            "policy_minus_current": _interval(pol - cur, cluster_se(phi_pol - phi_cur, cl)),
            "policy_minus_random": _interval(pol - rnd, cluster_se(phi_pol - phi_rnd, cl)),
        }
    return PolicyValue(share, out)


def gain_curve(scores: Scores, ranking: np.ndarray, gp_score: np.ndarray) -> pd.DataFrame:
    """The cost-aware Qini curve: per share of rows touched (highest ``ranking`` first), the
    mean effect per row on churn and gross profit with 95% intervals, and random targeting's."""
    w, cl = scores.weight, scores.cluster
    shares = np.linspace(0.0, 1.0, GAIN_POINTS)
    order = np.argsort(-ranking, kind="stable")
    rows = []
    for share, touched in zip(shares, choose(ranking, -np.inf, shares, w, order), strict=True):
        row = {"share": share}
        for outcome, score in (("risk", scores.risk), ("gross_profit", gp_score)):
            v, phi = mean_and_influence(touched * score, w)
            se = cluster_se(phi, cl)
            row |= {outcome: v, f"{outcome}_low": v - 1.96 * se, f"{outcome}_high": v + 1.96 * se}
            row[f"{outcome}_random"] = share * float(np.average(score, weights=w))
        rows.append(row)
    return pd.DataFrame(rows)


def calibration(scores: Scores, bins: int = 10) -> pd.DataFrame:
    """Per decile of the predicted effect on churn: the mean prediction, and the doubly robust
    estimate of the decile's effect with its 95% interval (both in churn risk, 1/0 scale)."""
    w = scores.weight
    order = np.argsort(scores.risk_hat, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    decile = np.empty(len(w), dtype=int)
    decile[order] = np.minimum((cum * bins).astype(int), bins - 1)
    rows = []
    for d in range(bins):
        part = decile == d
        if not part.any():
            continue
        est, phi = mean_and_influence(scores.risk[part], w[part])
        se = cluster_se(phi, scores.cluster[part])
        rows.append(
            {
                "decile": d + 1,
                "rows": int(part.sum()),
                "predicted": float(np.average(scores.risk_hat[part], weights=w[part])),
                "estimated": est,
                "ci_low": est - 1.96 * se,
                "ci_high": est + 1.96 * se,
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------- the rule
RULE_FEATURES = (
    "tier", "phase", "contract_type", "score", "score_change_30d", "seats", "days_to_renewal",
)  # fmt: skip


@dataclass
class Rule:
    """A shallow tree on features a CS head can read, fitted to the predicted gross profit per
    touch: its leaves in the order to touch them, each with its condition in words, its share
    of the rows and the mean predicted effects."""

    tree: DecisionTreeRegressor
    columns: list[str]
    leaves: pd.DataFrame

    def leaf(self, features: pd.DataFrame) -> np.ndarray:
        return self.tree.apply(_rule_matrix(features, self.columns)[0])


def _rule_matrix(features: pd.DataFrame, columns: list[str] | None = None):
    """Numbers as they are and one indicator per level of the categories."""
    cats = [c for c in ("tier", "phase", "contract_type") if c in features]
    nums = [c for c in RULE_FEATURES if c in features and c not in cats]
    frame = pd.concat(
        [features[nums].astype(float), pd.get_dummies(features[cats].astype(str), prefix_sep="=")],
        axis=1,
    )
    if columns is not None:
        frame = frame.reindex(columns=columns, fill_value=0)
    return frame.to_numpy(dtype=float), list(frame.columns)


def fit_rule(
    features: pd.DataFrame,
    value: np.ndarray,
    risk: np.ndarray,
    weight: np.ndarray,
    depth: int = 2,
    min_leaf_share: float = 0.05,
) -> Rule:
    """The tree of ``depth`` on ``RULE_FEATURES`` fitted to ``value`` (predicted gross profit
    per touch), its leaves ranked by their mean value."""
    x, columns = _rule_matrix(features)
    tree = DecisionTreeRegressor(
        max_depth=depth, min_weight_fraction_leaf=min_leaf_share, random_state=0
    ).fit(x, value, sample_weight=weight)
    leaf = tree.apply(x)
    frame = pd.DataFrame(
        {"leaf": leaf, "w": weight, "value": value * weight, "risk": risk * weight}
    )
    g = frame.groupby("leaf").sum()
    leaves = pd.DataFrame(
        {
            "condition": [_condition(tree, columns, int(k)) for k in g.index],
            "share": g["w"] / weight.sum(),
            "gross_profit": g["value"] / g["w"],
            "risk": g["risk"] / g["w"],
        },
        index=g.index,
    ).sort_values("gross_profit", ascending=False)
    return Rule(tree, columns, leaves)


def _condition(tree: DecisionTreeRegressor, columns: list[str], leaf: int) -> str:
    """The path to ``leaf`` in words ("tier is Enterprise, score below 55.2"), one clause per
    feature (two cuts on the same number become a range)."""
    tr = tree.tree_
    parent = {}
    for node in range(tr.node_count):
        for child, side in ((tr.children_left[node], "left"), (tr.children_right[node], "right")):
            if child >= 0:
                parent[child] = (node, side)
    lower: dict[str, float] = {}
    upper: dict[str, float] = {}
    levels: dict[str, list[str]] = {}
    node = leaf
    while node in parent:
        up, side = parent[node]
        name, cut = columns[tr.feature[up]], float(tr.threshold[up])
        if "=" in name:  # an indicator: left is "not this level"
            column, level = name.split("=", 1)
            levels.setdefault(column, []).append(
                t("rule.not", level=i18n.name(level)) if side == "left" else i18n.name(level)
            )
        elif side == "left":
            upper[name] = min(cut, upper.get(name, np.inf))
        else:
            lower[name] = max(cut, lower.get(name, -np.inf))
        node = up
    parts = [
        t("rule.is", feature=t(f"rule.feature.{c}"), levels=t("common.and").join(v))
        for c, v in levels.items()
    ]
    for name in dict.fromkeys([*lower, *upper]):
        words = t(f"rule.feature.{name}")
        if name in lower and name in upper:
            parts.append(
                t(
                    "rule.between",
                    feature=words,
                    low=f"{lower[name]:.3g}",
                    high=f"{upper[name]:.3g}",
                )
            )
        elif name in upper:
            parts.append(t("rule.below", feature=words, value=f"{upper[name]:.3g}"))
        else:
            parts.append(t("rule.at_least", feature=words, value=f"{lower[name]:.3g}"))
    return t("rule.sep").join(parts) or t("rule.everyone")


def leaf_shares(rule: Rule, cost: float, share: float) -> pd.Series:
    """The share of each of the rule's groups it touches: whole groups in its order (those
    whose mean gross profit per touch exceeds its cost), the last one in part, up to ``share``
    of the rows in all (the groups' shares as fitted)."""
    left, part = share, {}
    for k, row in rule.leaves.iterrows():  # a few leaves
        worth = row["gross_profit"] > cost and row["share"] > 0
        part[k] = min(1.0, left / row["share"]) if worth else 0.0
        left -= part[k] * row["share"]
    return pd.Series(part, dtype=float)


def rule_touched(rule: Rule, leaf: np.ndarray, cost: float, share: float) -> np.ndarray:
    """Each row's share touched by the rule (``leaf_shares`` of its group)."""
    return leaf_shares(rule, cost, share).reindex(leaf).fillna(0.0).to_numpy()
