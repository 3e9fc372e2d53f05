"""Weighted Kaplan-Meier risk at a horizon, vectorised over many weight vectors at once.

lifelines fits one curve per call; a bootstrap needs hundreds of weighted curves on the same
durations, so this computes them all from one sort: ``weights`` may be (n,) or (B, n).
"""

from __future__ import annotations

import numpy as np


def km_summary(
    duration: np.ndarray,
    event: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Risk 1 - S(horizon) and restricted mean survival time up to the horizon of the
    (weighted) Kaplan-Meier estimator, one of each per row of ``weights`` (B, n)."""
    duration = np.asarray(duration, dtype=float)
    event = np.asarray(event, dtype=bool)
    w = np.ones((1, len(duration))) if weights is None else np.atleast_2d(weights).astype(float)
    if len(duration) == 0:
        return np.zeros(w.shape[0]), np.full(w.shape[0], float(horizon))
    order = np.argsort(duration, kind="stable")
    d, e, w = duration[order], event[order], w[:, order]
    at_risk = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    times, first = np.unique(d, return_index=True)
    keep = times <= horizon
    times, first = times[keep], first[keep]
    if len(times) == 0:
        return np.zeros(w.shape[0]), np.full(w.shape[0], float(horizon))
    # Deaths at each time: sums over the block of equal durations (the last block ends at the
    # first duration beyond the horizon).
    ends = np.append(first[1:], np.searchsorted(d, times[-1], side="right"))
    cum = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w * e, axis=1)], axis=1)
    deaths = cum[:, ends] - cum[:, first]
    n = at_risk[:, first]
    hazard = np.divide(deaths, n, out=np.zeros_like(deaths), where=n > 0)
    with np.errstate(divide="ignore"):
        surv = np.exp(np.cumsum(np.log1p(-hazard), axis=1))  # S just after each time
    # RMST: S is 1 until the first time, then steps; integrate up to the horizon.
    steps = np.diff(np.append(times, horizon))
    rmst = times[0] + (surv * steps).sum(axis=1)
    return 1.0 - surv[:, -1], rmst


def km_risk(
    duration: np.ndarray,
    event: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
) -> np.ndarray | float:
    """1 - S(horizon) of the (weighted) Kaplan-Meier estimator; one value per weight row."""
    risk, _ = km_summary(duration, event, horizon, weights)
    return risk if np.ndim(weights) == 2 else float(risk[0])


def cluster_poisson_weights(
    clusters: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Poisson(1) bootstrap weights drawn per cluster (customer), expanded to rows: (B, n)."""
    uniq, codes = np.unique(np.asarray(clusters), return_inverse=True)
    return rng.poisson(1.0, size=(n_boot, len(uniq))).astype(float)[:, codes]
