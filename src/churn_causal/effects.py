"""The propensity logit and nearest-neighbour matching on it.

Matching is balanced risk-set matching (Li, Propert & Rosenbaum 2001) when the strata are trial
month and tier: each treated customer-month is matched to the nearest untreated customer-month
of the same stratum on the logit of the propensity score, within a caliper, with replacement.
The match is a sort and a binary search, O(n log n), with no loop over treated units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import SplineTransformer

_STRATUM_GAP = 1_000.0  # larger than any logit range: keys of different strata never mix
LOGIT_CLIP = 12.0


def fit_logit(x: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Logit of P(treated | x) from an (all but) unpenalised logistic regression, clipped so
    that propensities stay between about 6e-6 and 1 - 6e-6."""
    model = LogisticRegression(C=1e4, max_iter=5000).fit(x, treated)
    return np.clip(model.decision_function(x), -LOGIT_CLIP, LOGIT_CLIP)


def spline_basis(x: np.ndarray, n_knots: int = 5) -> np.ndarray:
    """Standardised cubic B-spline terms of each column with more distinct values than knots.

    Added to the linear terms they let the propensity logit bend: uptake that reacts to a fall
    in health only once it is a fall (a hinge), or that steps at a phase boundary, is not
    linear in the covariates, and a linear logit then leaves that confounding in the weights.
    """
    varied = [j for j in range(x.shape[1]) if len(np.unique(x[:, j])) > n_knots]
    if not varied:
        return np.empty((len(x), 0))
    basis = SplineTransformer(n_knots=n_knots, degree=3, include_bias=False).fit_transform(
        x[:, varied]
    )
    sd = basis.std(axis=0)
    keep = sd > 0
    return (basis[:, keep] - basis[:, keep].mean(axis=0)) / sd[keep]


def match_nearest(
    logit: np.ndarray, treated: np.ndarray, strata: np.ndarray, caliper_sd: float = 0.2
) -> np.ndarray:
    """For each row, the index of its matched control (with replacement), -1 if none.

    Controls get -1 too. Nearest neighbour on the logit within ``strata`` (exact), within a
    caliper of ``caliper_sd`` pooled standard deviations of the logit.
    """
    codes = pd.factorize(pd.Series(strata))[0].astype(float)
    key = codes * _STRATUM_GAP + logit
    ctrl = np.flatnonzero(~treated)
    ctrl = ctrl[np.argsort(key[ctrl], kind="stable")]
    ckey = key[ctrl]
    out = np.full(len(logit), -1)
    trt = np.flatnonzero(treated)
    if len(ctrl) == 0 or len(trt) == 0:
        return out
    pos = np.searchsorted(ckey, key[trt])
    left = np.clip(pos - 1, 0, len(ckey) - 1)
    right = np.clip(pos, 0, len(ckey) - 1)
    d_left, d_right = np.abs(key[trt] - ckey[left]), np.abs(ckey[right] - key[trt])
    best = np.where(d_left <= d_right, left, right)
    dist = np.minimum(d_left, d_right)
    caliper = caliper_sd * logit.std()
    ok = dist <= caliper
    out[trt[ok]] = ctrl[best[ok]]
    return out
