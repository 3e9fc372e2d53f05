"""The calendar of monthly target trials, shared by the simulator's truth and the cohort builder.

A month of tenure is 365.25 / 12 days. Month m (1-based) of a customer's tenure covers the
whole days ``[floor((m - 1) * MONTH_DAYS), floor(m * MONTH_DAYS))`` after the contract start.
Keeping this in one place guarantees that the truth and the estimators use the same windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MONTH_DAYS = 365.25 / 12
WEEK_DAYS = 7


def month_start_day(m: int | np.ndarray) -> int | np.ndarray:
    """First tenure day of month ``m`` (1-based); month 1 starts on day 0."""
    return np.floor((np.asarray(m) - 1) * MONTH_DAYS).astype(np.int64)


@dataclass(frozen=True)
class TrialDesign:
    """A sequence of monthly target trials (Hernán & Robins 2016).

    Trial m: customers active on the first day of month m are eligible; treatment is at least
    one event of the touchpoint in the window (``window_months`` months from the start of
    month m); baseline covariates are measured at the window's start; time zero is the
    window's end; the outcome is churn within ``horizon_days`` after time zero.
    """

    first_month: int = 1
    last_month: int = 18
    window_months: int = 1
    horizon_days: int = 365

    def __post_init__(self) -> None:
        if not 1 <= self.first_month <= self.last_month:
            raise ValueError(
                f"trial months must satisfy 1 <= first <= last, got "
                f"{self.first_month}..{self.last_month}"
            )
        if self.window_months < 1 or self.horizon_days < 1:
            raise ValueError("window_months and horizon_days must be positive")

    @property
    def months(self) -> np.ndarray:
        return np.arange(self.first_month, self.last_month + 1)

    def window(self, m: int) -> tuple[int, int]:
        """Tenure days ``[start, end)`` of trial m's treatment window; ``end`` is time zero."""
        return int(month_start_day(m)), int(month_start_day(m + self.window_months))

    @property
    def last_day_needed(self) -> int:
        """Last tenure day whose outcome any trial needs."""
        return self.window(self.last_month)[1] + self.horizon_days

    def to_dict(self) -> dict:
        return {**asdict(self), "month_days": MONTH_DAYS}
