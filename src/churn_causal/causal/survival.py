"""Weighted Kaplan-Meier risk and RMST at a horizon, per stratum, for many weight vectors at
once; the cluster bootstrap; the weighted Cox hazard ratio of one contrast.

lifelines fits one curve per call; a bootstrap needs hundreds of weighted curves on the same
durations. Here the rows are sorted once into cells (each distinct time of each stratum), and
the curves of any number of weight vectors come from the cells' sums.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from churn_causal.causal.resampling import BATCH, poisson_draws


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
    clusters: np.ndarray, n_boot: int, seed: int, statistic, batch: int = BATCH
) -> np.ndarray:
    """``statistic(weights)`` for ``n_boot`` cluster-bootstrap weight rows (each cluster's
    Poisson(1) draw of ``resampling.poisson_draws`` on its rows), ``batch`` at a time so that
    memory stays at ``batch x rows`` whatever ``n_boot`` is."""
    uniq, codes = np.unique(np.asarray(clusters), return_inverse=True)
    draws = poisson_draws(len(uniq), n_boot, seed, batch)
    return np.concatenate(
        [
            statistic(draws[start : start + batch].astype(float)[:, codes])
            for start in range(0, n_boot, batch)
        ]
    )


def bootstrap_interval(point: float, reps: np.ndarray) -> dict[str, float]:
    """The estimate with the replicates' SD and 2.5/97.5 percentiles (NaN replicates ignored)."""
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return {
        "estimate": float(point),
        "se": float(np.nanstd(reps, ddof=1)),
        "ci_low": float(lo),
        "ci_high": float(hi),
    }


