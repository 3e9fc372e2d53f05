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
    seeds = range(first_seed, first_seed + replications)
    workers = workers or min(os.cpu_count() or 1, replications)
    args = (customers, touchpoints, methods, n_boot)
    if workers == 1:
        rows = [r for s in seeds for r in replicate(s, *args)]
    else:
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(replicate, s, *args) for s in seeds]
            rows = [r for f in futures for r in f.result()]
    estimates = pd.DataFrame(rows)
    return estimates, summarise(estimates)


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
