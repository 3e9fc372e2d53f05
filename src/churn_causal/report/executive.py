"""The executive summary, built from the per-touchpoint results of a run (no re-estimation).

Each touchpoint report saves ``result-<touchpoint>.json`` (``TouchpointAnalysis.record``); this
module turns those into the headline table, what each programme is worth and what the what-if
scenarios would change (with every input of the money), the CS team's LTV formula beside it,
plain sentences and the history of earlier runs. Nothing here names a customer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.design.trials import MONTH_DAYS
from churn_causal.i18n import interval, money, name, t
from churn_causal.report import history
from churn_causal.report.names import markdown
from churn_causal.report.plots import mechanism, method_name
from churn_causal.value.business import Business
from churn_causal.value.ltv import team_formula

RESULT_GLOB = "result-*.json"


def load_results(folder: str | Path) -> dict[str, dict[str, Any]]:
    """The run's per-touchpoint records, by touchpoint, in a stable order."""
    records = [json.loads(p.read_text()) for p in sorted(Path(folder).glob(RESULT_GLOB))]
    if not records:
        raise FileNotFoundError(
            f"no touchpoint results ({RESULT_GLOB}) in {folder}: run `make report` (or "
            "`churn-causal report`) first, or set results_dir to a published run"
        )
    return {r["touchpoint"]: r for r in records}


def _primary(record: dict[str, Any], scale: str = "risk_difference") -> dict[str, float]:
    res = record["result"]
    return res["methods"][res["verdict"]["method"]][scale]


def money_of(d: dict[str, Any], key: str, currency: str) -> str:
    """``d[key]``'s estimate as money, "-" where ``d`` has none."""
    return money(d[key]["estimate"] if key in d else None, currency)


def ci_text(d: dict[str, float] | None, currency: str | None = None, digits: int = 0) -> str:
    """A 95% interval in words: money in the currency, else numbers with ``digits``."""
    if not d:
        return "-"
    if currency:
        return interval(money(d["ci_low"], currency), money(d["ci_high"], currency))
    return interval(f"{d['ci_low']:,.{digits}f}", f"{d['ci_high']:,.{digits}f}")


def ci_pp(d: dict[str, float], digits: int = 2) -> str:
    """A risk difference's 95% interval in signed percentage points."""
    return interval(f"{100 * d['ci_low']:+.{digits}f}", f"{100 * d['ci_high']:+.{digits}f}")


