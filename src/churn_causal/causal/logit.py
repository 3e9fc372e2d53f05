"""Logistic regression fitted by Newton's method to convergence, the design in float32.

Every model of the analysis that predicts a binary (the propensity, the outcome models of the
doubly robust estimate, the time-varying weights, EconML's nuisances, DoWhy's propensity) is a
logistic regression on up to millions of rows and about a hundred columns: n >> p, where
Newton's method converges in a handful of passes. scikit-learn's default L-BFGS stopped short
of the optimum on the spline propensity (log-likelihood 15 below it after 64 iterations, 5.6 s
on 268k rows x 123 columns); its Newton-Cholesky solver converges but holds float64 copies of
the design (5-6 s on the cs_touch cohort's 268k x 106). This one keeps the design in float32
(half the memory) and sums the gradient and Hessian in float64 block by block, with numpy's
symmetric product. The first, long steps take float32 products (twice as fast); near the
optimum, or where float32 can no longer descend (it stalls short of the optimum on
near-separated data, which spline terms produce), the steps take float64 ones, so the optimum
is the float64 one: the same as scikit-learn's in 2.4 s.

Near-separated data (a spline cell without treated rows) also makes Newton's method slow: the
fitted logits of such a cell move by about one per step, so the weekly propensity took 18
exact Newton steps on 544k rows and 34 on 2.7M. An exact Hessian (rows x columns^2) costs
about as much as a hundred gradients, so between exact Hessians the steps use BFGS updates of
the last one (``REFRESH``), and the last steps before convergence are exact Newton steps again:
the same optimum from 8 Hessians and 18 gradients on 2.7M rows, in a third of the time.

The objective is scikit-learn's: sum of weighted log-losses + ||coef||^2 / (2 C), the
intercept unpenalised, so ``Logit(C)`` estimates what ``LogisticRegression(C)`` does.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from churn_causal.parallel import map_blocks

BLOCK_ROWS = 32_768  # rows per block: a block's float64 copy stays a few tens of MB
SWITCH = 1.0  # float32 steps until the log-likelihood to gain is below this
REFRESH = 5  # steps between exact Hessians; quasi-Newton (BFGS) updates in between
FINISH = 1e-3  # exact Newton steps once the log-likelihood to gain is below this


class Logit(ClassifierMixin, BaseEstimator):
    """L2-penalised logistic regression (scikit-learn's API), fitted by Newton's method.

    ``C``: inverse penalty, as in scikit-learn; ``tol``: stop when the Newton decrement (the
    log-likelihood still to gain, about) is below ``tol``; ``max_iter``: at most this many
    Newton steps.
    """

    def __init__(self, C: float = 1.0, tol: float = 1e-7, max_iter: int = 100) -> None:
        self.C, self.tol, self.max_iter = C, tol, max_iter

    def fit(self, X, y, sample_weight=None) -> Logit:
        # One BLAS thread: the block products are too small to share (measured on 2.7M rows x
        # 107 columns, two threads took 1.2 times as long as one for the same Hessians).
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight) -> Logit:
        x = np.asarray(X, dtype=np.float32)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"Logit needs two classes in y, got {len(self.classes_)}")
        t = codes.astype(np.float64)
        w = np.ones(len(t)) if sample_weight is None else np.asarray(sample_weight, float)
        self.n_features_in_ = x.shape[1]
        beta = np.zeros(x.shape[1] + 1)  # intercept first
        beta[0] = np.log(np.average(t, weights=w) / (1 - np.average(t, weights=w)))
        penalty = np.r_[0.0, np.full(x.shape[1], 1 / self.C)]

        def objective(eta: np.ndarray, beta: np.ndarray) -> float:
            return _loss(eta, t, w) + 0.5 * penalty @ beta**2

        eta = np.full(len(t), beta[0])
        loss = objective(eta, beta)
        dtype = np.float32  # the first, long steps in float32; the last ones in float64
        age = REFRESH  # steps since the last exact Hessian: the first one is exact
        last_beta, last_grad = beta, np.zeros_like(beta)  # the step BFGS updates with
        for iteration in range(1, self.max_iter + 1):
            mu = expit(eta)
            exact = age >= REFRESH
            if exact:
                grad, hess = _gradient_hessian(x, w * (mu - t), w * mu * (1 - mu), dtype)
                hess[np.diag_indices_from(hess)] += penalty
                age = 0
            else:
                grad = _gradient(x, w * (mu - t), dtype)
            grad += penalty * beta
            if not exact:
                hess = _bfgs(hess, beta - last_beta, grad - last_grad)
            try:
                step = cho_solve(cho_factor(hess), grad)
            except LinAlgError:  # collinear columns: the least-norm step
                step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            decrement = grad @ step
            direction = _times(x, step[1:], dtype) + step[0]
            size = 1.0
            while True:  # backtracking: the full Newton step near the optimum
                trial = beta - size * step
                new_eta = eta - size * direction
                new_loss = objective(new_eta, trial)
                if new_loss <= loss - 1e-4 * size * decrement or size < 1e-8:
                    break
                size /= 2
            self.n_iter_ = np.array([iteration])  # as scikit-learn reports it
            stalled = new_loss >= loss
            last_beta, last_grad = beta, grad
            if not stalled:
                beta, eta, loss = trial, new_eta, new_loss
                age += 1
            if stalled or size < 0.25 or (dtype is np.float64 and decrement / 2 < FINISH):
                age = REFRESH  # a poor step, or the last ones: exact Newton steps
            if stalled and not exact:
                continue
            if dtype is np.float32 and (decrement / 2 < SWITCH or stalled):
                dtype = np.float64  # near the optimum, or float32 can no longer descend
                eta = _times(x, beta[1:], dtype) + beta[0]
                loss = objective(eta, beta)
                age = REFRESH
            elif dtype is np.float64 and exact and (decrement / 2 < self.tol or stalled):
                break
        self.intercept_ = np.array([beta[0]])
        self.coef_ = beta[None, 1:]
        return self

    def decision_function(self, X) -> np.ndarray:
        return _times(_numeric(X), self.coef_[0]) + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def _loss(eta: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    """Weighted log-loss: log(1 + e^eta) - t * eta per row, one transcendental per row."""
    per_row = np.empty(len(eta))

    def block(b: slice) -> None:
        per_row[b] = np.logaddexp(0.0, eta[b]) - t[b] * eta[b]

    map_blocks(block, len(eta), BLOCK_ROWS)
    return float(w @ per_row)


def _numeric(X) -> np.ndarray:
    """``X`` as an array of floats, not copied where it is one already."""
    x = np.asarray(X)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


def float32_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows].astype(np.float32)`` (``rows`` a mask) without the float64 copy of the rows:
    what a fit on part of a float64 design takes."""
    take = np.flatnonzero(rows)
    out = np.empty((len(take), x.shape[1]), dtype=np.float32)
    for s in range(0, len(take), BLOCK_ROWS):
        out[s : s + BLOCK_ROWS] = x[take[s : s + BLOCK_ROWS]]
    return out


def _times(x: np.ndarray, coef: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``x @ coef`` as a float64 vector, ``x`` taken as float32 and the products in ``dtype``,
    block by block (no copy of all of ``x``)."""
    out = np.empty(len(x))
    c = coef.astype(dtype)

    def block(b: slice) -> None:
        out[b] = x[b].astype(np.float32, copy=False).astype(dtype, copy=False) @ c

    map_blocks(block, len(x), BLOCK_ROWS)
    return out


def _gradient(x: np.ndarray, residual: np.ndarray, dtype: type) -> np.ndarray:
    """Gradient of the log-loss with an intercept column (``_gradient_hessian``'s alone)."""
    grad = np.empty(x.shape[1] + 1)
    grad[0] = residual.sum()
    if dtype is np.float32:  # one product over all rows (in blocks, the sums would differ)
        grad[1:] = residual.astype(np.float32) @ x
        return grad
    grad[1:] = 0.0
    for part in map_blocks(lambda b: residual[b] @ x[b].astype(np.float64), len(x), BLOCK_ROWS):
        grad[1:] += part
    return grad


def _bfgs(hess: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The BFGS update of ``hess`` by the step ``s`` and the gradient's change ``y`` (kept as
    it is where the update would not stay positive definite)."""
    ys, hs = y @ s, hess @ s
    if ys <= 1e-12 * np.sqrt((y @ y) * (s @ s)) or s @ hs <= 0:
        return hess
    return hess - np.outer(hs, hs) / (s @ hs) + np.outer(y, y) / ys


def _gradient_hessian(
    x: np.ndarray, residual: np.ndarray, curvature: np.ndarray, dtype: type
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the log-loss with an intercept column, block by block, the
    products in ``dtype`` and their sums in float64."""
    p = x.shape[1] + 1
    grad, hess = np.zeros(p), np.zeros((p, p))
    grad[0], hess[0, 0] = residual.sum(), curvature.sum()
    r, h, root = residual.astype(dtype), curvature.astype(dtype), np.sqrt(curvature).astype(dtype)

    def block(b: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xb = x[b].astype(dtype)  # a copy: scaled in place below
        g, c = r[b] @ xb, h[b] @ xb
        xb *= root[b, None]
        return g, c, xb.T @ xb  # numpy's symmetric product: half the multiplications

    for g, c, xx in map_blocks(block, len(x), BLOCK_ROWS):  # summed in the blocks' order
        grad[1:] += g
        hess[0, 1:] += c
        hess[1:, 1:] += xx
    hess[1:, 0] = hess[0, 1:]
    return grad, hess
