"""Target-trial cohorts: one row per eligible customer and trial (Hernán & Robins 2016).

For trial k (month or week k of tenure, see ``churn_causal.design.trials``):

* eligible: active on the first day of the window, with the whole window inside the data;
* treated: at least one event of the touchpoint inside the window;
* baseline covariates: measured at the window's start, never later (no mediators): health
  readings dated up to the window's first day (a score describes the state at its date),
  touch counts strictly before it (a touch on the first day is treatment);
* time zero: the window's end; customers who churned inside the window are not at risk at time
  zero and leave the cohort (counted in ``cohort.attrs["churned_in_window"]``);
* outcome: days from time zero to churn or censoring (end of data, or the horizon).

Everything is vectorised over customers and trials: sorted-key look-ups, no Python loop over
customers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.design.sampling import SAMPLING_WEIGHT, risk_set_sample
from churn_causal.design.trials import MONTH_DAYS, PERIOD_DAYS, TrialDesign

HEALTH_COLUMNS = ("score", "action", "utilization", "penetration")
NUMERIC_COVARIATES = (
    *HEALTH_COLUMNS,
    "score_change_30d",
    "score_slope_90d",
    "log_seats",
    "log_mrr",
    "tenure_months",
)
CUSTOMER_CATEGORICALS = ("tier", "contract_type")  # copied from the customers table
# The lifecycle phase is known at the window's start and uptake differs by it (CS programmes
# treat onboarding customers differently); linear tenure alone misses that step.
CATEGORICAL_COVARIATES = (*CUSTOMER_CATEGORICALS, "phase")
RECENCY_CAP_DAYS = 365
# The onboarding phase: about the first four months (17 weeks) of tenure; adoption after it.
ONBOARDING_DAYS = 119
STALE_HEALTH_DAYS = 31  # a health reading older than this at baseline counts as missing
SCORE_UNITS = 1000  # the score's trend is summed in thousandths of a point, exactly
# Warn above this window drift (see _window_drift). In the simulator a one-month window gives
# about 0.23 and leaves no material bias; a three-month window gives about 0.43 and a large bias.
DRIFT_WARNING = 0.3
_DAY_BITS = 24  # tenure days fit in 24 bits: a composite (customer, day) key fits in int64
NO_CHURN = np.iinfo(np.int64).max // 4  # the tenure day of a churn that never came


class DesignWarning(UserWarning):
    """The design is legal but likely to leave bias."""


def _days(values: pd.Series) -> np.ndarray:
    """Dates as whole days since the epoch; missing dates become a far-future sentinel."""
    d = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = d.astype(np.int64)
    out[np.isnat(d)] = NO_CHURN
    return out


def _asof(sorted_keys: np.ndarray, query: np.ndarray, cust: np.ndarray) -> np.ndarray:
    """Position of the last key <= query for the same customer, or -1 if there is none."""
    pos = np.searchsorted(sorted_keys, query, side="right") - 1
    ok = pos >= 0
    ok[ok] = (sorted_keys[pos[ok]] >> _DAY_BITS) == cust[ok]
    return np.where(ok, pos, -1)


def prior_count_columns(touchpoints: list[str]) -> list[str]:
    """History covariates per touchpoint: how many events before the window, and how long ago
    the latest was (capped at ``RECENCY_CAP_DAYS``, which also stands for "never")."""
    return [f"{kind}_{t}" for t in touchpoints for kind in ("prior", "days_since")]


def build_cohort(
    data: CSData,
    touchpoint: str,
    design: TrialDesign | None = None,
    data_end: pd.Timestamp | str | None = None,
    controls_per_treated: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Stack the target trials of ``design`` for ``touchpoint`` into one table.

    Columns: ``trial`` (month or week of tenure), ``customer_id``, ``treated``, ``event_day``
    (tenure day of the first event in the window; NaN if untreated), the baseline
    covariates (``NUMERIC_COVARIATES``, ``CATEGORICAL_COVARIATES`` and ``prior_<touchpoint>``
    counts of each touchpoint before the window), ``duration_days`` (from time zero to churn or
    censoring, at most the horizon), ``churned`` (churn observed within the horizon),
    ``churned_by_horizon`` (1/0, or NaN when censored before the horizon) and
    ``sampling_weight`` (1 unless untreated rows are sampled). With ``controls_per_treated``
    the untreated rows are sampled as ``sampling.sample_controls`` does (the same rows for the
    same seed) before their covariates are built, so a weekly cohort's full table never
    exists.
    """
    design = design or TrialDesign()
    cust = data.customers.reset_index(drop=True)
    touchpoints = sorted(data.touches["touchpoint"].unique())
    if touchpoint not in touchpoints:
        raise ValueError(f"touchpoint '{touchpoint}' has no events; the data has {touchpoints}")
    end = _days(pd.Series([pd.Timestamp(data_end or data.data_end)]))[0]
    start = _days(cust["start_date"])
    churn_day = np.minimum(_days(cust["churn_date"]) - start, NO_CHURN)
    censor_day = end - start
    n, trials = len(cust), design.trials
    ws = np.array([design.window_days(m)[0] for m in trials])
    we = np.array([design.window_days(m)[1] for m in trials])

    t_cust, t_day, t_kind = _touch_events(data, cust, start, touchpoints)

    # Counts of each touchpoint before each trial's window: bucket, histogram, cumulate.
    bucket = np.searchsorted(ws, t_day, side="right")  # trials whose window starts after it
    flat = (t_cust * (len(trials) + 1) + bucket) * len(touchpoints) + t_kind
    hist = np.bincount(flat, minlength=n * (len(trials) + 1) * len(touchpoints))
    prior = hist.reshape(n, len(trials) + 1, len(touchpoints)).cumsum(axis=1)[:, :-1]
    # The latest such event: a running maximum of event days over the same buckets.
    last = np.full(n * (len(trials) + 1) * len(touchpoints), -np.inf)
    np.maximum.at(last, flat, t_day)
    last = np.maximum.accumulate(last.reshape(n, len(trials) + 1, len(touchpoints)), axis=1)
    last = last[:, :-1]

    # Treatment: an event of the touchpoint inside the trial's window.
    focal = t_kind == touchpoints.index(touchpoint)
    first_event = np.full((n, len(trials)), np.inf)
    for j in range(len(trials)):  # one vectorised pass per trial
        hit = focal & (t_day >= ws[j]) & (t_day < we[j])
        np.minimum.at(first_event[:, j], t_cust[hit], t_day[hit])
    treated = np.isfinite(first_event)

    # Eligible customer-trials, then those still at risk at time zero.
    eligible = (churn_day[:, None] > ws) & (we <= censor_day[:, None])
    at_risk = eligible & (churn_day[:, None] > we)
    rows, j = np.nonzero(at_risk)
    health = HealthIndex.of(data)
    drift = _window_drift(health, rows, ws[j], we[j])  # over every customer-trial
    sampling = {}
    if controls_per_treated and treated[rows, j].any():
        keep, weight, summary = risk_set_sample(
            trials[j], treated[rows, j], controls_per_treated, seed
        )
        rows, j, sampling = rows[keep], j[keep], {"sampling": summary}
    out = pd.DataFrame(
        {
            "trial": trials[j],
            "customer_id": cust["customer_id"].to_numpy()[rows],
            "treated": treated[rows, j],
            # tenure day of the first event in the window (the treated's time of treatment)
            "event_day": np.where(treated[rows, j], first_event[rows, j], np.nan),
        }
    )
    tenure = (trials[j] - 1) * PERIOD_DAYS[design.unit] / MONTH_DAYS
    history = (prior[rows, j], ws[j][:, None] - last[rows, j])
    out = _add_covariates(out, cust, health, rows, ws[j], tenure, history, touchpoints)

    for column, values in outcome(
        churn_day[rows], censor_day[rows], we[j], design.horizon_days
    ).items():
        out[column] = values
    out[SAMPLING_WEIGHT] = weight if sampling else 1.0  # the untreated rows each stands for
    out.attrs.update(
        **sampling,
        touchpoint=touchpoint,
        design=design.to_dict(),
        data_end=str(pd.Timestamp(end, unit="D").date()),
        touchpoints=touchpoints,
        eligible=int(eligible.sum()),
        window_drift=drift,
        churned_in_window=int((eligible & ~at_risk).sum()),
    )
    return out


