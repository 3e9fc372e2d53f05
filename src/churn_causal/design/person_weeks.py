"""Person-weeks: one row per customer and week of tenure, for the time-varying analyses.

Each row holds the week's health and its fall over the previous weeks, the customer's profile,
whether the touchpoint happened in the week, how long ago the previous one was, and whether
the customer churned in the week. Vectorised: sorted keys and searches, no loop over customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.design.cohort import ONBOARDING_DAYS
from churn_causal.design.trials import WEEK_DAYS

FALL_WEEKS = 8
# Weeks since the latest earlier touch: bins of the exposure (none = never touched before).
EXPOSURE_BINS = (0, 4, 13, 26, 10**6)
EXPOSURE_LABELS = ("1-4 weeks", "5-13 weeks", "14-26 weeks", "27+ weeks")


def person_weeks(data: CSData, touchpoint: str, horizon_weeks: int) -> pd.DataFrame:
    """One row per customer and tenure week with a health reading, up to ``horizon_weeks``:
    health and its fall over ``FALL_WEEKS`` weeks, baseline columns, ``touched`` (an event in
    the week), ``since`` (weeks since the latest earlier event; 0 = none) and ``churned``."""
    cust = data.customers.reset_index(drop=True)
    ids = pd.Index(cust["customer_id"])
    start = cust["start_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    h = data.health
    row = ids.get_indexer(h["customer_id"])
    day = h["date"].to_numpy(dtype="datetime64[D]").astype(np.int64) - start[row]
    keep = (row >= 0) & (day >= 0) & (day < WEEK_DAYS * horizon_weeks)
    row, week = row[keep], day[keep] // WEEK_DAYS
    score = h["score"].to_numpy(dtype=float)[keep]
    span = horizon_weeks + FALL_WEEKS
    key = row.astype(np.int64) * span + week
    order = np.argsort(key, kind="stable")
    row, week, score, key = row[order], week[order], score[order], key[order]
    # Health FALL_WEEKS earlier (the customer's first reading while the history is shorter).
    pos = np.minimum(np.searchsorted(key, key - FALL_WEEKS), len(key) - 1)
    past = np.where(key[pos] == key - FALL_WEEKS, score[pos], score[np.searchsorted(row, row)])

    t = data.touches
    t_row = ids.get_indexer(t["customer_id"])
    t_week = (t["date"].to_numpy(dtype="datetime64[D]").astype(np.int64) - start[t_row]) // 7
    mine = (t["touchpoint"].astype(str).to_numpy() == touchpoint) & (t_row >= 0) & (t_week >= 0)
    mine &= t_week < horizon_weeks  # a later week's key would be one of the next customer's
    t_key = np.unique(t_row[mine].astype(np.int64) * span + t_week[mine])
    touched = np.isin(key, t_key)
    churn = cust["churn_date"].to_numpy(dtype="datetime64[D]")
    churn_day = np.where(np.isnat(churn), np.iinfo(np.int64).max, churn.astype(np.int64) - start)
    cd = churn_day[row]
    out = pd.DataFrame(
        {
            "customer_id": cust["customer_id"].to_numpy()[row],
            "week": week,
            "score": score,
            "fall": np.maximum(past - score, 0.0),
            "touched": touched,
            # churn during the week: gone by the next week's start (days of tenure)
            "churned": (cd > WEEK_DAYS * week) & (cd <= WEEK_DAYS * (week + 1)),
            "tier": _per_row(cust["tier"], row),
            "contract_type": _per_row(cust["contract_type"], row),
            "log_seats": np.log1p(cust["seats"].to_numpy(dtype=float))[row],
        }
    )
    out["onboarding"] = out["week"] * WEEK_DAYS < ONBOARDING_DAYS
    out["exposure"] = person_exposure(out, touched)
    return out


def _per_row(column: pd.Series, row: np.ndarray) -> pd.Categorical:
    """A customer's text column on each of their rows, as a categorical of the values the rows
    have: the models' dummies come from its codes, not from millions of strings."""
    codes, names = pd.factorize(column.astype(str), sort=True)
    return pd.Categorical.from_codes(codes[row], categories=names).remove_unused_categories()


def person_exposure(pw: pd.DataFrame, touched: np.ndarray) -> pd.Categorical:
    """Weeks since each customer's latest touch before the week (rows sorted by customer and
    week), binned by ``EXPOSURE_BINS``; NaN = never touched before."""
    codes = pd.factorize(pw["customer_id"])[0]
    week = pw["week"].to_numpy()
    last = pd.Series(np.where(touched, week, -1)).groupby(codes).cummax().to_numpy()
    prev = np.concatenate([[-1], last[:-1]])
    prev[np.r_[True, codes[1:] != codes[:-1]]] = -1  # a customer's first week has no past
    since = np.where(prev >= 0, week - prev, 0)
    return pd.Categorical.from_codes(
        np.where(since > 0, np.searchsorted(EXPOSURE_BINS, since, side="left") - 1, -1),
        categories=list(EXPOSURE_LABELS),
    )
