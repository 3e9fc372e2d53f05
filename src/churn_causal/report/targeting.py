"""Who to touch next, for people: tables and figures of a policy's result
(``value.policy.TargetingAnalysis.result_``, which holds no customer ids).

Every amount is per period of the touchpoint's design (a month, or a week for weekly trials):
the per-row means of the doubly robust scores times the customers active now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from churn_causal.design.trials import MONTH_DAYS, PERIOD_DAYS
from churn_causal.i18n import currency_unit, money, name, t
from churn_causal.report.executive import ci_text
from churn_causal.report.plots import thousands
from churn_causal.report.whatif import negated


def value_table(r: dict[str, Any], currency: str) -> pd.DataFrame:
    """Churn prevented and gross profit kept per period by the policy, the rule, the current
    practice and random targeting at the same spend, and the policy's gains, with 95% CIs."""
    period = t(f"target.period.{r['period']}")
    rows = []

    def row(arm: str, risk: dict, gp: dict) -> dict[str, Any]:
        return {
            "": t(f"target.arm.{arm}"),
            t("target.col.churn_prevented", period=period): f"{-risk['estimate']:,.1f}",
            t("col.ci"): ci_text(negated(risk), digits=1),
            t("target.col.gross_profit_kept", period=period): money(gp["estimate"], currency),
            t("col.ci") + " ": ci_text(gp, currency),
        }

    pol = r["policy"]
    for arm in ("policy", "current", "random"):
        rows.append(row(arm, pol["risk"][arm], pol["gross_profit"][arm]))
    rows.append(row("rule", r["rule"]["risk"]["policy"], r["rule"]["gross_profit"]["policy"]))
    for gain in ("policy_minus_current", "policy_minus_random"):
        rows.append(row(gain, pol["risk"][gain], pol["gross_profit"][gain]))
    return pd.DataFrame(rows).set_index("")


def rule_table(r: dict[str, Any], currency: str) -> pd.DataFrame:
    """The rule's groups in the order to touch them: who they are, their share of the
    customer-periods, the predicted effect of a touch and whether the budget reaches them."""
    rows = []
    for leaf in r["rule_leaves"]:
        reached = leaf["touched"]
        rows.append(
            {
                t("col.group"): leaf["condition"],
                t("target.col.share"): f"{100 * leaf['share']:.0f}%",
                t("target.col.churn_effect"): f"{100 * leaf['risk']:+.2f}",
                t("target.col.gross_profit_per_touch"): money(leaf["gross_profit"], currency),
                t("target.col.touch"): t("target.all")
                if reached >= 0.999
                else (f"{100 * reached:.0f}%" if reached else t("target.no")),
            }
        )
    return pd.DataFrame(rows).set_index(t("col.group"))


def segments_table(r: dict[str, Any], currency: str) -> pd.DataFrame:
    """Customers active now per tier and phase, how many the policy picks, and the mean
    predicted gross profit kept per touch."""
    seg = pd.DataFrame(r["segments"])
    if seg.empty:
        return seg
    seg[t("target.col.gross_profit_per_touch")] = [
        money(v, currency) for v in seg.pop("gross_profit")
    ]
    seg["tier"], seg["phase"] = seg["tier"].map(name), seg["phase"].map(name)
    columns = {
        "tier": t("col.tier"),
        "phase": t("col.phase"),
        "customers": t("target.col.customers_now"),
        "picked": t("target.col.picked"),
    }
    return seg.rename(columns=columns).set_index([t("col.tier"), t("col.phase")])


def _scaled(d: dict[str, float], factor: float) -> dict[str, float]:
    return {k: factor * v for k, v in d.items()}


