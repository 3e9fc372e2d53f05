import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from churn_causal.survival import cluster_poisson_weights, km_risk


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    d = rng.integers(1, 400, 3_000).astype(float)
    return d, rng.random(3_000) < 0.3, rng.random(3_000)


@pytest.mark.parametrize("horizon", [30, 365, 1_000])
def test_matches_lifelines_with_and_without_weights(sample, horizon):
    d, e, w = sample
    plain = 1 - KaplanMeierFitter().fit(d, e).predict(horizon)
    assert km_risk(d, e, horizon) == pytest.approx(plain, abs=1e-12)
    with pytest.warns(Warning):  # lifelines warns about non-integer weights
        weighted = 1 - KaplanMeierFitter().fit(d, e, weights=w).predict(horizon)
    assert km_risk(d, e, horizon, w) == pytest.approx(weighted, abs=1e-12)


def test_many_weight_vectors_at_once(sample):
    d, e, w = sample
    stacked = km_risk(d, e, 365, np.vstack([w, np.ones_like(w), 2 * w]))
    assert stacked.shape == (3,)
    assert stacked[0] == pytest.approx(km_risk(d, e, 365, w))
    assert stacked[1] == pytest.approx(km_risk(d, e, 365))
    assert stacked[2] == pytest.approx(stacked[0])  # scale-free


def test_no_events_before_the_horizon_means_no_risk():
    assert km_risk(np.array([400.0, 500.0]), np.array([True, True]), 365) == 0.0
    assert km_risk(np.array([10.0, 20.0]), np.array([True, True]), 365) == 1.0


def test_bootstrap_weights_are_shared_within_a_cluster():
    clusters = np.array(["a", "b", "a", "c", "b"])
    w = cluster_poisson_weights(clusters, 50, np.random.default_rng(1))
    assert w.shape == (50, 5)
    assert np.array_equal(w[:, 0], w[:, 2]) and np.array_equal(w[:, 1], w[:, 4])
    assert w.mean() == pytest.approx(1, abs=0.3)
