"""Grade the estimators against the simulator's exact truth over many simulated data sets.

For each replication (a seed), simulate, build each touchpoint's cohort under its default design
(weekly trials for cs_touch, monthly for the others), estimate with every method and compare with
that data set's true ATT for the same design: mean bias, RMSE, 95%-CI coverage, and the naive
estimate's bias beside them. Replications run in parallel, one process per core.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from churn_causal.design import build_cohort
from churn_causal.estimate import METHODS, cohort_estimator
from churn_causal.simulate import TOUCHPOINTS, simulate
from churn_causal.tables import CSData
from churn_causal.trials import TrialDesign
from churn_causal.truth import truth_for


def replicate(
    seed: int, customers: int, touchpoints: tuple[str, ...], methods: tuple[str, ...], n_boot: int
) -> list[dict]:
    """One simulated data set: every touchpoint and method against its truth."""
    sim = simulate(customers, seed=seed)
    data = CSData(sim.customers, sim.health, sim.touches)
    rows = []
    for tp in touchpoints:
        design = TrialDesign.for_touchpoint(tp)
        cohort = build_cohort(data, tp, design)
        estimator = cohort_estimator(
            data.touchpoints, design.horizon_days, methods=methods, n_boot=n_boot, seed=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = estimator.fit(cohort)
        truth = truth_for(sim.truth, design)[tp]["att_risk_difference"]
        for method, scales in result.methods.items():
            r = scales["risk_difference"]
            rows.append(
                {
                    "seed": seed,
                    "touchpoint": tp,
                    "method": method,
                    "truth": truth,
                    **{k: r[k] for k in ("estimate", "se", "ci_low", "ci_high")},
                }
            )
    return rows


def grade(
    replications: int = 20,
    customers: int = 20_000,
    first_seed: int = 1000,
    touchpoints: tuple[str, ...] = TOUCHPOINTS,
    methods: tuple[str, ...] = METHODS,
    n_boot: int = 200,
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All estimates (one row per replication, touchpoint and method) and their summary."""
    args = (customers, touchpoints, methods, n_boot)
    estimates = _over_seeds(replicate, replications, first_seed, args, workers)
    return estimates, summarise(estimates)


def _over_seeds(fn, replications: int, first_seed: int, args: tuple, workers: int | None):
    """``fn(seed, *args)`` rows for each seed, one process per core."""
    seeds = range(first_seed, first_seed + replications)
    workers = workers or min(os.cpu_count() or 1, replications)
    if workers == 1:
        return pd.DataFrame([r for s in seeds for r in fn(s, *args)])
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(fn, s, *args) for s in seeds]
        return pd.DataFrame([r for f in futures for r in f.result()])


DYNAMICS_TOUCHPOINTS = ("seminar", "support", "cs_touch")


def replicate_dynamics(seed: int, customers: int, n_boot: int) -> list[dict]:
    """One simulated data set: half-life, jump, slope and the MSM against the truth."""
    from churn_causal.dynamics import TouchpointDynamics

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
            # only a one-off boost decays at its touchpoint's own half-life (see README)
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
    e = _over_seeds(replicate_dynamics, replications, first_seed, (customers, n_boot), workers)
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


def summarise(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per touchpoint and method: mean truth, mean bias, RMSE, coverage, in percentage points."""
    e = estimates.assign(
        error=estimates["estimate"] - estimates["truth"],
        covered=(estimates["ci_low"] <= estimates["truth"])
        & (estimates["truth"] <= estimates["ci_high"]),
    )
    g = e.groupby(["touchpoint", "method"], sort=False)
    out = pd.DataFrame(
        {
            "true_effect_pp": 100 * g["truth"].mean(),
            "mean_bias_pp": 100 * g["error"].mean(),
            "rmse_pp": 100 * np.sqrt(g["error"].apply(lambda s: (s**2).mean())),
            "mean_se_pp": 100 * g["se"].mean(),
            "coverage": g["covered"].mean(),
            "replications": g.size(),
        }
    )
    out["bias_share_of_effect"] = (out["mean_bias_pp"] / out["true_effect_pp"]).abs()
    out["passes"] = ((out["mean_bias_pp"].abs() <= 0.5) | (out["bias_share_of_effect"] <= 0.1)) & (
        out["coverage"] >= 0.9
    )
    return out.round(3)


def against_truth(records: dict[str, dict], truth: dict) -> pd.DataFrame:
    """Every estimate of a report run beside the simulator's truth for the same design:
    per touchpoint and method, and per tier for the primary method (percentage points)."""
    from churn_causal.trials import TrialDesign

    rows = []
    for tp, record in records.items():
        true = truth_for(truth, TrialDesign(**_design_fields(record["design"])))
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


def _design_fields(design: dict) -> dict:
    """The constructor fields of a serialised TrialDesign (drops derived keys)."""
    return {k: design[k] for k in ("first", "last", "window", "horizon_days", "unit")}
