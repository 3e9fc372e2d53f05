"""Effects over time in words and tables for the touchpoint report (from a ``dynamics.json``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn_causal.report.names import markdown
from churn_causal.sim.truth import dynamics_truth_for


def describe(d: dict[str, Any], truth: dict[str, Any] | None = None) -> str:
    """The decay and the event study of a ``dynamics.json`` in plain sentences (Markdown)."""
    tp, hl, es = markdown(d["touchpoint"]), d["half_life_days"], d["event_study"]
    lines = []
    if hl.get("estimable"):
        upper = f"{hl['ci_high']:.0f}" if hl["ci_high"] is not None else "no upper limit"
        lines.append(
            f"The {tp}'s effect on the health score peaks {hl['peak_days_after_touch']} days "
            f"after the touch at {hl['peak_effect_points']:+.1f} points and then halves every "
            f"**{hl['estimate']:.0f} days** (95% CI {hl['ci_low']:.0f} to {upper})."
        )
    else:
        lines.append(f"No half-life for the {tp}: {hl['reason']}.")
    j, s = es["level_jump"], es["slope_change"]
    lines.append(
        f"Around the touch, health jumps by {j['estimate']:+.2f} points (95% CI "
        f"{j['ci_low']:+.2f} to {j['ci_high']:+.2f}) and the gap to matched customers then opens "
        f"at {s['estimate']:+.2f} points a week (95% CI {s['ci_low']:+.2f} to "
        f"{s['ci_high']:+.2f}): the {tp} **{es['mechanism']}**."
    )
    lines.append(
        "Before the touch the two groups move in parallel."
        if es["pre_trend_ok"]
        else "Before the touch the groups do not move quite in parallel (largest gap "
        f"{es['curve']['largest_pre_difference']:.2f} points): read the jump with care."
    )
    if truth is not None:
        true = dynamics_truth_for(truth, d["touchpoint"])
        note = f"Simulated data: the true mechanism is '{true['mechanism']}'"
        if hl.get("estimable") and "half_life_days" in true:
            note += f"; the true half-life is {true['half_life_days']} days"
        lines.append(note + ".")
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
    rows = {
        "weighted for health, its fall and the profile (MSM)": m["msm"],
        "weighted for the profile only (ignores health)": m["baseline_only"],
        "model adjusting for current health (classic)": m["current_health"],
    }
    out = pd.DataFrame(
        {
            "effect on first-year churn (pp)": [100 * r["estimate"] for r in rows.values()],
            "95% CI (pp)": [
                f"{100 * r['ci_low']:+.2f} to {100 * r['ci_high']:+.2f}" for r in rows.values()
            ],
        },
        index=list(rows),
    )
    true = (truth or {}).get("dynamics", {}).get("msm", {}).get(d["touchpoint"])
    if true:
        out["simulator truth (pp)"] = 100 * true["risk_difference"]
    if point:
        out.loc["one window's touch, among the touched (point treatment)"] = [
            100 * point["estimate"],
            f"{100 * point['ci_low']:+.2f} to {100 * point['ci_high']:+.2f}",
            *([100 * point_truth if point_truth is not None else np.nan] if true else []),
        ]
    return out.round(2)
