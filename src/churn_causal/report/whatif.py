"""What each programme is worth and what the run's scenarios would change, as the touchpoint
reports, the executive summary and ``churn-causal whatif`` show it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churn_causal.causal.uptake import UptakeScenarios
from churn_causal.data.contract import CSData
from churn_causal.design.scenarios import NONE, Period, Scenario, programme_scenarios
from churn_causal.value.business import Business
from churn_causal.value.programme import programme_value, scenario_value

WEIGHT_KEYS = ("reliable", "reason", "ess_share_min", "ess_share_revenue_min",
               "ess_share_by_tier_min", "mean_weight_range", "weight_max")  # fmt: skip


def programme_value_of(
    data: CSData,
    touchpoint: str,
    business: Business,
    period: Period,
    follow_up_months: float,
    scenarios: list[Scenario],
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """One touchpoint's programme value (against none of it, or half where none is beyond the
    data, per tier and in total) and its ``scenarios``' changes, in money, as JSON."""
    contrasts = programme_scenarios(touchpoint, period, follow_up_months)
    mine = [s for s in scenarios if s.touchpoint == touchpoint]
    fit = UptakeScenarios([*contrasts, *mine], n_boot, seed).fit(data)
    results = fit.result_["scenarios"]
    cost = business.cost(touchpoint)
    return {
        "period": period.describe(),
        "follow_up_months": follow_up_months,
        "currency": business.currency,
        "gross_margin": business.gross_margin,
        "cost": None if cost is None else cost.describe(business.currency),
        "uptake_model_auc": fit.result_["uptake_model_auc"],
        "contrasts": {s.name: {k: results[s.name][k] for k in WEIGHT_KEYS} for s in contrasts},
        "programme": {g: programme_value(fit, business, g) for g in fit.groups(NONE)},
        "scenarios": {
            s.name: {
                "description": s.describe(),
                "scenario": s.to_dict(),
                **{k: results[s.name][k] for k in WEIGHT_KEYS},
                "groups": {g: scenario_value(fit, s.name, business, g) for g in fit.groups(s.name)},
            }
            for s in mine
        },
    }


def programme_and_scenarios(
    data: CSData, cfg: Any, touchpoints: list[str], n_boot: int
) -> dict[str, dict[str, Any]]:
    """``programme_value_of`` for each touchpoint, with a run config's business inputs,
    programme period and scenarios."""
    return {
        tp: programme_value_of(
            data,
            tp,
            cfg.business,
            cfg.period,
            cfg.follow_up_months,
            cfg.scenarios,
            n_boot,
            cfg.seed,
        )
        for tp in touchpoints
    }


def _ci(d: dict[str, float] | None, fmt: str = "{:,.0f}") -> str:
    if not d:
        return ""
    return f"{fmt.format(d['estimate'])} ({fmt.format(d['ci_low'])} to {fmt.format(d['ci_high'])})"


def negated(d: dict[str, float]) -> dict[str, float]:
    """An interval of minus the quantity (churn prevented as a change in churn)."""
    return {"estimate": -d["estimate"], "ci_low": -d["ci_high"], "ci_high": -d["ci_low"]}


