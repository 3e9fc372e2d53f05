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


@pytest.fixture(scope="module")
def analyses(world_data):
    return {
        tp: TouchpointAnalysis(tp, n_boot=200, seed=1, refute=False, dynamics=False).fit(world_data)
        for tp in TOUCHPOINTS
    }


@pytest.mark.parametrize("touchpoint", TOUCHPOINTS)
def test_report_estimate_recovers_the_truth_the_naive_one_misses(analyses, world, touchpoint):
    a = analyses[touchpoint]
    truth = a.true_effects(world.truth)["att_risk_difference"]
    m, n = a.effect(), a.effect("naive")
    assert a.primary == "match"
    assert abs(m["estimate"] - truth) <= 3 * m["se"]
    assert abs(n["estimate"] - truth) > 10 * n["se"]  # the selection bias is material
    assert abs(m["estimate"] - truth) < abs(n["estimate"] - truth) / 3
    assert a.result_["diagnostics"]["max_abs_smd_after"] < 0.1
    assert a.result_["diagnostics"]["matched_fraction"] > 0.95


def test_report_tables_read_plainly(analyses, world):
    a = analyses["cs_touch"]
    summary = a.summary(world.truth)
    assert list(summary.index) == ["as observed", "matched", "weighted (IPTW)", "doubly robust"]
    assert summary.loc["as observed", "effect on churn (pp)"] > 0  # the naive sign is wrong
    tiers = a.by_tier(world.truth)
    assert list(tiers.index) == ["Enterprise", "Middle", "SMB"]
    assert "EconML, all customers of the tier (pp)" in tiers.columns
    assert "percentage points is selection" in a.headline()
    assert a.verdict_note().startswith("**Verdict: ")


def test_effects_by_lifecycle_phase_recover_the_truth_of_each_phase(analyses, world):
    """Onboarding-phase and adoption-phase trials each recover their own truth."""
    a = analyses["community"]
    table = a.by_phase(world.truth)
    assert list(table.index) == ["adoption", "onboarding"]
    assert (table["treated"] > 100).all()  # community is rare during onboarding (about 300)
    truth = table["simulator truth (pp)"]
    for phase in table.index:
        rd = a.phase_[phase]["methods"]["match"]["risk_difference"]
        assert abs(100 * rd["estimate"] - truth[phase]) <= 3 * 100 * rd["se"]
