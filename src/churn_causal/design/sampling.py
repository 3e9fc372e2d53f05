"""Risk-set sampling: every treated row of a trial, and a random share of its untreated rows.

In a trial most customers are untreated (weekly trials: about 50 untreated customer-weeks for
each treated one). A comparison needs only so many of them: sampling each trial's untreated
rows down to ``per_treated`` for each treated row, and weighting the kept ones by one over
their chance of being kept, estimates the same effects from a fraction of the rows (as nested
case-control sampling does; about k / (k + 1) of the full cohort's efficiency for k controls a
case, with equal weights; docs/methods.md has what it kept on weekly cs_touch). Every estimator
carries the weights (``EffectEstimator(weight=SAMPLING_WEIGHT)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SAMPLING_WEIGHT = "sampling_weight"
CONTROLS_PER_TREATED = 10  # the product's default (cs_touch at 20k: 544k of 1.17M weekly rows)


def sample_controls(
    cohort: pd.DataFrame, per_treated: float, seed: int = 0, by: str = "trial"
) -> pd.DataFrame:
    """The cohort with every treated row and, within each level of ``by`` (a trial), each
    untreated row kept with probability q = min(1, per_treated x treated / untreated); column
    ``SAMPLING_WEIGHT`` is 1 for the treated and 1/q for the kept untreated rows. A trial with
    no treated row has nothing to compare for the treated (the ATT) and keeps none; a cohort
    with no treated row at all is returned whole, for the estimator to say so. The draws are
    seeded, so the same cohort and seed keep the same rows."""
    treated = cohort["treated"].to_numpy(dtype=bool)
    if not treated.any():
        return cohort
    keep, weight, summary = risk_set_sample(cohort[by].to_numpy(), treated, per_treated, seed)
    out = cohort[keep].reset_index(drop=True)
    out[SAMPLING_WEIGHT] = weight
    out.attrs = {**cohort.attrs, "sampling": summary}
    return out


def risk_set_sample(
    trial: np.ndarray, treated: np.ndarray, per_treated: float, seed: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    """The draws of ``sample_controls`` on bare arrays (so that a cohort can be sampled before
    its covariates are built): rows kept, their sampling weights and a summary."""
    codes = pd.factorize(trial)[0]
    n_treated = np.bincount(codes, weights=treated)
    n_untreated = np.bincount(codes, weights=~treated)
    q = np.minimum(1.0, per_treated * n_treated / np.maximum(n_untreated, 1))[codes]
    keep = treated | (np.random.default_rng(seed).random(len(trial)) < q)
    summary = {
        "controls_per_treated": per_treated,
        "untreated_rows": int((~treated).sum()),
        "untreated_rows_kept": int((keep & ~treated).sum()),
    }
    return keep, np.where(treated, 1.0, 1.0 / q)[keep], summary
