"""Weighted Kaplan-Meier risk at a horizon, vectorised over many weight vectors at once.

lifelines fits one curve per call; a bootstrap needs hundreds of weighted curves on the same
durations, so this computes them all from one sort: ``weights`` may be (n,) or (B, n).
"""

from __future__ import annotations

import numpy as np


def km_risk(
    duration: np.ndarray,
    event: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
) -> np.ndarray | float:
    """1 - S(horizon) of the (weighted) Kaplan-Meier estimator; one value per weight row."""
    duration = np.asarray(duration, dtype=float)
    event = np.asarray(event, dtype=bool)
    w = np.ones((1, len(duration))) if weights is None else np.atleast_2d(weights).astype(float)
    order = np.argsort(duration, kind="stable")
    d, e, w = duration[order], event[order], w[:, order]
    if len(d) == 0:
        return np.zeros(w.shape[0]) if np.ndim(weights) == 2 else 0.0
    at_risk = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    times, first = np.unique(d, return_index=True)
    deaths = np.add.reduceat(w * e, first, axis=1)
    n = at_risk[:, first]
    hazard = np.divide(deaths, n, out=np.zeros_like(deaths), where=n > 0)
    with np.errstate(divide="ignore"):
        log_s = np.log1p(-hazard[:, times <= horizon]).sum(axis=1)
    risk = -np.expm1(log_s)
    return risk if np.ndim(weights) == 2 else float(risk[0])


def cluster_poisson_weights(
    clusters: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Poisson(1) bootstrap weights drawn per cluster (customer), expanded to rows: (B, n)."""
    uniq, codes = np.unique(np.asarray(clusters), return_inverse=True)
    return rng.poisson(1.0, size=(n_boot, len(uniq))).astype(float)[:, codes]