class StratifiedKaplanMeier:
    """One arm's weighted Kaplan-Meier risk and RMST by the horizon within each stratum, from
    per-row cells: a row exits at its time (or, followed past the horizon, after it) and dies
    there if it had the event. Strata are laid out side by side, padded to the longest; the
    curves of B weight vectors come from B rows of cell sums (``resampling.ClusterSums``)."""

    def __init__(
        self,
        duration: np.ndarray,
        event: np.ndarray,
        stratum: np.ndarray,
        n_strata: int,
        horizon: float,
        order: np.ndarray | None = None,
    ) -> None:
        """``stratum``: each row's stratum in 0..n_strata-1, or -1 (not in this arm).
        ``order``: all rows sorted by stratum and duration (stably), when the caller has it:
        every arm of every contrast on the same rows then takes its rows from one sort."""
        d, e = np.asarray(duration, dtype=float), np.asarray(event, dtype=bool)
        inside = (stratum >= 0) & (d <= horizon)
        if order is None:
            rows = np.flatnonzero(inside)[np.lexsort((d[inside], stratum[inside]))]
        else:
            rows = order[inside[order]]  # the arm's rows by stratum and time
        s_sorted, t_sorted = stratum[rows], d[rows]
        new = np.ones(len(s_sorted), dtype=bool)
        new[1:] = (s_sorted[1:] != s_sorted[:-1]) | (t_sorted[1:] != t_sorted[:-1])
        pair = np.cumsum(new) - 1  # distinct (stratum, time) of each sorted row
        pair_stratum, pair_time = s_sorted[new], t_sorted[new]
        first = np.searchsorted(pair_stratum, np.arange(n_strata))
        rank = np.arange(len(pair_stratum)) - first[pair_stratum]
        counts = np.bincount(pair_stratum, minlength=n_strata)
        self.width = int(counts.max(initial=0)) + 1  # the times, then "past the horizon"
        self.n_strata, self.horizon = n_strata, float(horizon)
        # cell of every row: its time's, or the stratum's last ("past the horizon")
        self.exit_cell = np.where(stratum >= 0, stratum * self.width + self.width - 1, -1)
        self.exit_cell[rows] = pair_stratum[pair] * self.width + rank[pair]
        self.death_cell = np.where(inside & e, self.exit_cell, -1)
        times = np.full((n_strata, self.width), np.nan)
        times[pair_stratum, rank] = pair_time
        self.first_time = np.where(counts > 0, times[:, 0], self.horizon)
        following = np.where(np.isnan(times[:, 1:]), self.horizon, times[:, 1:])
        steps = np.column_stack([following, np.full(n_strata, self.horizon)]) - times
        self.steps = np.nan_to_num(steps)  # padding and "past the horizon": no width
        self.times = times

    @property
    def n_cells(self) -> int:
        return self.n_strata * self.width

    def survival(self, exits: np.ndarray, deaths: np.ndarray) -> np.ndarray:
        """S just after each cell's time, (B, strata, width), from cell sums (B, n_cells)."""
        b = exits.shape[0]
        exits = np.asarray(exits, dtype=float).reshape(b, self.n_strata, self.width)
        deaths = np.asarray(deaths, dtype=float).reshape(b, self.n_strata, self.width)
        at_risk = np.cumsum(exits[:, :, ::-1], axis=2)[:, :, ::-1]
        hazard = np.divide(deaths, at_risk, out=np.zeros_like(deaths), where=at_risk > 0)
        with np.errstate(divide="ignore"):
            return np.exp(np.cumsum(np.log1p(-hazard), axis=2))

    def risk_rmst(self, exits: np.ndarray, deaths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Risk 1 - S(horizon) and RMST to the horizon per stratum: two (B, strata) arrays."""
        surv = self.survival(exits, deaths)
        return 1.0 - surv[:, :, -1], self.first_time + (surv * self.steps).sum(axis=2)

    def curve(self, exits: np.ndarray, deaths: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """S at the points of ``grid`` per stratum, (B, strata, len(grid))."""
        surv = self.survival(exits, deaths)
        out = np.ones((surv.shape[0], self.n_strata, len(grid)))
        for s in range(self.n_strata):  # one pass per stratum
            valid = self.times[s][~np.isnan(self.times[s])]
            at = np.searchsorted(valid, grid, side="right") - 1
            out[:, s, :] = np.where(at >= 0, surv[:, s, np.maximum(at, 0)], 1.0)
        return out


class SurvivalContrast:
    """The treated's and the controls' Kaplan-Meier risk and RMST by the horizon, computed per
    stratum (the trial of stacked trials) and averaged with the strata's shares of the target
    rows' weight (the treated for the ATT, everybody for the ATE). One pooled curve over
    stacked trials would mix them differently at each follow-up time, since later trials are
    censored sooner (dependent censoring).

    ``cells(weights)`` is the sparse (rows, K) matrix of what each row adds to the sums these
    come from (each arm's exits and deaths, the target's weight per stratum); ``statistics``
    and ``curves`` turn (B, K) arrays of such sums into results, one per row."""

    def __init__(
        self, duration, event, strata, treat, ctrl, target, horizon: float, order=None
    ) -> None:
        """``order``: the rows sorted by stratum and duration (``StratifiedKaplanMeier``)."""
        strata = np.zeros(len(duration), dtype=np.intp) if strata is None else strata
        kept, position = np.unique(strata[target], return_inverse=True)
        of_row = np.full(int(strata.max()) + 1, -1)
        of_row[kept] = np.arange(len(kept))
        of_row = of_row[strata]
        self.arms = [
            StratifiedKaplanMeier(
                duration, event, np.where(rows, of_row, -1), len(kept), horizon, order
            )
            for rows in (treat, ctrl)
        ]
        target_cell = np.full(len(duration), -1)
        target_cell[target] = position
        columns = [c for km in self.arms for c in (km.exit_cell, km.death_cell)] + [target_cell]
        sizes = [km.n_cells for km in self.arms for _ in range(2)] + [len(kept)]
        self.offsets = np.cumsum([0, *sizes])
        self.columns = [
            np.where(c >= 0, c + o, -1) for c, o in zip(columns, self.offsets, strict=False)
        ]

    def cells(self, weights: np.ndarray) -> sparse.csr_matrix:
        rows = np.concatenate([np.flatnonzero(c >= 0) for c in self.columns])
        cols = np.concatenate([c[c >= 0] for c in self.columns])
        shape = (len(weights), int(self.offsets[-1]))
        return sparse.csr_matrix((weights[rows], (rows, cols)), shape=shape)

    def _blocks(self, sums: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
        o = self.offsets
        arms = [
            (sums[:, o[2 * i] : o[2 * i + 1]], sums[:, o[2 * i + 1] : o[2 * i + 2]]) for i in (0, 1)
        ]
        mass = sums[:, o[4] : o[5]]
        return arms, mass / mass.sum(axis=1, keepdims=True)

    def statistics(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        """``risk_treated``, ``risk_control``, ``rmst_treated``, ``rmst_control``: (B,) each."""
        arms, share = self._blocks(sums)
        out = {}
        for km, (exits, deaths), arm in zip(self.arms, arms, ("treated", "control"), strict=True):
            risk, rmst = km.risk_rmst(exits, deaths)
            out[f"risk_{arm}"] = (share * risk).sum(axis=1)
            out[f"rmst_{arm}"] = (share * rmst).sum(axis=1)
        return out

    def curves(self, sums: np.ndarray, grid: np.ndarray) -> dict[str, np.ndarray]:
        """Each arm's standardised survival at the points of ``grid``: (B, len(grid))."""
        arms, share = self._blocks(sums)
        return {
            arm: (share[:, :, None] * km.curve(exits, deaths, grid)).sum(axis=1)
            for km, (exits, deaths), arm in zip(
                self.arms, arms, ("treated", "control"), strict=True
            )
        }