def outcome(
    churn_day: np.ndarray, censor_day: np.ndarray, time_zero: np.ndarray, horizon: int
) -> dict[str, np.ndarray]:
    """The outcome from time zero (tenure days): ``duration_days`` to churn or censoring, at
    most the horizon; ``churned`` within it; ``churned_by_horizon`` (1/0, NaN when censored
    before the horizon)."""
    follow = np.minimum(churn_day, censor_day) - time_zero
    within = (churn_day <= censor_day) & (follow <= horizon)
    return {
        "duration_days": np.minimum(follow, horizon),
        "churned": within,
        "churned_by_horizon": np.where(within, 1.0, np.where(follow >= horizon, 0.0, np.nan)),
    }


def current_rows(data: CSData, touchpoints: list[str] | None = None) -> pd.DataFrame:
    """One row per customer active at the data's end, with the cohort's baseline covariates
    as of that day (``customer_id``, ``mrr`` and the covariates of ``build_cohort``): the
    customers a touch could go to next."""
    cust = data.customers.reset_index(drop=True)
    touchpoints = touchpoints or sorted(data.touches["touchpoint"].unique())
    end = _days(pd.Series([pd.Timestamp(data.data_end)]))[0]
    start = _days(cust["start_date"])
    day_now = end - start
    rows = np.flatnonzero((_days(cust["churn_date"]) > end) & (day_now >= 0))
    day = day_now[rows]
    events = _touch_events(data, cust, start, touchpoints)
    history = _history(*events, rows, day, len(touchpoints))
    out = pd.DataFrame({"customer_id": cust["customer_id"].to_numpy()[rows]})
    out = _add_covariates(
        out, cust, HealthIndex.of(data), rows, day, day / MONTH_DAYS, history, touchpoints
    )
    out["mrr"] = cust["mrr"].to_numpy(dtype=float)[rows]
    return out


