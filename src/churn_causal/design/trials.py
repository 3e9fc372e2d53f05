"""The calendar of target trials, shared by the simulator's truth and the cohort builder.

Trials are monthly or weekly. A month of tenure is 365.25 / 12 days, a week 7 days; period k
(1-based) covers the whole days ``[floor((k - 1) * length), floor(k * length))`` after the
contract start. Keeping this in one place guarantees that the truth and the estimators use the
same windows.

Weekly trials are for touchpoints that react to the health score week by week (a CS manager
calling a customer whose score is falling): in a monthly window the score keeps moving between
the window's start, where the covariates are measured, and the touch, and that movement also
predicts churn. In the simulator this left cs_touch with +0.9 pp of bias against a true -1.2 pp
under monthly trials, and about +0.1 pp under weekly ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from churn_causal import i18n

MONTH_DAYS = 365.25 / 12
WEEK_DAYS = 7
PERIOD_DAYS = {"month": MONTH_DAYS, "week": float(WEEK_DAYS)}
# A touchpoint's design unless the run's config says otherwise (``design.<touchpoint>``): CS
# managers react to the week's health score, so CS-manager touches get weekly trials.
DEFAULT_DESIGNS: dict[str, dict] = {"cs_touch": {"unit": "week"}}


def period_start_day(k: int | np.ndarray, unit: str = "month") -> int | np.ndarray:
    """First tenure day of period ``k`` (1-based) of ``unit``; period 1 starts on day 0."""
    return np.floor((np.asarray(k) - 1) * PERIOD_DAYS[unit]).astype(np.int64)


@dataclass(frozen=True)
class TrialDesign:
    """A sequence of target trials (Hernán & Robins 2016), one per month or week of tenure.

    Trial k: customers active on the first day of period k are eligible; treatment is at least
    one event of the touchpoint in the window (``window`` periods from the start of period k);
    baseline covariates are measured at the window's start; time zero is the window's end; the
    outcome is churn within ``horizon_days`` after time zero.
    """

    first: int = 1
    last: int = 18
    window: int = 1
    horizon_days: int = 365
    unit: Literal["month", "week"] = "month"

    def __post_init__(self) -> None:
        if self.unit not in PERIOD_DAYS:
            raise ValueError(f"unit must be one of {sorted(PERIOD_DAYS)}, got {self.unit!r}")
        if not 1 <= self.first <= self.last:
            raise ValueError(
                f"trial {self.unit}s must satisfy 1 <= first <= last, got {self.first}..{self.last}"
            )
        if self.window < 1 or self.horizon_days < 1:
            raise ValueError("window and horizon_days must be positive")

    @classmethod
    def weekly(cls, **kwargs) -> TrialDesign:
        """Weekly trials over the same first 18 months of tenure as the monthly default."""
        return cls(**{"first": 1, "last": 78, "unit": "week", **kwargs})

    @classmethod
    def of(cls, **fields) -> TrialDesign:
        """A design from any of its fields: weekly trials default to weeks 1-78, the same
        first 18 months of tenure as the monthly default."""
        unknown = set(fields) - set(DESIGN_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown design field(s) {sorted(unknown)}; fields: {', '.join(DESIGN_FIELDS)}"
            )
        return cls.weekly(**fields) if fields.get("unit") == "week" else cls(**fields)

    @property
    def trials(self) -> np.ndarray:
        return np.arange(self.first, self.last + 1)

    def window_days(self, k: int) -> tuple[int, int]:
        """Tenure days ``[start, end)`` of trial k's treatment window; ``end`` is time zero."""
        return int(period_start_day(k, self.unit)), int(
            period_start_day(k + self.window, self.unit)
        )

    @property
    def last_day_needed(self) -> int:
        """Last tenure day whose outcome any trial needs."""
        return self.window_days(self.last)[1] + self.horizon_days

    def describe(self) -> str:
        """In words, for reports."""
        return i18n.t(
            f"design.{self.unit}.{'window' if self.window > 1 else 'one'}",
            first=self.first,
            last=self.last,
            window=self.window,
            days=self.horizon_days,
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "period_days": PERIOD_DAYS[self.unit]}

    @classmethod
    def from_dict(cls, d: dict) -> TrialDesign:
        """The design back from ``to_dict`` (derived keys are left out)."""
        return cls(**{k: d[k] for k in DESIGN_FIELDS if k in d})


DESIGN_FIELDS = ("unit", "first", "last", "window", "horizon_days")


def resolve_design(
    touchpoint: str, config: dict | None = None, overrides: dict | None = None
) -> TrialDesign:
    """The design of ``touchpoint``: ``DEFAULT_DESIGNS``, then a config's design section (its
    fields apply to every touchpoint, its ``<touchpoint>`` mapping to that one), then
    ``overrides`` (the command line's design options)."""
    config = config or {}
    fields = dict(DEFAULT_DESIGNS.get(touchpoint, {}))
    fields |= {k: v for k, v in config.items() if not isinstance(v, dict)}
    fields |= config.get(touchpoint) or {}
    fields |= overrides or {}
    return TrialDesign.of(**fields)
