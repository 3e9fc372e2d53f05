"""Effects over time: on health by days after the touch (with a half-life), and the health
trajectory around it (event study: a level jump or a change of slope); for cs_touch also the
time-varying IPW of ``churn_causal.causal.msm``.

Both health analyses reuse a target-trial cohort (``churn_causal.design.cohort``) and the
estimator's
propensity matching: each treated customer-trial and its matched control are read on the same
days of tenure, aligned on the treated customer's first event in the window, with the same as-of
look-up as the baseline covariates. Everything is one pass over a (pairs x offsets) matrix; the
cluster bootstrap resamples customers, B weight rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_causal import i18n
from churn_causal.causal.cohort import cohort_estimator
from churn_causal.causal.estimate import EffectEstimator, Prepared
from churn_causal.causal.msm import IncrementalTouchEffect
from churn_causal.causal.survival import bootstrap_interval, cluster_bootstrap
from churn_causal.data.contract import CSData
from churn_causal.data.files import write_json
from churn_causal.design.cohort import HealthIndex
from churn_causal.design.engines import MEMORY
from churn_causal.design.portable import cohort_on
from churn_causal.design.trials import (
    MONTH_DAYS,
    TrialDesign,
    period_start_day,
    resolve_design,
)
from churn_causal.parallel import map_blocks
from churn_causal.progress import advance, progress

LAGS_DAYS = (7, 14, 30, 45, 60, 90, 120, 150, 180, 270, 365)
LOOKUPS = 1 << 19  # health look-ups per block
EVENT_WEEKS = tuple(range(-26, 27))
HALF_LIFE_GRID = np.geomspace(3.0, 3650.0, 600)  # days; the upper end stands for "no decay"


class HealthLookup:
    """The health score of given customers on given tenure days (as-of, NaN when stale)."""

    def __init__(self, data: CSData) -> None:
        self.index = HealthIndex.of(data)
        self.ids = pd.Index(data.customers["customer_id"])

    def __call__(self, customer_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Scores for ``days`` (rows x K increasing tenure days) of each row's customer."""
        customers = self.ids.get_indexer(customer_ids)
        # Looked up customer by customer, the look-ups walk the index in its order: on
        # millions of them, five times faster than in the rows' order. A block of rows at a
        # time keeps the look-ups' temporaries small (and spreads them over the threads).
        order = np.argsort(customers, kind="stable")
        out = np.empty(days.shape)

        def block(b: slice) -> None:
            rows = order[b]
            flat = np.round(days[rows].reshape(-1)).astype(np.int64)
            cust = np.repeat(customers[rows], days.shape[1])
            found = np.full(len(flat), np.nan)
            ok = flat >= 0
            found[ok] = self.index.score_at(cust[ok], flat[ok])
            out[rows] = found.reshape(len(rows), days.shape[1])

        map_blocks(block, len(order), max(1, LOOKUPS // max(days.shape[1], 1)))
        return out


def paired_paths(
    health: HealthLookup,
    rows: pd.DataFrame,
    treated: np.ndarray,
    control: np.ndarray,
    offsets_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Health of each matched pair ``offsets_days`` after the treated row's first event: the
    control is read on the same tenure days (same trial), so both are aligned on the touch."""
    day = rows["event_day"].to_numpy()[treated][:, None] + np.asarray(offsets_days)[None, :]
    ids = rows["customer_id"].to_numpy()
    return health(ids[treated], day), health(ids[control], day)


def paired_contrast(
    yt: np.ndarray, yc: np.ndarray, cluster: np.ndarray, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column, over the pairs where both are observed: the treated mean, the control mean,
    their difference, and the difference in ``n_boot`` cluster-bootstrap replicates (B x K)."""
    seen = ~(np.isnan(yt) | np.isnan(yc))
    t0, c0 = np.where(seen, yt, 0.0), np.where(seen, yc, 0.0)

    def means(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = w @ seen
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ t0) / n, (w @ c0) / n

    m1, m0 = means(np.ones((1, len(yt))))
    boot = cluster_bootstrap(cluster, n_boot, seed, lambda bw: np.subtract(*means(bw)))
    return m1[0], m0[0], m1[0] - m0[0], boot


# ------------------------------------------------------------------------ decay
def fit_half_life(
    lags: np.ndarray, effects: np.ndarray, se: np.ndarray, grid: np.ndarray = HALF_LIFE_GRID
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of ``A * 2 ** (-lag / h)`` to each row of ``effects`` (B x K), weighted
    by 1 / se**2: for every h of ``grid`` the best A is closed form, so the fit is a grid search
    vectorised over replicates. Returns (A, h) per row."""
    lags = np.asarray(lags, dtype=float)
    e = np.atleast_2d(effects)
    g = 2.0 ** (-lags[None, :] / grid[:, None])  # (H x K)
    v = 1.0 / np.asarray(se, dtype=float) ** 2
    gg = (g * g) @ v  # (H,)
    eg = (e * v) @ g.T  # (B x H)
    amp = eg / gg
    sse = ((e * e) @ v)[:, None] - amp * eg  # minimum of the weighted SSE for each h
    best = np.argmin(sse, axis=1)
    rows = np.arange(e.shape[0])
    return amp[rows, best], grid[best]


@dataclass
class LagEffects:
    """The effect on health at each lag after the touch, and a half-life fitted from the peak."""

    table: pd.DataFrame
    half_life: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lags": self.table.reset_index().to_dict(orient="records"),
            "half_life_days": self.half_life,
        }


def lag_effects(
    lags_days: np.ndarray,
    yt: np.ndarray,
    yc: np.ndarray,
    cluster: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
) -> LagEffects:
    """Health difference of matched pairs ``lags_days`` after the touch, and the half-life of
    its decay from the peak, where one is estimable: the effect at the peak is clearly
    non-zero and at least three lags follow it."""
    lags = np.asarray(lags_days, dtype=float)
    m1, m0, diff, boot = paired_contrast(yt, yc, cluster, n_boot, seed)
    se = np.nanstd(boot, axis=0, ddof=1)
    lo, hi = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    table = pd.DataFrame(
        {
            "treated": m1,
            "controls": m0,
            "effect": diff,
            "se": se,
            "ci_low": lo,
            "ci_high": hi,
            "pairs": (~(np.isnan(yt) | np.isnan(yc))).sum(axis=0),
        },
        index=pd.Index(lags.astype(int), name="days_after_touch"),
    )
    peak = int(np.nanargmax(np.abs(diff)))
    tail = slice(peak, len(lags))
    excludes_zero = lo[peak] > 0 or hi[peak] < 0
    if not excludes_zero or len(lags) - peak < 3:
        why = i18n.t("dynamics.not_clear") if not excludes_zero else i18n.t("dynamics.too_late")
        return LagEffects(table, {"estimable": False, "reason": why})
    shift = lags[tail] - lags[peak]
    amp, h = fit_half_life(shift, diff[None, tail], se[tail])
    b_amp, b_h = fit_half_life(shift, boot[:, tail], se[tail])
    b_h = np.where(np.sign(b_amp) == np.sign(amp[0]), b_h, np.nan)  # sign flips: no decay seen
    h_lo, h_hi = np.nanpercentile(b_h, [2.5, 97.5])
    bounded = h_hi < HALF_LIFE_GRID[-2]
    return LagEffects(
        table,
        {
            "estimable": True,
            "estimate": float(h[0]),
            "ci_low": float(h_lo),
            "ci_high": float(h_hi) if bounded else None,
            "peak_days_after_touch": int(lags[peak]),
            "peak_effect_points": float(diff[peak]),
            "fitted_amplitude_points": float(amp[0]),
            "note": "half-life of the effect on the health score after its peak"
            + ("" if bounded else "; the upper limit is unbounded (no decay is also consistent)"),
        },
    )


# ------------------------------------------------------------------- event study
def _jump_and_slope(
    d: np.ndarray, zero: int, steps: int, jump_weeks: int = 13
) -> tuple[np.ndarray, np.ndarray]:
    """Level jump and steady slope of difference paths ``d`` (B x K; column ``zero`` is the
    last reading before the touch).

    The jump is the discontinuity at the touch (a regression discontinuity in time, Hausman &
    Rapson 2018): a cubic in weeks fitted to the first ``jump_weeks`` post-touch readings,
    extrapolated back to the touch, minus the reading before it. A gap that builds up from
    nothing extrapolates back to nothing; a one-off boost to its size at the touch.
    The slope comes from a partial-adjustment fit of the first ``steps`` weeks: each week's
    change is ``slope + rate * gap``, so a gap that opens steadily (declines prevented) has a
    slope while a boost that fades has only a rate. Vectorised: least squares for all rows."""
    post = d[:, zero + 1 : zero + jump_weeks + 1]
    k = np.arange(1, post.shape[1] + 1, dtype=float)
    at_touch = np.linalg.lstsq(np.vander(k, 4), post.T)[0][-1]
    jump = at_touch - d[:, zero]
    gap = d[:, zero + 1 : zero + steps + 1]
    change = np.diff(d[:, zero + 1 : zero + steps + 2], axis=1)
    gm, cm = gap.mean(axis=1, keepdims=True), change.mean(axis=1, keepdims=True)
    rate = ((gap - gm) * (change - cm)).sum(axis=1) / ((gap - gm) ** 2).sum(axis=1)
    return jump, cm[:, 0] - rate * gm[:, 0]


def event_study(
    weeks: np.ndarray,
    yt: np.ndarray,
    yc: np.ndarray,
    cluster: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
    fit_weeks: int = 8,
) -> dict[str, Any]:
    """Mean health of treated customers and their matched controls by week relative to the
    touch (week 0 = the last reading before it) with bootstrap bands; the pre-period slope of
    the difference (pre-trend check); and the level jump and steady slope after the touch
    (``_jump_and_slope``; the slope change is that slope minus the pre-period one), points and
    points per week."""
    weeks = np.asarray(weeks, dtype=int)
    m1, m0, diff, boot = paired_contrast(yt, yc, cluster, n_boot, seed)
    zero = int(np.flatnonzero(weeks == 0)[0])
    jump, slope = _jump_and_slope(diff[None, :], zero, fit_weeks)
    b_jump, b_slope = _jump_and_slope(boot, zero, fit_weeks)
    pre = weeks <= 0
    x = weeks[pre] - weeks[pre].mean()
    trend = (diff[pre] * x).sum() / (x * x).sum()
    b_trend = (boot[:, pre] * x).sum(axis=1) / (x * x).sum()
    lo, hi = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    pre_trend = bootstrap_interval(trend, b_trend)
    largest_pre = float(np.abs(diff[pre]).max())
    largest_post = float(np.abs(diff[~pre]).max())
    return {
        "weeks": weeks.tolist(),
        "treated": m1.tolist(),
        "controls": m0.tolist(),
        "difference": diff.tolist(),
        "ci_low": lo.tolist(),
        "ci_high": hi.tolist(),
        "level_jump": bootstrap_interval(jump[0], b_jump),
        "slope_change": bootstrap_interval(slope[0] - trend, b_slope - b_trend),
        "pre_trend": pre_trend,
        "largest_pre_difference": largest_pre,
        # Parallel before the touch: no trend, and no pre-touch gap worth a tenth of the effect.
        "pre_trend_ok": bool(
            pre_trend["ci_low"] <= 0 <= pre_trend["ci_high"] and largest_pre < 0.1 * largest_post
        ),
        "pairs": len(yt),
    }


# ------------------------------------------------------------------------ fitter
PRE_MONTHS = 6  # the pre-event trajectory matched on in the event study
SCHEMA_VERSION = 1


class TouchpointDynamics:
    """Effects over time of one touchpoint: health by lag after the touch with a half-life,
    the health-trajectory event study, and (for cs_touch) the incremental-intervention MSM.

    >>> dyn = TouchpointDynamics("seminar").fit(data)                 # doctest: +SKIP
    >>> dyn.to_dict()["half_life_days"]                                # doctest: +SKIP
    """

    def __init__(
        self,
        touchpoint: str,
        design: TrialDesign | None = None,
        n_boot: int = 200,
        seed: int = 0,
        lags_days: tuple[int, ...] = LAGS_DAYS,
        event_weeks: tuple[int, ...] = EVENT_WEEKS,
        engine: str = MEMORY,
    ) -> None:
        self.touchpoint = touchpoint
        self.design = design or resolve_design(touchpoint)
        self.n_boot, self.seed = n_boot, seed
        self.lags_days, self.event_weeks = np.array(lags_days), np.array(event_weeks)
        self.engine = engine  # where the cohort and person-weeks are built

    def fit(
        self,
        data: CSData,
        cohort: pd.DataFrame | None = None,
        lags: LagEffects | None = None,
        incremental: dict[str, Any] | None = None,
    ) -> TouchpointDynamics:
        """Estimate on ``data``, from the touchpoint's target-trial ``cohort`` under this
        design when it is given. ``lags`` and ``incremental``: the results of ``lag_effects``
        and ``incremental_effect`` when the caller has them already (the touchpoint report
        takes the lags from the cohort it prepared for its estimates, and runs the MSM before
        its cohort takes memory)."""
        with progress(f"the effects of {self.touchpoint} over time"):
            if cohort is None:
                cohort = cohort_on(self.engine, data, self.touchpoint, self.design)
            self.lags_ = self.lag_effects(data, cohort) if lags is None else lags
            advance("effect by days after the touch")
            self.event_study_ = self._event_study(data, cohort)
            advance("event study")
            self.msm_ = self.incremental_effect(data) if incremental is None else incremental
        return self

    def lag_effects(self, data: CSData, table: pd.DataFrame | Prepared) -> LagEffects:
        """The effect on health by days after the touch (``lag_effects``), from the matched
        pairs of the cohort ``table`` (or that cohort prepared for estimation)."""
        rows, t, c = self._matching(data).matched_pairs(table)
        yt, yc = paired_paths(HealthLookup(data), rows, t, c, self.lags_days)
        cluster = rows["customer_id"].to_numpy()[t]
        return lag_effects(self.lags_days, yt, yc, cluster, self.n_boot, self.seed)

    def _matching(self, data: CSData) -> EffectEstimator:
        # Pairs matched on a linear logit: with the spline terms of the churn estimate the
        # seminar's matched pairs were no longer parallel before the touch (pre-trend).
        return cohort_estimator(data.touchpoints, self.design.horizon_days, propensity="linear")

    def incremental_effect(self, data: CSData) -> dict[str, Any] | None:
        """The time-varying IPW effect (``IncrementalTouchEffect``) for weekly designs, where
        the touchpoint reacts to health; None for the others."""
        if self.design.unit != "week":
            return None
        msm = IncrementalTouchEffect(
            self.touchpoint, n_boot=self.n_boot, seed=self.seed, engine=self.engine
        )
        return msm.fit(data).result_

    def _event_study(self, data: CSData, cohort: pd.DataFrame) -> dict[str, Any]:
        """Trials with PRE_MONTHS of history, matched on the pre-event trajectory too (a
        method of its own, so that its cohort and pairs are freed before what comes next)."""
        start = period_start_day(cohort["trial"].to_numpy(), self.design.unit)
        pre_days = np.round(np.arange(1, PRE_MONTHS + 1) * MONTH_DAYS)
        health = HealthLookup(data)
        late = cohort[start >= pre_days[-1]].copy(deep=False)  # already a copy: no second one
        if not late["treated"].any():
            raise ValueError(
                i18n.t(
                    "dynamics.no_history",
                    months=PRE_MONTHS,
                    touchpoint=i18n.name(self.touchpoint),
                )
            )
        pre = health(
            late["customer_id"].to_numpy(), start[start >= pre_days[-1]][:, None] - pre_days
        )
        names = [f"score_{m}_months_before" for m in range(1, PRE_MONTHS + 1)]
        late[names] = pre
        trajectory = self._matching(data)
        trajectory.covariates = [*trajectory.covariates, *names]
        rows, t, c = trajectory.matched_pairs(late)
        yt, yc = paired_paths(health, rows, t, c, 7 * self.event_weeks)
        return event_study(
            self.event_weeks, yt, yc, rows["customer_id"].to_numpy()[t], self.n_boot, self.seed
        )

    def to_dict(self) -> dict[str, Any]:
        es = self.event_study_
        return {
            "schema_version": SCHEMA_VERSION,
            "touchpoint": self.touchpoint,
            "design": self.design.to_dict(),
            "half_life_days": self.lags_.half_life,
            "lags": self.lags_.to_dict()["lags"],
            "event_study": {
                "level_jump": es["level_jump"],
                "slope_change": es["slope_change"],
                "pre_trend_ok": es["pre_trend_ok"],
                "mechanism": mechanism(es),
                "curve": es,
            },
            "msm": self.msm_,
        }

    def save(self, path: str | Path) -> Path:
        """Write it as JSON (atomically: a half-written file never exists)."""
        return write_json(path, self.to_dict())


def mechanism(es: dict[str, Any], fit_weeks: int = 8, share: float = 0.25) -> str:
    """The event study (``event_study``'s output) in words. A jump or a slope counts when its
    CI excludes zero and it is worth at least ``share`` of the largest post-touch difference (a
    slope over ``fit_weeks`` weeks)."""
    post = np.abs(np.array(es["difference"])[np.array(es["weeks"]) > 0]).max()

    def counts(x: dict, scale: float) -> bool:
        return (x["ci_low"] > 0 or x["ci_high"] < 0) and abs(x["estimate"]) * scale >= share * post

    jump, slope = counts(es["level_jump"], 1.0), counts(es["slope_change"], fit_weeks)
    if jump and slope:
        return "raises the level and changes the slope"
    if jump:
        return "raises the level" if es["level_jump"]["estimate"] > 0 else "lowers the level"
    if slope:
        return "prevents decline" if es["slope_change"]["estimate"] > 0 else "speeds decline"
    return "changes health too little to tell"
