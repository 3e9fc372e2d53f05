"""What a touchpoint's programme is worth, and what each what-if scenario would change, in money.

Everything follows from what was measured (``churn_causal.causal.uptake``) within each
scenario's window (its period and the follow-up after it):

    gross profit  = revenue retained x gross margin      (revenue = customer-months x MRR)
    cost          = touch events x cost per event         (business.costs)
    net           = gross profit - cost;   ROI = net / cost

The programme's value is the touchpoint as it is delivered against none of it, where the data
can say that (the weights of "none" keep an effective sample of at least 10%); otherwise
against half of it, said so. The value of one touch more at the current targeting is the
slope between odds x1.1 and /1.1. Intervals come from the fit's joint bootstrap replicates, so
a total, a net value or a ratio has the interval of its own. A value above the group's whole
gross profit over the same weeks is a fault of the code, and raises.

The longer view (off unless asked) adds what the customers kept at the window's end pay
afterwards: at the natural course's churn rate, up to a lifetime cap from the window's start,
discounted yearly; the effect itself is not assumed to outlast the window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from churn_causal.causal.survival import bootstrap_interval
from churn_causal.causal.uptake import OUTCOMES, UptakeScenarios
from churn_causal.design.scenarios import HALF, LESS, MORE, NONE
from churn_causal.design.trials import MONTH_DAYS, WEEK_DAYS
from churn_causal.value.business import Business

_I = {k: i for i, k in enumerate(OUTCOMES)}


class MoneyFault(RuntimeError):
    """A money figure larger than the group's whole gross profit: a fault, not an input."""


def _interval(point: float, reps: np.ndarray) -> dict[str, float]:
    out = bootstrap_interval(point, reps)
    out["excludes_zero"] = bool(out["ci_low"] > 0 or out["ci_high"] < 0)
    return out


def _window_months(fit: UptakeScenarios, name: str) -> float:
    first, end = next(s for s in fit.scenarios if s.name == name).window()
    kind = next(s for s in fit.scenarios if s.name == name).period.kind
    days = (end - first) * (WEEK_DAYS if kind == "tenure" else 1)
    return days / MONTH_DAYS


