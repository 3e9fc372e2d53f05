"""Weighted Kaplan-Meier risk at a horizon, vectorised over many weight vectors at once.

lifelines fits one curve per call; a bootstrap needs hundreds of weighted curves on the same
durations, so this computes them all from one sort: ``weights`` may be (n,) or (B, n).
"""

from __future__ import annotations

import numpy as np


def _km_steps(
    duration: np.ndarray, event: np.ndarray, horizon: float, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times up to the horizon and S just after each, one row per weight vector."""
    duration = np.asarray(duration, dtype=float)
    event = np.asarray(event, dtype=bool)
    w = np.ones((1, len(duration))) if weights is None else np.atleast_2d(weights).astype(float)
    order = np.argsort(duration, kind="stable")
    d, e, w = duration[order], event[order], w[:, order]
    times, first = np.unique(d, return_index=True)
    keep = times <= horizon
    times, first = times[keep], first[keep]
    if len(times) == 0:
        return times, np.ones((w.shape[0], 0))
    at_risk = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    # Deaths at each time: sums over the block of equal durations (the last block ends at the
    # first duration beyond the horizon).
    ends = np.append(first[1:], np.searchsorted(d, times[-1], side="right"))
    cum = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w * e, axis=1)], axis=1)
    deaths = cum[:, ends] - cum[:, first]
    n = at_risk[:, first]
    hazard = np.divide(deaths, n, out=np.zeros_like(deaths), where=n > 0)
    with np.errstate(divide="ignore"):
        return times, np.exp(np.cumsum(np.log1p(-hazard), axis=1))


def km_summary(
    duration: np.ndarray,
    event: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Risk 1 - S(horizon) and restricted mean survival time up to the horizon of the
    (weighted) Kaplan-Meier estimator, one of each per row of ``weights`` (B, n)."""
    times, surv = _km_steps(duration, event, horizon, weights)
    if len(times) == 0:
        return np.zeros(surv.shape[0]), np.full(surv.shape[0], float(horizon))
    # RMST: S is 1 until the first time, then steps; integrate up to the horizon.
    steps = np.diff(np.append(times, horizon))
    rmst = times[0] + (surv * steps).sum(axis=1)
    return 1.0 - surv[:, -1], rmst


def km_curve(
    duration: np.ndarray, event: np.ndarray, grid: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The (weighted) Kaplan-Meier survival function at the points of ``grid``; one row per
    weight vector when ``weights`` is (B, n)."""
    times, surv = _km_steps(duration, event, float(np.max(grid)), weights)
    at = np.searchsorted(times, grid, side="right") - 1
    if len(times) == 0:
        out = np.ones((surv.shape[0], len(grid)))
    else:
        out = np.where(at >= 0, surv[:, np.maximum(at, 0)], 1.0)
    return out if np.ndim(weights) == 2 else out[0]


def cluster_poisson_weights(
    clusters: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Poisson(1) bootstrap weights drawn per cluster (customer), expanded to rows: (B, n)."""
    uniq, codes = np.unique(np.asarray(clusters), return_inverse=True)
    return rng.poisson(1.0, size=(n_boot, len(uniq))).astype(float)[:, codes]


def cox_binary(
    duration: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    weights: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    iterations: int = 25,
) -> tuple[float, float]:
    """Log hazard ratio of a binary covariate in a weighted Cox model (Breslow ties) and its
    cluster-robust standard error (Lin & Wei 1989).

    After matching or weighting the contrast has one covariate, so the partial likelihood is
    one-dimensional: Newton's method on sorted cumulative sums, O(n log n). lifelines' robust,
    clustered fit of the same model takes minutes on a cohort of this project's size.
    """
    d = np.asarray(duration, dtype=float)
    e = np.asarray(event, dtype=bool)
    z = np.asarray(treated, dtype=float)
    w = np.ones(len(d)) if weights is None else np.asarray(weights, dtype=float)
    times, inverse = np.unique(d, return_inverse=True)
    dead = np.bincount(inverse, weights=w * e, minlength=len(times))
    dead_z = np.bincount(inverse, weights=w * e * z, minlength=len(times))
    at_w = np.bincount(inverse, weights=w, minlength=len(times))[::-1].cumsum()[::-1]
    at_wz = np.bincount(inverse, weights=w * z, minlength=len(times))[::-1].cumsum()[::-1]
    k = dead > 0
    beta = 0.0
    for _ in range(iterations):
        s0 = at_w[k] - at_wz[k] + at_wz[k] * np.exp(beta)
        zbar = at_wz[k] * np.exp(beta) / s0
        score = dead_z[k].sum() - (dead[k] * zbar).sum()
        info = (dead[k] * zbar * (1 - zbar)).sum()
        if info <= 0:
            return float("nan"), float("nan")
        step = score / info
        beta += step
        if abs(step) < 1e-10:
            break
    s0 = at_w - at_wz + at_wz * np.exp(beta)
    zbar = np.divide(at_wz * np.exp(beta), s0, out=np.zeros_like(s0), where=s0 > 0)
    hazard = np.divide(dead, s0, out=np.zeros_like(s0), where=s0 > 0)
    info = (dead * zbar * (1 - zbar)).sum()
    # Score residuals: the event term minus the compensator accumulated up to each time.
    cum_h = np.cumsum(hazard)
    cum_hz = np.cumsum(hazard * zbar)
    risk = np.exp(beta * z)
    resid = w * (e * (z - zbar[inverse]) - risk * (z * cum_h[inverse] - cum_hz[inverse]))
    groups = np.arange(len(d)) if cluster is None else np.unique(cluster, return_inverse=True)[1]
    per_cluster = np.bincount(groups, weights=resid)
    return float(beta), float(np.sqrt((per_cluster**2).sum()) / info)


def cluster_bootstrap(
    clusters: np.ndarray, n_boot: int, seed: int, statistic, batch: int = 25
) -> np.ndarray:
    """``statistic(weights)`` for ``n_boot`` cluster-bootstrap weight rows, ``batch`` at a time
    so that memory stays at ``batch x rows`` whatever ``n_boot`` is."""
    rng = np.random.default_rng(seed)
    sizes = [min(batch, n_boot - i) for i in range(0, n_boot, batch)]
    return np.concatenate([statistic(cluster_poisson_weights(clusters, b, rng)) for b in sizes])


def bootstrap_interval(point: float, reps: np.ndarray) -> dict[str, float]:
    """The estimate with the replicates' SD and 2.5/97.5 percentiles (NaN replicates ignored)."""
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return {
        "estimate": float(point),
        "se": float(np.nanstd(reps, ddof=1)),
        "ci_low": float(lo),
        "ci_high": float(hi),
    }
