"""Grade the estimators against the simulator's exact truth over many simulated data sets.

For each replication (a seed), simulate, build each touchpoint's cohort under its default design
(weekly trials for cs_touch, monthly for the others), estimate with every method and compare with
that data set's true ATT for the same design: mean bias, RMSE, 95%-CI coverage, and the naive
estimate's bias beside them. Replications run in parallel, one process per core.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from churn_causal.causal.cohort import cohort_estimator
from churn_causal.causal.estimate import METHODS
from churn_causal.data.contract import CSData
from churn_causal.design.cohort import build_cohort
from churn_causal.design.sampling import CONTROLS_PER_TREATED
from churn_causal.design.trials import resolve_design
from churn_causal.grading.replicates import over_seeds
from churn_causal.sim.simulate import simulate
from churn_causal.sim.truth import truth_for
from churn_causal.sim.world import TOUCHPOINTS


def replicate(
    seed: int, customers: int, touchpoints: tuple[str, ...], methods: tuple[str, ...], n_boot: int
) -> list[dict]:
    """One simulated data set: every touchpoint and method against its truth."""
    sim = simulate(customers, seed=seed)
    data = CSData(sim.customers, sim.health, sim.touches)
    rows = []
    for tp in touchpoints:
        design = resolve_design(tp)
        # graded as the product runs: the untreated sampled, weighted
        cohort = build_cohort(data, tp, design, None, CONTROLS_PER_TREATED, seed)
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
    estimates = over_seeds(replicate, replications, first_seed, args, workers)
    return estimates, summarise(estimates)


def summarise(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per touchpoint and method: mean truth, mean bias, RMSE, mean SE and coverage, in
    percentage points, and the errors' SD over the mean SE (above 1: intervals too narrow)
    beside what makes it up: the estimates' own SD over the mean SE (the spread from one data
    set to the next, which is what a bootstrap SE estimates) and the true effects' (each data
    set's treated customers have an effect of their own: who among them was saved is chance
    too, which a bootstrap over customers does not include)."""
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
            "sd_error_over_se": g["error"].std() / g["se"].mean(),
            "sd_estimate_over_se": g["estimate"].std() / g["se"].mean(),
            "sd_truth_over_se": g["truth"].std() / g["se"].mean(),
            "replications": g.size(),
        }
    )
    out["bias_share_of_effect"] = (out["mean_bias_pp"] / out["true_effect_pp"]).abs()
    out["passes"] = ((out["mean_bias_pp"].abs() <= 0.5) | (out["bias_share_of_effect"] <= 0.1)) & (
        out["coverage"] >= 0.9
    )
    return out.round(3)