def _money(fit: UptakeScenarios, name: str, group: str, business: Business, sign: float):
    """Point and replicates of the money quantities of scenario ``name`` in ``group``:
    ``sign`` -1 turns "the scenario minus as now" into "as now minus the scenario" (what the
    programme is worth against the scenario)."""
    nat, nat_b, chg, chg_b = fit.totals(name, group)
    cost = business.cost(fit.touchpoint)
    per_event = cost.per_event_amount if cost is not None else np.nan
    margin = business.gross_margin

    def quantities(n: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
        d = sign * (c - n)
        gp = margin * d[..., _I["revenue"]]
        cost_change = per_event * d[..., _I["events"]]
        risk = c[..., _I["churned"]] / c[..., _I["customers"]] - (
            n[..., _I["churned"]] / n[..., _I["customers"]]
        )
        return {
            "churned": d[..., _I["churned"]],
            "risk_pp": 100 * sign * risk,
            "customer_months": d[..., _I["customer_months"]],
            "revenue": d[..., _I["revenue"]],
            "gross_profit": gp,
            "events": d[..., _I["events"]],
            "cost": cost_change,
            "net": gp - cost_change,
            "survivors": d[..., _I["survivors"]],
            "survivor_mrr": d[..., _I["survivor_mrr"]],
        }

    point, reps = quantities(nat, chg), quantities(nat_b, chg_b)
    whole = margin * nat[_I["revenue"]]
    if abs(point["gross_profit"]) > whole:
        raise MoneyFault(
            f"{fit.touchpoint} '{name}' in {group}: a gross profit change of "
            f"{point['gross_profit']:,.0f} exceeds the group's whole gross profit of {whole:,.0f} "
            "over the same weeks; this is a fault in the estimate, not in the data"
        )
    context = {
        "customers": float(nat[_I["customers"]]),
        "natural_churned": float(nat[_I["churned"]]),
        "natural_customer_months": float(nat[_I["customer_months"]]),
        "natural_revenue": float(nat[_I["revenue"]]),
        "natural_gross_profit": float(whole),
        "natural_events": float(nat[_I["events"]]),
        "natural_survivors": float(nat[_I["survivors"]]),
        "window_months": _window_months(fit, name),
        "cost_per_event": None if cost is None else per_event,
    }
    return point, reps, context


def _summary(point: dict, reps: dict, keys) -> dict[str, dict[str, float]]:
    return {k: _interval(float(point[k]), reps[k]) for k in keys if np.isfinite(point[k])}


def scenario_value(
    fit: UptakeScenarios, name: str, business: Business, group: str = "all"
) -> dict[str, Any]:
    """What scenario ``name`` changes in ``group`` against the touchpoint as it is now: churn
    (customers and pp), customer-months, revenue, gross profit, events, cost and net, with
    joint intervals, and the longer view when the business asks for it."""
    point, reps, context = _money(fit, name, group, business, 1.0)
    reliable, reason = fit.reliable(name, group)
    out = {
        "group": group,
        "reliable": reliable,
        "reason": reason,
        **context,
        "change": _summary(point, reps, point),
    }
    if business.longer_view is not None:
        out["longer_view"] = _longer(point, reps, context, business)
    return out


def programme_value(fit: UptakeScenarios, business: Business, group: str = "all") -> dict[str, Any]:
    """What the programme as delivered is worth in ``group`` against none of it (or half of
    it where "none" is not reliable), and what one touch more is worth at the current
    targeting."""
    usable = {name: fit.reliable(name, group) for name in (NONE, HALF)}
    against = next((name for name in (NONE, HALF) if usable[name][0]), None)
    out: dict[str, Any] = {"group": group, "against": against, "why": usable[NONE][1]}
    if MORE in fit.result_["scenarios"] and LESS in fit.result_["scenarios"]:
        out["one_more_touch"] = _marginal(fit, business, group)
    if against is None:  # neither none nor half of it is within the data's reach
        out["reliable"] = False
        return out
    point, reps, context = _money(fit, against, group, business, -1.0)
    # the programme's part: -1 x (the scenario minus as now)
    keys = ("customer_months", "revenue", "gross_profit", "events", "cost", "net")
    point["churn_prevented"], reps["churn_prevented"] = -point["churned"], -reps["churned"]
    point["roi"] = point["net"] / point["cost"] if point["cost"] else np.nan
    reps["roi"] = reps["net"] / np.where(reps["cost"] == 0, np.nan, reps["cost"])
    per_touch = {}
    for k in ("churn_prevented", "customer_months", "gross_profit", "cost"):
        per_touch[k] = (100 * point[k] / point["events"], 100 * reps[k] / reps["events"])
    point["cost_per_churn_prevented"] = point["cost"] / point["churn_prevented"]
    reps["cost_per_churn_prevented"] = reps["cost"] / reps["churn_prevented"]
    out |= {
        "reliable": True,
        **context,
        "value": _summary(
            point, reps, (*keys, "churn_prevented", "roi", "cost_per_churn_prevented")
        ),
        "per_100_touches": {k: _interval(float(p), r) for k, (p, r) in per_touch.items()},
    }
    if business.longer_view is not None:
        out["longer_view"] = _longer(point, reps, context, business)
    return out


def _marginal(fit: UptakeScenarios, business: Business, group: str) -> dict[str, Any]:
    """Per extra touch at the current targeting: the slope between odds x1.1 and /1.1."""
    (p_more, r_more, _), (p_less, r_less, _) = (
        _money(fit, name, group, business, 1.0) for name in (MORE, LESS)
    )
    touches, touches_b = p_more["events"] - p_less["events"], r_more["events"] - r_less["events"]
    out = {}
    for k in ("churned", "customer_months", "gross_profit", "cost", "net"):
        slope = (p_more[k] - p_less[k]) / touches
        slope_b = (r_more[k] - r_less[k]) / touches_b
        if np.isfinite(slope):
            out[k] = _interval(float(-100 * slope if k == "churned" else slope),
                               -100 * slope_b if k == "churned" else slope_b)  # fmt: skip
    out["churn_prevented_per_100"] = out.pop("churned")
    out["reliable"] = fit.reliable(MORE, group)[0] and fit.reliable(LESS, group)[0]
    return out


def _longer(point: dict, reps: dict, context: dict, business: Business) -> dict[str, Any]:
    """The value within the window (discounted from its middle) plus what the customers kept
    at its end pay afterwards (``LongerView``)."""
    view = business.longer_view
    window = context["window_months"]
    months = max(round(view.lifetime_months - window), 0)
    kept = context["natural_survivors"] / context["customers"] if context["customers"] else 0
    rate = 1 - kept ** (1 / window) if 0 < kept < 1 else 0.0  # natural monthly churn rate
    m = np.arange(1, months + 1)
    annuity = float(((1 - rate) ** m / (1 + view.discount_rate) ** ((window + m) / 12)).sum())
    inside = 1 / (1 + view.discount_rate) ** (window / 24)
    margin = business.gross_margin

    def value(p: dict) -> np.ndarray:
        return inside * p["gross_profit"] + margin * p["survivor_mrr"] * annuity

    return {
        "gross_profit": _interval(float(value(point)), value(reps)),
        "assumptions": {
            "lifetime_months": view.lifetime_months,
            "discount_rate": view.discount_rate,
            "months_after_window": months,
            "monthly_churn_after_window": rate,
            "effect_after_window": "none assumed: customers kept at the window's end churn at "
            "the natural course's rate",
        },
    }
