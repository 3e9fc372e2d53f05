"""The propensity model: the logit of P(treated | covariates), linear or with spline terms."""

from __future__ import annotations

import numpy as np

from churn_causal.causal.logit import Logit
from churn_causal.parallel import map_tasks

LOGIT_CLIP = 12.0
BLOCK_ROWS = 65_536  # rows of the spline design copied at a time


def fit_logit(
    x: np.ndarray, treated: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Logit of P(treated | x) from an (all but) unpenalised logistic regression, clipped so
    that propensities stay between about 6e-6 and 1 - 6e-6; rows weighted by
    ``sample_weight`` (sampling weights) when given."""
    model = Logit(C=1e4).fit(x, treated, sample_weight=sample_weight)
    return np.clip(model.decision_function(x), -LOGIT_CLIP, LOGIT_CLIP)


def spline_design(x: np.ndarray, n_numeric: int, n_knots: int = 5) -> np.ndarray:
    """The spline propensity's design (float32): the spline terms of the first ``n_numeric``
    columns of ``x`` that vary enough, and the other columns as they are. A splined column's
    linear term is left out: the cubic B-splines and the intercept already span it, and the
    redundant column only slows the fit.

    The terms are standardised. They let the propensity logit bend: uptake that reacts to a
    fall in health only once it is a fall (a hinge), or that steps at a phase boundary, is not
    linear in the covariates, and a linear logit then leaves that confounding in the weights.
    The design is the largest array of a fit: it is filled one column's terms at a time,
    standardised in place (any scale fits the same model, so float32's precision will do), so
    that it never stands beside more than a few terms.
    """
    splined = [j for j in range(n_numeric) if _distinct_above(x[:, j], n_knots)]
    rest = np.setdiff1d(np.arange(x.shape[1]), splined)
    per = n_knots + 1
    out = np.empty((len(x), len(rest) + per * len(splined)), dtype=np.float32)
    for b in _blocks(len(x)):  # no float64 copy of the columns as they are
        out[b, : len(rest)] = x[b][:, rest]

    def fill(c: int) -> np.ndarray:
        """Column ``splined[c]``'s terms, each term contiguous; which have data."""
        terms = cubic_bsplines(x[:, [splined[c]]], n_knots, np.float32).T
        sd = terms.std(axis=1)
        terms -= terms.mean(axis=1, keepdims=True)
        terms /= np.where(sd > 0, sd, 1.0)[:, None]
        first = len(rest) + per * c
        for b in _blocks(len(x)):
            out[b, first : first + per] = terms[:, b].T
        return sd > 0  # a term without data (a column of few values) is left out

    # A column's terms at a time (one per thread): the columns' terms fill their own columns.
    has_data = map_tasks(fill, range(len(splined)))
    kept = np.concatenate([np.ones(len(rest), dtype=bool), *has_data])
    return out if kept.all() else out[:, kept]


def _blocks(n: int) -> list[slice]:
    return [slice(s, s + BLOCK_ROWS) for s in range(0, n, BLOCK_ROWS)]


def _distinct_above(column: np.ndarray, k: int) -> bool:
    """Whether ``column`` holds more than ``k`` distinct values (its first rows usually
    tell, which spares sorting the whole column)."""
    head = np.ascontiguousarray(column[:4096])
    return len(np.unique(head)) > k or len(np.unique(np.ascontiguousarray(column))) > k


def cubic_bsplines(x: np.ndarray, n_knots: int, dtype: type = np.float64) -> np.ndarray:
    """scikit-learn's ``SplineTransformer(n_knots, degree=3, include_bias=False)`` of ``x``
    (uniform knots from each column's minimum to its maximum), in closed form: the same
    numbers to 1e-15 in a fifth of the time (a test compares them).

    A value u knot spacings above the minimum lies in interval j = floor(u) at fraction f;
    the four splines not zero there, j to j + 3, are the cardinal cubic B-spline's pieces
    (1 - f)^3/6, (3f^3 - 6f^2 + 4)/6, (-3f^3 + 3f^2 + 3f + 1)/6 and f^3/6. The last spline of
    each column is left out (``include_bias=False``). ``dtype`` float32 halves the memory of
    the propensity's design."""
    n, m = x.shape
    per_column = n_knots + 1
    out = np.zeros((m * per_column, n), dtype=dtype)  # term by term: each term contiguous
    lo, hi = x.min(axis=0), x.max(axis=0)
    for c in range(m):  # vectorised over a block of rows at a time: few temporaries
        scale = (n_knots - 1) / (hi[c] - lo[c])
        for b in _blocks(n):
            u = (x[b, c] - lo[c]) * scale
            rows = np.arange(b.start, b.start + len(u))
            j = np.minimum(u.astype(np.intp), n_knots - 2)
            f = u - j
            g, f2, f3 = 1 - f, f * f, f * f * f
            for k, piece in enumerate(
                (g * g * g, 3 * f3 - 6 * f2 + 4, -3 * f3 + 3 * f2 + 3 * f + 1, f3)
            ):
                kept = j + k < per_column
                out[c * per_column + j[kept] + k, rows[kept]] = piece[kept] / 6
    return out.T
