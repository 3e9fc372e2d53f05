"""What a touchpoint's programme does, and what if its uptake changed: incremental propensity
score interventions (Kennedy 2019) on person-weeks.

A scenario (``churn_causal.design.scenarios``) multiplies every week's odds of the touchpoint by
``delta`` where it applies. With p a week's probability of a touch given the customer's history
(a pooled logistic model of the week's health, its fall, tier, contract, seats, tenure, phase
and weeks since the last touch), the scenario's probability is q = delta p / (delta p + 1 - p),
and a week contributes the factor q/p if touched and (1 - q)/(1 - p) if not, i.e.
(delta A + 1 - A) / (delta p + 1 - p). A customer's weight at a week is the product of the
factors of the weeks before it. These weights are bounded for any p, so no week needs a
positivity the data lack; for delta = 0 ("none") a touched customer gets weight 0 and the rest
1 / prod(1 - p), which is usable only where few customers are touched (the effective sample
size says).

The outcomes follow the window week by week, within each tier (and the scenario's segment):
the customers alive at a week's start, A(b), lose the week's weighted churn hazard h(b) (the
weighted churn of the week's rows over their weighted count, the week's own factor included in
the churn) and gain the customers who enter the window that week (those already customers at
its start; in a calendar window also the new contracts), so A(b + 1) = A(b) (1 - h(b)) + E(b).
Customer-months are the sum of A(b), churned customers the sum of A(b) h(b), touches the sum of
A(b) times the week's weighted share of touches (q where the scenario applies, the touch as it
happened elsewhere), and revenue the same recursion over MRR. This is a Kaplan-Meier product
within each stratum, far less noisy than summing weighted rows: the weights' own spread cancels
in each week's ratio. Tenure windows reach past the data's end for late starters, who are
censored there: each week is also weighted by one over the share of customers of its tier and
contract type whose data covers that week (administrative censoring, known from the start
dates). The natural course is the same recursion without intervention weights.

Intervals: a Poisson bootstrap over customers with the models held fixed; every scenario, tier
and segment takes the same replicates, so money summed over tiers or set against costs has a
joint interval (``churn_causal.value.programme``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churn_causal import i18n
from churn_causal.causal.logit import Logit
from churn_causal.causal.resampling import poisson_draws
from churn_causal.causal.survival import bootstrap_interval
from churn_causal.data.contract import CSData
from churn_causal.design.engines import MEMORY
from churn_causal.design.person_weeks import PersonWeeks
from churn_causal.design.portable_weeks import person_weeks_on
from churn_causal.design.scenarios import Scenario
from churn_causal.design.trials import MONTH_DAYS, WEEK_DAYS
from churn_causal.progress import advance, progress

MIN_ESS = 0.10  # below this share of effective customers a scenario is not reported
MIN_ROWS = 50  # weeks with fewer rows than this do not gate (their ESS is noise)
MIN_COVERED = 0.05  # a tenure week the data covers for fewer customers of a stratum: beyond it
OUTCOMES = ("customers", "churned", "customer_months", "revenue", "events", "survivors",
            "survivor_mrr")  # fmt: skip
PROFILE = ("tier", "contract_type")
CATEGORIES = ("onboarding", "exposure")
NUMERIC = ("week", "log_seats")
HEALTH = ("score", "fall", "no_reading")


class UptakeModel:
    """A pooled logistic model of a week's touch (scikit-learn style): ``fit(pw, rows)``, then
    ``predict(pw, rows)``. ``health=False`` leaves the week's health out (a model of the
    profile and touch history only, to show what ignoring health does)."""

    def __init__(self, health: bool = True, C: float = 1e4) -> None:
        self.health, self.C = health, C

    def design(self, pw: PersonWeeks, rows: np.ndarray) -> np.ndarray:
        """Standardised covariates of ``rows`` in float32, a column at a time (the fit takes
        float32; millions of person-weeks never stand in float64)."""
        r = pw.rows
        columns: list[np.ndarray] = []
        for name in PROFILE:
            codes, levels = pd.factorize(pw.column(name)[rows], sort=True)
            columns += [codes == k for k in range(1, len(levels))]
        columns.append(r["onboarding"].to_numpy()[rows])
        exposure = r["exposure"].cat.codes.to_numpy()[rows]
        columns += [exposure == k for k in range(1, len(r["exposure"].cat.categories))]
        columns.append(r["week"].to_numpy()[rows])
        columns.append(np.log1p(pw.column("seats")[rows].astype(float)))
        if self.health:
            score = r["score"].to_numpy()[rows]
            missing = np.isnan(score)
            columns.append(np.where(missing, np.nanmean(score) if (~missing).any() else 0, score))
            columns.append(np.nan_to_num(r["fall"].to_numpy()[rows]))
            columns.append(missing)
        out = np.empty((len(rows), len(columns)), dtype=np.float32)
        if not hasattr(self, "scale_"):  # the fit's centre and scale, kept for predictions
            self.scale_ = [(float(np.mean(c)), float(np.std(c)) or 1.0) for c in columns]
        for k, (column, (mean, sd)) in enumerate(zip(columns, self.scale_, strict=True)):
            out[:, k] = (np.asarray(column, dtype=float) - mean) / sd
        return out

    def fit(self, pw: PersonWeeks, rows: np.ndarray) -> UptakeModel:
        if hasattr(self, "scale_"):
            del self.scale_
        a = pw.rows["touched"].to_numpy()[rows]
        if a.all() or not a.any():
            raise ValueError(i18n.t("uptake.no_model", touchpoint=i18n.name(pw.touchpoint)))
        x = self.design(pw, rows)
        self.logit_ = Logit(C=self.C).fit(x, a)
        p = self.logit_.predict_proba(x)[:, 1]
        self.auc_ = float(roc_auc_score(a, p))
        return self

    def predict(self, pw: PersonWeeks, rows: np.ndarray) -> np.ndarray:
        return self.logit_.predict_proba(self.design(pw, rows))[:, 1]


def intervention_weights(
    delta: float, touched: np.ndarray, p: np.ndarray, applies: np.ndarray, first: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's weight before its week (the product of the earlier weeks' factors) and
    including it, for rows sorted by customer with ``first`` the position of each row's
    customer's first row; the factor is 1 where the intervention does not apply."""
    p = np.clip(p, 1e-9, 1 - 1e-9)
    zero = applies & touched & (delta == 0)  # a touch the intervention rules out
    log_f = np.zeros(len(p))
    on = applies & ~zero
    log_f[on] = np.log(np.where(touched[on], delta, 1.0)) - np.log(delta * p[on] + 1 - p[on])

    def before(values: np.ndarray) -> np.ndarray:
        total = np.cumsum(values)
        return total - values - np.where(first > 0, total[np.maximum(first - 1, 0)], 0.0)

    zeros_before = before(zero.astype(float))
    w_before = np.where(zeros_before > 0.5, 0.0, np.exp(before(log_f)))
    w_with = np.where(zero, 0.0, w_before * np.exp(log_f))
    return w_before, w_with