def whatif_table(results: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """One row per touchpoint's programme and per scenario, for everyone: churn, customer-
    months, gross profit, cost and net, each with its 95% interval. Rows whose weights are not
    usable say so instead of giving numbers."""
    rows = []
    for tp, r in results.items():
        if "error" in r:
            rows.append({"touchpoint": tp, "what": "programme", "note": r["error"]})
            continue
        p = r["programme"]["all"]
        row = {"touchpoint": tp, "what": f"the programme as it is, against {p['against']} of it"}
        if p["reliable"]:
            v = p["value"]
            row |= {
                "churn (customers)": _ci(negated(v["churn_prevented"])),
                "customer-months": _ci(v["customer_months"]),
                f"gross profit ({currency})": _ci(v["gross_profit"]),
                f"cost ({currency})": _ci(v.get("cost")),
                f"net ({currency})": _ci(v.get("net")),
            }
        else:
            row |= {"what": "the programme as it is", "note": f"not reported: {p['why']}"}
        rows.append(row)
        for name, s in r["scenarios"].items():
            g = s["groups"].get("segment", s["groups"]["all"])
            row = {"touchpoint": tp, "what": f"{name}: {s['description']}"}
            if g["reliable"]:
                c = g["change"]
                row |= {
                    "churn (customers)": _ci(c["churned"]),
                    "customer-months": _ci(c["customer_months"]),
                    f"gross profit ({currency})": _ci(c["gross_profit"]),
                    f"cost ({currency})": _ci(c.get("cost")),
                    f"net ({currency})": _ci(c.get("net")),
                }
            else:
                row["note"] = f"not reported: {g['reason']}"
            rows.append(row)
    return pd.DataFrame(rows).set_index(["touchpoint", "what"]).fillna("")


def _true_change(truth: dict | None, touchpoint: str, name: str, group: str) -> dict | None:
    """The simulator's exact change of scenario ``name`` in ``group`` (scenario minus as
    now), or None without one."""
    t = ((truth or {}).get("scenarios", {}).get(touchpoint) or {}).get(name)
    if not t or group not in t["natural"]:
        return None
    nat, chg = t["natural"][group], t["changed"][group]
    return {k: chg[k] - nat[k] for k in nat}


def programme_detail(record: dict[str, Any], truth: dict | None = None) -> pd.DataFrame:
    """Per group (everyone, each tier): what the programme is compared with, how usable the
    weights are (effective sample, a share of the customer-weeks, by count and by revenue),
    churn prevented and gross profit kept with intervals, and on simulated data the exact
    truth beside them."""
    p = record["programme"]
    tp, margin = record["touchpoint"], p["gross_margin"]
    rows = []
    for group, v in p["programme"].items():
        row: dict[str, Any] = {"group": group, "compared with": v["against"] or "-"}
        against = v["against"] or "half"
        ess = p["contrasts"][against]
        tier_ess = ess["ess_share_by_tier_min"].get(group)
        row["effective sample"] = _share(tier_ess if group != "all" else ess["ess_share_min"])
        if v["reliable"]:
            value = v["value"]
            row |= {
                "churn prevented": _ci(value["churn_prevented"]),
                "gross profit kept": _ci(value["gross_profit"]),
                "net": _ci(value.get("net")),
            }
            true = _true_change(truth, tp, v["against"], group)
            if true is not None:
                row["truth: churn prevented"] = f"{true['churned']:,.0f}"
                row["truth: gross profit kept"] = f"{-margin * true['revenue']:,.0f}"
        else:
            row["note"] = v["why"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("group").fillna("")


def scenario_detail(record: dict[str, Any], truth: dict | None = None) -> pd.DataFrame:
    """Per scenario and group: the change in churn, customer-months, gross profit and net, the
    weights' effective sample, and on simulated data the exact truth beside them."""
    p = record["programme"]
    tp, margin = record["touchpoint"], p["gross_margin"]
    rows = []
    for name, sc in p["scenarios"].items():
        for group, g in sc["groups"].items():
            row: dict[str, Any] = {"scenario": name, "group": group}
            if group in sc["ess_share_by_tier_min"]:
                row["effective sample"] = _share(sc["ess_share_by_tier_min"][group])
            else:
                row["effective sample"] = _share(sc["ess_share_min"])
            if g["reliable"]:
                c = g["change"]
                row |= {
                    "churn (customers)": _ci(c["churned"]),
                    "customer-months": _ci(c["customer_months"]),
                    "gross profit": _ci(c["gross_profit"]),
                    "net": _ci(c.get("net")),
                }
                true = _true_change(truth, tp, name, group)
                if true is not None:
                    row["truth: churn"] = f"{true['churned']:+,.0f}"
                    row["truth: gross profit"] = f"{margin * true['revenue']:+,.0f}"
            else:
                row["note"] = g["reason"]
            rows.append(row)
    return (
        pd.DataFrame(rows).set_index(["scenario", "group"]).fillna("") if rows else pd.DataFrame()
    )


def _share(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"
