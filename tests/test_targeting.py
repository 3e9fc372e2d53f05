"""Who to touch next: the simulator's individual effects, the learner, the policy and its rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn_causal.causal.uplift import choose, fit_rule
from churn_causal.data.contract import CSData
from churn_causal.design.cohort import current_rows
from churn_causal.design.trials import TrialDesign
from churn_causal.grading.targeting import grade_rows, true_effects
from churn_causal.sim.simulate import simulate
from churn_causal.value.business import Business, Cost
from churn_causal.value.policy import Budget, TargetingAnalysis, days_to_renewal


@pytest.fixture(scope="module")
def community_world():
    """A world with the exact individual effects of community and CS-manager touches."""
    return simulate(customers=6_000, seed=21, individual=("community", "cs_touch"))


@pytest.fixture(scope="module")
def community_policy(community_world):
    w = community_world
    data = CSData(w.customers, w.health, w.touches)
    business = Business(costs={"community": Cost(per_event=15.0)})
    return TargetingAnalysis("community", business=business, seed=3).fit(data)


def test_individual_effects_vanish_where_the_touchpoint_does_nothing():
    """With community's mechanisms off, adding or removing a touch changes nothing, exactly:
    both copies run on the same draws."""
    off = {"effects": {"community": {"lift_points": 0.0, "stabilisation": 0.0}}}
    w = simulate(customers=600, seed=4, params=off, individual=("community",))
    e = w.individual["community"]
    assert len(e) > 1000
    assert np.array_equal(e["risk_added"], e["risk_removed"])
    assert np.array_equal(e["days_added"], e["days_removed"])


def test_individual_effects_are_those_the_simulator_builds_in(community_world):
    """Community and CS-manager touches lower churn: the mean effect is negative well beyond its
    standard error, and a touch almost never costs days."""
    e = community_world.individual["community"]
    effect = e["risk_added"] - e["risk_removed"]
    assert effect.mean() < -10 * effect.std() / np.sqrt(len(effect))
    assert ((e["days_added"] - e["days_removed"]) >= -1e-9).mean() > 0.9
    cs = community_world.individual["cs_touch"]
    cs_effect = cs["risk_added"] - cs["risk_removed"]
    assert cs_effect.mean() < -10 * cs_effect.std() / np.sqrt(len(cs_effect))


def test_the_policy_spends_exactly_the_budget_on_the_best_rows():
    rng = np.random.default_rng(0)
    value, weight = rng.normal(size=1000), rng.uniform(0.5, 2.0, size=1000)
    touched = choose(value, 0.0, 0.1, weight)
    assert (weight * touched).sum() / weight.sum() == pytest.approx(0.1)
    assert touched[value <= 0].sum() == 0
    full = touched == 1
    assert value[full].min() > value[touched == 0].max() - 1e-12 or not (touched == 0).any()
    # when too few rows are worth their cost, the budget is not spent on the others
    few = choose(value, 2.0, 0.5, weight)
    assert set(np.flatnonzero(few > 0)) == set(np.flatnonzero(value > 2.0))


def test_the_rule_reads_as_words_and_finds_the_group_built_in():
    rng = np.random.default_rng(1)
    n = 4000
    features = pd.DataFrame(
        {
            "tier": rng.choice(["Enterprise", "Middle", "SMB"], n),
            "phase": rng.choice(["onboarding", "adoption"], n),
            "contract_type": rng.choice(["annual", "monthly"], n),
            "score": rng.uniform(20, 90, n),
            "score_change_30d": rng.normal(0, 5, n),
            "seats": rng.integers(1, 500, n).astype(float),
            "days_to_renewal": rng.integers(0, 365, n).astype(float),
        }
    )
    value = np.where(features["tier"] == "Enterprise", 100.0, 5.0) + rng.normal(0, 1, n)
    rule = fit_rule(features, value, -value / 1000, np.ones(n), depth=1)
    assert rule.leaves["condition"].iloc[0] == "tier is Enterprise"
    assert rule.leaves["condition"].iloc[1] == "tier is not Enterprise"
    assert rule.leaves["gross_profit"].iloc[0] == pytest.approx(100.0, abs=0.2)


def test_budgets_are_money_hours_or_touches():
    assert Budget.parse("50,000") == Budget(amount=50_000)
    assert Budget.parse("120h") == Budget(hours=120)
    assert Budget.parse("300 touches") == Budget(touches=300)
    assert Budget.parse("120h").touches_per_month(90.0, 1.5) == pytest.approx(80)
    assert Budget.parse("900").touches_per_month(90.0, None) == pytest.approx(10)
    for bad in ("lots", "-5", "0"):
        with pytest.raises(ValueError):
            Budget.parse(bad)
    with pytest.raises(ValueError, match="hours_per_event"):
        Budget(hours=10).touches_per_month(40.0, None)


def test_days_to_renewal_count_to_the_next_anniversary_or_month():
    days = days_to_renewal(np.array([0, 360, 366, 40]), np.array(["annual"] * 3 + ["monthly"]))
    assert list(days) == [365, 5, 364, 20]


def test_customers_now_carry_their_history_as_of_the_data_end(small_dir):
    from churn_causal.data.load import load

    data = load(small_dir)
    now = current_rows(data)
    touches = data.touches
    before = touches[touches["date"] < data.data_end]
    expected = before.groupby(["customer_id", "touchpoint"], observed=True).size()
    for tp in data.touchpoints:
        got = now.set_index("customer_id")[f"prior_{tp}"]
        want = expected.xs(tp, level="touchpoint").reindex(got.index, fill_value=0)
        assert (got.to_numpy() == want.to_numpy()).all(), tp
    active = data.customers["churn_date"].isna() | (data.customers["churn_date"] > data.data_end)
    assert len(now) == int(active.sum())


def test_the_policy_beats_random_and_todays_practice_on_the_truth(
    community_policy, community_world
):
    """Graded on the customer-trials whose exact effect the simulator knows: the policy's true
    gross profit per row exceeds random targeting's and today's practice's at the same spend,
    and its estimate's 95% interval holds the truth."""
    rows = true_effects(community_policy, community_world.individual["community"])
    g = grade_rows(community_policy, rows)
    assert g["rows"] > 5000
    assert g["policy_true"] > g["random_true"] and g["policy_true"] > g["current_true"]
    assert g["policy_true"] <= g["oracle_true"] + 1e-9
    assert g["covered"]


