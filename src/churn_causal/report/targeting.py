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
from churn_causal.report.executive import ci_text, money
from churn_causal.report.plots import thousands
from churn_causal.report.whatif import negated

ARMS = {
    "policy": "the policy (ranked by net value per cost)",
    "rule": "the rule, applied by hand",
    "current": "current practice, same spend",
    "random": "random customers, same spend",
}


def value_table(t: dict[str, Any], currency: str) -> pd.DataFrame:
    """Churn prevented and gross profit kept per period by the policy, the rule, the current
    practice and random targeting at the same spend, and the policy's gains, with 95% CIs."""
    period = t["period"]
    rows = []

    def row(name: str, risk: dict, gp: dict) -> dict[str, Any]:
        return {
            "": name,
            f"churn prevented a {period} (customers)": f"{-risk['estimate']:,.1f}",
            "95% CI": ci_text(negated(risk), digits=1),
            f"gross profit kept a {period}": money(gp["estimate"], currency),
            "95% CI ": ci_text(gp, currency),
        }

    pol = t["policy"]
    for arm in ("policy", "current", "random"):
        rows.append(row(ARMS[arm], pol["risk"][arm], pol["gross_profit"][arm]))
    rows.append(row(ARMS["rule"], t["rule"]["risk"]["policy"], t["rule"]["gross_profit"]["policy"]))
    for gain, name in (("policy_minus_current", "gain over current practice"),
                       ("policy_minus_random", "gain over random")):  # fmt: skip
        rows.append(row(name, pol["risk"][gain], pol["gross_profit"][gain]))
    return pd.DataFrame(rows).set_index("")


def rule_table(t: dict[str, Any], currency: str) -> pd.DataFrame:
    """The rule's groups in the order to touch them: who they are, their share of the
    customer-periods, the predicted effect of a touch and whether the budget reaches them."""
    rows = []
    for leaf in t["rule_leaves"]:
        reached = leaf["touched"]
        rows.append(
            {
                "group": leaf["condition"],
                "share of customers": f"{100 * leaf['share']:.0f}%",
                "churn effect of a touch (pp)": f"{100 * leaf['risk']:+.2f}",
                "gross profit kept per touch": money(leaf["gross_profit"], currency),
                "touch": "all"
                if reached >= 0.999
                else (f"{100 * reached:.0f}%" if reached else "no"),
            }
        )
    return pd.DataFrame(rows).set_index("group")


def segments_table(t: dict[str, Any], currency: str) -> pd.DataFrame:
    """Customers active now per tier and phase, how many the policy picks, and the mean
    predicted gross profit kept per touch."""
    seg = pd.DataFrame(t["segments"])
    if seg.empty:
        return seg
    seg["gross profit kept per touch"] = [money(v, currency) for v in seg.pop("gross_profit")]
    return seg.rename(columns={"customers": "customers now", "picked": "picked"}).set_index(
        ["tier", "phase"]
    )


def _scaled(d: dict[str, float], factor: float) -> dict[str, float]:
    return {k: factor * v for k, v in d.items()}


def summary_rows(records: dict[str, dict[str, Any]], currency: str) -> pd.DataFrame:
    """One row per touchpoint with a policy, for the executive summary, every amount a month
    (a weekly design's week times 365.25 / 12 / 7): budget, touches, what the policy keeps
    against today's practice, and the rule's first group."""
    rows = []
    for tp, r in records.items():
        t = r.get("targeting")
        if not t:
            continue
        month = MONTH_DAYS / PERIOD_DAYS[t["period"]]  # periods in a month
        gp, risk = t["policy"]["gross_profit"], t["policy"]["risk"]
        gain = gp["policy_minus_current"]
        first = next((x for x in t["rule_leaves"] if x["gross_profit"] > t["cost_per_touch"]), None)
        rows.append(
            {
                "touchpoint": tp,
                "budget": t["budget_text"],
                "touches a month": f"{month * t['touches_per_period']:,.0f}",
                "gross profit kept a month (policy)": money(
                    month * gp["policy"]["estimate"], currency
                ),
                "95% CI": ci_text(_scaled(gp["policy"], month), currency),
                "today's practice, same spend": money(month * gp["current"]["estimate"], currency),
                "gain over today's practice": money(month * gain["estimate"], currency),
                "gain, 95% CI": ci_text(_scaled(gain, month), currency),
                "churn prevented a month (policy)": f"{-month * risk['policy']['estimate']:,.1f}",
                "touch first": first["condition"] if first else "nobody: no group pays its cost",
            }
        )
    return pd.DataFrame(rows).set_index("touchpoint") if rows else pd.DataFrame()


