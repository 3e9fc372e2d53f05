"""Who-to-touch policies against the simulator's exact individual effects.

For each replication (a seed): simulate with the individual truth of the graded touchpoints
(``sim.individual``: every customer-trial of a few trials run with the touchpoint added and
removed), fit ``value.policy.TargetingAnalysis`` at the current practice's spend, and on the
customer-trials whose truth is known compare

* the policy's true value (the true effects of the rows it touches, on cross-fitted
  predictions) with the oracle's (the same spend on the rows with the largest true effects),
  the current practice's (the touched rows, scaled to the same spend) and random targeting's;
* the policy value's estimate (doubly robust, with its 95% interval) with its truth;
* the Qini curve on the truth (true gross profit kept against the share touched) of the
  policy's ranking against the oracle's: the ratio of their areas;
* per tier and phase, the mean predicted effect beside the mean true effect.

Values are per cohort row (``TargetingAnalysis`` multiplies them by the customers of a period).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_causal.causal.estimate import cluster_se
from churn_causal.causal.uplift import choose, mean_and_influence
from churn_causal.data.contract import CSData
from churn_causal.design.trials import MONTH_DAYS
from churn_causal.grading.replicates import over_seeds
from churn_causal.sim.simulate import simulate
from churn_causal.value.business import Business, Cost
from churn_causal.value.policy import TargetingAnalysis

GRADED = ("cs_touch", "community")
COSTS = {"cs_touch": 90.0, "community": 15.0}  # the demo's, per event
GROSS_MARGIN = 0.75


def true_effects(analysis: TargetingAnalysis, individual: pd.DataFrame) -> pd.DataFrame:
    """The analysis' cohort rows that have an individual truth, with it: the true effect on
    churn (``risk_true``) and on gross profit (``gp_true``) of a touch."""
    truth = individual.drop(columns="treated")  # the cohort's own treatment is the data's
    rows = analysis.rows_.merge(truth, on=["customer_id", "trial"], how="inner")
    margin = analysis.business.gross_margin
    rows["risk_true"] = rows["risk_added"] - rows["risk_removed"]
    days = rows["days_added"] - rows["days_removed"]
    rows["gp_true"] = days / MONTH_DAYS * rows["mrr"] * margin
    return rows


def grade_rows(analysis: TargetingAnalysis, rows: pd.DataFrame) -> dict[str, float]:
    """Per row, at the analysis' share: true values of the policy, the oracle, the current
    practice and random targeting; the policy value's estimate and interval."""
    w = rows["weight"].to_numpy()
    share = analysis.result_["share"]
    cost = analysis.result_["cost_per_touch"]
    gp_true, treated = rows["gp_true"].to_numpy(), rows["treated"].to_numpy(bool)

    def mean(v: np.ndarray) -> float:
        return float(np.average(v, weights=w))

    policy = choose(rows["gp_hat"].to_numpy(), cost, share, w)
    oracle = choose(gp_true, cost, share, w)
    score = rows["gp_score"].to_numpy()
    estimate, phi = mean_and_influence(policy * score, w)
    se = cluster_se(phi, rows["customer_id"].to_numpy())
    truth = mean(policy * gp_true)
    # the Qini curve on the truth: true gross profit kept against the share touched, ranked
    # by the policy and by the oracle; its area over the oracle's
    shares = np.linspace(0.0, 1.0, 21)[1:]
    area = {
        name: float((choose(rank, -np.inf, shares, w) @ (w * gp_true)).sum() / w.sum())
        for name, rank in (("policy", rows["gp_hat"].to_numpy()), ("oracle", gp_true))
    }
    return {
        "rows": len(rows),
        "share": share,
        "policy_true": truth,
        "oracle_true": mean(oracle * gp_true),
        "current_true": share * float(np.average(gp_true[treated], weights=w[treated])),
        "random_true": share * mean(gp_true),
        "policy_estimate": estimate,
        "policy_se": se,
        "covered": estimate - 1.96 * se <= truth <= estimate + 1.96 * se,
        "qini_ratio": area["policy"] / area["oracle"],
    }


def replicate_targeting(seed: int, customers: int) -> list[dict]:
    """One simulated data set: each graded touchpoint's policy against the truth."""
    sim = simulate(customers, seed=seed, individual=GRADED)
    data = CSData(sim.customers, sim.health, sim.touches)
    out = []
    for tp in GRADED:
        business = Business(gross_margin=GROSS_MARGIN, costs={tp: Cost(per_event=COSTS[tp])})
        analysis = TargetingAnalysis(tp, business=business, seed=seed).fit(data)
        rows = true_effects(analysis, sim.individual[tp])
        r = analysis.result_
        gp = r["policy"]["gross_profit"]
        out.append(
            {
                "seed": seed,
                "touchpoint": tp,
                **grade_rows(analysis, rows),
                "beats_current": gp["policy_minus_current"]["ci_low"] > 0,
                "beats_random": gp["policy_minus_random"]["ci_low"] > 0,
                **{
                    f"{kind}_{tier}": v
                    for kind, col in (("predicted", "gp_hat"), ("true", "gp_true"))
                    for tier, v in rows.groupby("tier")[col].mean().items()
                },
            }
        )
    return out


def grade_targeting(
    replications: int = 10,
    customers: int = 20_000,
    first_seed: int = 1,
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every replication's grades, and their summary per touchpoint."""
    e = over_seeds(replicate_targeting, replications, first_seed, (customers,), workers)
    return e, summarise_targeting(e)


def summarise_targeting(e: pd.DataFrame) -> pd.DataFrame:
    """Per touchpoint: the policy's true value over the oracle's (mean and worst), how often
    its interval says it beats the current practice and random targeting, and coverage of its
    estimated value; passes when the mean ratio >= 0.8, it beats both in every replication and
    coverage >= 0.9."""
    g = e.assign(ratio=e["policy_true"] / e["oracle_true"]).groupby("touchpoint", sort=False)
    out = pd.DataFrame(
        {
            "policy_true": g["policy_true"].mean(),
            "oracle_true": g["oracle_true"].mean(),
            "current_true": g["current_true"].mean(),
            "random_true": g["random_true"].mean(),
            "ratio_to_oracle": g["ratio"].mean(),
            "ratio_worst": g["ratio"].min(),
            "qini_ratio": g["qini_ratio"].mean(),
            "beats_current": g["beats_current"].mean(),
            "beats_random": g["beats_random"].mean(),
            "coverage": g["covered"].mean(),
            "replications": g.size(),
        }
    )
    out["passes"] = (
        (out["ratio_to_oracle"] >= 0.8)
        & (out["beats_current"] == 1)
        & (out["beats_random"] == 1)
        & (out["coverage"] >= 0.9)
    )
    return out