# Per customer and window week: entering (count, MRR), then for the natural course and the
# scenario: alive, churned, touched, MRR alive, MRR churned (all weighted).
_ENTRY, _PER_COURSE = 2, 5
_STATS = _ENTRY + 2 * _PER_COURSE


def _course(sums: np.ndarray, course: int, events_per_week: float) -> np.ndarray:
    """``OUTCOMES`` of one course (0 natural, 1 scenario) from per-week sums (..., weeks,
    ``_STATS``), by the recursion of the module's docstring; vectorised over leading axes."""
    entry, entry_mrr = sums[..., 0], sums[..., 1]
    k = _ENTRY + course * _PER_COURSE
    alive, churned, touched, mrr_alive, mrr_churned = (sums[..., k + j] for j in range(5))

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    hazard, hazard_mrr = ratio(churned, alive), ratio(mrr_churned, mrr_alive)
    share = ratio(touched, alive)
    weeks = sums.shape[-2]
    count = np.zeros(sums.shape[:-2])
    mrr = np.zeros(sums.shape[:-2])
    out = np.zeros((*sums.shape[:-2], len(OUTCOMES)))
    for b in range(weeks):  # weeks of one window: a few dozen steps, vectorised over the rest
        count = count + entry[..., b]
        mrr = mrr + entry_mrr[..., b]
        out[..., 1] += count * hazard[..., b]
        out[..., 2] += count
        out[..., 3] += mrr
        out[..., 4] += count * share[..., b]
        count = count * (1 - hazard[..., b])
        mrr = mrr * (1 - hazard_mrr[..., b])
    out[..., 0] = entry.sum(axis=-1)
    months = WEEK_DAYS / MONTH_DAYS
    out[..., 2] *= months
    out[..., 3] *= months
    out[..., 4] *= events_per_week
    out[..., 5], out[..., 6] = count, mrr
    return out