def gain_plot(t: dict[str, Any], currency: str, ax: plt.Axes | None = None) -> plt.Axes:
    """The cost-aware gain (Qini) curve: gross profit kept a period against what is spent,
    ranked by the policy, with its 95% band, random targeting's line and the budget."""
    g = pd.DataFrame(t["gain"])
    ax = ax if ax is not None else plt.subplots(figsize=(8, 4))[1]
    x = g["spend"] if t["cost_per_touch"] > 0 else g["touches"]
    ax.fill_between(x, g["gross_profit_low"], g["gross_profit_high"], alpha=0.25, color="C0")
    ax.plot(x, g["gross_profit"], color="C0", label="customers ranked by the policy")
    ax.plot(x, g["gross_profit_random"], color="grey", linestyle="--", label="random customers")
    budget = t["touches_per_period"] * (t["cost_per_touch"] if t["cost_per_touch"] > 0 else 1)
    ax.axvline(budget, color="C1", linestyle=":", label="the budget")
    ax.set_xlabel(f"spent a {t['period']}, {currency}" if t["cost_per_touch"] > 0
                  else f"touches a {t['period']}")  # fmt: skip
    ax.set_ylabel(f"gross profit kept, {currency}")
    ax.set_title("Gross profit kept against what is spent (95% band)")
    thousands(ax.xaxis)
    thousands(ax.yaxis)
    ax.legend(loc="upper left")
    return ax


def calibration_plot(t: dict[str, Any], ax: plt.Axes | None = None) -> plt.Axes:
    """Predicted effect on churn per decile against the doubly robust estimate in it (pp)."""
    c = pd.DataFrame(t["calibration"])
    ax = ax if ax is not None else plt.subplots(figsize=(5.5, 5))[1]
    pred, est = 100 * c["predicted"], 100 * c["estimated"]
    err = np.vstack([est - 100 * c["ci_low"], 100 * c["ci_high"] - est])
    ax.errorbar(pred, est, yerr=err, fmt="o", capsize=3)
    lo, hi = min(pred.min(), (100 * c["ci_low"]).min()), max(pred.max(), (100 * c["ci_high"]).max())
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", label="prediction = estimate")
    ax.set_xlabel("predicted effect of a touch on churn, pp (decile mean)")
    ax.set_ylabel("estimated effect in the decile, pp (95% CI)")
    ax.set_title("Are the predicted effects right? (per decile)")
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
    g = both.groupby(["tier", "phase"], observed=True)
    return pd.DataFrame(
        {
            "customer-trials": g.size(),
            "predicted churn effect (pp)": 100 * g["risk_hat"].mean(),
            "simulator truth (pp)": 100 * g["risk_true"].mean(),
        }
    ).round(2)


TRUTH_NOTE = (
    "**The simulator's truth beside the predictions**: the mean effect of a touch on churn per "
    "tier and phase, over the customer-trials whose exact individual effect the simulator knows."
)


def budget_sentence(t: dict[str, Any]) -> str:
    """The budget in words: touches a period among the customers active now, and the cost."""
    return (
        f"Budget: {t['budget_text']}, that is {t['touches_per_period']:,.0f} touches a "
        f"{t['period']} among {t['customers_now']:,} customers active now ({t['cost_text']})."
    )


def heterogeneity_sentence(t: dict[str, Any]) -> str:
    """How much of the predicted spread between customers the data confirm (the BLP slope)."""
    h = t["heterogeneity"]["days"]
    lo, hi = h["slope"] - 1.96 * h["se"], h["slope"] + 1.96 * h["se"]
    real = "real" if lo > 0 else "not clear of noise"
    return (
        f"**How sure the differences between customers are**: of the spread the learner predicts "
        f"in days retained, the data confirm a share of {h['slope']:.2f} (95% CI {lo:.2f} to "
        f"{hi:.2f}; 1 would be all of it), so the differences are {real}. The predictions shown "
        "are shrunk by that share. Below: the predicted effect per decile against the doubly "
        "robust estimate in it."
    )
