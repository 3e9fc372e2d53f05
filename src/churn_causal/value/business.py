"""The business inputs of the money (the ``business`` section of a run config): margin, currency,
what each touchpoint costs, and the assumptions of the longer view."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn_causal import i18n
from churn_causal.data.contract import CSData


@dataclass(frozen=True)
class Cost:
    """What one event of a touchpoint costs: ``per_event`` in the currency, or
    ``hours_per_event`` at ``hourly_cost`` (a CS manager's hour, say)."""

    per_event: float | None = None
    hours_per_event: float | None = None
    hourly_cost: float | None = None

    def __post_init__(self) -> None:
        by_hours = self.hours_per_event is not None or self.hourly_cost is not None
        if (self.per_event is None) == (not by_hours) or (
            by_hours and (self.hours_per_event is None or self.hourly_cost is None)
        ):
            raise ValueError(
                "a cost is {per_event: AMOUNT} or {hours_per_event: H, hourly_cost: AMOUNT}"
            )
        for value in (self.per_event, self.hours_per_event, self.hourly_cost):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"costs cannot be negative or missing, got {value}")

    @property
    def per_event_amount(self) -> float:
        if self.per_event is not None:
            return float(self.per_event)
        return float(self.hours_per_event) * float(self.hourly_cost)  # type: ignore[arg-type]

    def describe(self, currency: str) -> str:
        """In words, for the page: where the cost per event comes from."""
        if self.per_event is not None:
            return i18n.t("cost.per_event", amount=i18n.money(self.per_event, currency))
        return i18n.t(
            "cost.hours",
            hours=f"{self.hours_per_event:g}",
            hourly=i18n.money(self.hourly_cost, currency),
            amount=i18n.money(self.per_event_amount, currency),
        )


@dataclass(frozen=True)
class LongerView:
    """The assumptions of the money beyond what was measured: customers kept at the end of a
    scenario's window stay on at the natural course's churn rate (the touchpoint's effect is
    not assumed to last past the window: the measured decay says it fades), up to
    ``lifetime_months`` from the window's start, discounted at ``discount_rate`` a year."""

    lifetime_months: int = 36
    discount_rate: float = 0.10

    def __post_init__(self) -> None:
        if self.lifetime_months < 1 or not 0 <= self.discount_rate < 1:
            raise ValueError(
                "longer_view: lifetime_months must be at least 1 and discount_rate in [0, 1)"
            )


@dataclass(frozen=True)
class Business:
    """The business inputs of the money. ``arpa`` ("mrr" or a mapping tier -> monthly ARPA)
    feeds the CS team's LTV formula, shown for comparison; ``costs`` maps a touchpoint to its
    ``Cost``; ``longer_view`` (None: off) adds the value past the measured window."""

    gross_margin: float = 0.75
    currency: str = "EUR"
    arpa: str | dict[str, float] = "mrr"
    costs: dict[str, Cost] = field(default_factory=dict)
    longer_view: LongerView | None = None

    def __post_init__(self) -> None:
        if not 0 < self.gross_margin <= 1:
            raise ValueError(f"gross_margin must be in (0, 1], got {self.gross_margin}")
        if isinstance(self.arpa, str) and self.arpa != "mrr":
            raise ValueError(f"arpa must be 'mrr' or a mapping tier -> amount, got {self.arpa!r}")

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> Business:
        """From a config's ``business`` section (costs and longer_view as mappings)."""
        fields = dict(section)
        costs = fields.pop("costs", None) or {}
        if not isinstance(costs, dict):
            raise ValueError("business.costs maps a touchpoint to its cost")
        view = fields.pop("longer_view", None)
        return cls(
            **fields,
            costs={str(tp): Cost(**(c or {})) for tp, c in costs.items()},
            longer_view=None if view in (None, False) else LongerView(**(view or {})),
        )

    def to_config(self) -> dict[str, Any]:
        """The section back, for the notebooks' parameters."""
        out: dict[str, Any] = {
            "gross_margin": self.gross_margin,
            "currency": self.currency,
            "arpa": self.arpa,
            "costs": {
                tp: {k: v for k, v in vars(c).items() if v is not None}
                for tp, c in self.costs.items()
            },
        }
        if self.longer_view is not None:
            out["longer_view"] = vars(self.longer_view).copy()
        return out

    def cost(self, touchpoint: str) -> Cost | None:
        return self.costs.get(touchpoint)

    def arpa_by_tier(self, data: CSData) -> pd.Series:
        """Monthly ARPA per tier: the given mapping, or the mean MRR of each tier's customers
        active at the end of the data."""
        if isinstance(self.arpa, dict):
            return pd.Series(self.arpa, dtype=float)
        c = data.customers
        active = c["churn_date"].isna() | (c["churn_date"] > data.data_end)
        return c[active].groupby("tier", observed=True)["mrr"].mean()
