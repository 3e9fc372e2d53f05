"""Programmes and what-if scenarios: interventions on a touchpoint's uptake.

A scenario multiplies every week's odds of a touchpoint by ``delta`` (an incremental propensity
score intervention, Kennedy 2019) for the customers and weeks it names: ``where`` (customer
columns such as tier or contract_type, and the lifecycle ``phase``) during ``period`` (the first
year of each customer's tenure, or a calendar span of the data). ``delta`` = 2 doubles the odds
of a touch in every such week, 0.5 halves them, 0 stops the touchpoint; CS keeps choosing whom to
touch the way it does now. What it changes is counted over the period and a follow-up after it
(12 months by default: an annual contract saved at its renewal pays for a year after it).

The simulator's exact truth and the estimator read these same definitions, so they count the
same weeks: week w of a customer's tenure covers tenure days ``[7w, 7w + 7)``; it counts in a
tenure window when ``w`` is in it, and in a calendar window when its first day is, and its last
day is on or before the data's end.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from churn_causal import i18n
from churn_causal.design.cohort import ONBOARDING_DAYS
from churn_causal.design.trials import WEEK_DAYS

FIRST_YEAR_WEEKS = 52
FOLLOW_UP_MONTHS = 12
PHASES = ("onboarding", "adoption")
PHASE = "phase"  # the row-level key of ``where``; every other key is a customer column
# The product's own contrasts of every touchpoint's programme (``programme_scenarios``): as it
# is against none, against half of it, and the slope at the current level (one touch more).
NONE, HALF, MORE, LESS = "none", "half", "marginal more", "marginal less"
MARGINAL_STEP = 1.1  # the marginal contrasts multiply the odds by 1.1 and divide them by it


@dataclass(frozen=True)
class Period:
    """When an intervention applies: tenure weeks ``[start, end)`` of every customer
    (``kind="tenure"``), or calendar days ``[start, end)`` (``kind="calendar"``, days since
    1970-01-01)."""

    kind: Literal["tenure", "calendar"] = "tenure"
    start: int = 0
    end: int = FIRST_YEAR_WEEKS

    def __post_init__(self) -> None:
        if self.kind not in ("tenure", "calendar"):
            raise ValueError(f"a period is 'tenure' or 'calendar', not {self.kind!r}")
        if not 0 <= self.start < self.end and self.kind == "tenure":
            raise ValueError(f"tenure weeks must satisfy 0 <= start < end, got {self}")
        if self.start >= self.end:
            raise ValueError(f"a period must end after it starts, got {self}")

    @classmethod
    def parse(cls, spec: Any) -> Period:
        """From a config: ``first_year``; ``{tenure_weeks: [0, 52]}`` (from week 0, up to but
        not including week 52); ``{year: 2025}``; or ``{from: 2025-04-01, to: 2026-03-31}``
        (calendar days, both included)."""
        if isinstance(spec, Period):
            return spec
        if spec in (None, "first_year"):
            return cls()
        if isinstance(spec, dict) and set(spec) == {"tenure_weeks"}:
            first, end = spec["tenure_weeks"]
            return cls("tenure", int(first), int(end))
        if isinstance(spec, dict) and set(spec) == {"year"}:
            year = int(spec["year"])
            return cls("calendar", _day(dt.date(year, 1, 1)), _day(dt.date(year + 1, 1, 1)))
        if isinstance(spec, dict) and set(spec) == {"from", "to"}:
            return cls("calendar", _day(spec["from"]), _day(spec["to"]) + 1)
        raise ValueError(
            f"period {spec!r}: give first_year, {{tenure_weeks: [first, end]}}, {{year: YYYY}} "
            "or {from: YYYY-MM-DD, to: YYYY-MM-DD}"
        )

    def to_config(self) -> Any:
        if self == Period():
            return "first_year"
        if self.kind == "tenure":
            return {"tenure_weeks": [self.start, self.end]}
        return {"from": str(_date(self.start)), "to": str(_date(self.end - 1))}

    def describe(self) -> str:
        """In words, for reports."""
        if self == Period():
            return i18n.t("period.first_year")
        if self.kind == "tenure":
            return i18n.t("period.tenure", first=self.start + 1, last=self.end)
        first, last = _date(self.start), _date(self.end - 1)
        whole_year = (first.month, first.day, last.month, last.day) == (1, 1, 12, 31)
        if whole_year and first.year == last.year:
            return i18n.t("period.year", year=first.year)
        return i18n.t("period.dates", first=i18n.date(first), last=i18n.date(last))


def _day(value: Any) -> int:
    """Days since 1970-01-01 of a date (or an ISO date string)."""
    d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return (d - dt.date(1970, 1, 1)).days


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


@dataclass(frozen=True)
class Scenario:
    """Every week's odds of ``touchpoint`` multiplied by ``delta`` for the customers and weeks
    of ``where`` during ``period``; its outcomes counted over the period and
    ``follow_up_weeks`` after it."""

    name: str
    touchpoint: str
    delta: float
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    period: Period = field(default_factory=Period)
    follow_up_weeks: int = round(FOLLOW_UP_MONTHS * 365.25 / 12 / WEEK_DAYS)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.delta) and self.delta >= 0):
            raise ValueError(f"scenario '{self.name}': delta must be 0 or more, not {self.delta}")
        if self.follow_up_weeks < 0:
            raise ValueError(f"scenario '{self.name}': the follow-up cannot be negative")
        for key, values in self.where:
            if key == PHASE and not set(values) <= set(PHASES):
                raise ValueError(
                    f"scenario '{self.name}': phase is one of {', '.join(PHASES)}, not {values}"
                )

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], period: Any = None, follow_up_months: float = FOLLOW_UP_MONTHS
    ) -> Scenario:
        """From a config entry ``{name, touchpoint, delta, where, period}`` (or ``to_dict``'s,
        with its ``follow_up_weeks``); ``period`` and ``follow_up_months`` are the defaults of
        the config's ``programme`` section."""
        unknown = set(d) - {"name", "touchpoint", "delta", "where", "period", "follow_up_weeks"}
        if unknown:
            raise ValueError(f"scenario: unknown key(s) {', '.join(sorted(unknown))}")
        missing = {"name", "touchpoint", "delta"} - set(d)
        if missing:
            raise ValueError(f"scenario {d}: missing {', '.join(sorted(missing))}")
        where = d.get("where") or {}
        if not isinstance(where, dict):
            raise ValueError(f"scenario '{d['name']}': where must map columns to values")
        return cls(
            name=str(d["name"]),
            touchpoint=str(d["touchpoint"]),
            delta=float(d["delta"]),
            where=tuple(
                (str(k), tuple(str(x) for x in (v if isinstance(v, list) else [v])))
                for k, v in sorted(where.items())
            ),
            period=Period.parse(d.get("period", period)),
            follow_up_weeks=int(d.get("follow_up_weeks", follow_up_weeks(follow_up_months))),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "touchpoint": self.touchpoint,
            "delta": self.delta,
            "where": {k: list(v) for k, v in self.where},
            "period": self.period.to_config(),
            "follow_up_weeks": self.follow_up_weeks,
        }

    @property
    def customer_where(self) -> dict[str, tuple[str, ...]]:
        """The customer columns of ``where`` (everything but the phase)."""
        return {k: v for k, v in self.where if k != PHASE}

    @property
    def phases(self) -> tuple[str, ...]:
        return dict(self.where).get(PHASE, PHASES)

    def window(self) -> tuple[int, int]:
        """The outcome window on the period's axis: tenure weeks, or calendar days."""
        step = WEEK_DAYS if self.period.kind == "calendar" else 1
        return self.period.start, self.period.end + self.follow_up_weeks * step

    def applies(self, week: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Which weeks the intervention changes, for customers of the segment: tenure
        ``week`` and its first calendar ``day`` (days since 1970-01-01) inside the period, and
        in a phase ``where`` names."""
        on = day if self.period.kind == "calendar" else week
        inside = (on >= self.period.start) & (on < self.period.end)
        if len(self.phases) < len(PHASES):
            onboarding = WEEK_DAYS * np.asarray(week) < ONBOARDING_DAYS
            inside &= onboarding if self.phases == ("onboarding",) else ~onboarding
        return inside

    def counted(self, week: np.ndarray, day: np.ndarray, data_end_day: int) -> np.ndarray:
        """Which weeks count towards the outcomes: tenure weeks in the window; or weeks whose
        first day is in the calendar window, which ends where the data still shows every
        customer's week whole (its 7-day steps from the window's start whose latest-starting
        week ends by the data's end), so that nobody leaves it unseen."""
        first, end = self.window()
        if self.period.kind == "tenure":
            return (week >= first) & (week < end)
        whole = first + WEEK_DAYS * ((data_end_day - 2 * WEEK_DAYS + 2 - first) // WEEK_DAYS + 1)
        return (day >= first) & (day < min(end, whole))

    def in_segment(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Which customers ``where`` names, from their ``columns`` (as text)."""
        n = len(next(iter(columns.values())))
        keep = np.ones(n, dtype=bool)
        for key, values in self.customer_where.items():
            if key not in columns:
                raise ValueError(
                    f"scenario '{self.name}': where names '{key}', which is not a customer "
                    f"column; columns: {', '.join(sorted(columns))}, or phase"
                )
            keep &= np.isin(columns[key], list(values))
        return keep

    def describe(self) -> str:
        """In words: what changes, for whom, when."""
        touchpoint = i18n.name(self.touchpoint)
        if self.delta == 0:
            what = i18n.t("scenario.none", touchpoint=touchpoint)
        elif self.delta == 1:
            what = i18n.t("scenario.as_now", touchpoint=touchpoint)
        else:
            what = i18n.t("scenario.odds", touchpoint=touchpoint, delta=f"{self.delta:g}")
        who = i18n.t("common.list_sep").join(
            i18n.t(
                "scenario.where", column=i18n.covariate(k), levels="/".join(i18n.name(x) for x in v)
            )
            for k, v in self.where
        )
        return i18n.t(
            "scenario.describe" if who else "scenario.describe_all",
            what=what,
            who=who,
            period=self.period.describe(),
        )


def follow_up_weeks(months: float) -> int:
    """Whole weeks covering ``months`` months (12 months: 52 weeks)."""
    if months < 0:
        raise ValueError("the follow-up cannot be negative")
    return round(months * 365.25 / 12 / WEEK_DAYS)


def programme_scenarios(
    touchpoint: str, period: Period | None = None, follow_up_months: float = FOLLOW_UP_MONTHS
) -> list[Scenario]:
    """The contrasts every touchpoint's programme is valued by: none of it, half of it, and
    the odds times and over ``MARGINAL_STEP`` (the value of one touch more, at the current
    targeting)."""
    period = period or Period()
    weeks = follow_up_weeks(follow_up_months)
    return [
        Scenario(name, touchpoint, delta, (), period, weeks)
        for name, delta in (
            (NONE, 0.0),
            (HALF, 0.5),
            (MORE, MARGINAL_STEP),
            (LESS, 1 / MARGINAL_STEP),
        )
    ]
