"""The propensity model: the logit of P(treated | covariates), linear or with spline terms."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import SplineTransformer

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
