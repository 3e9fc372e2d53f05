"""Person-weeks: one row per customer and week of tenure, for the time-varying analyses.

A customer has a row for each tenure week w (tenure days ``[7w, 7w + 7)``) that they start as a
customer and that the data covers whole (its last day on or before the data's end), from their
first week inside the data. The rows follow the calendar, not the health readings: a week
without a reading is still a week alive, with its health as of the latest reading (missing when
none is recent). Each row holds the week's health and its fall over the previous weeks, whether
the touchpoint happened in the week, how long ago the previous one was, and whether the customer
churned in the week. Customers' own columns (tier, seats, MRR, ...) stay in ``customers`` and are
read through each row's ``customer`` code. Vectorised: sorted keys and searches, no loop over
customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.design.cohort import ONBOARDING_DAYS, HealthIndex
from churn_causal.design.trials import WEEK_DAYS

FALL_WEEKS = 8
# Weeks since the latest earlier touch: bins of the exposure (none = never touched before).
EXPOSURE_BINS = (0, 4, 13, 26, 10**6)
EXPOSURE_LABELS = ("never", "1-4 weeks", "5-13 weeks", "14-26 weeks", "27+ weeks")
_WEEK_BITS = 16  # a (customer, week) key: customer << 16 | week; weeks of tenure stay below
MAX_WEEK = (1 << _WEEK_BITS) - 1
_EPOCH = np.datetime64("1970-01-01", "D")


def _day(values: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01 (int64); missing dates as a far-future day."""
    d = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = (d - _EPOCH).astype(np.int64)
    out[np.isnat(d)] = np.iinfo(np.int32).max
    return out


@dataclass
class PersonWeeks:
    """The person-weeks of one touchpoint (``person_weeks``).

    ``rows``: ``customer`` (row of ``customers``), ``week`` (of tenure, from 0), ``day`` (the
    week's first day, days since 1970-01-01), ``score`` and ``fall`` (the score's drop over
    ``FALL_WEEKS`` weeks; both NaN without a recent reading), ``touched``, ``churned`` (gone by
    the next week's start), ``onboarding`` and ``exposure`` (weeks since the latest earlier
    touch, binned). Rows are sorted by customer and week. ``observed_weeks``: per customer, how
    many of their weeks from contract start the data covers whole; ``from_start``: whether the
    data covers them from contract start (their first year can be followed);
    ``events_per_week``: events of the touchpoint per touched week (1 when no customer has two
    in one week)."""

    touchpoint: str
    rows: pd.DataFrame
    customers: pd.DataFrame
    observed_weeks: np.ndarray
    from_start: np.ndarray
    data_end_day: int
    events_per_week: float = 1.0

    def column(self, name: str) -> np.ndarray:
        """A customer column on every row (as text for text columns)."""
        values = self.customers[name]
        if not pd.api.types.is_numeric_dtype(values):
            values = values.astype(str)
        return values.to_numpy()[self.rows["customer"].to_numpy()]

    def customer_columns(self) -> dict[str, np.ndarray]:
        """Every customer column as text, for a scenario's ``where``."""
        return {
            c: self.customers[c].astype(str).to_numpy()
            for c in self.customers.columns
            if c not in ("customer_id", "start_date", "churn_date")
        }


def person_weeks(data: CSData, touchpoint: str, weeks: int | None = None) -> PersonWeeks:
    """The person-weeks of ``touchpoint`` in ``data``, up to tenure week ``weeks`` (all the
    data covers when None)."""
    spans = WeekSpans.of(data, weeks)
    customer, week = spans.rows()
    tenure_day = week.astype(np.int64) * WEEK_DAYS
    health = HealthIndex.of(data)
    score = health.score_at(customer, tenure_day)
    past = health.score_at(customer, np.maximum(tenure_day - FALL_WEEKS * WEEK_DAYS, 0))
    touch_keys, events = _touch_keys(data, touchpoint, pd.Index(spans.customers["customer_id"]),
                                     spans.start)  # fmt: skip
    key = (customer.astype(np.int64) << _WEEK_BITS) | week
    touched = np.isin(key, touch_keys, assume_unique=False)
    per_week = events / len(touch_keys) if len(touch_keys) else 1.0
    return spans.person_weeks(
        touchpoint, customer, week, score, past, touched, _exposure(key, touch_keys), per_week
    )


