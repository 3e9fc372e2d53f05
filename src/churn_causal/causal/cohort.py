"""The product's estimator for a stacked target-trial cohort of CS data: the CS covariates,
balanced risk-set matching on trial and tier, survival curves per trial, a spline propensity."""

from __future__ import annotations

from churn_causal.causal.estimate import EffectEstimator
from churn_causal.design.cohort import (
    CATEGORICAL_COVARIATES,
    NUMERIC_COVARIATES,
    prior_count_columns,
)
from churn_causal.design.sampling import SAMPLING_WEIGHT


def cohort_estimator(touchpoints: list[str], horizon: int, **kwargs) -> EffectEstimator:
    """The estimator the product uses on a stacked target-trial cohort: survival curves per
    trial (later trials are censored sooner and churn at other rates), a spline propensity
    (uptake reacts to health non-linearly, e.g. a CS manager to a fall in health), and the
    cohort's sampling weights (1 unless its untreated rows were sampled)."""
    covariates = [*NUMERIC_COVARIATES, *prior_count_columns(touchpoints), *CATEGORICAL_COVARIATES]
    # Matching (ATT only) is exact on trial and tier: balanced risk-set matching.
    exact = ("trial", "tier") if kwargs.get("estimand", "ATT") == "ATT" else ()
    return EffectEstimator(
        "treated",
        covariates,
        duration="duration_days",
        event="churned",
        horizon=horizon,
        cluster="customer_id",
        exact=exact,
        **{
            "km_strata": "trial",
            "propensity": "spline",
            "outcome_label": "churn",
            "weight": SAMPLING_WEIGHT,
            **kwargs,
        },
    )
