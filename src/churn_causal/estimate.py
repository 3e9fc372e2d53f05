"""Selection-corrected effects on any tidy table: configure, ``fit``, read the result.

>>> est = EffectEstimator("treated", ["score", "tier"], duration="duration_days",
...                       event="churned", horizon=365)               # doctest: +SKIP
>>> result = est.fit(cohort)                                          # doctest: +SKIP
>>> result.to_dict()["methods"]["iptw"]["risk_difference"]            # doctest: +SKIP

Methods (each on every scale the outcome allows):

* ``naive``: the plain contrast;
* ``match``: 1:1 nearest neighbour on the propensity logit with replacement, caliper, exact
  strata (ATT);
* ``iptw``: inverse probability of treatment weights (ATT or ATE), normalised within group,
  optionally trimmed;
* ``dr``: augmented IPW (doubly robust) on the risk or mean difference; a time-to-event outcome
  enters as "event by the horizon" with inverse-probability-of-censoring weights.

Scales: ``risk_difference`` and ``rmst_difference`` (days) for time-to-event outcomes, from
(weighted) Kaplan-Meier curves; ``risk_difference`` for binary and ``mean_difference`` for
continuous outcomes. Standard errors: a Poisson bootstrap clustered on ``cluster`` with the
propensity model held fixed (naive, match, iptw), and the cluster-robust influence function
(dr). Degenerate input fails with a clear message, or is reported in the result.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score

from churn_causal.design import CATEGORICAL_COVARIATES, NUMERIC_COVARIATES, prior_count_columns
from churn_causal.effects import fit_logit, match_nearest, spline_basis
from churn_causal.reliability import e_value, primary_method, verdict
from churn_causal.survival import cluster_bootstrap, cox_binary, km_curve, km_summary

SCHEMA_VERSION = 1
METHODS = ("naive", "match", "iptw", "dr")
PROPENSITY_MODELS = ("linear", "spline")
CURVE_POINTS = 61  # survival curves in the result: the horizon in 60 steps


class EstimationWarning(UserWarning):
    """The estimate exists but something about the input deserves attention."""


@dataclass
class EffectResult:
    """Everything an effect estimate reports; ``to_dict`` gives the documented JSON schema."""

    treatment: str
    estimand: str
    outcome_type: str
    n: dict[str, int]
    methods: dict[str, dict[str, dict[str, float]]]
    diagnostics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    by: dict[str, dict[str, Any]] = field(default_factory=dict)  # per level of ``by``
    refutation: dict[str, Any] | None = None  # DoWhy's cross-check and refuters
    cate: dict[str, Any] | None = None  # EconML's effect per level of ``by``
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # survival curves

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema_version": SCHEMA_VERSION,
            "treatment": self.treatment,
            "estimand": self.estimand,
            "outcome_type": self.outcome_type,
            "n": self.n,
            "methods": self.methods,
            "diagnostics": self.diagnostics,
            "warnings": self.warnings,
        }
        if self.by:
            out["by"] = self.by
        if self.refutation is not None:
            out["refutation"] = self.refutation
        if self.cate is not None:
            out["cate"] = self.cate
        if self.curves:
            out["curves"] = self.curves
        primary = self.methods[primary_method(self.methods, self.estimand)]
        out["e_value"] = (
            e_value(primary["risk_difference"]) if "risk_difference" in primary else None
        )
        out["verdict"] = verdict(out)
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> pd.DataFrame:
        """One row per method and scale."""
        rows = [
            {"method": m, "scale": s, **v}
            for m, scales in self.methods.items()
            for s, v in scales.items()
        ]
        return pd.DataFrame(rows).set_index(["method", "scale"])


@dataclass
class _Data:
    """The fitted inputs: encoded covariates, treatment, outcome and clusters."""

    x: np.ndarray
    t: np.ndarray
    cluster: np.ndarray
    shown: pd.DataFrame | None = None  # covariates as balance tables show them (every level)
    y: np.ndarray | None = None  # binary or continuous outcome
    duration: np.ndarray | None = None
    event: np.ndarray | None = None
    strata: np.ndarray | None = None  # survival curves per stratum, then standardised
    n_numeric: int = 0  # the first columns of x are the numeric covariates
    by_horizon: tuple[np.ndarray, np.ndarray] | None = None  # event by the horizon, IPC weights


class EffectEstimator:
    """Estimate the effect of a binary ``treatment`` on an outcome, adjusting for ``covariates``.

    Give either ``outcome`` (binary 0/1 or continuous) or ``duration`` and ``event`` with a
    ``horizon`` (time to event). ``cluster`` names the column of the unit that repeats across
    rows (a customer in stacked trials); the bootstrap and the robust variance resample it.
    ``exact`` columns must match exactly in ``match``. ``missing`` is "drop" (rows with missing
    covariates are dropped and counted) or "error". ``km_strata`` names a column (the trial of
    stacked trials) within whose levels the survival curves and censoring weights are computed
    before they are averaged. ``propensity`` is "linear" (logistic regression on the encoded
    covariates) or "spline" (plus cubic B-spline terms of the numeric ones).
    """

    def __init__(
        self,
        treatment: str,
        covariates: list[str],
        outcome: str | None = None,
        duration: str | None = None,
        event: str | None = None,
        horizon: float | None = None,
        estimand: str = "ATT",
        methods: tuple[str, ...] = METHODS,
        cluster: str | None = None,
        exact: tuple[str, ...] = (),
        caliper_sd: float = 0.2,
        trim: float | None = None,
        missing: str = "drop",
        by: str | None = None,
        km_strata: str | None = None,
        propensity: str = "linear",
        refute: bool = False,
        n_boot: int = 200,
        seed: int = 0,
    ) -> None:
        if (outcome is None) == (duration is None):
            raise ValueError("give either outcome= or duration= (with event= and horizon=)")
        if duration is not None and (event is None or horizon is None):
            raise ValueError("a time-to-event outcome needs event= and horizon=")
        if estimand not in ("ATT", "ATE"):
            raise ValueError(f"estimand must be ATT or ATE, not {estimand!r}")
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown method(s) {sorted(unknown)}; known: {list(METHODS)}")
        if propensity not in PROPENSITY_MODELS:
            raise ValueError(f"propensity must be one of {list(PROPENSITY_MODELS)}")
        if missing not in ("drop", "error"):
            raise ValueError("missing must be 'drop' or 'error'")
        self.treatment, self.covariates = treatment, list(covariates)
        self.outcome, self.duration, self.event, self.horizon = outcome, duration, event, horizon
        self.estimand, self.methods, self.cluster = estimand, tuple(methods), cluster
        self.exact, self.caliper_sd, self.trim = tuple(exact), caliper_sd, trim
        self.missing, self.by, self.n_boot, self.seed = missing, by, n_boot, seed
        self.refute, self.km_strata, self.propensity = refute, km_strata, propensity

    # ----------------------------------------------------------------------- preparation
    def _prepare(self, df: pd.DataFrame, notes: list[str]) -> tuple[_Data, pd.DataFrame]:
        needed = [self.treatment, *self.covariates, *self.exact]
        needed += [
            c for c in (self.outcome, self.duration, self.event, self.cluster, self.km_strata) if c
        ]
        absent = [c for c in dict.fromkeys(needed) if c not in df.columns]
        if absent:
            raise ValueError(f"columns not in the table: {absent}; it has {list(df.columns)}")
        incomplete = df[self.covariates].isna().any(axis=1)
        if incomplete.any():
            if self.missing == "error":
                rows = np.flatnonzero(incomplete.to_numpy())[:5] + 1
                raise ValueError(
                    f"{int(incomplete.sum())} rows have missing covariates (e.g. rows "
                    f"{', '.join(map(str, rows))}); fill them or use missing='drop'"
                )
            notes.append(f"dropped {int(incomplete.sum())} rows with missing covariates")
            df = df[~incomplete]
        df = df.reset_index(drop=True)
        t = df[self.treatment].to_numpy()
        if not np.isin(t, [0, 1, True, False]).all():
            raise ValueError(f"treatment '{self.treatment}' must be 0/1 or boolean")
        t = t.astype(bool)
        if t.all() or not t.any():
            raise ValueError(
                f"treatment '{self.treatment}' needs treated and untreated rows; it has "
                f"{int(t.sum())} treated of {len(t)}"
            )
        x, n_numeric = self._encode(df, notes)
        cluster = df[self.cluster].to_numpy() if self.cluster else np.arange(len(df))
        shown = pd.get_dummies(df[self.covariates], dtype=float)
        data = _Data(x=x, t=t, cluster=cluster, shown=shown, n_numeric=n_numeric)
        if self.km_strata:
            data.strata = pd.factorize(df[self.km_strata])[0]
        if self.outcome:
            data.y = df[self.outcome].to_numpy(dtype=float)
        else:
            data.duration = df[self.duration].to_numpy(dtype=float)
            data.event = df[self.event].to_numpy().astype(bool)
            data.by_horizon = _ipcw_outcome(data.duration, data.event, self.horizon, data.strata)
        return data, df

    def _encode(self, df: pd.DataFrame, notes: list[str]) -> tuple[np.ndarray, int]:
        """Numeric and boolean columns standardised, then text and categorical ones one-hot;
        also how many numeric columns lead."""
        cov = df[self.covariates]
        categorical = [c for c in self.covariates if not pd.api.types.is_numeric_dtype(cov[c])]
        numeric = [c for c in self.covariates if c not in categorical]
        parts = [cov[numeric].to_numpy(dtype=float)]
        if categorical:
            parts.append(
                pd.get_dummies(
                    cov[categorical].astype(str), drop_first=True, dtype=float
                ).to_numpy()
            )
        x = np.hstack(parts)
        sd = x.std(axis=0)
        constant = sd == 0
        if constant[: len(numeric)].any():
            dropped = [c for c, k in zip(numeric, constant[: len(numeric)], strict=True) if k]
            notes.append(f"constant covariates left out: {dropped}")
        x = x[:, ~constant]
        return (x - x.mean(axis=0)) / sd[~constant], int((~constant[: len(numeric)]).sum())

    # ------------------------------------------------------------------------- estimation
    def fit(self, df: pd.DataFrame) -> EffectResult:
        notes: list[str] = []
        data, df = self._prepare(df, notes)
        logit = self._propensity(data)
        p = 1.0 / (1.0 + np.exp(-logit))
        diagnostics = self._overlap(data, logit, p)
        diagnostics["propensity_model"] = self.propensity
        diagnostics["survival_strata"] = self.km_strata
        outcome_type = (
            "time_to_event"
            if self.duration
            else ("binary" if np.isin(data.y, [0, 1]).all() else "continuous")
        )
        methods: dict[str, dict[str, dict[str, float]]] = {}
        balance: dict[str, np.ndarray] = {}
        curves: dict[str, dict[str, list[float]]] = {}
        if diagnostics["overlap"]["share_treated_in_common_support"] < 0.5:
            notes.append(
                "no overlap: fewer than half the treated have comparable untreated "
                "rows; only the naive contrast is reported"
            )
            chosen = ("naive",)
        else:
            chosen = self.methods
        for method in chosen:
            weights = self._weights(method, data, logit, p, df, diagnostics)
            if method == "dr":
                methods[method] = self._aipw(data, p, outcome_type)
            else:
                methods[method] = self._weighted_contrast(data, weights, outcome_type)
            if method == "iptw":
                diagnostics.update(_balance(data.x, data.t, weights, "iptw_{}"))
            if method != "dr":
                balance[method] = _smd(data.shown.to_numpy(), data.t, weights)
            curve = methods[method].pop("survival_curve", None)
            if curve:
                curves[method] = curve
        diagnostics["balance"] = {
            "covariates": list(data.shown.columns),
            **{m: list(map(float, v)) for m, v in balance.items()},
        }
        primary = primary_method(methods, self.estimand)
        for key in ("max_abs_smd", "variance_ratio_furthest"):
            after = diagnostics.get(f"{primary}_{key}")
            if after is not None:
                diagnostics[f"{key}_after"] = after
        for message in notes:
            warnings.warn(message, EstimationWarning, stacklevel=2)
        return EffectResult(
            treatment=self.treatment,
            estimand=self.estimand,
            outcome_type=outcome_type,
            n={"treated": int(data.t.sum()), "control": int((~data.t).sum())},
            methods=methods,
            diagnostics=diagnostics,
            warnings=notes,
            curves=curves,
            by=self.fit_by(df) if self.by else {},
            cate=self._cate(df, data, outcome_type) if self.by and len(chosen) > 1 else None,
            refutation=(
                self._refute(df, data, methods["iptw"]["risk_difference"]["se"])
                if self.refute and "iptw" in methods
                else None
            ),
        )

    def _cate(self, df: pd.DataFrame, data: _Data, outcome_type: str) -> dict[str, Any]:
        """EconML's conditional effect per level of ``by``, beside the stratified estimates."""
        from churn_causal.heterogeneity import cate_by_level

        if outcome_type == "time_to_event":
            y, c = data.by_horizon
        else:
            y, c = data.y, np.ones(len(data.t))
        known = c > 0
        return cate_by_level(
            df[self.by][known],
            data.x[known],
            data.t[known],
            y[known],
            c[known],
            binary=outcome_type != "continuous",
            seed=self.seed,
        )

    def _refute(self, df: pd.DataFrame, data: _Data, se: float) -> dict[str, Any]:
        """DoWhy's estimate and refuters on the binary outcome (by the horizon, where known)."""
        from churn_causal.refute import dowhy_check

        if self.outcome:
            outcome = self.outcome
        else:
            y, c = data.by_horizon
            outcome = "_event_by_horizon"
            df = df.assign(**{outcome: np.where(c > 0, y, np.nan)})
        return dowhy_check(
            df, self.treatment, self.covariates, outcome, self.estimand, seed=self.seed, se=se
        )

    def fit_by(self, df: pd.DataFrame, column: str | None = None) -> dict[str, dict[str, Any]]:
        """The same estimate within each level of ``column`` (default ``by``, e.g. per tier):
        ``{level: {n, methods, e_value, verdict}}`` or ``{level: {error}}``."""
        column = column or self.by
        if column not in df.columns:
            raise ValueError(f"by='{column}' is not a column of the table")
        sub = copy.copy(self)
        sub.by, sub.refute = None, False  # refuted once, on the whole table
        sub.exact = tuple(c for c in self.exact if c != column)
        out = {}
        for level, part in df.groupby(column, observed=True, sort=True):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", EstimationWarning)
                    r = sub.fit(part).to_dict()
                out[str(level)] = {k: r[k] for k in ("n", "methods", "e_value", "verdict")}
            except ValueError as exc:  # e.g. no treated in this stratum
                out[str(level)] = {"error": str(exc)}
        return out

    def _propensity(self, data: _Data) -> np.ndarray:
        x = data.x
        if self.propensity == "spline":
            x = np.hstack([x, spline_basis(x[:, : data.n_numeric])])
        return fit_logit(x, data.t)

    def _overlap(self, data: _Data, logit: np.ndarray, p: np.ndarray) -> dict[str, Any]:
        lo, hi = logit[~data.t].min(), logit[~data.t].max()
        inside = (logit[data.t] >= lo) & (logit[data.t] <= hi)
        return {
            "propensity_auc": float(roc_auc_score(data.t, p)),
            **_balance(data.x, data.t, np.ones(len(data.t)), "{}_before"),
            "overlap": {
                "share_treated_in_common_support": float(inside.mean()),
                "propensity_quantiles_treated": _quantiles(p[data.t]),
                "propensity_quantiles_control": _quantiles(p[~data.t]),
                "histogram": {
                    "edges": np.linspace(0, 1, 41).tolist(),
                    "treated": np.histogram(p[data.t], np.linspace(0, 1, 41), density=True)[
                        0
                    ].tolist(),
                    "control": np.histogram(p[~data.t], np.linspace(0, 1, 41), density=True)[
                        0
                    ].tolist(),
                },
            },
        }

    def _weights(self, method, data, logit, p, df, diagnostics) -> np.ndarray:
        """Row weights (treated and controls) that make the contrast estimate the estimand."""
        t = data.t
        if method in ("naive", "dr"):
            return np.ones(len(t))
        if method == "match":
            if self.estimand != "ATT":
                raise ValueError("match estimates the ATT; use iptw or dr for the ATE")
            partner = self._partners(df, logit, t)
            matched = partner >= 0
            w = np.where(matched, 1.0, 0.0)
            w += np.bincount(partner[matched], minlength=len(t))
            diagnostics["matched_fraction"] = float(matched[t].mean())
            diagnostics.update(_balance(data.x, t, w, "match_{}"))
            diagnostics["matched_controls"] = int((w[~t] > 0).sum())
            return w
        if self.estimand == "ATT":
            w = np.where(t, 1.0, p / (1 - p))
        else:
            w = np.where(t, 1 / p, 1 / (1 - p))
        if self.trim:
            cap = np.quantile(w, 1 - self.trim)
            w = np.minimum(w, cap)
        for group in (t, ~t):  # stabilised: each group's weights sum to its size
            w[group] *= group.sum() / w[group].sum()
        diagnostics["ess"] = {"treated": _ess(w[t]), "control": _ess(w[~t])}
        diagnostics["max_weight"] = float(w.max())
        return w

    def _partners(self, df: pd.DataFrame, logit: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Each treated row's matched control (-1 if none), exact on the ``exact`` columns."""
        strata = (  # one integer per combination of the exact columns (vectorised)
            df.groupby(list(self.exact), sort=False, observed=True, dropna=False)
            .ngroup()
            .to_numpy()
            if self.exact
            else np.zeros(len(t))
        )
        return match_nearest(logit, t, strata, self.caliper_sd)

    def matched_pairs(self, df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The rows kept and the matched pairs as (treated row, control row) positions in
        them, for contrasts aligned on each treated row's own time of treatment."""
        data, df = self._prepare(df, [])
        partner = self._partners(df, self._propensity(data), data.t)
        treated = np.flatnonzero(partner >= 0)
        return df, treated, partner[treated]

    def _weighted_contrast(self, data, weights, outcome_type) -> dict[str, dict[str, float]]:
        t, keep = data.t, weights > 0
        treat, ctrl = t & keep, ~t & keep

        target = treat if self.estimand == "ATT" else treat | ctrl
        if data.strata is not None:  # only strata with both arms can be compared
            both = np.intersect1d(data.strata[treat], data.strata[ctrl])
            target = target & np.isin(data.strata, both)

        def risk_rmst(d, e, w):
            return km_summary(d, e, self.horizon, w)

        def stats(w: np.ndarray) -> dict[str, np.ndarray]:
            if outcome_type == "time_to_event":
                r1, m1 = _km(data, treat, target, w, risk_rmst)
                r0, m0 = _km(data, ctrl, target, w, risk_rmst)
                return {"risk_difference": r1 - r0, "rmst_difference": m1 - m0}, r0
            y1 = (w[:, treat] @ data.y[treat]) / w[:, treat].sum(axis=1)
            y0 = (w[:, ctrl] @ data.y[ctrl]) / w[:, ctrl].sum(axis=1)
            scale = "risk_difference" if outcome_type == "binary" else "mean_difference"
            return {scale: y1 - y0}, y0

        point, control = stats(weights[None, :])
        boot = cluster_bootstrap(
            data.cluster,
            self.n_boot,
            self.seed,
            lambda bw: np.column_stack(list(stats(bw * weights)[0].values())),
        )
        out = {
            scale: _interval(float(v[0]), boot[:, i], int(treat.sum()), int(ctrl.sum()))
            for i, (scale, v) in enumerate(point.items())
        }
        if "risk_difference" in out:
            out["risk_difference"]["risk_control"] = float(control[0])
        if outcome_type == "time_to_event":
            out["hazard_ratio"] = self._hazard_ratio(data, weights, treat | ctrl)
            grid = np.linspace(0, self.horizon, CURVE_POINTS)

            def curve(d, e, w):
                return (km_curve(d, e, grid, w),)

            out["survival_curve"] = {
                "days": grid.tolist(),
                **{
                    arm: _km(data, rows, target, weights[None, :], curve)[0][0].tolist()
                    for arm, rows in (("treated", treat), ("control", ctrl))
                },
            }
        return out

    def _hazard_ratio(self, data: _Data, weights: np.ndarray, rows: np.ndarray) -> dict:
        """Weighted Cox hazard ratio (reported, not leaned on) with cluster-robust CI."""
        beta, se = cox_binary(
            data.duration[rows], data.event[rows], data.t[rows], weights[rows], data.cluster[rows]
        )
        return {
            "estimate": float(np.exp(beta)),
            "se": se,
            "ci_low": float(np.exp(beta - 1.96 * se)),
            "ci_high": float(np.exp(beta + 1.96 * se)),
            "n_treated": int(data.t[rows].sum()),
            "n_control": int((~data.t[rows]).sum()),
            "se_scale": "log hazard ratio",
        }

    def _aipw(self, data: _Data, p: np.ndarray, outcome_type: str) -> dict[str, dict[str, float]]:
        """Augmented IPW with a cluster-robust influence-function standard error."""
        t = data.t
        if outcome_type == "time_to_event":
            y, c = data.by_horizon
            scale = "risk_difference"
        else:
            y, c = data.y, np.ones(len(t))
            scale = "risk_difference" if outcome_type == "binary" else "mean_difference"
        known = c > 0
        m = {}
        for arm in (True, False):
            rows = known & (t == arm)
            if outcome_type == "continuous":
                model = LinearRegression().fit(data.x[rows], y[rows], sample_weight=c[rows])
                m[arm] = model.predict(data.x)
            else:
                model = LogisticRegression(C=1e4, max_iter=5000)
                model.fit(data.x[rows], y[rows].astype(int), sample_weight=c[rows])
                m[arm] = model.predict_proba(data.x)[:, 1]
        y0 = np.where(known, y, 0.0)
        if self.estimand == "ATT":
            share = t.mean()
            odds = p / (1 - p)
            psi = (t * c * (y0 - m[False]) - (~t) * odds * c * (y0 - m[False])) / share
            # tau solves mean(psi - t * tau / share) = 0
            tau = psi.mean()
            phi = psi - t * tau / share
            control = (t * c * y0).sum() / (t * c).sum() - tau  # treated risk minus effect
        else:
            psi = (
                m[True]
                - m[False]
                + t * c * (y0 - m[True]) / p
                - (~t) * c * (y0 - m[False]) / (1 - p)
            )
            tau = psi.mean()
            phi = psi - tau
            control = (m[False] + (~t) * c * (y0 - m[False]) / (1 - p)).mean()
        se = _cluster_se(phi, data.cluster)
        out = {
            "estimate": float(tau),
            "se": se,
            "ci_low": float(tau - 1.96 * se),
            "ci_high": float(tau + 1.96 * se),
            "n_treated": int(t.sum()),
            "n_control": int((~t).sum()),
        }
        if scale == "risk_difference":
            out["risk_control"] = float(control)
        return {scale: out}


# ---------------------------------------------------------------------------- helpers
def _ipcw_outcome(duration, event, horizon, strata=None) -> tuple[np.ndarray, np.ndarray]:
    """Churned by the horizon, and inverse-probability-of-censoring weights (0 where the
    status at the horizon is unknown), with censoring survival from Kaplan-Meier (within each
    stratum, when given: censoring depends on the trial in stacked trials)."""
    if strata is not None:
        y, c = np.zeros(len(duration)), np.zeros(len(duration))
        for s in np.unique(strata):
            rows = strata == s
            y[rows], c[rows] = _ipcw_outcome(duration[rows], event[rows], horizon)
        return y, c
    known = (event & (duration <= horizon)) | (duration >= horizon)
    y = (event & (duration <= horizon)).astype(float)
    at = np.minimum(duration, horizon)
    # Censoring "events" are the censored rows; evaluate G just before each row's time.
    order = np.argsort(duration, kind="stable")
    d, cens = duration[order], ~event[order]
    times = np.unique(d[cens])
    n_at = len(d) - np.searchsorted(d, times, side="left")
    n_cens = np.searchsorted(d[cens], times, side="right") - np.searchsorted(
        d[cens], times, side="left"
    )
    g = np.cumprod(1 - n_cens / n_at)
    idx = np.searchsorted(times, at, side="left") - 1  # strictly before the row's time
    g_at = np.where(idx >= 0, g[np.maximum(idx, 0)], 1.0)
    c = np.where(known, 1.0 / np.maximum(g_at, 1e-6), 0.0)
    return y, c


def _km(data: _Data, arm: np.ndarray, target: np.ndarray, w: np.ndarray, summary) -> tuple:
    """``summary(duration, event, weights)`` of the weighted Kaplan-Meier of the ``arm`` rows,
    per weight row of ``w`` (B x n). With strata (``km_strata``) it is computed per stratum and
    averaged with the strata's shares of the ``target`` rows' weights (the treated for the ATT).
    Stacked trials need this: later trials are censored sooner and churn at other rates, so
    one pooled curve mixes the trials differently at each follow-up time (dependent
    censoring; in the simulator it overstated both arms' risk by about 5%)."""
    if data.strata is None:
        return summary(data.duration[arm], data.event[arm], w[:, arm])
    strata = np.unique(data.strata[target])
    mass = [w[:, target & (data.strata == s)].sum(axis=1) for s in strata]
    norm = np.sum(mass, axis=0)
    total = None
    for s, m in zip(strata, mass, strict=True):  # one pass per trial, vectorised within
        rows = arm & (data.strata == s)
        part = summary(data.duration[rows], data.event[rows], w[:, rows])
        share = m / norm
        part = tuple(share.reshape(-1, *([1] * (p.ndim - 1))) * p for p in part)
        total = part if total is None else tuple(a + b for a, b in zip(total, part, strict=True))
    return total


def _cluster_se(phi: np.ndarray, cluster: np.ndarray) -> float:
    _, codes = np.unique(cluster, return_inverse=True)
    sums = np.bincount(codes, weights=phi)
    n = len(phi)
    return float(np.sqrt((sums**2).sum()) / n)


def _interval(point: float, boot: np.ndarray, n_t: int, n_c: int) -> dict[str, float]:
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {
        "estimate": point,
        "se": float(boot.std(ddof=1)),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n_treated": n_t,
        "n_control": n_c,
    }


def _balance(x: np.ndarray, t: np.ndarray, w: np.ndarray, name: str) -> dict[str, float]:
    """Largest absolute standardised mean difference of the encoded covariates under weights
    ``w`` (pooled SD of the unweighted groups), and the variance ratio furthest from 1."""
    smd = _smd(x, t, w)
    v1 = np.cov(x[t], rowvar=False, aweights=w[t], ddof=0).reshape(-1)[:: x.shape[1] + 1]
    v0 = np.cov(x[~t], rowvar=False, aweights=w[~t], ddof=0).reshape(-1)[:: x.shape[1] + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where((v0 > 0) & (v1 > 0), v1 / v0, 1.0)
    worst = ratio[np.argmax(np.abs(np.log(ratio)))] if len(ratio) else 1.0
    return {
        name.format("max_abs_smd"): float(np.abs(smd).max()),
        name.format("variance_ratio_furthest"): float(worst),
    }


def _smd(x: np.ndarray, t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Signed standardised mean difference of each column under weights ``w``."""
    pooled = np.sqrt((x[t].var(axis=0) + x[~t].var(axis=0)) / 2)
    diff = np.average(x[t], axis=0, weights=w[t]) - np.average(x[~t], axis=0, weights=w[~t])
    return np.divide(diff, pooled, out=np.zeros_like(diff), where=pooled > 0)


def _ess(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w**2).sum())


def _quantiles(p: np.ndarray) -> dict[str, float]:
    q = np.quantile(p, [0.01, 0.25, 0.5, 0.75, 0.99])
    return dict(zip(["p01", "p25", "p50", "p75", "p99"], map(float, q), strict=True))


def cohort_estimator(touchpoints: list[str], horizon: int, **kwargs) -> EffectEstimator:
    """The estimator the product uses on a stacked target-trial cohort: survival curves per
    trial (later trials are censored sooner and churn at other rates) and a spline propensity
    (uptake reacts to health non-linearly, e.g. a CS manager to a fall in health)."""
    covariates = [*NUMERIC_COVARIATES, *prior_count_columns(touchpoints), *CATEGORICAL_COVARIATES]
    # Matching (ATT only) is exact on trial and tier: balanced risk-set matching.
    exact = ("trial", "tier") if kwargs.get("estimand", "ATT") == "ATT" else ()
    return EffectEstimator(
        "treated",
        covariates,
        duration="duration_days",
        event="churned",
        horizon=horizon,
        cluster="customer_id",
        exact=exact,
        **{"km_strata": "trial", "propensity": "spline", **kwargs},
    )
