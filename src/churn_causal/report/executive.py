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
from churn_causal.report import history
from churn_causal.report.names import markdown
from churn_causal.report.plots import NAMES
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


def money(x: float | None, currency: str) -> str:
    """An amount of money in words a reader can quote: the currency and whole units."""
    if x is None or not np.isfinite(x):
        return "-"
    return f"{currency} {x:,.0f}"


def ci_text(d: dict[str, float] | None, currency: str | None = None, digits: int = 0) -> str:
    """A 95% interval in words: money in the currency, else numbers with ``digits``."""
    if not d:
        return "-"
    if currency:
        return f"{money(d['ci_low'], currency)} to {money(d['ci_high'], currency)}"
    return f"{d['ci_low']:,.{digits}f} to {d['ci_high']:,.{digits}f}"


def headline_table(records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per touchpoint: the plain and the corrected effect on churn, and the verdict."""
    rows = []
    for tp, r in records.items():
        res = r["result"]
        rd, naive = _primary(r), res["methods"]["naive"]["risk_difference"]
        rows.append(
            {
                "touchpoint": tp,
                "plain difference (pp)": round(100 * naive["estimate"], 1),
                "corrected effect (pp)": round(100 * rd["estimate"], 1),
                "95% CI (pp)": f"{100 * rd['ci_low']:+.1f} to {100 * rd['ci_high']:+.1f}",
                "verdict": res["verdict"]["level"],
                "why": _why(res["verdict"]),
            }
        )
    return pd.DataFrame(rows).set_index("touchpoint")


def _why(verdict: dict[str, Any]) -> str:
    """The verdict's reason in a phrase: what failed, or that every check passed."""
    if verdict["level"] == "reliable":
        return "balance, overlap, agreement of methods and robustness checks passed"
    return "; ".join(verdict["reasons"])


def _programme(record: dict[str, Any], group: str = "all") -> dict[str, Any] | None:
    """The programme value of a record in ``group`` (None without one)."""
    p = record.get("programme")
    if not p or "error" in p:
        return None
    return p["programme"].get(group)


AGAINST = {"none": "none of it", "half": "half of it", None: "-"}


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
        col: dict[str, str] = {"compared with": AGAINST[p["against"]]}
        if not p["reliable"]:
            col["compared with"] = "cannot be told from this data"
            col["note"] = p["why"]
            columns[tp] = col
            continue
        v = p["value"]
        col |= {
            "touches delivered": f"{v['events']['estimate']:,.0f}",
            "churn prevented (customers)": f"{v['churn_prevented']['estimate']:,.0f}",
            "customer-months kept": f"{v['customer_months']['estimate']:,.0f}",
            "revenue kept": money(v["revenue"]["estimate"], currency),
            "gross margin": f"{100 * r['programme']['gross_margin']:.0f}%",
            "gross profit kept": money(v["gross_profit"]["estimate"], currency),
            "gross profit, 95% CI": ci_text(v["gross_profit"], currency),
            "cost per event": money(p["cost_per_event"], currency),
            "cost": money(v["cost"]["estimate"], currency) if "cost" in v else "no cost given",
            "net": money(v["net"]["estimate"], currency) if "net" in v else "-",
            "net, 95% CI": ci_text(v.get("net"), currency),
            "ROI": f"{v['roi']['estimate']:.2f}" if "roi" in v else "-",
            "ROI, 95% CI": ci_text(v.get("roi"), digits=2),
            "cost per churn prevented": money(v["cost_per_churn_prevented"]["estimate"], currency)
            if "cost_per_churn_prevented" in v
            else "-",
        }
        if "longer_view" in p:
            col["gross profit kept, longer view"] = money(
                p["longer_view"]["gross_profit"]["estimate"], currency
            )
            col["longer view, 95% CI"] = ci_text(p["longer_view"]["gross_profit"], currency)
        col["gross profit of these customers over the same weeks"] = money(
            p["natural_gross_profit"], currency
        )
        col["note"] = "" if "net" not in v or v["net"]["excludes_zero"] else "net not clear of zero"
        columns[tp] = col
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
                "touchpoint": tp,
                "churn prevented": f"{per['churn_prevented']['estimate']:.2f}",
                "95% CI": ci_text(per["churn_prevented"], digits=2),
                "customer-months kept": f"{per['customer_months']['estimate']:.1f}",
                "gross profit kept": money(per["gross_profit"]["estimate"], currency),
                "gross profit, 95% CI": ci_text(per["gross_profit"], currency),
                "cost": money(per["cost"]["estimate"], currency)
                if np.isfinite(per["cost"]["estimate"])
                else "-",
            }
        )
    return pd.DataFrame(rows).set_index("touchpoint") if rows else pd.DataFrame()