def test_the_learner_finds_real_differences_and_says_how_much(community_policy):
    """The best linear predictor of the doubly robust scores from the cross-fitted predictions
    of the days retained has a slope above 0 by more than two standard errors (the differences
    between customers are real), and the deciles of the calibrated predictions are ordered."""
    blp = community_policy.result_["heterogeneity"]["days"]
    assert blp["slope"] - 2 * blp["se"] > 0
    c = pd.DataFrame(community_policy.result_["calibration"])
    assert len(c) == 10 and c["predicted"].is_monotonic_increasing


def test_the_customer_list_has_ids_and_the_result_none(community_policy, community_world):
    r, listed = community_policy.result_, community_policy.customers_
    ids = set(community_world.customers["customer_id"].astype(str))
    assert set(listed["customer_id"]) <= ids and listed["pick"].sum() == r["picked_now"]
    assert listed["net_per_touch"].is_monotonic_decreasing
    text = repr(r)
    assert not [i for i in list(ids)[:2000] if i in text]
    budget = r["touches_per_period"]
    assert r["picked_now"] <= np.ceil(budget) + 1


def test_a_weekly_design_counts_its_budget_per_week(community_world):
    w = community_world
    data = CSData(w.customers, w.health, w.touches)
    business = Business(costs={"community": Cost(per_event=10.0)})
    month = TargetingAnalysis("community", business=business, budget=Budget(amount=3044))
    week = TargetingAnalysis(
        "community", TrialDesign.of(unit="week"), business, Budget(amount=3044)
    )
    assert month.fit(data).result_["touches_per_period"] == pytest.approx(304.4)
    assert week.fit(data).result_["touches_per_period"] == pytest.approx(304.4 * 7 / 30.4375)


