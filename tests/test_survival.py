import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from churn_causal.causal.survival import cluster_poisson_weights, km_summary


def km_risk(duration, event, horizon, weights=None):
    """The Kaplan-Meier risk by the horizon of ``km_summary``, one value per weight row."""
    risk, _ = km_summary(duration, event, horizon, weights)
    return risk if np.ndim(weights) == 2 else float(risk[0])


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


def test_cox_hazard_ratio_matches_lifelines_robust_clustered_fit():
    import pandas as pd
    from lifelines import CoxPHFitter

    from churn_causal.causal.survival import cox_binary

    rng = np.random.default_rng(1)
    n = 3_000
    z = (rng.random(n) < 0.4).astype(float)
    time = rng.exponential(1 / np.exp(-3 - 0.5 * z))
    censor = rng.uniform(0, 60, n)
    d, e = np.minimum(time, censor), time <= censor  # continuous: no ties (Breslow = Efron)
    w, cluster = rng.random(n) * 2 + 0.5, rng.integers(0, 800, n)
    df = pd.DataFrame({"z": z, "d": d, "e": e, "w": w, "c": cluster})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines on non-integer weights
        fit = CoxPHFitter().fit(df, "d", "e", weights_col="w", cluster_col="c", robust=True)
    beta, se = cox_binary(d, e, z, w, cluster)
    assert beta == pytest.approx(fit.params_["z"], abs=1e-5)
    assert se == pytest.approx(fit.standard_errors_["z"], rel=1e-4)


@pytest.mark.parametrize("horizon", [30, 365, 1_000])
def test_rmst_matches_lifelines(sample, horizon):
    from lifelines.utils import restricted_mean_survival_time

    from churn_causal.causal.survival import km_summary

    d, e, w = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = KaplanMeierFitter().fit(d, e, weights=w)
    _, rmst = km_summary(d, e, horizon, w)
    assert rmst[0] == pytest.approx(restricted_mean_survival_time(fit, t=horizon), rel=1e-9)