@dataclass
class WeekSpans:
    """Which tenure weeks of each customer are person-weeks: ``[first, last)``, from the
    first week inside the data to the last it covers whole while they are a customer (tenure
    days since the contract's start; ``churn_day`` far away for none). Per customer, so
    cheap on one machine for any number of them; the engines build the weeks themselves."""

    customers: pd.DataFrame
    start: np.ndarray
    churn_day: np.ndarray
    observed: np.ndarray
    first: np.ndarray
    last: np.ndarray
    end: int

    @classmethod
    def of(cls, data: CSData, weeks: int | None = None) -> WeekSpans:
        """The spans of ``data``'s customers, up to tenure week ``weeks`` (None: all)."""
        cust = data.customers.reset_index(drop=True)
        start = _day(cust["start_date"])
        end = int(_day(pd.Series([data.data_end]))[0])
        first_day = int(_day(pd.Series([data.health["date"].min()]))[0])  # the data's first day
        churn_day = np.maximum(_day(cust["churn_date"]) - start, 0)  # tenure day gone
        observed = np.maximum((end - start + 1) // WEEK_DAYS, 0)  # whole weeks in the data
        alive = -(-churn_day // WEEK_DAYS)  # weeks started as a customer: ceil(churn day / 7)
        last = np.minimum(np.minimum(observed, alive), MAX_WEEK)
        if weeks is not None:
            last = np.minimum(last, weeks)
        first = np.clip(-(-(first_day - start) // WEEK_DAYS), 0, None)  # first week in the data
        return cls(cust, start, churn_day, observed, first, np.maximum(last, first), end)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Customer (row of ``customers``) and tenure week of every person-week, sorted."""
        count = self.last - self.first
        customer = np.repeat(np.arange(len(count), dtype=np.int32), count)
        offsets = np.cumsum(count) - count
        week = np.arange(len(customer)) - np.repeat(offsets, count) + np.repeat(self.first, count)
        return customer, week.astype(np.int32)

    def person_weeks(
        self,
        touchpoint: str,
        customer: np.ndarray,
        week: np.ndarray,
        score: np.ndarray,
        past: np.ndarray,
        touched: np.ndarray,
        exposure: pd.Categorical,
        events_per_week: float,
    ) -> PersonWeeks:
        """The ``PersonWeeks`` of rows (``customer``, ``week``) with the score at the week's
        start and ``FALL_WEEKS`` before it, whether the week was touched and the exposure."""
        tenure_day = week.astype(np.int64) * WEEK_DAYS
        cd = self.churn_day[customer]
        rows = pd.DataFrame(
            {
                "customer": customer,
                "week": week,
                "day": (self.start[customer] + tenure_day).astype(np.int32),
                "score": score.astype(np.float32),
                "fall": np.maximum(past - score, 0.0).astype(np.float32),
                "touched": touched,
                "churned": (cd > tenure_day) & (cd <= tenure_day + WEEK_DAYS),
                "onboarding": tenure_day < ONBOARDING_DAYS,
                "exposure": exposure,
            }
        )
        return PersonWeeks(
            touchpoint, rows, self.customers, self.observed, self.first == 0, self.end,
            events_per_week,
        )  # fmt: skip


def _touch_keys(
    data: CSData, touchpoint: str, ids: pd.Index, start: np.ndarray
) -> tuple[np.ndarray, int]:
    """Sorted distinct (customer, tenure week) keys of the touchpoint's events, and the number
    of events behind them. A week outside ``[0, MAX_WEEK]`` is left out: its key would be
    another customer's."""
    t = data.touches
    mine = (t["touchpoint"].astype(str) == touchpoint).to_numpy()
    row = ids.get_indexer(t["customer_id"][mine])
    week = (_day(t["date"][mine]) - start[np.maximum(row, 0)]) // WEEK_DAYS
    ok = (row >= 0) & (week >= 0) & (week <= MAX_WEEK)
    return np.unique((row[ok].astype(np.int64) << _WEEK_BITS) | week[ok]), int(ok.sum())


def _exposure(key: np.ndarray, touch_keys: np.ndarray) -> pd.Categorical:
    """Weeks since the customer's latest touch before each row's week, binned by
    ``EXPOSURE_BINS`` ("never" without one)."""
    if not len(touch_keys):
        return exposure_codes(np.zeros(len(key), dtype=np.int64))
    pos = np.searchsorted(touch_keys, key, side="left") - 1  # the latest touch key before
    same = pos >= 0
    same[same] = (touch_keys[pos[same]] >> _WEEK_BITS) == (key[same] >> _WEEK_BITS)
    since = np.where(same, (key & MAX_WEEK) - (touch_keys[np.maximum(pos, 0)] & MAX_WEEK), 0)
    return exposure_codes(since)


def exposure_codes(since: np.ndarray) -> pd.Categorical:
    """Weeks since the latest earlier touch (0: none) as ``EXPOSURE_LABELS``."""
    codes = np.where(since > 0, np.searchsorted(EXPOSURE_BINS, since, side="left"), 0)
    return pd.Categorical.from_codes(codes, categories=list(EXPOSURE_LABELS))


def exposure_after(pw: PersonWeeks, touched: np.ndarray) -> pd.Categorical:
    """The exposure of ``pw``'s rows had the touches been ``touched`` (one flag per row; rows
    sorted by customer and week): weeks since the latest touched row before each row."""
    rows = pw.rows
    codes = rows["customer"].to_numpy()
    week = rows["week"].to_numpy().astype(np.int64)
    last = pd.Series(np.where(touched, week, -1)).groupby(codes).cummax().to_numpy()
    prev = np.r_[-1, last[:-1]]
    prev[np.r_[True, codes[1:] != codes[:-1]]] = -1  # a customer's first row has no past
    return exposure_codes(np.where(prev >= 0, week - prev, 0))
