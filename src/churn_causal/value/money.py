"""What a touchpoint is worth: the CS team's LTV formula with the selection-corrected effect.

Per tier (the team's own method, with our estimate in place of their plain difference):

    monthly churn rate  c = 1 - (1 - r) ** (1 / horizon_months)   for a churn risk r by the horizon
    LTV per customer    = gross margin x monthly ARPA / c
    value               = (LTV with the touchpoint - LTV without) x customers reached

``r`` without the touchpoint is the treated customers' counterfactual risk (the adjusted
controls' risk); with it, that risk plus the effect. The effect's 95% CI is carried through the
same formula (LTV is monotone in the effect), so the value has an interval too. Customers reached
are the distinct customers of the tier with at least one event of the touchpoint in the last
12 months of data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.design.trials import MONTH_DAYS

MIN_MONTHLY_CHURN = 0.001  # LTV = 1 / churn explodes near 0: floor the rate at 0.1% a month
REACHED_DAYS = 365


@dataclass(frozen=True)
class Business:
    """The business inputs of the money estimate (the ``business`` section of a run config).

    ``arpa`` is "mrr" (each tier's mean MRR of its active customers at the end of the data) or a
    mapping tier -> monthly ARPA in ``currency``.
    """

    gross_margin: float = 0.75
    currency: str = "EUR"
    arpa: str | dict[str, float] = "mrr"

    def __post_init__(self) -> None:
        if not 0 < self.gross_margin <= 1:
            raise ValueError(f"gross_margin must be in (0, 1], got {self.gross_margin}")
        if isinstance(self.arpa, str) and self.arpa != "mrr":
            raise ValueError(f"arpa must be 'mrr' or a mapping tier -> amount, got {self.arpa!r}")

    def arpa_by_tier(self, data: CSData) -> pd.Series:
        if isinstance(self.arpa, dict):
            return pd.Series(self.arpa, dtype=float)
        c = data.customers
        active = c["churn_date"].isna() | (c["churn_date"] > data.data_end)
        return c[active].groupby("tier", observed=True)["mrr"].mean()


def reached_by_tier(data: CSData, touchpoint: str, days: int = REACHED_DAYS) -> pd.Series:
    """Distinct customers per tier with an event of ``touchpoint`` in the last ``days`` days."""
    t = data.touches
    recent = t[
        (t["touchpoint"] == touchpoint) & (t["date"] > data.data_end - pd.Timedelta(days=days))
    ]
    tiers = data.customers.set_index("customer_id")["tier"]
    ids = recent["customer_id"].drop_duplicates()
    return tiers.reindex(ids).value_counts().rename("customers reached")


def monthly_rate(risk: np.ndarray | float, horizon_days: int) -> np.ndarray:
    """Constant monthly churn rate giving ``risk`` of churn by the horizon."""
    months = horizon_days / MONTH_DAYS
    r = np.clip(np.asarray(risk, dtype=float), 0.0, 1.0 - 1e-12)
    return np.maximum(1.0 - (1.0 - r) ** (1.0 / months), MIN_MONTHLY_CHURN)


def ltv(risk: np.ndarray | float, arpa: float, gross_margin: float, horizon_days: int):
    """Lifetime gross profit per customer at a churn risk by the horizon."""
    return gross_margin * arpa / monthly_rate(risk, horizon_days)


def value_by_tier(
    result: dict[str, Any],
    data: CSData,
    touchpoint: str,
    business: Business,
    horizon_days: int,
) -> pd.DataFrame:
    """Per tier (and in total): reach, ARPA, LTV without and with the touchpoint, the value and
    its 95% interval, from the per-tier estimates of the result's primary method."""
    method = result["verdict"]["method"]
    arpa = business.arpa_by_tier(data)
    reached = reached_by_tier(data, touchpoint)
    rows = []
    for tier, part in result.get("by", {}).items():
        rd = part.get("methods", {}).get(method, {}).get("risk_difference")
        if rd is None or tier not in arpa.index or "risk_control" not in rd:
            continue
        n = int(reached.get(tier, 0))
        r0 = rd["risk_control"]
        base = ltv(r0, arpa[tier], business.gross_margin, horizon_days)
        gain = {
            k: float(ltv(r0 + rd[k], arpa[tier], business.gross_margin, horizon_days) - base) * n
            for k in ("estimate", "ci_low", "ci_high")
        }
        rows.append(
            {
                "tier": tier,
                "customers reached": n,
                "monthly ARPA": float(arpa[tier]),
                "churn risk without (%)": 100 * r0,
                "effect (pp)": 100 * rd["estimate"],
                "LTV without": float(base),
                "LTV with": float(
                    ltv(r0 + rd["estimate"], arpa[tier], business.gross_margin, horizon_days)
                ),
                # A lower risk is worth more: the CI's high end of the effect is the low value.
                "value": gain["estimate"],
                "value low": min(gain["ci_low"], gain["ci_high"]),
                "value high": max(gain["ci_low"], gain["ci_high"]),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table = table.set_index("tier")
    # Tier intervals are summed as if fully dependent (a conservative total interval).
    table.loc["all tiers", ["customers reached", "value", "value low", "value high"]] = table[
        ["customers reached", "value", "value low", "value high"]
    ].sum()
    return table
