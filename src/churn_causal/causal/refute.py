"""DoWhy's own pipeline as a cross-check, and its refuters (docs/methods.md).

The same question goes through DoWhy's CausalModel (model, identify, estimate with propensity
weighting) on a binary outcome, then through three refuters: a placebo treatment (the effect
should vanish), a random common cause (the estimate should not move) and random data subsets
(the estimate should not move). DoWhy re-estimates in Python for every simulation, so this runs
on a seeded sample of at most ``sample`` rows. A time-to-event outcome enters as "event by the
horizon" among rows whose status at the horizon is known.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from churn_causal.causal.logit import Logit

REFUTERS = {
    "placebo_treatment": ("placebo_treatment_refuter", {"placebo_type": "permute"}),
    "random_common_cause": ("random_common_cause", {}),
    "data_subset": ("data_subset_refuter", {"subset_fraction": 0.8}),
}


def _numeric(df: pd.DataFrame, covariates: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Covariates as numbers DoWhy can use: text one-hot, constant columns left out."""
    x = pd.get_dummies(df[covariates], drop_first=True, dtype=float)
    x = x.loc[:, x.std() > 0]
    x.columns = [f"c{i}" for i in range(x.shape[1])]  # DoWhy parses names into formulas
    return x, list(x.columns)


def dowhy_check(
    df: pd.DataFrame,
    treatment: str,
    covariates: list[str],
    outcome: str | pd.Series,
    estimand: str = "ATT",
    sample: int = 20_000,
    simulations: int = 10,
    seed: int = 0,
    se: float | None = None,
    risk: bool = True,
    weights: str | None = None,
) -> dict[str, Any]:
    """DoWhy's propensity-weighting estimate and the three refutations, as a JSON-able dict.

    ``outcome`` is a column of ``df`` or a Series aligned with its rows (NaN = unknown).

    ``se`` is the standard error of the estimate on all of ``df``; scaled to the sample, it
    sets how much the refuted estimates may move by chance. ``risk``: the outcome is binary,
    so that a move of half a percentage point is never a failure. ``weights`` names a column of
    row weights (sampling weights): the sample is then drawn with those weights, so that DoWhy,
    which takes none, sees the table the rows stand for."""
    from dowhy import CausalModel

    y = df[outcome] if isinstance(outcome, str) else outcome
    known = pd.Series(np.flatnonzero(y.notna().to_numpy()))  # positions of the known rows
    noise = (se or 0.0) * np.sqrt(len(known) / min(len(known), sample))
    # The sample drawn as DataFrame.sample draws it from the known rows, but as positions:
    # only the sample's rows are copied out of ``df`` (a weekly cohort has millions).
    w = df[weights].to_numpy()[known] if weights else None
    if w is not None and (w != w[0]).any():
        known = known.sample(sample, replace=True, weights=w, random_state=seed)
    elif len(known) > sample:
        known = known.sample(sample, random_state=seed)
    at = known.to_numpy()
    rows = df.iloc[at]
    x, names = _numeric(rows, covariates)
    data = x.assign(t=rows[treatment].astype(bool).to_numpy(), y=y.to_numpy(dtype=float)[at])
    columns = list(data.columns)
    logging.getLogger("dowhy").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CausalModel(data=data.copy(), treatment="t", outcome="y", common_causes=names)
        # The adjustment set is all covariates by design; DoWhy's default search over subsets
        # of 25 covariates takes half a minute to arrive at the same set.
        identified = model.identify_effect(
            method_name="maximal-adjustment", proceed_when_unidentifiable=True
        )
        estimate = model.estimate_effect(
            identified,
            method_name="backdoor.propensity_score_weighting",
            target_units=estimand.lower(),
            method_params={
                "weighting_scheme": "ips_stabilized_weight",
                # DoWhy's default (an unscaled, lightly regularised logistic regression that
                # stops at 100 iterations) does not converge on covariates such as days and
                # counts, and leaves confounding; give it a model that does.
                "propensity_score_model": make_pipeline(StandardScaler(), Logit(C=1e4)),
                # DoWhy clips propensities to [0.05, 0.95] by default. Touchpoints taken up
                # by a few percent of customer-months have most scores below 0.05, and the
                # clipped weights then favour low-propensity controls: -4.3 pp instead of
                # -0.5 pp for the seminar on the demo data. Clip as our estimator does.
                "min_ps_score": 1e-5,
                "max_ps_score": 1 - 1e-5,
            },
        )
        refutation = {}
        for name, (method, params) in REFUTERS.items():
            # DoWhy 0.14 leaves its fitted propensity scores in the model's data, and every
            # refuter then reuses them instead of refitting (py-why/dowhy#1728): the placebo
            # shows a spurious effect and the random common cause cannot move anything. Hand
            # each refuter the clean data.
            model._data = data[columns].copy()
            r = model.refute_estimate(
                identified,
                estimate,
                method_name=method,
                num_simulations=simulations,
                random_seed=seed,
                **params,
            )
            refutation[name] = _judge(name, float(estimate.value), r, noise, risk)
    return {
        "estimate": float(estimate.value),
        "method": "dowhy backdoor.propensity_score_weighting (stabilised)",
        "rows": len(data),
        "refutation": refutation,
        "passed": all(r["passed"] for r in refutation.values()),
    }


def _judge(
    name: str, original: float, r: Any, noise: float = 0.0, risk: bool = True
) -> dict[str, Any]:
    """Did the refutation come out as it should? Placebo: the effect vanishes (within half the
    original); the others: the estimate moves by less than a quarter of itself. Never stricter
    than two standard errors of an estimate on the sample (``noise``), nor for a risk than 0.5
    percentage points, so that sampling noise alone does not fail a sound analysis."""
    new = float(np.asarray(r.new_effect).mean())
    share = 0.5 if name == "placebo_treatment" else 0.25
    tolerance = max(share * abs(original), 0.005 if risk else 0.0, 2 * noise)
    passed = (
        abs(new) <= tolerance if name == "placebo_treatment" else abs(new - original) <= tolerance
    )
    p_value = (r.refutation_result or {}).get("p_value")
    return {
        "new_effect": new,
        "expected": 0.0 if name == "placebo_treatment" else original,
        "tolerance": tolerance,
        "p_value": None if p_value is None else float(p_value),
        "passed": bool(passed),
    }