def test_cluster_standard_errors_do_not_depend_on_how_clusters_are_named():
    from churn_causal.causal.estimate import cluster_se

    rng = np.random.default_rng(2)
    codes = rng.integers(0, 300, size=5000)
    phi = rng.normal(size=5000)
    names = np.array([f"C{c:05d}" for c in rng.permutation(300)])[codes]
    assert cluster_se(phi, codes) == pytest.approx(cluster_se(phi, names), rel=1e-12)
    assert cluster_se(phi, codes + 10**9) == pytest.approx(cluster_se(phi, codes), rel=1e-12)


def test_nuisances_are_cross_fitted_a_rows_outcome_never_predicts_itself():
    """Changing the treatments and outcomes of one fold's rows leaves that fold's propensities
    and outcome predictions unchanged (they come from the other fold's models), and moves the
    other fold's."""
    from churn_causal.causal.uplift import Nuisances

    rng = np.random.default_rng(5)
    n = 4_000
    x = rng.normal(size=(n, 3)).astype(np.float32)
    t = rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))
    y = (rng.random(n) < 0.3 + 0.2 * t).astype(float)
    w = np.ones(n)
    fold = np.arange(n) % 2
    nuisance = Nuisances(20, 0, np.zeros(3, bool))
    p, m = nuisance.propensity(x, t, w, fold), nuisance.outcomes(x, t, y, w, fold, True)
    t2, y2 = t.copy(), y.copy()
    t2[fold == 0], y2[fold == 0] = ~t[fold == 0], 1 - y[fold == 0]
    p2, m2 = nuisance.propensity(x, t2, w, fold), nuisance.outcomes(x, t2, y2, w, fold, True)
    own = fold == 0
    assert np.array_equal(p[own], p2[own]) and np.array_equal(m[True][own], m2[True][own])
    assert not np.allclose(p[~own], p2[~own]) and not np.allclose(m[False][~own], m2[False][~own])


def test_features_put_rows_encoded_later_in_the_bins_fitted():
    """Numbers become quantile-bin codes fixed when fitting: order is kept, a value beyond the
    fitted range falls in an end bin, missing stays missing, an unseen category is missing."""
    from churn_causal.causal.uplift import Features

    fitted = pd.DataFrame({"a": np.arange(1000.0), "tier": ["SMB", "Middle"] * 500})
    f = Features.of(fitted, ["a", "tier"])
    later = pd.DataFrame({"a": [-5.0, 10.0, 500.0, 2000.0, np.nan], "tier": ["SMB"] * 4 + ["X"]})
    m = f.matrix(later)
    assert np.all(np.diff(m[:4, 0]) >= 0) and m[0, 0] == 0 and m[3, 0] == len(f.edges["a"])
    assert len(f.edges["a"]) <= 255 and np.isnan(m[4, 0]) and np.isnan(m[4, 1])


def test_large_nuisance_fits_keep_the_rare_rows_and_the_weight(monkeypatch):
    """Beyond the row cap a nuisance model is fitted on every treated row and a random share of
    the others, weighted up: the total weight stays that of all rows (within sampling error)."""
    import churn_causal.causal.uplift as uplift

    monkeypatch.setattr(uplift, "NUISANCE_ROWS", 2_000)
    n = 20_000
    keep = np.arange(n) % 20 == 0
    rows, w = uplift.Nuisances(10, 1, np.zeros(1, bool))._capped(np.ones(n, bool), np.ones(n), keep)
    assert rows[keep].all() and 1_800 < rows.sum() < 2_200
    assert abs(w[rows].sum() - n) < 4 * np.sqrt(n * (n / 1_000))