def _touch_events(
    data: CSData, cust: pd.DataFrame, start: np.ndarray, touchpoints: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each touch as (customer row, tenure day, touchpoint code) for the known customers and
    ``touchpoints``, from the contract's start on."""
    touches = data.touches
    t_cust = pd.Index(cust["customer_id"]).get_indexer(touches["customer_id"])
    known = t_cust >= 0  # rows of unknown customers are the validator's business, not ours
    t_day = _days(touches["date"])[known] - start[t_cust[known]]
    t_kind = pd.Categorical(touches["touchpoint"], categories=touchpoints).codes[known]
    t_cust = t_cust[known]
    # events before the contract (pre-sales) are left out, and touchpoints not asked for
    keep = (t_day >= 0) & (t_kind >= 0)
    return t_cust[keep], t_day[keep], t_kind[keep]


def _history(t_cust, t_day, t_kind, rows, day, kinds: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row and touchpoint: events strictly before ``day`` and days since the latest
    (infinite if none), by sorted (customer, touchpoint, day) keys."""
    keys = np.sort(HealthIndex._key(t_cust.astype(np.int64) * kinds + t_kind, t_day))
    who = rows.astype(np.int64)[:, None] * kinds + np.arange(kinds)
    first = np.searchsorted(keys, HealthIndex._key(who, np.zeros_like(who)), side="left")
    before = np.searchsorted(keys, HealthIndex._key(who, day[:, None]), side="left")
    counts = before - first
    last_day = np.where(
        counts > 0,
        (keys[np.maximum(before - 1, 0)] & ((1 << _DAY_BITS) - 1)) - (1 << (_DAY_BITS - 1)),
        0,
    )
    return counts, np.where(counts > 0, day[:, None] - last_day, np.inf)


def _add_covariates(
    out: pd.DataFrame,
    cust: pd.DataFrame,
    health: HealthIndex,
    rows: np.ndarray,
    day: np.ndarray,
    tenure_months: np.ndarray,
    history: tuple[np.ndarray, np.ndarray],
    touchpoints: list[str],
) -> pd.DataFrame:
    """``out`` (one row per customer of ``rows``) with the baseline covariates as of tenure
    ``day``: health, tenure, phase, profile, and per touchpoint the events before it and the
    days since the latest (``history``: counts and days since, one column per touchpoint)."""
    out = pd.concat([out, _baseline(health, rows, day)], axis=1)
    out["tenure_months"] = tenure_months
    # Text as two shared objects (np.where would make a string object per row).
    out["phase"] = np.array(["adoption", "onboarding"], dtype=object)[
        (day < ONBOARDING_DAYS).astype(np.intp)
    ]
    for c in CUSTOMER_CATEGORICALS:
        out[c] = cust[c].astype(str).to_numpy()[rows]
    out["log_seats"] = np.log(cust["seats"].to_numpy(dtype=float)[rows])
    out["log_mrr"] = np.log1p(cust["mrr"].to_numpy(dtype=float)[rows])
    counts, since = history
    for k, tp in enumerate(touchpoints):
        out[f"prior_{tp}"] = counts[:, k]
        out[f"days_since_{tp}"] = np.minimum(since[:, k], RECENCY_CAP_DAYS)
    return out


class HealthIndex:
    """Health readings sorted by (customer, tenure day) for vectorised as-of look-ups."""

    def __init__(self, data: CSData, cust: pd.DataFrame, start: np.ndarray) -> None:
        h = data.health
        h_cust = pd.Index(cust["customer_id"]).get_indexer(h["customer_id"])
        known = h_cust >= 0
        if not known.all():  # a copy of the readings only where some are left out
            h, h_cust = h[known], h_cust[known]
        day = _days(h["date"]) - start[h_cust]
        keys = self._key(h_cust, day)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.day = day[order].astype(float)
        self.values = h[list(HEALTH_COLUMNS)].to_numpy(dtype=float)[order]

    @staticmethod
    def _key(cust: np.ndarray, day: np.ndarray) -> np.ndarray:
        return (cust.astype(np.int64) << _DAY_BITS) + (day + (1 << (_DAY_BITS - 1)))

    @classmethod
    def of(cls, data: CSData) -> HealthIndex:
        """The index of ``data``'s health table, built once per data set: every cohort and
        the effects over time look up the same readings."""
        if "health_index" not in data.derived:
            cust = data.customers.reset_index(drop=True)
            data.derived["health_index"] = cls(data, cust, _days(cust["start_date"]))
        return data.derived["health_index"]

    def at(self, rows: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Latest reading on or before ``day`` (NaN if none within STALE_HEALTH_DAYS)."""
        pos, fresh = self._latest(rows, day)
        return np.where(fresh[:, None], self.values[pos], np.nan)

    def score_at(self, rows: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The score alone of ``at`` (a fifth of the memory on millions of look-ups)."""
        pos, fresh = self._latest(rows, day)
        return np.where(fresh, self.values[pos, 0], np.nan)

    def _latest(self, rows: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = _asof(self.keys, self._key(rows, day), rows)
        return pos, (pos >= 0) & (day - self.day[pos] <= STALE_HEALTH_DAYS)

    def slope(self, rows: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Least-squares slope of the score per 30 days over readings in days (first, last];
        0 where fewer than two readings show no trend yet."""

        # Running sums per customer for least-squares slopes over any window: 1, t, s, ts, tt,
        # in whole days and thousandths of a point (``trend_moments``): exact, so any engine
        # summing in any order finds the same slope to the last bit. Per customer, so that a
        # sum never depends on other customers' or later readings. Made here, not kept: as
        # large as the readings, and only the baseline needs them.
        moments = pd.DataFrame(trend_moments(self.day.astype(np.int64), self.values[:, 0]))
        cumsum = moments.groupby(self.keys >> _DAY_BITS).cumsum().to_numpy()
        del moments

        def running(day: np.ndarray) -> np.ndarray:
            pos = _asof(self.keys, self._key(rows, day), rows)
            return np.where(pos[:, None] >= 0, cumsum[pos], 0)

        return trend_slope(*(running(last) - running(first)).T)


def trend_moments(day: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each reading's terms of the least-squares sums (1, t, y, ty, tt), as whole numbers:
    ``t`` in days and ``y`` in ``SCORE_UNITS`` of a point (rounded half up). Integer sums are
    exact, whatever their order."""
    y = np.floor(score * SCORE_UNITS + 0.5).astype(np.int64)
    return np.column_stack([np.ones_like(day), day, y, day * y, day * day])


def trend_slope(n, st, sy, sty, stt) -> np.ndarray:
    """The least-squares slope of the score per 30 days from the exact sums of
    ``trend_moments``; 0 where fewer than two readings show no trend."""
    n, st, sy, sty, stt = (np.asarray(v, dtype=np.int64) for v in (n, st, sy, sty, stt))
    denom = n * stt - st * st
    ok = (n >= 2) & (denom > 0)
    slope = np.divide(n * sty - st * sy, denom, out=np.zeros(n.shape), where=ok)
    return 30.0 * slope / SCORE_UNITS


def _window_drift(health: HealthIndex, rows: np.ndarray, ws: np.ndarray, we: np.ndarray) -> float:
    """How far health moves within a window, relative to how much customers differ.

    The SD of the score's change from the window's start to its end over the SD of the score at
    the start. Uptake follows current health, so when health moves a lot within the window the
    baseline no longer describes the customer at uptake and confounding is left over
    (warned about above ``DRIFT_WARNING``).
    """
    baseline = health.score_at(rows, ws)
    change = health.score_at(rows, we) - baseline
    ratio = float(np.nanstd(change) / np.nanstd(baseline))
    if ratio > DRIFT_WARNING:
        warnings.warn(
            f"health moves {ratio:.2f} of its between-customer spread within a treatment window: "
            "covariates measured at the window's start miss where customers were when they took "
            "up the touchpoint, which leaves confounding. Use a shorter window (a month, or "
            "weekly trials).",
            DesignWarning,
            stacklevel=3,
        )
    return ratio


def _baseline(health: HealthIndex, rows: np.ndarray, ws: np.ndarray) -> pd.DataFrame:
    """Health and its pillars on the window's first day, the score's change over the 30 days
    before it, and its least-squares trend over the 90 days before it (points per 30 days)."""
    now = health.at(rows, ws)
    out = pd.DataFrame(now, columns=list(HEALTH_COLUMNS))
    out["score_change_30d"] = now[:, 0] - health.score_at(rows, np.maximum(ws - 30, 0))
    out["score_slope_90d"] = health.slope(rows, ws - 90, ws)
    return out
