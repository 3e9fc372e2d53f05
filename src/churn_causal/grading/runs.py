"""A report run's estimates beside the simulator's truth (the validation report)."""

from __future__ import annotations

import pandas as pd

from churn_causal import i18n
from churn_causal.report.plots import method_name
from churn_causal.sim.truth import truth_for


def run_against_truth(records: dict[str, dict], truth: dict) -> pd.DataFrame:
    """Every estimate of a report run beside the simulator's truth for the same design:
    per touchpoint and method, and per tier for the primary method (percentage points)."""
    from churn_causal.design.trials import TrialDesign

    rows = []
    for tp, record in records.items():
        true = truth_for(truth, TrialDesign.from_dict(record["design"]))
        if true is None:
            continue
        t, res = true[tp], record["result"]
        primary = res["verdict"]["method"]
        parts = [("all", method, scales) for method, scales in res["methods"].items()]
        parts += [
            (tier, primary, part["methods"][primary])
            for tier, part in res.get("by", {}).items()
            if primary in part.get("methods", {})
        ]
        for level, method, scales in parts:
            rd = scales["risk_difference"]
            target = t if level == "all" else t["by_tier"].get(level, {})
            key = "naive_risk_difference" if method == "naive" else "att_risk_difference"
            if key not in target:
                continue
            rows.append(
                {
                    "touchpoint": tp,
                    "tier": level,
                    "method": method,
                    "estimate": 100 * rd["estimate"],
                    "ci_low": 100 * rd["ci_low"],
                    "ci_high": 100 * rd["ci_high"],
                    "truth": 100 * target[key],
                    "error": 100 * (rd["estimate"] - target[key]),
                    "covered": bool(rd["ci_low"] <= target[key] <= rd["ci_high"]),
                }
            )
    return pd.DataFrame(rows).round(2)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """``run_against_truth``'s table for readers: names shown, columns in their language."""
    out = table.assign(
        touchpoint=table["touchpoint"].map(i18n.name),
        tier=table["tier"].map(i18n.name),
        method=table["method"].map(method_name),
        covered=[i18n.t(f"common.{bool(x)}") for x in table["covered"]],
    )
    keys = ("touchpoint", "tier", "method", "estimate", "ci_low", "ci_high", "truth", "error",
            "covered")  # fmt: skip
    out = out.rename(columns={k: i18n.t(f"validation.col.{k}") for k in keys})
    return out.set_index([i18n.t(f"validation.col.{k}") for k in keys[:3]])