def summary_rows(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """One row per touchpoint with a policy, for the executive summary, every amount a month
    (a weekly design's week times 365.25 / 12 / 7): budget, touches, what the policy keeps
    against today's practice, and the rule's first group."""
    rows = []
    for tp, record in records.items():
        r = record.get("targeting")
        if not r:
            continue
        month = MONTH_DAYS / PERIOD_DAYS[r["period"]]  # periods in a month
        gp, risk = r["policy"]["gross_profit"], r["policy"]["risk"]
        gain = gp["policy_minus_current"]
        first = next((x for x in r["rule_leaves"] if x["gross_profit"] > r["cost_per_touch"]), None)
        rows.append(
            {
                t("col.touchpoint"): name(tp),
                t("target.col.budget"): r["budget_text"],
                t("target.col.touches_month"): f"{month * r['touches_per_period']:,.0f}",
                t("target.col.policy_month"): money(month * gp["policy"]["estimate"], currency),
                t("col.ci"): ci_text(_scaled(gp["policy"], month), currency),
                t("target.col.today"): money(month * gp["current"]["estimate"], currency),
                t("target.col.gain"): money(month * gain["estimate"], currency),
                t("target.col.gain_ci"): ci_text(_scaled(gain, month), currency),
                t("target.col.churn_month"): f"{-month * risk['policy']['estimate']:,.1f}",
                t("target.col.first"): first["condition"] if first else t("target.nobody"),
            }
        )
    return pd.DataFrame(rows).set_index(t("col.touchpoint")) if rows else pd.DataFrame()


def gain_plot(r: dict[str, Any], currency: str, ax: plt.Axes | None = None) -> plt.Axes:
    """The cost-aware gain (Qini) curve: gross profit kept a period against what is spent,
    ranked by the policy, with its 95% band, random targeting's line and the budget."""
    g = pd.DataFrame(r["gain"])
    ax = ax if ax is not None else plt.subplots(figsize=(8, 4))[1]
    costly = r["cost_per_touch"] > 0
    x = g["spend"] if costly else g["touches"]
    ax.fill_between(x, g["gross_profit_low"], g["gross_profit_high"], alpha=0.25, color="C0")
    ax.plot(x, g["gross_profit"], color="C0", label=t("target.plot.ranked"))
    ax.plot(
        x, g["gross_profit_random"], color="grey", linestyle="--", label=t("target.plot.random")
    )
    budget = r["touches_per_period"] * (r["cost_per_touch"] if costly else 1)
    ax.axvline(budget, color="C1", linestyle=":", label=t("target.plot.budget"))
    period, unit = t(f"target.period.{r['period']}"), currency_unit(currency)
    ax.set_xlabel(
        t("target.plot.spent", period=period, currency=unit)
        if costly
        else t("target.plot.touches", period=period)
    )
    ax.set_ylabel(t("target.plot.ylabel", currency=unit))
    ax.set_title(t("target.plot.title"))
    thousands(ax.xaxis)
    thousands(ax.yaxis)
    ax.legend(loc="upper left")
    return ax


def calibration_plot(r: dict[str, Any], ax: plt.Axes | None = None) -> plt.Axes:
    """Predicted effect on churn per decile against the doubly robust estimate in it (pp)."""
    c = pd.DataFrame(r["calibration"])
    ax = ax if ax is not None else plt.subplots(figsize=(5.5, 5))[1]
    pred, est = 100 * c["predicted"], 100 * c["estimated"]
    err = np.vstack([est - 100 * c["ci_low"], 100 * c["ci_high"] - est])
    ax.errorbar(pred, est, yerr=err, fmt="o", capsize=3)
    lo, hi = min(pred.min(), (100 * c["ci_low"]).min()), max(pred.max(), (100 * c["ci_high"]).max())
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", label=t("target.calib.diagonal"))
    ax.set_xlabel(t("target.calib.xlabel"))
    ax.set_ylabel(t("target.calib.ylabel"))
    ax.set_title(t("target.calib.title"))
    ax.legend(loc="upper left")
    return ax


def truth_beside(rows: pd.DataFrame, data_source: str | Path, touchpoint: str) -> pd.DataFrame:
    """On simulated data: per tier and phase, the predicted effect of a touch (cross-fitted,
    on the cohort's customer-trials that have a simulator truth) beside the simulator's exact
    individual effects (``individual_truth_<touchpoint>.parquet``); empty without that file."""
    path = Path(data_source) / f"individual_truth_{touchpoint}.parquet"
    if not path.exists():
        return pd.DataFrame()
    truth = pd.read_parquet(path).drop(columns="treated")
    both = rows.merge(truth, on=["customer_id", "trial"], how="inner")
    both["risk_true"] = both["risk_added"] - both["risk_removed"]
    both["tier"], both["phase"] = both["tier"].map(name), both["phase"].map(name)
    g = both.rename(columns={"tier": t("col.tier"), "phase": t("col.phase")}).groupby(
        [t("col.tier"), t("col.phase")], observed=True
    )
    return pd.DataFrame(
        {
            t("target.col.trials"): g.size(),
            t("target.col.predicted"): 100 * g["risk_hat"].mean(),
            t("col.truth_pp"): 100 * g["risk_true"].mean(),
        }
    ).round(2)


def budget_sentence(r: dict[str, Any]) -> str:
    """The budget in words: touches a period among the customers active now, and the cost."""
    return t(
        "target.budget",
        budget=r["budget_text"],
        touches=f"{r['touches_per_period']:,.0f}",
        period=t(f"target.period.{r['period']}"),
        customers=f"{r['customers_now']:,}",
        cost=r["cost_text"],
    )


def heterogeneity_sentence(r: dict[str, Any]) -> str:
    """How much of the predicted spread between customers the data confirm (the BLP slope)."""
    h = r["heterogeneity"]["days"]
    lo, hi = h["slope"] - 1.96 * h["se"], h["slope"] + 1.96 * h["se"]
    return t(
        "target.heterogeneity.real" if lo > 0 else "target.heterogeneity.noise",
        slope=f"{h['slope']:.2f}",
        low=f"{lo:.2f}",
        high=f"{hi:.2f}",
    )
