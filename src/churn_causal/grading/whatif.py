"""What-if scenarios against the simulator's exact truth, over many simulated data sets.

For each replication (a seed): simulate with the scenarios' truth, estimate every scenario of
each touchpoint (``causal.uptake``) and compare, in the scenario's segment (everyone without
one), the change in churn risk (pp), customer-months, gross profit and touch events with the
truth: mean bias, the errors' spread against the standard errors, and 95%-CI coverage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_causal.causal.uptake import UptakeScenarios
from churn_causal.data.contract import CSData
from churn_causal.design.scenarios import Scenario
from churn_causal.grading.replicates import over_seeds
from churn_causal.sim.simulate import simulate

GROSS_MARGIN = 0.75  # the demo's; gross profit is graded as revenue times it
# One per touchpoint; per segment (tier, phase), a calendar year, the whole book; fewer and more
# touches. Each must be within the data's reach (weights with an effective sample of 10% or more):
# doubling CS calls in Enterprise, say, is not (nearly every Enterprise customer is called).
GRADED = [
    {"name": "CS calls halved in Middle", "touchpoint": "cs_touch", "delta": 0.5,
     "where": {"tier": "Middle"}},
    {"name": "seminars x2 in SMB", "touchpoint": "seminar", "delta": 2, "where": {"tier": "SMB"}},
    {"name": "support halved", "touchpoint": "support", "delta": 0.5},
    {"name": "support x1.5 in 2024", "touchpoint": "support", "delta": 1.5,
     "period": {"year": 2024}},
    {"name": "community x2 after onboarding", "touchpoint": "community", "delta": 2,
     "where": {"phase": "adoption"}},
]  # fmt: skip
OUTCOMES = {  # graded outcome: (the estimator's name, scale)
    "churn_pp": ("risk", 100.0),
    "customer_months": ("customer_months", 1.0),
    "gross_profit": ("revenue", GROSS_MARGIN),
    "events": ("events", 1.0),
}


def graded_scenarios() -> list[Scenario]:
    return [Scenario.from_dict(d) for d in GRADED]


def replicate_whatif(seed: int, customers: int, n_boot: int) -> list[dict]:
    """One simulated data set: every graded scenario's estimates beside its truth."""
    scenarios = graded_scenarios()
    sim = simulate(customers, seed=seed, scenarios=scenarios)
    data = CSData(sim.customers, sim.health, sim.touches)
    rows = []
    for tp in dict.fromkeys(s.touchpoint for s in scenarios):
        mine = [s for s in scenarios if s.touchpoint == tp]
        fit = UptakeScenarios(mine, n_boot=n_boot, seed=seed).fit(data)
        for s in mine:
            r = fit.result_["scenarios"][s.name]
            group = "segment" if "segment" in r["groups"] else "all"
            est, true = r["groups"][group]["difference"], sim.truth["scenarios"][tp][s.name]
            nat, chg = true["natural"][group], true["changed"][group]
            truth = {k: chg[k] - nat[k] for k in nat}
            truth["risk"] = chg["churned"] / chg["customers"] - nat["churned"] / nat["customers"]
            for outcome, (name, scale) in OUTCOMES.items():
                rows.append(
                    {
                        "seed": seed,
                        "scenario": s.name,
                        "outcome": outcome,
                        "truth": scale * truth[name],
                        **{
                            k: scale * est[name][k] for k in ("estimate", "se", "ci_low", "ci_high")
                        },
                        "reliable": r["reliable"],
                        "ess_share_min": r["ess_share_min"],
                    }
                )
    return rows


def grade_whatif(
    replications: int = 20,
    customers: int = 20_000,
    first_seed: int = 1,
    n_boot: int = 200,
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every replication's estimates, and their summary per scenario and outcome."""
    e = over_seeds(replicate_whatif, replications, first_seed, (customers, n_boot), workers)
    return e, summarise_whatif(e)


def summarise_whatif(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and outcome: the mean truth and estimate, the mean bias (and in standard
    errors of the mean), the errors' SD over the mean SE, coverage, and whether it passes:
    |bias| <= max(10% of the truth, 0.3 pp) on churn, <= 10% of the truth otherwise, and
    coverage >= 0.9."""
    e = estimates.assign(
        error=estimates["estimate"] - estimates["truth"],
        covered=(estimates["ci_low"] <= estimates["truth"])
        & (estimates["truth"] <= estimates["ci_high"]),
    )
    g = e.groupby(["scenario", "outcome"], sort=False)
    out = pd.DataFrame(
        {
            "truth": g["truth"].mean(),
            "estimate": g["estimate"].mean(),
            "mean_bias": g["error"].mean(),
            "bias_in_se_of_mean": g["error"].mean() / (g["error"].std() / np.sqrt(g.size())),
            "mean_se": g["se"].mean(),
            "sd_error_over_se": g["error"].std() / g["se"].mean(),
            "sd_truth_over_se": g["truth"].std() / g["se"].mean(),
            "coverage": g["covered"].mean(),
            "reliable": g["reliable"].mean(),
            "replications": g.size(),
        }
    )
    share = (out["mean_bias"] / out["truth"]).abs()
    floor = np.where(out.index.get_level_values("outcome") == "churn_pp", 0.3, 0.0)
    out["bias_share_of_truth"] = share
    out["passes"] = ((share <= 0.1) | (out["mean_bias"].abs() <= floor)) & (out["coverage"] >= 0.9)
    return out
