import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from churn_causal.causal.logit import Logit
from churn_causal.causal.propensity import cubic_bsplines, spline_design


def _problem(n=60_000, p=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    logit = -2.0 + x @ rng.normal(scale=0.6, size=p) + 0.8 * np.maximum(x[:, 0], 0)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return x, y, rng.choice([1.0, 4.0], size=n)


@pytest.mark.parametrize("C", [1.0, 1e4])
def test_the_optimum_is_scikit_learns(C):
    """The same penalised objective: coefficients of scikit-learn's converged fit to 1e-4 (of
    standard errors about 1e-2 here), with sampling weights."""
    x, y, w = _problem()
    ours = Logit(C=C).fit(x, y, sample_weight=w)
    ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    ref.fit(x, y, sample_weight=w)
    assert np.abs(ours.coef_ - ref.coef_).max() < 1e-4
    assert ours.intercept_[0] == pytest.approx(ref.intercept_[0], abs=1e-4)
    assert np.abs(ours.predict_proba(x) - ref.predict_proba(x)).max() < 1e-5
    assert (ours.predict(x) == ref.predict(x)).mean() > 0.9999


def test_collinear_columns_and_labels():
    """A duplicated column (as one-hot codes with their sum can be) still fits, to the same
    predictions; labels are kept as given (EconML passes them through)."""
    x, y, _ = _problem(n=20_000, p=3, seed=2)
    labels = np.where(y, "churned", "stayed")
    dup = np.column_stack([x, x[:, 0]])
    a = Logit(C=1e4).fit(x, labels)
    b = Logit(C=1e4).fit(dup, labels)
    assert np.abs(a.decision_function(x) - b.decision_function(dup)).max() < 1e-4
    assert set(a.predict(x)) == {"churned", "stayed"}
    assert list(a.classes_) == ["churned", "stayed"]


def test_one_class_is_an_error_and_params_clone():
    with pytest.raises(ValueError, match="two classes"):
        Logit().fit(np.zeros((10, 2)), np.ones(10))
    assert clone(Logit(C=3.0, tol=1e-5)).get_params() == {"C": 3.0, "tol": 1e-5, "max_iter": 100}


def test_the_spline_design_spans_the_same_model():
    """Leaving out a splined column's linear term changes nothing fitted: the splines and the
    intercept span it (the same logits as with it, to 1e-3 where the data are)."""
    rng = np.random.default_rng(4)
    x = np.column_stack([rng.normal(size=30_000), rng.integers(0, 3, 30_000)]).astype(float)
    y = rng.random(30_000) < 1 / (1 + np.exp(-(-1.5 + np.abs(x[:, 0]) - 0.3 * x[:, 1])))
    design = spline_design(x, n_numeric=1)
    assert design.dtype == np.float32 and design.shape[1] == 1 + 6  # x1, then x0's splines
    with_linear = np.column_stack([x, design[:, 1:]])
    a = Logit(C=1e4).fit(design, y).decision_function(design)
    b = Logit(C=1e4).fit(with_linear, y).decision_function(with_linear)
    inner = np.abs(x[:, 0]) < 2.5
    assert np.abs(a - b)[inner].max() < 1e-3
    bs = cubic_bsplines(x[:, :1], 5)
    assert np.abs(cubic_bsplines(x[:, :1], 5, np.float32) - bs).max() < 1e-6


def _objective(model, x, y, C):
    eta = model.decision_function(x)
    return np.logaddexp(0.0, eta).sum() - eta[y].sum() + (model.coef_**2).sum() / (2 * C)


def test_near_separated_data_reach_the_same_optimum():
    """A spline cell without any treated row (as weekly propensities have) drives its logits
    far out, one unit per Newton step: the quasi-Newton steps between exact Hessians still end
    at the optimum, scikit-learn's converged objective to 1e-6 and its probabilities to 1e-6."""
    rng = np.random.default_rng(7)
    n, C = 80_000, 1e4
    x = rng.normal(size=(n, 3))
    x[: n // 50, 0] = rng.uniform(4.0, 6.0, n // 50)  # a tail with nobody treated
    logit = -2.5 + 0.7 * x[:, 1] - 0.4 * x[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))) & (x[:, 0] < 4.0)
    design = spline_design(x, n_numeric=3).astype(float)
    ours = Logit(C=C).fit(design, y)
    ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    ref.fit(design, y)
    assert ours.decision_function(design).min() < -12  # the cell is separated
    assert _objective(ours, design, y, C) - _objective(ref, design, y, C) < 1e-6
    assert np.abs(ours.predict_proba(design) - ref.predict_proba(design)).max() < 1e-6


def test_the_spline_design_is_the_same_in_blocks(monkeypatch):
    """Filled block by block of rows, the design is the one of a single block, and its spline
    terms are standardised."""
    from churn_causal.causal import propensity

    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(size=9_000), rng.integers(0, 8, 9_000), rng.random(9_000)])
    whole = spline_design(x, n_numeric=2)
    monkeypatch.setattr(propensity, "BLOCK_ROWS", 1_000)
    blocked = spline_design(x, n_numeric=2)
    np.testing.assert_allclose(whole, blocked, rtol=0, atol=1e-6)
    terms = whole[:, 1:].astype(float)
    assert np.abs(terms.mean(axis=0)).max() < 1e-5
    assert np.abs(terms.std(axis=0) - 1).max() < 1e-5


@pytest.mark.parametrize("dtype_switch", [1.0, 1e9])  # float32 steps first, or float64 only
def test_the_fit_is_the_same_on_any_number_of_threads(monkeypatch, dtype_switch):
    """Blocks of rows spread over threads are summed in their order: one thread and four give
    the same coefficients to the bit, through float32 and float64 steps (and BFGS ones)."""
    from churn_causal.causal import logit

    monkeypatch.setattr(logit, "BLOCK_ROWS", 4_096)
    monkeypatch.setattr(logit, "SWITCH", dtype_switch)
    x, y, w = _problem(n=50_000, p=12, seed=3)
    fits = []
    for n in ("1", "4"):
        monkeypatch.setenv("CHURN_CAUSAL_THREADS", n)
        fits.append(Logit(C=1e4).fit(x, y, sample_weight=w))
    assert fits[0].n_iter_[0] > 2
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].decision_function(x), fits[1].decision_function(x))


def test_float64_designs_are_taken_as_float32_without_a_copy_of_them(monkeypatch):
    """A float64 design predicts as its float32 copy does, block by block, and the rows of an
    arm come out as ``x[rows].astype(float32)``: the same bits without the float64 copies."""
    from churn_causal.causal import logit
    from churn_causal.causal.logit import float32_rows

    monkeypatch.setattr(logit, "BLOCK_ROWS", 1_000)
    x, y, w = _problem(n=9_500, p=5, seed=8)
    model = Logit(C=1e4).fit(x, y, sample_weight=w)
    np.testing.assert_array_equal(
        model.decision_function(x), model.decision_function(x.astype(np.float32))
    )
    rows = y | (np.arange(len(y)) % 3 == 0)
    taken = float32_rows(x, rows)
    assert taken.dtype == np.float32
    np.testing.assert_array_equal(taken, x[rows].astype(np.float32))
