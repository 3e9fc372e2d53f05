import numpy as np
import pytest

from churn_causal.causal import balance
from churn_causal.causal.balance import Balance


def test_balance_is_the_textbook_formula_over_blocks(monkeypatch):
    """SMD with the unweighted arms' pooled SD and weighted means, and the weighted variance
    ratio furthest from 1, however the rows are split into blocks; a constant column has none."""
    rng = np.random.default_rng(3)
    n = 5_000
    t = rng.random(n) < 0.3
    x = np.column_stack([rng.normal(size=n) + t, rng.exponential(size=n), np.ones(n)])
    w = rng.uniform(0.5, 2.0, n)
    pooled = np.sqrt((x[t].var(axis=0) + x[~t].var(axis=0)) / 2)
    mean = [np.average(x[a], axis=0, weights=w[a]) for a in (t, ~t)]
    arms = zip((t, ~t), mean, strict=True)
    var = [np.average((x[a] - m) ** 2, axis=0, weights=w[a]) for a, m in arms]
    smd = (mean[0] - mean[1])[:2] / pooled[:2]
    ratio = (var[0] / var[1])[:2]
    monkeypatch.setattr(balance, "BLOCK_ROWS", 777)
    b = Balance(x, t)
    assert b.smd(w)[:2] == pytest.approx(smd, rel=1e-10)
    assert b.smd(w)[2] == 0.0
    s = b.summary(w, "x_{}")
    assert s["x_max_abs_smd"] == pytest.approx(np.abs(smd).max(), rel=1e-10)
    assert s["x_variance_ratio_furthest"] == pytest.approx(
        ratio[np.argmax(np.abs(np.log(ratio)))], rel=1e-9
    )
