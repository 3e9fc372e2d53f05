"""Effects over time against the simulator's truth: one result, and many simulated data sets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.grading.replicates import over_seeds
from churn_causal.sim.simulate import simulate
from churn_causal.sim.truth import dynamics_truth_for


def against_truth(dyn: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """The dynamics estimates beside the simulator's truth.json values."""
    tp = dyn["touchpoint"]
    true = dynamics_truth_for(truth, tp)
    out: dict[str, Any] = {"mechanism_true": true["mechanism"]}
    hl = dyn["half_life_days"]
    if hl.get("estimable") and "half_life_days" in true:
        days = true["half_life_days"]
        out["half_life_true"] = days
        out["half_life_error_share"] = (hl["estimate"] - days) / days if days else None
    msm_true = truth.get("dynamics", {}).get("msm", {}).get(tp)
    if dyn.get("msm") and msm_true:
        truth_rd = msm_true["risk_difference"]
        out["msm_true"] = truth_rd
        for name in ("msm", "baseline_only", "current_health"):
            est = dyn["msm"][name]
            out[f"{name}_error"] = est["estimate"] - truth_rd
            out[f"{name}_covers"] = bool(est["ci_low"] <= truth_rd <= est["ci_high"])
    return out


DYNAMICS_TOUCHPOINTS = ("seminar", "support", "cs_touch")


def replicate_dynamics(seed: int, customers: int, n_boot: int) -> list[dict]:
    """One simulated data set: half-life, jump, slope and the MSM against the truth."""
    from churn_causal.causal.dynamics import TouchpointDynamics

    sim = simulate(customers, seed=seed)
    data = CSData(sim.customers, sim.health, sim.touches)
    truth = sim.truth["dynamics"]
    rows = []
    for tp in DYNAMICS_TOUCHPOINTS:
        d = TouchpointDynamics(tp, n_boot=n_boot, seed=seed).fit(data).to_dict()
        es, hl = d["event_study"], d["half_life_days"]
        row = {
            "seed": seed,
            "touchpoint": tp,
            "half_life": hl.get("estimate") if hl.get("estimable") else np.nan,
            # only a one-off boost decays at its touchpoint's own half-life (docs/methods.md)
            "half_life_true": truth["half_life_days"][tp]
            if truth["mechanism"][tp].startswith("raises the level")
            else np.nan,
            "mechanism": es["mechanism"],
            "pre_trend_ok": es["pre_trend_ok"],
        }
        for part in ("level_jump", "slope_change"):
            r = es[part]
            row[part] = r["estimate"]
            row[f"{part}_excludes_0"] = r["ci_low"] > 0 or r["ci_high"] < 0
        if d["msm"]:
            row["msm_true"] = truth["msm"][tp]["risk_difference"]
            for name in ("msm", "baseline_only", "current_health"):
                r = d["msm"][name]
                row[name] = r["estimate"]
                row[f"{name}_covers"] = r["ci_low"] <= row["msm_true"] <= r["ci_high"]
        rows.append(row)
    return rows


def grade_dynamics(
    replications: int = 20,
    customers: int = 20_000,
    first_seed: int = 1,
    n_boot: int = 200,
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every replication's dynamics estimates, and their summary per touchpoint: the median
    half-life and the share within 50% of the truth; how often the jump and the slope CIs
    exclude 0; the MSM's mean bias, RMSE and coverage beside the other two estimates (pp)."""
    e = over_seeds(replicate_dynamics, replications, first_seed, (customers, n_boot), workers)
    rows = []
    for tp, g in e.groupby("touchpoint", sort=False):
        row = {
            "touchpoint": tp,
            "half_life_median_days": g["half_life"].dropna().median(),  # NaN: none estimable
            "half_life_true_days": g["half_life_true"].iloc[0],
            "half_life_within_50pct": (
                (g["half_life"] - g["half_life_true"]).abs() <= 0.5 * g["half_life_true"]
            ).mean(),
            "jump_excludes_0": g["level_jump_excludes_0"].mean(),
            "slope_excludes_0": g["slope_change_excludes_0"].mean(),
            "mechanism": g["mechanism"].mode().iloc[0],
            "pre_trend_ok": g["pre_trend_ok"].mean(),
        }
        if "msm_true" in g and g["msm_true"].notna().any():
            row["msm_true_pp"] = 100 * g["msm_true"].mean()
            for name in ("msm", "baseline_only", "current_health"):
                err = g[name] - g["msm_true"]
                row[f"{name}_bias_pp"] = 100 * err.mean()
                row[f"{name}_rmse_pp"] = 100 * np.sqrt((err**2).mean())
                row[f"{name}_coverage"] = g[f"{name}_covers"].mean()
        rows.append(row)
    return e, pd.DataFrame(rows).set_index("touchpoint").round(3)
