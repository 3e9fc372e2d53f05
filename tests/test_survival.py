import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from scipy import sparse

from churn_causal.causal.resampling import DENSE, ClusterSums, Draws, poisson_draws, resample
from churn_causal.causal.survival import StratifiedKaplanMeier, cluster_bootstrap


def km(duration, event, horizon, weights, strata=None):
    """Risk and RMST by the horizon per stratum for each row of ``weights`` (B, n)."""
    strata = np.zeros(len(duration), dtype=np.intp) if strata is None else strata
    model = StratifiedKaplanMeier(duration, event, strata, int(strata.max()) + 1, horizon)
    w = np.atleast_2d(weights)
    exits = np.stack([np.bincount(model.exit_cell, r, model.n_cells) for r in w])
    dead = model.death_cell >= 0
    deaths = np.stack([np.bincount(model.death_cell[dead], r[dead], model.n_cells) for r in w])
    return model.risk_rmst(exits, deaths)


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    d = rng.integers(1, 400, 3_000).astype(float)
    return d, rng.random(3_000) < 0.3, rng.random(3_000)


def test_an_arm_from_the_rows_sorted_once_is_the_arm_sorted_alone(sample):
    """Every contrast's arms take their rows from one sort of the table (``order``): the
    same cells as sorting the arm's own rows, ties and strata included."""
    d, e, _ = sample
    rng = np.random.default_rng(4)
    strata = rng.integers(0, 5, len(d))
    order = np.lexsort((d, strata))
    for arm in (rng.random(len(d)) < 0.4, np.ones(len(d), dtype=bool)):
        stratum = np.where(arm, strata, -1)
        alone = StratifiedKaplanMeier(d, e, stratum, 5, 200)
        shared = StratifiedKaplanMeier(d, e, stratum, 5, 200, order)
        for name in ("exit_cell", "death_cell", "steps", "first_time"):
            assert np.array_equal(getattr(alone, name), getattr(shared, name)), name
        assert np.array_equal(alone.times, shared.times, equal_nan=True)


@pytest.mark.parametrize("horizon", [30, 365, 1_000])
def test_risk_and_rmst_match_lifelines_with_and_without_weights(sample, horizon):
    from lifelines.utils import restricted_mean_survival_time

    d, e, w = sample
    plain = KaplanMeierFitter().fit(d, e)
    with pytest.warns(Warning):  # lifelines warns about non-integer weights
        weighted = KaplanMeierFitter().fit(d, e, weights=w)
    (risk, _), (risk_w, rmst_w) = km(d, e, horizon, np.ones_like(w)), km(d, e, horizon, w)
    assert risk[0, 0] == pytest.approx(1 - plain.predict(horizon), abs=1e-12)
    assert risk_w[0, 0] == pytest.approx(1 - weighted.predict(horizon), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = restricted_mean_survival_time(weighted, t=horizon)
    assert rmst_w[0, 0] == pytest.approx(expected, rel=1e-9)


def test_many_weight_vectors_and_strata_at_once(sample):
    d, e, w = sample
    risk, _ = km(d, e, 365, np.vstack([w, np.ones_like(w), 2 * w]))
    assert risk[:, 0] == pytest.approx(
        [km(d, e, 365, w)[0][0, 0], km(d, e, 365, 1 + 0 * w)[0][0, 0], km(d, e, 365, w)[0][0, 0]]
    )
    strata = (np.arange(len(d)) % 3).astype(np.intp)
    joint, joint_rmst = km(d, e, 365, w, strata)
    for s in range(3):
        alone, alone_rmst = km(d[strata == s], e[strata == s], 365, w[strata == s])
        assert joint[0, s] == pytest.approx(alone[0, 0], abs=1e-12)
        assert joint_rmst[0, s] == pytest.approx(alone_rmst[0, 0], rel=1e-12)


def test_no_events_before_the_horizon_means_no_risk():
    never, _ = km(np.array([400.0, 500.0]), np.array([True, True]), 365, np.ones(2))
    assert never[0, 0] == 0.0
    always, _ = km(np.array([10.0, 20.0]), np.array([True, True]), 365, np.ones(2))
    assert always[0, 0] == 1.0


@pytest.mark.parametrize(
    ("n_clusters", "cells", "density"),
    [(50, 7, 0.3), (300, 40, 0.01)],  # per-cluster sums nearly full (dense product), sparse
)
def test_resampled_sums_are_the_cluster_bootstrap(n_clusters, cells, density):
    """Column sums of the cells under each replicate's cluster weights: the same numbers as
    expanding the weights to rows, whether the per-cluster sums are multiplied dense or
    sparse, or handed over dense (``resample``)."""
    rng = np.random.default_rng(2)
    clusters = rng.integers(0, n_clusters, 400)
    values = sparse.random(400, cells, density=density, random_state=3, format="csr")
    sums = ClusterSums(clusters)
    per_cluster = sums.by_cluster(values)
    assert (per_cluster.nnz >= DENSE * np.prod(per_cluster.shape)) == (density > 0.1)
    weights = cluster_poisson_weights_batches(clusters, 60, 5, 25)
    expected = weights @ values.toarray()
    draws = poisson_draws(len(sums.clusters), 60, seed=5)
    assert np.allclose(np.vstack(list(sums.replicates(values, draws, batch=25))), expected)
    handed = resample(per_cluster.toarray(), draws, batch=25)
    assert np.allclose(np.vstack(list(handed)), expected)


def test_a_subset_of_the_customers_takes_their_columns_of_the_fits_draws():
    """A level of a fit (a tier) resamples its customers with the weights they have in the
    fit's replicates: a customer weighs the same in a replicate of every estimate."""
    draws = Draws(np.array([7, 3, 3, 11, 5, 7, 20]), 40, seed=1)
    assert draws.weights.shape == (40, 5)
    assert np.array_equal(draws.clusters, [3, 5, 7, 11, 20])
    assert np.array_equal(draws.of(np.array([5, 11, 20])), draws.weights[:, [1, 3, 4]])
    assert draws.of(draws.clusters) is draws.weights
    assert np.array_equal(draws.weights, poisson_draws(5, 40, seed=1))
    with pytest.raises(ValueError, match="not all among"):
        draws.of(np.array([4, 5]))


def cluster_poisson_weights_batches(clusters, n_boot, seed, batch):
    """The bootstrap's definition: Poisson(1) per cluster (sorted), ``batch`` rows at a time
    from one generator, expanded to the cluster's rows."""
    rng = np.random.default_rng(seed)
    _, codes = np.unique(clusters, return_inverse=True)
    sizes = [min(batch, n_boot - i) for i in range(0, n_boot, batch)]
    return np.vstack([rng.poisson(1.0, size=(b, codes.max() + 1))[:, codes] for b in sizes])


def test_bootstrap_weights_are_shared_within_a_cluster():
    """``cluster_bootstrap`` hands the statistic those weights: shared within a cluster, the
    same in every call with the same seed."""
    clusters = np.array(["a", "b", "a", "c", "b"])
    w = cluster_bootstrap(clusters, 50, 1, lambda bw: bw)
    assert w.shape == (50, 5)
    assert np.array_equal(w, cluster_poisson_weights_batches(clusters, 50, 1, 25))
    assert np.array_equal(w[:, 0], w[:, 2]) and np.array_equal(w[:, 1], w[:, 4])
    assert w.mean() == pytest.approx(1, abs=0.3)
    assert np.array_equal(w, cluster_bootstrap(clusters, 50, 1, lambda bw: bw))


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