class UptakeScenarios:
    """Fit the scenarios of one touchpoint on ``data`` (``fit``), then read ``result_`` (JSON)
    or the joint bootstrap replicates (``totals``).

    >>> s = UptakeScenarios(programme_scenarios("seminar")).fit(data)   # doctest: +SKIP
    >>> s.result_["scenarios"]["none"]["groups"]["all"]["difference"]  # doctest: +SKIP
    """

    def __init__(
        self,
        scenarios: list[Scenario],
        n_boot: int = 200,
        seed: int = 0,
        min_ess: float = MIN_ESS,
        health: bool = True,
        engine: str = MEMORY,
    ) -> None:
        touchpoints = {s.touchpoint for s in scenarios}
        if len(touchpoints) != 1:
            raise ValueError("give the scenarios of one touchpoint at a time")
        names = [s.name for s in scenarios]
        if len(set(names)) < len(names):
            raise ValueError("two scenarios of the same touchpoint have the same name")
        self.touchpoint = touchpoints.pop()
        self.scenarios, self.n_boot, self.seed = list(scenarios), n_boot, seed
        self.min_ess, self.health = min_ess, health
        self.engine = engine  # where the person-weeks are built: memory, duckdb or spark

    def fit(self, data: CSData, pw: PersonWeeks | None = None) -> UptakeScenarios:
        """Estimate every scenario on ``data`` (or on its person-weeks ``pw`` of this
        touchpoint, when the caller has them)."""
        with progress(f"what-if scenarios of {self.touchpoint}", len(self.scenarios) + 1):
            if pw is None:
                tenure = [s.window()[1] for s in self.scenarios if s.period.kind == "tenure"]
                calendar = any(s.period.kind == "calendar" for s in self.scenarios)
                weeks = None if calendar else max(tenure)
                pw = person_weeks_on(self.engine, data, self.touchpoint, weeks)
            if not pw.rows["touched"].any():
                raise ValueError(i18n.t("uptake.none", touchpoint=i18n.name(self.touchpoint)))
            self.pw_ = pw
            columns = pw.customer_columns()
            self._segments = {s.name: s.in_segment(columns) for s in self.scenarios}
            customer = pw.rows["customer"].to_numpy()
            week, day = pw.rows["week"].to_numpy(), pw.rows["day"].to_numpy()
            applies = {
                s.name: self._segments[s.name][customer] & s.applies(week, day)
                for s in self.scenarios
            }
            fit_rows = np.flatnonzero(np.logical_or.reduce(list(applies.values())))
            self.model_ = UptakeModel(self.health).fit(pw, fit_rows)
            p = np.zeros(len(customer))
            p[fit_rows] = self.model_.predict(pw, fit_rows)
            advance("uptake model")
            self._prepare(pw)
            self.draws_ = poisson_draws(len(pw.customers), self.n_boot, self.seed)
            self.cells_: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
            self.diagnostics_: dict[str, dict[str, Any]] = {}
            for s in self.scenarios:
                self.cells_[s.name] = self._cells(s, applies[s.name], p)
                advance(s.name)
            self.result_ = self._result()
        return self

    # ----------------------------------------------------------------------- the sums
    def _prepare(self, pw: PersonWeeks) -> None:
        """What every scenario shares: each row's customer's first row, MRR, tiers, strata."""
        customer = pw.rows["customer"].to_numpy()
        first = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
        self._first_of_row = np.repeat(first, np.diff(np.r_[first, len(customer)]))
        self._mrr = pw.customers["mrr"].to_numpy(dtype=float)
        self._tier = pw.customers["tier"].astype(str).to_numpy()
        self._tiers = sorted(set(self._tier))
        self._tier_code = np.searchsorted(self._tiers, self._tier)
        contract = pw.customers["contract_type"].astype(str).to_numpy()
        self._strata = pd.factorize(pd.Series(self._tier) + "\0" + contract)[0]

    def _censoring(self, week: np.ndarray, customer: np.ndarray, s: Scenario) -> np.ndarray:
        """For rows of ``customer`` in tenure ``week``: one over the share of the customer's
        stratum (tier x contract) whose data covers that week, among the customers followed
        from contract start (1 for calendar windows, which end by the data's end)."""
        if s.period.kind == "calendar":
            return np.ones(len(week))
        pw, end = self.pw_, s.window()[1]
        members = pw.from_start
        covered = np.zeros((self._strata.max() + 1, end + 1))
        np.add.at(covered, (self._strata[members], np.minimum(pw.observed_weeks[members], end)), 1)
        # the customers of each stratum whose data covers week w: more than w weeks observed
        share = covered[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:] / np.maximum(
            covered.sum(axis=1, keepdims=True), 1
        )
        if (share[:, end - 1] < MIN_COVERED).any():
            raise ValueError(
                i18n.t(
                    "uptake.not_covered",
                    scenario=s.name,
                    week=end,
                    share=f"{MIN_COVERED:.0%}",
                )
            )
        return 1.0 / share[self._strata[customer], np.minimum(week, end - 1)]

    def _cells(
        self, s: Scenario, applies: np.ndarray, p: np.ndarray
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per cell (tier, and in or out of the scenario's segment): the per-week sums of
        ``_STATS``, and their (B, weeks, stats) bootstrap replicates."""
        pw = self.pw_
        r = pw.rows
        customer, week, day = (r[c].to_numpy() for c in ("customer", "week", "day"))
        counted = s.counted(week, day, pw.data_end_day)
        if s.period.kind == "tenure":
            counted &= pw.from_start[customer]
        rows = np.flatnonzero(counted)
        if not len(rows):
            raise ValueError(i18n.t("uptake.empty", scenario=s.name))
        start = s.window()[0]
        # each row's week of the window: tenure weeks, or 7-day steps of a calendar window
        in_window = week - start if s.period.kind == "tenure" else (day - start) // WEEK_DAYS
        bucket = in_window[rows]
        n_weeks = int(bucket.max()) + 1
        g = self._censoring(week[rows], customer[rows], s)
        touched, churned = r["touched"].to_numpy(), r["churned"].to_numpy()
        before, with_ = intervention_weights(s.delta, touched, p, applies, self._first_of_row)
        self.diagnostics_[s.name] = self._weight_diagnostics(
            s, before, with_, counted, customer, in_window, churned, self._segments[s.name]
        )
        q = np.where(applies, s.delta * p / (s.delta * p + 1 - p), touched)[rows]
        c, mrr, died = customer[rows], self._mrr[customer[rows]], churned[rows]
        entry = np.r_[True, c[1:] != c[:-1]] * g  # a customer's first counted week
        stats = [entry, entry * mrr]
        for w0, w1, touch in ((1.0, 1.0, touched[rows]), (before[rows], with_[rows], q)):
            alive, gone = g * w0, g * w1 * died
            stats += [alive, gone, alive * touch, alive * mrr, gone * mrr]
        # Customers grouped by cell (tier, in or out of the segment): each cell's rows of the
        # table are one slice. Laid out (customers, stats, weeks): a stat's weeks contiguous.
        cell = self._tier_code * 2 + self._segments[s.name]
        order = np.argsort(cell, kind="stable")
        slot = np.empty(len(order), dtype=np.int64)
        slot[order] = np.arange(len(order))
        n = len(order)
        key = slot[c] * n_weeks + bucket
        table = np.empty((n, _STATS, n_weeks), dtype=np.float32)
        for j, v in enumerate(stats):
            table[:, j, :] = np.bincount(key, weights=v, minlength=n * n_weeks).reshape(n, -1)
        codes, first = np.unique(cell[order], return_index=True)
        out = {}
        for code, lo, hi in zip(codes, first, np.r_[first[1:], n], strict=True):
            part = table[lo:hi].reshape(hi - lo, -1)
            point = part.sum(axis=0, dtype=np.float64).reshape(_STATS, n_weeks).T
            draws = self.draws_[:, order[lo:hi]].astype(np.float32)
            boot = np.vstack([draws[b : b + 25] @ part for b in range(0, self.n_boot, 25)])
            boot = boot.reshape(self.n_boot, _STATS, n_weeks).transpose(0, 2, 1)
            out[int(code)] = (point, boot.astype(np.float64))
        return out

    def _weight_diagnostics(
        self, s, w_before, w_with, counted, customer, week, churned, segment
    ) -> dict[str, Any]:
        """The weights' effective sample size per week (a share of the rows; overall, per tier
        and revenue-weighted) among the segment's counted rows, and the mean weight per week
        over every customer whose state that week the data shows (about 1 if the model is
        right)."""
        rows = counted & segment[customer]
        if not rows.any():
            raise ValueError(i18n.t("uptake.empty", scenario=s.name))
        wk, w, c = week[rows], w_before[rows], customer[rows]
        m = self._mrr[c]
        tiers, tier_code = self._tiers, self._tier_code[c]

        def ess_share(keys: np.ndarray, n_keys: int, v: np.ndarray, base: np.ndarray) -> np.ndarray:
            def b(x):
                return np.bincount(keys, weights=x, minlength=n_keys)

            ess = b(v) ** 2 / np.maximum(b(v * v), 1e-300)
            full = b(base) ** 2 / np.maximum(b(base * base), 1e-300)
            n_rows = np.bincount(keys, minlength=n_keys)
            return np.where(n_rows >= MIN_ROWS, ess / np.maximum(full, 1e-300), np.nan)

        n_weeks = int(wk.max()) + 1
        overall = ess_share(wk, n_weeks, w, np.ones(len(w)))
        revenue = ess_share(wk, n_weeks, w * m, m)
        keys, n_keys = tier_code * n_weeks + wk, len(tiers) * n_weeks
        by_tier = ess_share(keys, n_keys, w, np.ones(len(w))).reshape(len(tiers), n_weeks)
        by_tier_revenue = ess_share(keys, n_keys, w * m, m).reshape(len(tiers), n_weeks)
        # Mean weight over customers whose state in week w is known: alive rows, and those
        # who churned earlier while their data would still cover week w.
        seg_rows = segment[customer]
        alive_sum = np.bincount(wk, weights=w, minlength=n_weeks)
        alive_n = np.bincount(wk, minlength=n_weeks)
        dead = seg_rows & churned & counted
        if s.period.kind == "tenure":  # the window weeks the data would show them in
            observed = self.pw_.observed_weeks[customer[dead]] - s.window()[0]
            covered = np.clip(observed, 0, n_weeks)
        else:  # a calendar window ends by the data's end
            covered = np.full(int(dead.sum()), n_weeks)
        start = np.minimum(week[dead] + 1, n_weeks)
        dead_sum = np.bincount(start, w_with[dead], n_weeks + 1) - np.bincount(
            covered, w_with[dead], n_weeks + 1)  # fmt: skip
        dead_n = np.bincount(start, minlength=n_weeks + 1) - np.bincount(
            covered, minlength=n_weeks + 1
        )
        total_n = alive_n + np.cumsum(dead_n)[:n_weeks]
        mean = (alive_sum + np.cumsum(dead_sum)[:n_weeks]) / np.maximum(total_n, 1)
        mean = np.where(total_n >= MIN_ROWS, mean, np.nan)

        def low(x: np.ndarray) -> float | None:
            return None if np.all(np.isnan(x)) else float(np.nanmin(x))

        out = {
            "ess_share_min": low(overall),
            "ess_share_revenue_min": low(revenue),
            "ess_share_by_tier_min": {str(t): low(by_tier[k]) for k, t in enumerate(tiers)},
            "ess_share_revenue_by_tier_min": {
                str(t): low(by_tier_revenue[k]) for k, t in enumerate(tiers)
            },
            "ess_share_by_week": [None if np.isnan(x) else round(float(x), 4) for x in overall],
            "mean_weight_by_week": [None if np.isnan(x) else round(float(x), 4) for x in mean],
            "mean_weight_range": [
                low(mean),
                None if np.all(np.isnan(mean)) else float(np.nanmax(mean)),
            ],
            "weight_max": float(w.max()),
        }
        out["reliable"], out["reason"] = self._gate(
            out["ess_share_min"], out["ess_share_revenue_min"]
        )
        return out

    def _gate(self, count: float | None, revenue: float | None) -> tuple[bool, str]:
        """Usable weights: effective sample sizes (customers, and revenue-weighted) of at
        least ``min_ess`` of the rows in every week; and why not, in words."""
        worst = min((g for g in (count, revenue) if g is not None), default=None)
        if worst is not None and worst >= self.min_ess:
            return True, i18n.t("uptake.usable")
        return False, i18n.t(
            "uptake.unusable",
            share=f"{100 * (worst or 0):.1f}",
            limit=f"{100 * self.min_ess:.0f}",
        )

    def reliable(self, name: str, group: str) -> tuple[bool, str]:
        """Whether scenario ``name``'s weights are usable in ``group`` (a tier: its own
        effective sample sizes; everyone or the segment: the segment's), and why not."""
        d = self.diagnostics_[name]
        if group in self._tiers and group not in d["ess_share_by_tier_min"]:
            return True, i18n.t("uptake.outside")
        if group not in d["ess_share_by_tier_min"]:
            return d["reliable"], d["reason"]
        return self._gate(
            d["ess_share_by_tier_min"][group], d["ess_share_revenue_by_tier_min"][group]
        )

    # ------------------------------------------------------------------------- result
    def groups(self, name: str) -> dict[str, list[int]]:
        """The cells of each reported group of scenario ``name``: everyone, each tier, and
        the scenario's segment when it names one."""
        cells = list(self.cells_[name])
        out = {"all": cells}
        out |= {t: [c for c in cells if c // 2 == k] for k, t in enumerate(self._tiers)}
        scenario = next(s for s in self.scenarios if s.name == name)
        if scenario.customer_where:
            out["segment"] = [c for c in cells if c % 2 == 1]
        return {k: v for k, v in out.items() if v}

    def totals(
        self, name: str, group: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Scenario ``name`` in ``group``: the natural course's and the scenario's
        ``OUTCOMES``, each as the estimate and its (B, outcomes) bootstrap replicates. Every
        group and scenario of a fit takes the same replicates, so sums over groups and
        combinations of outcomes have joint intervals."""
        e = self.pw_.events_per_week
        parts = [self.cells_[name][c] for c in self.groups(name)[group]]
        out = []
        for course in (0, 1):
            out.append(sum(_course(point, course, e) for point, _ in parts))
            out.append(sum(_course(boot, course, e) for _, boot in parts))
        return tuple(out)  # type: ignore[return-value]

    def _result(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "touchpoint": self.touchpoint,
            "uptake_model_auc": self.model_.auc_,
            "events_per_touch_week": self.pw_.events_per_week,
            "n_boot": self.n_boot,
            "scenarios": {},
        }
        for s in self.scenarios:
            groups = {}
            for group in self.groups(s.name):
                nat, nat_b, chg, chg_b = self.totals(s.name, group)
                groups[group] = {
                    "natural": _named(nat),
                    "changed": _named(chg),
                    "difference": _differences(nat, nat_b, chg, chg_b),
                }
            out["scenarios"][s.name] = {
                "scenario": s.to_dict(),
                "description": s.describe(),
                **self.diagnostics_[s.name],
                "groups": groups,
            }
        return out


def _named(v: np.ndarray) -> dict[str, float]:
    out = dict(zip(OUTCOMES, map(float, v), strict=True))
    out["risk"] = out["churned"] / out["customers"] if out["customers"] else float("nan")
    return out


def _differences(nat, nat_b, chg, chg_b) -> dict[str, dict[str, float]]:
    """The scenario minus the natural course, per outcome and in churn risk, with bootstrap
    intervals."""
    out = {
        k: bootstrap_interval(chg[i] - nat[i], chg_b[:, i] - nat_b[:, i])
        for i, k in enumerate(OUTCOMES)
    }
    c, n = OUTCOMES.index("churned"), OUTCOMES.index("customers")

    def risk(v: np.ndarray) -> np.ndarray:
        return v[..., c] / np.maximum(v[..., n], 1e-12)

    out["risk"] = bootstrap_interval(risk(chg) - risk(nat), risk(chg_b) - risk(nat_b))
    return out