def longer_view_note(records: dict[str, dict[str, Any]]) -> str:
    """The longer view's assumptions in words (empty when the run has none)."""
    for r in records.values():
        p = _programme(r)
        if p and p.get("longer_view"):
            a = p["longer_view"]["assumptions"]
            return (
                "**Longer view** (an extrapolation, not a measurement): the customers kept at the "
                f"end of the counted weeks stay on for {a['months_after_window']} more months "
                f"(a lifetime cap of {a['lifetime_months']} months), churning at the natural "
                f"course's rate of {100 * a['monthly_churn_after_window']:.1f}% a month; the "
                "touchpoint's own effect is not assumed to last beyond the counted weeks; all "
                f"gross profit is discounted at {100 * a['discount_rate']:.0f}% a year."
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
            row = {"touchpoint": tp, "tier": tier, "compared with": AGAINST[v["against"]]}
            if v["reliable"]:
                value = v["value"]
                row |= {
                    "gross profit kept": money(value["gross_profit"]["estimate"], currency),
                    "95% CI": ci_text(value["gross_profit"], currency),
                    "net": money(value["net"]["estimate"], currency) if "net" in value else "-",
                    "net, 95% CI": ci_text(value.get("net"), currency),
                    "gross profit of the tier over the same weeks": money(
                        v["natural_gross_profit"], currency
                    ),
                }
            else:
                row["gross profit kept"] = "cannot be told from this data"
            rows.append(row)
    return (
        pd.DataFrame(rows).set_index(["touchpoint", "tier"]).fillna("") if rows else pd.DataFrame()
    )


def one_more_touch(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """Per touchpoint: what 100 more touches are worth, given to the customers CS would
    pick next (the current targeting), for all customers."""
    rows = []
    for tp, r in records.items():
        p = _programme(r)
        m = p.get("one_more_touch") if p else None
        if not m:
            continue
        row = {"touchpoint": tp}
        if m["reliable"]:
            per_100 = m["churn_prevented_per_100"]
            row |= {
                "churn prevented per 100 touches": f"{per_100['estimate']:.2f}",
                "95% CI": ci_text(m["churn_prevented_per_100"], digits=2),
                "gross profit per touch": money(m["gross_profit"]["estimate"], currency),
                "gross profit, 95% CI": ci_text(m["gross_profit"], currency),
                "cost per touch": money(m["cost"]["estimate"], currency) if "cost" in m else "-",
                "net per touch": money(m["net"]["estimate"], currency) if "net" in m else "-",
                "net, 95% CI": ci_text(m.get("net"), currency),
            }
        else:
            row["churn prevented per 100 touches"] = "cannot be told from this data"
        rows.append(row)
    return pd.DataFrame(rows).set_index("touchpoint").fillna("") if rows else pd.DataFrame()


def whatif_table(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """Each scenario of the run, in its segment: what it changes against the touchpoint as it
    is now, with intervals; a scenario the data cannot answer says so instead."""
    rows = []
    for r in records.values():
        p = r.get("programme")
        if not p or "error" in p:
            continue
        for name, sc in p["scenarios"].items():
            g = sc["groups"].get("segment", sc["groups"]["all"])
            row: dict[str, Any] = {"scenario": name, "what changes": sc["description"]}
            if not g["reliable"]:
                row["note"] = f"cannot be told from this data: {g['reason']}"
                rows.append(row)
                continue
            c = g["change"]
            row |= {
                "churn (customers)": f"{c['churned']['estimate']:+,.0f}",
                "churn, 95% CI": ci_text(c["churned"]),
                "customer-months": f"{c['customer_months']['estimate']:+,.0f}",
                "touches": f"{c['events']['estimate']:+,.0f}",
                "gross profit": money(c["gross_profit"]["estimate"], currency),
                "gross profit, 95% CI": ci_text(c["gross_profit"], currency),
                "cost": money(c["cost"]["estimate"], currency) if "cost" in c else "no cost given",
                "net": money(c["net"]["estimate"], currency) if "net" in c else "-",
                "net, 95% CI": ci_text(c.get("net"), currency),
                "gross profit of the segment over the same weeks": money(
                    g["natural_gross_profit"], currency
                ),
                "note": ""
                if "net" not in c or c["net"]["excludes_zero"]
                else "net not clear of zero",
            }
            rows.append(row)
    return pd.DataFrame(rows).set_index("scenario").fillna("") if rows else pd.DataFrame()


def money_rows(records: dict[str, dict[str, Any]]) -> list[tuple]:
    """(label, estimate, low, high) of each programme's net value and each scenario's net
    change, for a figure; what the data cannot answer is left out."""
    rows = []
    for tp, r in records.items():
        p = _programme(r)
        if p and p["reliable"] and "net" in p["value"]:
            n = p["value"]["net"]
            rows.append((f"{tp}: programme vs {AGAINST[p['against']]}", n["estimate"],
                         n["ci_low"], n["ci_high"]))  # fmt: skip
        for name, sc in (r.get("programme") or {}).get("scenarios", {}).items():
            g = sc["groups"].get("segment", sc["groups"]["all"])
            if g["reliable"] and "net" in g["change"]:
                n = g["change"]["net"]
                rows.append((f"what if: {name}", n["estimate"], n["ci_low"], n["ci_high"]))
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
    for tp, row in table.iterrows():
        effect = row["corrected effect (pp)"]
        low, high = (float(x) for x in row["95% CI (pp)"].split(" to "))
        if high < 0:
            what = f"lowers the chance of churning within {months} months by {-effect:.1f} points"
        elif low > 0:
            what = f"raises the chance of churning within {months} months by {effect:.1f} points"
        else:
            what = f"has no clear effect on churn within {months} months ({effect:+.1f} points)"
        text = (
            f"**{markdown(tp)}** {what} (95% CI {low:+.1f} to {high:+.1f}), for the customers "
            f"who got it; a plain comparison says {row['plain difference (pp)']:+.1f}."
        )
        text += _money_sentence(records[tp], currency)
        text += f" Reliability: {row['verdict']} ({row['why']})."
        out.append(text)
    return out


def _money_sentence(record: dict[str, Any], currency: str) -> str:
    p = _programme(record)
    if p is None:
        return ""
    period = record["programme"]["period"]
    if not p["reliable"]:
        tiers = [
            g for g, v in record["programme"]["programme"].items() if g != "all" and v["reliable"]
        ]
        some = f" (for {' and '.join(tiers)} it can: see the tiers below)" if tiers else ""
        return f" What its programme {period} is worth cannot be told from this data{some}."
    v = p["value"]
    gp, kept = v["gross_profit"], v["churn_prevented"]["estimate"]
    against = AGAINST[p["against"]]
    customers = f"{kept:,.0f} customer{'' if round(kept) == 1 else 's'}"
    if gp["excludes_zero"] and gp["estimate"] > 0:
        text = (
            f" Its programme {period}, against {against}, kept about {customers} and "
            f"{money(gp['estimate'], currency)} of gross profit over that year and the next "
            f"(95% CI {ci_text(gp, currency)})"
        )
    else:
        text = (
            f" What its programme {period}, against {against}, kept in gross profit over that "
            f"year and the next cannot be told from zero: {money(gp['estimate'], currency)} "
            f"(95% CI {ci_text(gp, currency)})"
        )
    if "net" in v:
        net = v["net"]
        verdict = "" if net["excludes_zero"] else "; that net value cannot be told from zero"
        text += (
            f", for a cost of {money(v['cost']['estimate'], currency)}: net "
            f"{money(net['estimate'], currency)} (95% CI {ci_text(net, currency)}){verdict}."
        )
    else:
        text += "; no cost was given for it."
    return text


def forest_rows(records: dict[str, dict[str, Any]]) -> list[tuple]:
    """(label, estimate, low, high): each touchpoint's corrected and plain effect."""
    rows = []
    for tp, r in records.items():
        rd, naive = _primary(r), r["result"]["methods"]["naive"]["risk_difference"]
        method = NAMES[r["result"]["verdict"]["method"]]
        rows.append((f"{tp}: {method}", rd["estimate"], rd["ci_low"], rd["ci_high"]))
        rows.append((f"{tp}: plain", naive["estimate"], naive["ci_low"], naive["ci_high"]))
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
        ax.errorbar(x, est, yerr=err, fmt="o-", capsize=3, label=tp)
    ax.axhline(0, color="grey", linestyle=":")
    ax.set_xticks(range(len(runs)), runs, rotation=30, ha="right")
    ax.set_ylabel("effect on churn, pp")
    ax.legend(fontsize="small")
    return ax


def styled(table: pd.DataFrame):
    """A table formatted for reading, its names shown as text."""
    return _escaped(table.style.format(na_rep="-", escape="html"))


def styled_headline(table: pd.DataFrame):
    """The headline table formatted for reading."""
    fmt = {c: "{:+.1f}" for c in ("plain difference (pp)", "corrected effect (pp)")}
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
            "touchpoint": tp,
            "how it works on health": es["mechanism"],
            "effect on health fades by half in": f"{hl['estimate']:.0f} days"
            if hl.get("estimable") and hl["ci_high"] is not None
            else "no clear fading within a year",
        }
        if d.get("msm"):
            m = {k: 100 * v for k, v in d["msm"]["msm"].items()}
            row["first-year churn, touches as now vs half as likely (pp)"] = (
                f"{m['estimate']:+.1f} ({m['ci_low']:+.1f} to {m['ci_high']:+.1f})"
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("touchpoint").fillna("") if rows else pd.DataFrame()


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
                "touchpoint": tp,
                "treated customer-periods (last 12 months)": int(
                    formula.loc["all tiers", "treated customer-periods (last 12 months)"]
                ),
                "the LTV formula says": money(total, business.currency),
                "measured: gross profit kept by the programme": money(measured, business.currency),
                "the formula over the measured value": f"{total / measured:,.0f} x"
                if measured and measured > 0
                else "-",
                "the formula's lifetime gross profit of all active customers": money(
                    float(formula.loc["all tiers", "book LTV"]), business.currency
                ),
            }
        )
    return pd.DataFrame(rows).set_index("touchpoint") if rows else pd.DataFrame()
