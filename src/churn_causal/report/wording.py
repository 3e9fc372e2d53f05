"""Effects over time in words and tables for the touchpoint report (from a ``dynamics.json``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn_causal.i18n import name, t
from churn_causal.report.executive import ci_pp
from churn_causal.report.names import markdown
from churn_causal.report.plots import mechanism
from churn_causal.sim.truth import dynamics_truth_for

# The simulator's mechanisms as its truth.json words them, by message key.
SIMULATED = {
    "prevents decline (damps falls of the health pillars)": "damps_falls",
    "raises the level (a boost of the pillars that fades)": "boost_fades",
    "prevents decline and lifts the pillars' target gradually": "lifts_gradually",
    "lowers the churn hazard directly, small lift of health": "hazard_directly",
}


def _simulated(words: str) -> str:
    """The simulator's true mechanism in the reader's language (as written if unknown)."""
    return t(f"wording.simulated.{SIMULATED[words]}") if words in SIMULATED else words


def describe(d: dict[str, Any], truth: dict[str, Any] | None = None) -> str:
    """The decay and the event study of a ``dynamics.json`` in plain sentences (Markdown)."""
    tp, hl, es = markdown(name(d["touchpoint"])), d["half_life_days"], d["event_study"]
    lines = []
    if hl.get("estimable"):
        upper = (
            t("wording.upper_days", days=f"{hl['ci_high']:.0f}")
            if hl["ci_high"] is not None
            else t("wording.no_upper")
        )
        lines.append(
            t(
                "wording.half_life",
                touchpoint=tp,
                peak_days=hl["peak_days_after_touch"],
                peak=f"{hl['peak_effect_points']:+.1f}",
                days=f"{hl['estimate']:.0f}",
                low=f"{hl['ci_low']:.0f}",
                high=upper,
            )
        )
    else:
        lines.append(t("wording.no_half_life", touchpoint=tp, why=hl["reason"]))
    j, s = es["level_jump"], es["slope_change"]
    lines.append(
        t(
            "wording.event_study",
            jump=f"{j['estimate']:+.2f}",
            jump_low=f"{j['ci_low']:+.2f}",
            jump_high=f"{j['ci_high']:+.2f}",
            slope=f"{s['estimate']:+.2f}",
            slope_low=f"{s['ci_low']:+.2f}",
            slope_high=f"{s['ci_high']:+.2f}",
            touchpoint=tp,
            mechanism=mechanism(es["mechanism"]),
        )
    )
    lines.append(
        t("wording.parallel")
        if es["pre_trend_ok"]
        else t("wording.not_parallel", gap=f"{es['curve']['largest_pre_difference']:.2f}")
    )
    if truth is not None:
        true = dynamics_truth_for(truth, d["touchpoint"])
        note = t("wording.true_mechanism", mechanism=_simulated(true["mechanism"]))
        if hl.get("estimable") and "half_life_days" in true:
            note += t("wording.true_half_life", days=true["half_life_days"])
        lines.append(note + t("wording.stop"))
    return "\n\n".join(lines)


def msm_table(
    d: dict[str, Any],
    point: dict[str, Any] | None = None,
    truth: dict[str, Any] | None = None,
    point_truth: float | None = None,
) -> pd.DataFrame:
    """The MSM beside the health-blind and current-health answers to the same question (pp),
    and the point-treatment estimate (one window's touch among the touched: another question)
    with its own truth ``point_truth``."""
    m = d["msm"]
    rows = {t(f"wording.msm.{k}"): m[k] for k in ("msm", "baseline_only", "current_health")}

    out = pd.DataFrame(
        {
            t("wording.msm.effect"): [100 * r["estimate"] for r in rows.values()],
            t("col.ci_pp"): [ci_pp(r) for r in rows.values()],
        },
        index=list(rows),
    )
    true = (truth or {}).get("dynamics", {}).get("msm", {}).get(d["touchpoint"])
    if true:
        out[t("col.truth_pp")] = 100 * true["risk_difference"]
    if point:
        out.loc[t("wording.msm.point")] = [
            100 * point["estimate"],
            ci_pp(point),
            *([100 * point_truth if point_truth is not None else np.nan] if true else []),
        ]
    return out.round(2)
