"""Target-trial rules of the cohort builder, on hand-made tables and on simulated data."""

from __future__ import annotations

import warnings
from itertools import product

import numpy as np
import pandas as pd
import pytest

from churn_causal.data.contract import CSData
from churn_causal.design.cohort import (
    NUMERIC_COVARIATES,
    DesignWarning,
    build_cohort,
    prior_count_columns,
)
from churn_causal.design.trials import TrialDesign
from churn_causal.sim.simulate import simulate
from churn_causal.sim.truth import truth_for
from churn_causal.sim.world import TOUCHPOINTS

START = pd.Timestamp("2024-01-01")


def day(n: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=n)


def hand_made(churn_day: int | None = 40) -> CSData:
    """Customer A churns on day 40 (in month 2); B stays. Health weekly, touches by hand."""
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "tier": ["SMB", "Enterprise"],
            "contract_type": ["monthly", "annual"],
            "seats": [5, 200],
            "mrr": [60.0, 2000.0],
            "start_date": [START, START],
            "churn_date": [day(churn_day) if churn_day else pd.NaT, pd.NaT],
        }
    )
    days = np.arange(0, 400, 7)
    health = pd.DataFrame(
        {
            "customer_id": np.repeat(["A", "B"], len(days)),
            "date": [day(int(d)) for d in days] * 2,
            "score": np.r_[50 + days / 10, 70 - days / 20],
        }
    )
    for pillar in ("action", "utilization", "penetration"):
        health[pillar] = health["score"]
    health = health[~((health["customer_id"] == "A") & (health["date"] >= day(churn_day or 10**4)))]
    touches = pd.DataFrame(
        {
            "customer_id": ["A", "B", "B", "B"],
            "date": [day(31), day(29), day(30), day(95)],
            "touchpoint": ["seminar", "seminar", "support", "seminar"],
        }
    )
    return CSData(customers, health, touches)


DESIGN = TrialDesign(first=1, last=4, window=1, horizon_days=365)
# Two customers on straight-line health trends drift a lot relative to their spread; the
# drift warning is tested on realistic data below.
pytestmark = pytest.mark.filterwarnings("ignore::churn_causal.design.cohort.DesignWarning")


def test_eligibility_and_time_zero():
    c = build_cohort(hand_made(), "seminar", DESIGN, data_end=day(800))
    # A churned on day 40, inside month 2 (days 30-60): in trial 1 only; not at risk after
    # month 2, and not eligible for trials 3-4 (gone before their start).
    assert c.loc[c["customer_id"] == "A", "trial"].tolist() == [1]
    assert c.attrs["churned_in_window"] == 1
    assert c.loc[c["customer_id"] == "B", "trial"].tolist() == [1, 2, 3, 4]
    a = c[c["customer_id"] == "A"].iloc[0]
    # Time zero of trial 1 is day 30; churn on day 40 is 10 days later.
    assert a["duration_days"] == 10 and a["churned"] and a["churned_by_horizon"] == 1.0


def test_treatment_is_an_event_inside_the_window_only():
    c = build_cohort(hand_made(), "seminar", DESIGN, data_end=day(800)).set_index(
        ["customer_id", "trial"]
    )
    # B's seminars: day 29 (month 1), day 95 (month 4: days 91-121).
    assert c.loc[("B", 1), "treated"]
    assert not c.loc[("B", 2), "treated"]
    assert not c.loc[("B", 3), "treated"]
    assert c.loc[("B", 4), "treated"]
    # A's seminar on day 31 falls in month 2, which A did not survive: never treated.
    assert not c.loc[("A", 1), "treated"]


def test_baseline_is_measured_at_the_window_start():
    c = build_cohort(hand_made(), "seminar", DESIGN, data_end=day(800)).set_index(
        ["customer_id", "trial"]
    )
    # Trial 2 starts on day 30; the last health reading on or before it is day 28.
    assert c.loc[("B", 2), "score"] == pytest.approx(70 - 28 / 20)
    assert c.loc[("B", 2), "score_change_30d"] == pytest.approx(-28 / 20)
    # Prior counts: before day 30, B had one seminar (day 29) and one support... on day 30,
    # which is inside the window and must not count.
    assert c.loc[("B", 2), "prior_seminar"] == 1
    assert c.loc[("B", 2), "prior_support"] == 0
    assert c.loc[("B", 3), "prior_support"] == 1
    # Recency: trial 2 starts on day 30, the seminar was on day 29; no support before it.
    assert c.loc[("B", 2), "days_since_seminar"] == 1
    assert c.loc[("B", 2), "days_since_support"] == 365  # the cap stands for "never"
    assert c.loc[("B", 3), "days_since_support"] == 60 - 30  # trial 3 starts on day 60


def test_health_trend_is_a_least_squares_slope_over_90_days():
    c = build_cohort(hand_made(None), "seminar", DESIGN, data_end=day(800)).set_index(
        ["customer_id", "trial"]
    )
    # B's score falls 1/20 point a day (1.5 per 30 days), A's rises 1/10 (3 per 30 days).
    assert c.loc[("B", 4), "score_slope_90d"] == pytest.approx(-1.5)
    assert c.loc[("A", 3), "score_slope_90d"] == pytest.approx(3.0)
    # In month 1 there is one reading: no trend yet.
    assert c.loc[("B", 1), "score_slope_90d"] == 0


