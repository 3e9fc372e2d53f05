"""What each programme is worth and what the run's scenarios would change, as the touchpoint
reports, the executive summary and ``churn-causal whatif`` show it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churn_causal.causal.uptake import UptakeScenarios
from churn_causal.data.contract import CSData
from churn_causal.design.engines import MEMORY
from churn_causal.design.scenarios import NONE, Period, Scenario, programme_scenarios
from churn_causal.i18n import currency_unit, interval, name, t
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
    engine: str = MEMORY,
) -> dict[str, Any]:
    """One touchpoint's programme value (against none of it, or half where none is beyond the
    data, per tier and in total) and its ``scenarios``' changes, in money, as JSON."""
    contrasts = programme_scenarios(touchpoint, period, follow_up_months)
    mine = [s for s in scenarios if s.touchpoint == touchpoint]
    fit = UptakeScenarios([*contrasts, *mine], n_boot, seed, engine=engine).fit(data)
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
            cfg.engine,
        )
        for tp in touchpoints
    }


def _ci(d: dict[str, float] | None, fmt: str = "{:,.0f}") -> str:
    if not d:
        return ""
    ci = interval(fmt.format(d["ci_low"]), fmt.format(d["ci_high"]))
    return f"{fmt.format(d['estimate'])} ({ci})"


def negated(d: dict[str, float]) -> dict[str, float]:
    """An interval of minus the quantity (churn prevented as a change in churn)."""
    return {"estimate": -d["estimate"], "ci_low": -d["ci_high"], "ci_high": -d["ci_low"]}


def _money_columns(change: dict[str, Any], currency: str) -> dict[str, str]:
    """A change's churn, customer-months, gross profit, cost and net, each with its CI."""
    return {
        t("exec.col.churn_customers"): _ci(change["churned"]),
        t("exec.col.customer_months"): _ci(change["customer_months"]),
        **{
            f"{t(f'exec.col.{k}')} ({currency_unit(currency)})": _ci(change.get(k))
            for k in ("gross_profit", "cost", "net")
        },
    }


def whatif_table(results: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """One row per touchpoint's programme and per scenario, for everyone: churn, customer-
    months, gross profit, cost and net, each with its 95% interval. Rows whose weights are not
    usable say so instead of giving numbers."""
    rows = []
    for tp, r in results.items():
        if "error" in r:
            rows.append({"touchpoint": tp, "what": t("whatif.cli.programme"), "note": r["error"]})
            continue
        p = r["programme"]["all"]
        against = t(f"exec.against.{p['against'] or 'unknown'}")
        row = {"touchpoint": tp, "what": t("whatif.cli.as_it_is_against", against=against)}
        if p["reliable"]:
            v = p["value"]
            row |= {
                **_money_columns({**v, "churned": negated(v["churn_prevented"])}, currency),
            }
        else:
            row |= {
                "what": t("whatif.cli.as_it_is"),
                "note": t("whatif.cli.not_reported", why=p["why"]),
            }
        rows.append(row)
        for scenario, s in r["scenarios"].items():
            g = s["groups"].get("segment", s["groups"]["all"])
            row = {"touchpoint": tp, "what": f"{scenario}: {s['description']}"}
            if g["reliable"]:
                c = g["change"]
                row |= {
                    **_money_columns(c, currency),
                }
            else:
                row["note"] = t("whatif.cli.not_reported", why=g["reason"])
            rows.append(row)
    return pd.DataFrame(rows).set_index(["touchpoint", "what"]).fillna("")


def _true_change(truth: dict | None, touchpoint: str, scenario: str, group: str) -> dict | None:
    """The simulator's exact change of scenario ``scenario`` in ``group`` (scenario minus as
    now), or None without one."""
    true = ((truth or {}).get("scenarios", {}).get(touchpoint) or {}).get(scenario)
    if not true or group not in true["natural"]:
        return None
    nat, chg = true["natural"][group], true["changed"][group]
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
        row: dict[str, Any] = {
            t("col.group"): name(group),
            t("exec.col.compared_with"): t(f"whatif.against.{v['against'] or 'unknown'}"),
        }
        against = v["against"] or "half"
        ess = p["contrasts"][against]
        tier_ess = ess["ess_share_by_tier_min"].get(group)
        row[t("whatif.col.ess")] = _share(tier_ess if group != "all" else ess["ess_share_min"])
        if v["reliable"]:
            value = v["value"]
            row |= {
                t("exec.col.churn_prevented"): _ci(value["churn_prevented"]),
                t("exec.col.gross_profit_kept"): _ci(value["gross_profit"]),
                t("exec.col.net"): _ci(value.get("net")),
            }
            true = _true_change(truth, tp, v["against"], group)
            if true is not None:
                row[t("whatif.col.truth_churn_prevented")] = f"{true['churned']:,.0f}"
                row[t("whatif.col.truth_gross_profit_kept")] = f"{-margin * true['revenue']:,.0f}"
        else:
            row[t("col.note")] = v["why"]
        rows.append(row)
    return pd.DataFrame(rows).set_index(t("col.group")).fillna("")


def scenario_detail(record: dict[str, Any], truth: dict | None = None) -> pd.DataFrame:
    """Per scenario and group: the change in churn, customer-months, gross profit and net, the
    weights' effective sample, and on simulated data the exact truth beside them."""
    p = record["programme"]
    tp, margin = record["touchpoint"], p["gross_margin"]
    rows = []
    for scenario, sc in p["scenarios"].items():
        for group, g in sc["groups"].items():
            row: dict[str, Any] = {
                t("col.scenario"): scenario,
                t("col.group"): t("whatif.segment") if group == "segment" else name(group),
            }
            if group in sc["ess_share_by_tier_min"]:
                row[t("whatif.col.ess")] = _share(sc["ess_share_by_tier_min"][group])
            else:
                row[t("whatif.col.ess")] = _share(sc["ess_share_min"])
            if g["reliable"]:
                c = g["change"]
                row |= {
                    t("exec.col.churn_customers"): _ci(c["churned"]),
                    t("exec.col.customer_months"): _ci(c["customer_months"]),
                    t("exec.col.gross_profit"): _ci(c["gross_profit"]),
                    t("exec.col.net"): _ci(c.get("net")),
                }
                true = _true_change(truth, tp, scenario, group)
                if true is not None:
                    row[t("whatif.col.truth_churn")] = f"{true['churned']:+,.0f}"
                    row[t("whatif.col.truth_gross_profit")] = f"{margin * true['revenue']:+,.0f}"
            else:
                row[t("col.note")] = g["reason"]
            rows.append(row)
    index = [t("col.scenario"), t("col.group")]
    return pd.DataFrame(rows).set_index(index).fillna("") if rows else pd.DataFrame()


def _share(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"
