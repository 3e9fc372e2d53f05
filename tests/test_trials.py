import numpy as np
import pytest

from churn_causal.design.trials import MONTH_DAYS, TrialDesign, period_start_day, resolve_design


def test_months_tile_the_year():
    starts = period_start_day(np.arange(1, 26))
    assert starts[0] == 0
    assert starts[12] == 365  # month 13 starts one year in
    assert starts[24] == 730
    assert np.all(np.diff(starts) >= 30) and np.all(np.diff(starts) <= 31)
    assert pytest.approx(30.4375) == MONTH_DAYS
    assert list(period_start_day(np.arange(1, 4), "week")) == [0, 7, 14]


def test_windows_are_contiguous_and_horizon_counts_from_time_zero():
    d = TrialDesign(first=1, last=18, window=1, horizon_days=365)
    for m in d.trials[:-1]:
        assert d.window_days(m)[1] == d.window_days(m + 1)[0]
    assert d.last_day_needed == d.window_days(18)[1] + 365
    assert TrialDesign(window=3).window_days(2) == (30, 121)
    assert TrialDesign.weekly().window_days(2) == (7, 14)


def test_weekly_trials_cover_the_same_tenure_and_are_cs_touchs_default():
    month, week = TrialDesign(), TrialDesign.weekly()
    assert abs(week.window_days(week.last)[1] - month.window_days(month.last)[1]) < 7
    assert resolve_design("cs_touch") == week
    assert resolve_design("seminar") == month
    assert resolve_design("cs_touch", overrides={"unit": "month"}) == month
    assert week.describe().startswith("weekly trials for weeks 1-78")


def test_a_config_gives_any_touchpoint_its_design():
    """The design is data: the config's fields apply to every touchpoint, ``<touchpoint>``
    mappings to one, and the command line's options over both."""
    config = {"horizon_days": 180, "セミナー": {"unit": "week"}, "cs_touch": {"unit": "month"}}
    assert resolve_design("セミナー", config) == TrialDesign.weekly(horizon_days=180)
    assert resolve_design("cs_touch", config) == TrialDesign(horizon_days=180)
    assert resolve_design("support", config, {"window": 2}) == TrialDesign(
        horizon_days=180, window=2
    )
    assert TrialDesign.from_dict(TrialDesign.weekly().to_dict()) == TrialDesign.weekly()
    with pytest.raises(ValueError, match="unknown design field"):
        resolve_design("support", {"support": {"weeks": 3}})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first": 0},
        {"first": 5, "last": 4},
        {"window": 0},
        {"horizon_days": 0},
        {"unit": "day"},
    ],
)
def test_impossible_designs_are_refused(kwargs):
    with pytest.raises(ValueError):
        TrialDesign(**kwargs)
