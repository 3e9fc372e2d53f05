"""Covariate balance between the arms under row weights: the standardised mean difference of
every column and the variance ratio furthest from 1, the diagnostics of each weighting.

What depends only on the rows (the arms' unweighted SDs, the columns that vary) is computed
once per table; each set of weights then costs one pass over the rows, block by block: a
(rows, 2) matrix of the arms' weights times the columns and their squares. Every method and
level of a fit asks for its balance, so this keeps a diagnostic from costing as much as an
estimate.
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 65_536  # a block's float64 copy of the columns stays a few tens of MB


class Balance:
    """Balance of the columns of ``x`` between ``t`` and ``~t`` under any row weights."""

    def __init__(self, x: np.ndarray, t: np.ndarray) -> None:
        self.x, self.t = x, t
        # Columns that are one value (within a level, a tier's indicator) have no balance to
        # speak of: rounding would leave an SMD of noise over noise.
        self.varied = x.max(axis=0) > x.min(axis=0)
        _, (v1, v0) = self._moments(np.ones(len(t)), squares=True)
        self.pooled_sd = np.sqrt(np.maximum(v1 + v0, 0.0) / 2)  # of the unweighted arms

    def _moments(self, w: np.ndarray, squares: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Each arm's weighted mean of every column (treated first), and with ``squares``
        its weighted variance: (2, columns) arrays."""
        arms = np.column_stack([np.where(self.t, w, 0.0), np.where(self.t, 0.0, w)])
        p = self.x.shape[1]
        s1, s2 = np.zeros((2, p)), np.zeros((2, p))
        for s in range(0, len(self.x), BLOCK_ROWS):
            xb, wb = self.x[s : s + BLOCK_ROWS].astype(float), arms[s : s + BLOCK_ROWS].T
            s1 += wb @ xb
            if squares:
                s2 += wb @ (xb * xb)
        total = arms.sum(axis=0)[:, None]
        mean = s1 / total
        return mean, (s2 / total - mean**2 if squares else None)

    def _standardised(self, mean: np.ndarray) -> np.ndarray:
        diff = mean[0] - mean[1]
        usable = self.varied & (self.pooled_sd > 0)
        return np.divide(diff, self.pooled_sd, out=np.zeros_like(diff), where=usable)

    def smd(self, w: np.ndarray) -> np.ndarray:
        """Signed standardised mean difference of each column under weights ``w``."""
        return self._standardised(self._moments(w, squares=False)[0])

    def summary(self, w: np.ndarray, name: str) -> dict[str, float]:
        """Largest absolute SMD under ``w`` and the variance ratio (treated over untreated,
        both weighted) furthest from 1, keyed ``name.format("max_abs_smd")`` and
        ``name.format("variance_ratio_furthest")``."""
        mean, (v1, v0) = self._moments(w, squares=True)
        smd = self._standardised(mean)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(self.varied & (v0 > 0) & (v1 > 0), v1 / v0, 1.0)
        worst = ratio[np.argmax(np.abs(np.log(ratio)))] if len(ratio) else 1.0
        return {
            name.format("max_abs_smd"): float(np.abs(smd).max()),
            name.format("variance_ratio_furthest"): float(worst),
        }