def headline_table(records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per touchpoint: the plain and the corrected effect on churn, and the verdict."""
    rows = []
    for tp, r in records.items():
        res = r["result"]
        rd, naive = _primary(r), res["methods"]["naive"]["risk_difference"]
        rows.append(
            {
                t("col.touchpoint"): name(tp),
                t("exec.col.plain"): round(100 * naive["estimate"], 1),
                t("exec.col.corrected"): round(100 * rd["estimate"], 1),
                t("col.ci_pp"): ci_pp(rd, 1),
                t("exec.col.verdict"): t(f"verdict.level.{res['verdict']['level']}"),
                t("exec.col.why"): _why(res["verdict"]),
            }
        )
    return pd.DataFrame(rows).set_index(t("col.touchpoint"))


def _why(verdict: dict[str, Any]) -> str:
    """The verdict's reason in a phrase: what failed, or that every check passed."""
    if verdict["level"] == "reliable":
        return t("verdict.all_passed")
    return t("common.list_sep").join(verdict["reasons"])


def _programme(record: dict[str, Any], group: str = "all") -> dict[str, Any] | None:
    """The programme value of a record in ``group`` (None without one)."""
    p = record.get("programme")
    if not p or "error" in p:
        return None
    return p["programme"].get(group)


def against(which: str | None) -> str:
    """What a programme is compared with, in words ("none of it", "half of it")."""
    return t(f"exec.against.{which or 'unknown'}")


def programme_table(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """What each programme kept over the counted weeks and at what cost, a column per
    touchpoint and a line per figure, with every input the money is computed from (gross
    profit = revenue kept x gross margin; cost = touches x cost per event; net = gross profit -
    cost; ROI = net / cost) and the customers' whole gross profit over the same weeks."""
    columns = {}
    for tp, r in records.items():
        p = _programme(r)
        if p is None:
            continue
        col: dict[str, str] = {t("exec.col.compared_with"): against(p["against"])}
        if not p["reliable"]:
            col[t("exec.col.compared_with")] = t("exec.cannot_tell")
            col[t("col.note")] = p["why"]
            columns[name(tp)] = col
            continue
        v = p["value"]
        col |= {
            t("exec.col.touches_delivered"): f"{v['events']['estimate']:,.0f}",
            t("exec.col.churn_prevented_customers"): f"{v['churn_prevented']['estimate']:,.0f}",
            t("exec.col.customer_months_kept"): f"{v['customer_months']['estimate']:,.0f}",
            t("exec.col.revenue_kept"): money(v["revenue"]["estimate"], currency),
            t("exec.col.gross_margin"): f"{100 * r['programme']['gross_margin']:.0f}%",
            t("exec.col.gross_profit_kept"): money(v["gross_profit"]["estimate"], currency),
            t("exec.col.gross_profit_ci"): ci_text(v["gross_profit"], currency),
            t("exec.col.cost_per_event"): money(p["cost_per_event"], currency),
            t("exec.col.cost"): money(v["cost"]["estimate"], currency)
            if "cost" in v
            else t("exec.no_cost"),
            t("exec.col.net"): money_of(v, "net", currency),
            t("exec.col.net_ci"): ci_text(v.get("net"), currency),
            "ROI": f"{v['roi']['estimate']:.2f}" if "roi" in v else "-",
            t("exec.col.roi_ci"): ci_text(v.get("roi"), digits=2),
            t("exec.col.cost_per_churn_prevented"): money(
                v["cost_per_churn_prevented"]["estimate"], currency
            )
            if "cost_per_churn_prevented" in v
            else "-",
        }
        if "longer_view" in p:
            col[t("exec.col.longer_view")] = money(
                p["longer_view"]["gross_profit"]["estimate"], currency
            )
            col[t("exec.col.longer_view_ci")] = ci_text(p["longer_view"]["gross_profit"], currency)
        col[t("exec.col.natural_gross_profit")] = money(p["natural_gross_profit"], currency)
        col[t("col.note")] = (
            "" if "net" not in v or v["net"]["excludes_zero"] else t("exec.net_not_clear")
        )
        columns[name(tp)] = col
    return pd.DataFrame(columns).fillna("") if columns else pd.DataFrame()


def per_100_touches(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """Per touchpoint: what every 100 touches of its programme did, on average (churn
    prevented, customer-months and gross profit kept, cost), with intervals."""
    rows = []
    for tp, r in records.items():
        p = _programme(r)
        if p is None or not p["reliable"]:
            continue
        per = p["per_100_touches"]
        rows.append(
            {
                t("col.touchpoint"): name(tp),
                t("exec.col.churn_prevented"): f"{per['churn_prevented']['estimate']:.2f}",
                t("col.ci"): ci_text(per["churn_prevented"], digits=2),
                t("exec.col.customer_months_kept"): f"{per['customer_months']['estimate']:.1f}",
                t("exec.col.gross_profit_kept"): money(per["gross_profit"]["estimate"], currency),
                t("exec.col.gross_profit_ci"): ci_text(per["gross_profit"], currency),
                t("exec.col.cost"): money(per["cost"]["estimate"], currency)
                if np.isfinite(per["cost"]["estimate"])
                else "-",
            }
        )
    return pd.DataFrame(rows).set_index(t("col.touchpoint")) if rows else pd.DataFrame()


def longer_view_note(records: dict[str, dict[str, Any]]) -> str:
    """The longer view's assumptions in words (empty when the run has none)."""
    for r in records.values():
        p = _programme(r)
        if p and p.get("longer_view"):
            a = p["longer_view"]["assumptions"]
            return t(
                "exec.longer_view_note",
                months=a["months_after_window"],
                lifetime=a["lifetime_months"],
                churn=f"{100 * a['monthly_churn_after_window']:.1f}",
                discount=f"{100 * a['discount_rate']:.0f}",
            )
    return ""


def programme_tiers(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """Per touchpoint and tier: gross profit kept and net value with intervals, and the tier's
    whole gross profit over the same weeks."""
    rows = []
    for tp, r in records.items():
        p = r.get("programme")
        if not p or "error" in p:
            continue
        for tier, v in p["programme"].items():
            if tier == "all":
                continue
            row = {
                t("col.touchpoint"): name(tp),
                t("col.tier"): name(tier),
                t("exec.col.compared_with"): against(v["against"]),
            }
            if v["reliable"]:
                value = v["value"]
                row |= {
                    t("exec.col.gross_profit_kept"): money(
                        value["gross_profit"]["estimate"], currency
                    ),
                    t("col.ci"): ci_text(value["gross_profit"], currency),
                    t("exec.col.net"): money_of(value, "net", currency),
                    t("exec.col.net_ci"): ci_text(value.get("net"), currency),
                    t("exec.col.tier_gross_profit"): money(v["natural_gross_profit"], currency),
                }
            else:
                row[t("exec.col.gross_profit_kept")] = t("exec.cannot_tell")
            rows.append(row)
    index = [t("col.touchpoint"), t("col.tier")]
    return pd.DataFrame(rows).set_index(index).fillna("") if rows else pd.DataFrame()


def one_more_touch(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """Per touchpoint: what 100 more touches are worth, given to the customers CS would
    pick next (the current targeting), for all customers."""
    rows = []
    for tp, r in records.items():
        p = _programme(r)
        m = p.get("one_more_touch") if p else None
        if not m:
            continue
        row = {t("col.touchpoint"): name(tp)}
        if m["reliable"]:
            per_100 = m["churn_prevented_per_100"]
            row |= {
                t("exec.col.churn_prevented_per_100"): f"{per_100['estimate']:.2f}",
                t("col.ci"): ci_text(m["churn_prevented_per_100"], digits=2),
                t("exec.col.gross_profit_per_touch"): money(
                    m["gross_profit"]["estimate"], currency
                ),
                t("exec.col.gross_profit_ci"): ci_text(m["gross_profit"], currency),
                t("exec.col.cost_per_touch"): money_of(m, "cost", currency),
                t("exec.col.net_per_touch"): money_of(m, "net", currency),
                t("exec.col.net_ci"): ci_text(m.get("net"), currency),
            }
        else:
            row[t("exec.col.churn_prevented_per_100")] = t("exec.cannot_tell")
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.set_index(t("col.touchpoint")).fillna("") if rows else pd.DataFrame()


def whatif_table(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """Each scenario of the run, in its segment: what it changes against the touchpoint as it
    is now, with intervals; a scenario the data cannot answer says so instead."""
    rows = []
    for r in records.values():
        p = r.get("programme")
        if not p or "error" in p:
            continue
        for scenario, sc in p["scenarios"].items():
            g = sc["groups"].get("segment", sc["groups"]["all"])
            row: dict[str, Any] = {
                t("col.scenario"): scenario,
                t("exec.col.what_changes"): sc["description"],
            }
            if not g["reliable"]:
                row[t("col.note")] = t("exec.cannot_tell_why", why=g["reason"])
                rows.append(row)
                continue
            c = g["change"]
            row |= {
                t("exec.col.churn_customers"): f"{c['churned']['estimate']:+,.0f}",
                t("exec.col.churn_ci"): ci_text(c["churned"]),
                t("exec.col.customer_months"): f"{c['customer_months']['estimate']:+,.0f}",
                t("exec.col.touches"): f"{c['events']['estimate']:+,.0f}",
                t("exec.col.gross_profit"): money(c["gross_profit"]["estimate"], currency),
                t("exec.col.gross_profit_ci"): ci_text(c["gross_profit"], currency),
                t("exec.col.cost"): money(c["cost"]["estimate"], currency)
                if "cost" in c
                else t("exec.no_cost"),
                t("exec.col.net"): money_of(c, "net", currency),
                t("exec.col.net_ci"): ci_text(c.get("net"), currency),
                t("exec.col.segment_gross_profit"): money(g["natural_gross_profit"], currency),
                t("col.note"): ""
                if "net" not in c or c["net"]["excludes_zero"]
                else t("exec.net_not_clear"),
            }
            rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.set_index(t("col.scenario")).fillna("") if rows else pd.DataFrame()


def money_rows(records: dict[str, dict[str, Any]]) -> list[tuple]:
    """(label, estimate, low, high) of each programme's net value and each scenario's net
    change, for a figure; what the data cannot answer is left out."""
    rows = []
    for tp, r in records.items():
        p = _programme(r)
        if p and p["reliable"] and "net" in p["value"]:
            n = p["value"]["net"]
            label = t("exec.programme_vs", touchpoint=name(tp), against=against(p["against"]))
            rows.append((label, n["estimate"], n["ci_low"], n["ci_high"]))
        for scenario, sc in (r.get("programme") or {}).get("scenarios", {}).items():
            g = sc["groups"].get("segment", sc["groups"]["all"])
            if g["reliable"] and "net" in g["change"]:
                n = g["change"]["net"]
                label = t("exec.what_if_label", scenario=scenario)
                rows.append((label, n["estimate"], n["ci_low"], n["ci_high"]))
    return rows


def sentences(
    table: pd.DataFrame,
    records: dict[str, dict[str, Any]],
    currency: str,
    horizon_days: int = 365,
) -> list[str]:
    """Plain sentences an executive can quote, one per touchpoint: the effect of a touch, then
    what the programme is worth in money."""
    months = round(horizon_days / MONTH_DAYS)
    out = []
    for tp, (_, row) in zip(records, table.iterrows(), strict=True):
        effect = row[t("exec.col.corrected")]
        r = _primary(records[tp])
        low, high = round(100 * r["ci_low"], 1), round(100 * r["ci_high"], 1)
        if high < 0:
            what = t("exec.sentence.lowers", months=months, points=f"{-effect:.1f}")
        elif low > 0:
            what = t("exec.sentence.raises", months=months, points=f"{effect:.1f}")
        else:
            what = t("exec.sentence.unclear", months=months, points=f"{effect:+.1f}")
        text = t(
            "exec.sentence.effect",
            touchpoint=markdown(name(tp)),
            what=what,
            low=f"{low:+.1f}",
            high=f"{high:+.1f}",
            plain=f"{row[t('exec.col.plain')]:+.1f}",
        )
        text += _money_sentence(records[tp], currency)
        text += t(
            "exec.sentence.reliability",
            verdict=row[t("exec.col.verdict")],
            why=row[t("exec.col.why")],
        )
        out.append(text)
    return out


def _money_sentence(record: dict[str, Any], currency: str) -> str:
    p = _programme(record)
    if p is None:
        return ""
    period = record["programme"]["period"]
    if not p["reliable"]:
        tiers = [
            name(g)
            for g, v in record["programme"]["programme"].items()
            if g != "all" and v["reliable"]
        ]
        some = t("exec.money.some_tiers", tiers=t("common.and").join(tiers)) if tiers else ""
        return t("exec.money.cannot_tell", period=period, some=some)
    v = p["value"]
    gp, kept = v["gross_profit"], v["churn_prevented"]["estimate"]
    values = {
        "period": period,
        "against": against(p["against"]),
        "customers": t("exec.money.customers", n=f"{kept:,.0f}")
        if round(kept) != 1
        else t("exec.money.customer"),
        "amount": money(gp["estimate"], currency),
        "ci": ci_text(gp, currency),
    }
    clear = gp["excludes_zero"] and gp["estimate"] > 0
    text = t("exec.money.kept" if clear else "exec.money.kept_unclear", **values)
    if "net" in v:
        net = v["net"]
        text += t(
            "exec.money.net" if net["excludes_zero"] else "exec.money.net_unclear",
            cost=money(v["cost"]["estimate"], currency),
            net=money(net["estimate"], currency),
            ci=ci_text(net, currency),
        )
    else:
        text += t("exec.money.no_cost")
    return text


def forest_rows(records: dict[str, dict[str, Any]]) -> list[tuple]:
    """(label, estimate, low, high): each touchpoint's corrected and plain effect."""
    rows = []
    for tp, r in records.items():
        rd, naive = _primary(r), r["result"]["methods"]["naive"]["risk_difference"]
        method = method_name(r["result"]["verdict"]["method"])
        rows.append((f"{name(tp)}: {method}", rd["estimate"], rd["ci_low"], rd["ci_high"]))
        rows.append(
            (t("exec.plain_label", touchpoint=name(tp)), naive["estimate"], naive["ci_low"],
             naive["ci_high"])
        )  # fmt: skip
    return rows


def history_with(path: str | Path, run_id: str, records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The recorded history of earlier runs, with this run's estimates last."""
    earlier = history.read(path)
    earlier = earlier[earlier["run_id"] != run_id]
    now = history.rows_of(run_id, pd.Timestamp.now("UTC").isoformat(), "", records)
    return pd.concat([earlier, now], ignore_index=True) if len(earlier) else now


def history_plot(history: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Each touchpoint's corrected effect (primary method) run by run, with its 95% CI."""
    h = history[history["primary_method"].astype(bool)]
    runs = list(dict.fromkeys(h["run_id"]))
    ax = ax if ax is not None else plt.subplots(figsize=(8, 3.5))[1]
    for i, (tp, g) in enumerate(h.groupby("touchpoint", sort=True)):
        x = np.array([runs.index(r) for r in g["run_id"]]) + 0.08 * (i - 1.5)
        est = 100 * g["estimate"].to_numpy()
        err = [est - 100 * g["ci_low"].to_numpy(), 100 * g["ci_high"].to_numpy() - est]
        ax.errorbar(x, est, yerr=err, fmt="o-", capsize=3, label=name(tp))
    ax.axhline(0, color="grey", linestyle=":")
    ax.set_xticks(range(len(runs)), runs, rotation=30, ha="right")
    ax.set_ylabel(t("exec.history.ylabel"))
    ax.legend(fontsize="small")
    return ax


def styled(table: pd.DataFrame):
    """A table formatted for reading, its names shown as text."""
    return _escaped(table.style.format(na_rep="-", escape="html"))


def styled_headline(table: pd.DataFrame):
    """The headline table formatted for reading."""
    fmt = {c: "{:+.1f}" for c in (t("exec.col.plain"), t("exec.col.corrected"))}
    return _escaped(table.style.format(fmt, na_rep="-", escape="html"))


def _escaped(styler):
    """Tier and touchpoint names are data: shown as text, never as markup."""
    return styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1)


def over_time(records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Per touchpoint, in words: how its effect on health behaves over time (from each
    report's dynamics), and for CS-manager touches the first-year effect of the programme."""
    rows = []
    for tp, record in records.items():
        d = record.get("dynamics")
        if not d or "error" in d:
            continue
        hl, es = d["half_life_days"], d["event_study"]
        row = {
            t("col.touchpoint"): name(tp),
            t("exec.col.how_on_health"): mechanism(es["mechanism"]),
            t("exec.col.fades_in"): t("exec.days", days=f"{hl['estimate']:.0f}")
            if hl.get("estimable") and hl["ci_high"] is not None
            else t("exec.no_fading"),
        }
        if d.get("msm"):
            m = d["msm"]["msm"]
            row[t("exec.col.msm")] = f"{100 * m['estimate']:+.1f} ({ci_pp(m, 1)})"
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.set_index(t("col.touchpoint")).fillna("") if rows else pd.DataFrame()


def team_table(
    records: dict[str, dict[str, Any]], data: CSData, business: Business
) -> pd.DataFrame:
    """Per touchpoint: the CS team's LTV formula (``value.ltv``, in its units) beside the value
    measured within the counted weeks, how many times larger the formula's is, and the formula's
    own lifetime gross profit of the active customers (the scale its value is read against)."""
    rows = []
    for tp, r in records.items():
        formula = team_formula(r, data, business)
        p = _programme(r)
        if formula.empty:
            continue
        total = float(formula.loc["all tiers", "value"])
        measured = p["value"]["gross_profit"]["estimate"] if p and p["reliable"] else None
        rows.append(
            {
                t("col.touchpoint"): name(tp),
                t("exec.col.treated_periods"): int(
                    formula.loc["all tiers", "treated customer-periods (last 12 months)"]
                ),
                t("exec.col.formula_says"): money(total, business.currency),
                t("exec.col.measured"): money(measured, business.currency),
                t("exec.col.formula_over_measured"): t("exec.times", n=f"{total / measured:,.0f}")
                if measured and measured > 0
                else "-",
                t("exec.col.formula_lifetime"): money(
                    float(formula.loc["all tiers", "book LTV"]), business.currency
                ),
            }
        )
    return pd.DataFrame(rows).set_index(t("col.touchpoint")) if rows else pd.DataFrame()
