"""The CS team's own LTV formula (seed 000), kept as a labelled comparison.

Per tier, with the selection-corrected effect in place of the team's plain difference:

    monthly churn rate  c = 1 - (1 - r) ** (1 / horizon_months)   for a churn risk r by the horizon
    LTV per customer    = gross margin x monthly ARPA / c
    value               = (LTV with the touchpoint - LTV without) x treated customer-periods

``r`` without the touchpoint is the treated customers' counterfactual risk (the adjusted
controls'); with it, that risk plus the effect. The effect is that of one period's touch (a month,
or a week) on the customers who got it, so the formula multiplies it by the treated customer-
periods of the last year, not by distinct customers. What the formula assumes, and why it comes out
far above ``churn_causal.value.programme``'s value: it turns a 12-month risk difference into a
churn rate changed for the customer's whole life, while the measured effect of one touch fades.
"book LTV" is the formula's own lifetime gross profit of the tier's customers active at the data's
end (LTV without x customers): the scale its value is to be read against.
The effect's 95% interval is carried through the same formula per tier (LTV is monotone in the
effect); tiers' intervals are not added up (that would not be the total's interval).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.design.trials import MONTH_DAYS
from churn_causal.value.business import Business

MIN_MONTHLY_CHURN = 0.001  # LTV = 1 / churn explodes near 0: floor the rate at 0.1% a month


def monthly_rate(risk: np.ndarray | float, horizon_days: int) -> np.ndarray:
    """Constant monthly churn rate giving ``risk`` of churn by the horizon."""
    months = horizon_days / MONTH_DAYS
    r = np.clip(np.asarray(risk, dtype=float), 0.0, 1.0 - 1e-12)
    return np.maximum(1.0 - (1.0 - r) ** (1.0 / months), MIN_MONTHLY_CHURN)


def ltv(risk: np.ndarray | float, arpa: float, gross_margin: float, horizon_days: int):
    """Lifetime gross profit per customer at a churn risk by the horizon."""
    return gross_margin * arpa / monthly_rate(risk, horizon_days)


def team_formula(record: dict[str, Any], data: CSData, business: Business) -> pd.DataFrame:
    """Per tier: treated customer-periods of the last year, ARPA, LTV without and with the
    touchpoint, and the formula's value with its interval (no total interval: see above)."""
    result, horizon = record["result"], record["design"]["horizon_days"]
    method = result["verdict"]["method"]
    arpa = business.arpa_by_tier(data)
    c = data.customers
    active = c["churn_date"].isna() | (c["churn_date"] > data.data_end)
    book = c[active].groupby("tier", observed=True).size()
    reach = record.get("reach", {}).get("by_tier", {})
    rows = []
    for tier, part in result.get("by", {}).items():
        rd = part.get("methods", {}).get(method, {}).get("risk_difference")
        if rd is None or tier not in arpa.index or "risk_control" not in rd:
            continue
        n = int(reach.get(tier, 0))
        r0, a = rd["risk_control"], float(arpa[tier])
        base = ltv(r0, a, business.gross_margin, horizon)
        gain = {
            k: float(ltv(r0 + rd[k], a, business.gross_margin, horizon) - base) * n
            for k in ("estimate", "ci_low", "ci_high")
        }
        rows.append(
            {
                "tier": tier,
                "treated customer-periods (last 12 months)": n,
                "monthly ARPA": a,
                "churn risk without (%)": 100 * r0,
                "effect (pp)": 100 * rd["estimate"],
                "LTV without": float(base),
                "LTV with": float(ltv(r0 + rd["estimate"], a, business.gross_margin, horizon)),
                "value": gain["estimate"],
                # a lower risk is worth more: the CI's high end of the effect is the low value
                "value low": min(gain["ci_low"], gain["ci_high"]),
                "value high": max(gain["ci_low"], gain["ci_high"]),
                # the formula's own scale: its lifetime gross profit of the tier's active book
                "book LTV": float(base) * int(book.get(tier, 0)),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table = table.set_index("tier")
    total = table[["treated customer-periods (last 12 months)", "value", "book LTV"]].sum()
    table.loc["all tiers"] = pd.Series(total)
    return table