@pytest.mark.filterwarnings("default::churn_causal.design.cohort.DesignWarning")
def test_long_windows_warn_that_baseline_health_goes_stale(world_data):
    design = TrialDesign(last=9, window=3)
    with pytest.warns(DesignWarning, match="shorter window"):
        long = build_cohort(world_data, "support", design)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DesignWarning)
        monthly = build_cohort(world_data, "support", TrialDesign(last=9))
    assert long.attrs["window_drift"] > monthly.attrs["window_drift"]


def test_censoring_at_the_end_of_data():
    c = build_cohort(hand_made(None), "seminar", DESIGN, data_end=day(200)).set_index(
        ["customer_id", "trial"]
    )
    # Trial 1: time zero day 30, data end day 200: censored after 170 days, outcome unknown.
    assert c.loc[("A", 1), "duration_days"] == 170
    assert not c.loc[("A", 1), "churned"]
    assert np.isnan(c.loc[("A", 1), "churned_by_horizon"])


def test_window_must_lie_inside_the_data():
    c = build_cohort(hand_made(None), "seminar", DESIGN, data_end=day(100))
    assert c["trial"].max() == 3  # trial 4's window (days 91-121) ends after the data


def test_unknown_touchpoint_is_refused():
    with pytest.raises(ValueError, match="touchpoint 'webinar' has no events"):
        build_cohort(hand_made(), "webinar", DESIGN)


def test_no_covariate_uses_data_from_the_window_or_later(world_data):
    """Leakage: cutting away the window and all after it leaves the baselines unchanged.

    The rule: health readings dated up to the window's first day (a score describes the state
    at its date), touches strictly before it (a touch on the first day is treatment)."""
    data = world_data
    design = TrialDesign(first=7, last=7)
    start = data.customers.set_index("customer_id")["start_date"]
    first_day = start + pd.Timedelta(days=design.window_days(7)[0])

    def window_start(df: pd.DataFrame) -> np.ndarray:
        return first_day.reindex(df["customer_id"]).to_numpy()

    health = data.health[data.health["date"] <= window_start(data.health)]
    touches = data.touches[data.touches["date"] < window_start(data.touches)]
    truncated = CSData(data.customers, health, touches)
    full = build_cohort(data, "support", design, data_end=data.data_end)
    cut_off = build_cohort(truncated, "support", design, data_end=data.data_end)
    columns = [
        *NUMERIC_COVARIATES,
        *prior_count_columns(data.touchpoints),
        "tier",
        "contract_type",
    ]
    pd.testing.assert_frame_equal(full[columns], cut_off[columns])
    assert full["treated"].any() and not cut_off["treated"].any()


def test_cohort_reproduces_the_simulator_truth_without_censoring():
    """With data far beyond the horizon, the cohort's naive contrast is the truth's exactly."""
    far = {"calendar": {"data_end": "2029-12-31"}}
    sim = simulate(3_000, seed=21, params=far)
    data = CSData(sim.customers, sim.health, sim.touches)
    for tp, design in product(TOUCHPOINTS, (TrialDesign(), TrialDesign.weekly())):
        c = build_cohort(data, tp, design, data_end="2029-12-31")
        truth = truth_for(sim.truth, design)[tp]
        assert c["churned_by_horizon"].notna().all()
        treated = c["treated"]
        assert treated.sum() == truth["n_treated"] + truth["in_window"]["saved_in_window"]
        risk = c.groupby("treated")["churned_by_horizon"].mean()
        assert risk[True] - risk[False] == pytest.approx(truth["naive_risk_difference"], abs=1e-12)


def test_risk_set_sampling_keeps_the_treated_and_weights_the_sampled(world_data):
    """Every treated row stays; each trial keeps about ``per_treated`` untreated rows for each
    treated one, weighted so that they stand for all: per trial, the weights of the kept
    untreated rows add up to the untreated count within a few of their own SDs."""
    from churn_causal.design.sampling import SAMPLING_WEIGHT, sample_controls

    cohort = build_cohort(world_data, "cs_touch", TrialDesign.weekly())
    sampled = sample_controls(cohort, 10, seed=3)
    assert sampled["treated"].sum() == cohort["treated"].sum()
    assert (sampled.loc[sampled["treated"], SAMPLING_WEIGHT] == 1).all()
    full = cohort.groupby("trial")["treated"].agg(["sum", "count"])
    kept = sampled[~sampled["treated"]].groupby("trial")[SAMPLING_WEIGHT].agg(["size", "sum"])
    untreated = full["count"] - full["sum"]
    q = np.minimum(1, 10 * full["sum"] / untreated)
    sd = np.sqrt(untreated * q * (1 - q)) / q  # of the weights' sum, binomial
    assert ((kept["sum"] - untreated).abs() <= 4 * sd + 1e-9).all()
    assert abs(kept["size"].sum() / full["sum"].sum() - 10) < 0.5  # about ten per treated
    assert sampled.attrs["sampling"]["untreated_rows"] == int((~cohort["treated"]).sum())
    again = sample_controls(cohort, 10, seed=3)
    assert again.equals(sampled)  # the same seed keeps the same rows


def test_sampling_while_building_keeps_the_same_rows(world_data):
    """A cohort sampled as it is built (its full table never made) equals the full cohort
    sampled afterwards: same rows, covariates, weights and attributes."""
    from churn_causal.design.sampling import sample_controls

    design = TrialDesign.weekly()
    after = sample_controls(build_cohort(world_data, "cs_touch", design), 10, seed=3)
    during = build_cohort(world_data, "cs_touch", design, controls_per_treated=10, seed=3)
    pd.testing.assert_frame_equal(during, after)
    assert during.attrs == after.attrs
