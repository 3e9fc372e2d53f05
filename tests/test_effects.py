"""Matching and the first report's estimates."""

from __future__ import annotations

import numpy as np
import pytest

from churn_causal.analysis import TouchpointAnalysis
from churn_causal.effects import match_nearest
from churn_causal.simulate import TOUCHPOINTS


def brute_force_match(logit, treated, strata, caliper):
    out = np.full(len(logit), -1)
    for i in np.flatnonzero(treated):
        pool = np.flatnonzero(~treated & (strata == strata[i]))
        if len(pool):
            j = pool[np.argmin(np.abs(logit[pool] - logit[i]))]
            if abs(logit[j] - logit[i]) <= caliper:
                out[i] = j
    return out


def test_sorted_matching_finds_the_nearest_control_in_the_stratum():
    rng = np.random.default_rng(3)
    n = 2_000
    logit = rng.normal(size=n)
    treated = rng.random(n) < 0.3
    strata = rng.integers(0, 5, n)
    outliers = np.flatnonzero(treated)[:5]
    logit[outliers] += 10  # far from every control: must stay unmatched
    fast = match_nearest(logit, treated, strata, caliper_sd=0.05)
    slow = brute_force_match(logit, treated, strata, 0.05 * logit.std())
    matched = slow >= 0
    assert np.array_equal(fast >= 0, matched)
    # Ties aside, the same control: compare distances, which are unique almost surely.
    assert np.allclose(
        np.abs(logit[fast[matched]] - logit[matched]), np.abs(logit[slow[matched]] - logit[matched])
    )
    assert (strata[fast[matched]] == strata[matched]).all()
    assert (fast[outliers] == -1).all()
    assert matched[treated].mean() > 0.9


def test_matching_without_controls_matches_nothing():
    out = match_nearest(np.zeros(3), np.ones(3, dtype=bool), np.zeros(3))
    assert (out == -1).all()


@pytest.mark.parametrize("touchpoint", TOUCHPOINTS)
def test_matched_estimate_recovers_the_truth_the_naive_one_misses(world_data, world, touchpoint):
    a = TouchpointAnalysis(touchpoint, n_boot=200, seed=1).fit(world_data)
    truth = world.truth["touchpoints"][touchpoint]["att_risk_difference"]
    m, n = a.matched_, a.naive_
    assert abs(m.estimate - truth) <= 3 * m.se
    assert abs(n.estimate - truth) > 10 * n.se  # the selection bias is material
    assert abs(m.estimate - truth) < abs(n.estimate - truth) / 3
    assert a.balance_ok()
    assert a.sample_.matched_fraction > 0.95
