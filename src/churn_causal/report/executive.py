"""The executive summary, built from the per-touchpoint results of a run (no re-estimation).

Each touchpoint report saves ``result-<touchpoint>.json`` (``TouchpointAnalysis.record``); this
module turns those into the headline table, the money per tier, plain sentences and the history
of earlier runs. Nothing here names a customer.
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
from churn_causal.value.money import Business, reached_by_tier, value_by_tier

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


def money(
    records: dict[str, dict[str, Any]], data: CSData, business: Business
) -> dict[str, pd.DataFrame]:
    """The value per tier of each touchpoint (``money.value_by_tier``)."""
    return {
        tp: value_by_tier(r["result"], data, tp, business, r["design"]["horizon_days"])
        for tp, r in records.items()
    }


def headline_table(
    records: dict[str, dict[str, Any]], data: CSData, values: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """One row per touchpoint: plain and corrected effect, customer-months, money, verdict."""
    rows = []
    for tp, r in records.items():
        res = r["result"]
        rd, naive = _primary(r), res["methods"]["naive"]["risk_difference"]
        reached = int(reached_by_tier(data, tp).sum())
        rmst = res["methods"][res["verdict"]["method"]].get("rmst_difference")
        value = values.get(tp)
        total = value.loc["all tiers"] if value is not None and not value.empty else None
        rows.append(
            {
                "touchpoint": tp,
                "plain difference (pp)": round(100 * naive["estimate"], 1),
                "corrected effect (pp)": round(100 * rd["estimate"], 1),
                "95% CI (pp)": f"{100 * rd['ci_low']:+.1f} to {100 * rd['ci_high']:+.1f}",
                "customers reached (12 months)": reached,
                "extra customer-months retained": None
                if rmst is None
                else round(rmst["estimate"] / MONTH_DAYS * reached),
                **{
                    k: None if total is None else float(total[k])
                    for k in ("value", "value low", "value high")
                },
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


def sentences(table: pd.DataFrame, currency: str, horizon_days: int = 365) -> list[str]:
    """Plain sentences an executive can quote, one per touchpoint."""
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
            "who got it; "
            f"a plain comparison says {row['plain difference (pp)']:+.1f}."
        )
        if row["value"] is not None and not pd.isna(row["value"]):
            reach = f"the {row['customers reached (12 months)']:,} customers reached last year"
            span = f"{currency} {row['value low']:,.0f} to {row['value high']:,.0f}"
            text += (
                f" For {reach} that is worth about {currency} {row['value']:,.0f} of lifetime "
                f"gross profit (95% CI {span})."
                if row["value low"] > 0 or row["value high"] < 0
                else f" Its value for {reach} cannot be told from zero (95% CI {span})."
            )
        text += f" Reliability: {row['verdict']} ({row['why']})."
        out.append(text)
    return out


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


def styled_values(table: pd.DataFrame, currency: str):
    """A tier value table (``money.value_by_tier``) formatted for reading."""
    money_cols = ["monthly ARPA", "LTV without", "LTV with", "value", "value low", "value high"]
    fmt = {c: f"{currency} {{:,.0f}}" for c in money_cols}
    fmt |= {"customers reached": "{:,.0f}", "churn risk without (%)": "{:.1f}"}
    fmt |= {"effect (pp)": "{:+.1f}"}
    return _escaped(table.style.format(fmt, na_rep="", escape="html"))


def styled_headline(table: pd.DataFrame, currency: str):
    """The headline table formatted for reading."""
    fmt = {c: f"{currency} {{:,.0f}}" for c in ("value", "value low", "value high")}
    fmt |= {"customers reached (12 months)": "{:,}"}
    fmt |= {c: "{:+.1f}" for c in ("plain difference (pp)", "corrected effect (pp)")}
    fmt |= {"extra customer-months retained": "{:,.0f}"}
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
