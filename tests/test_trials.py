import numpy as np
import pytest

from churn_causal.trials import MONTH_DAYS, TrialDesign, month_start_day


def test_months_tile_the_year():
    starts = month_start_day(np.arange(1, 26))
    assert starts[0] == 0
    assert starts[12] == 365  # month 13 starts one year in
    assert starts[24] == 730
    assert np.all(np.diff(starts) >= 30) and np.all(np.diff(starts) <= 31)
    assert pytest.approx(30.4375) == MONTH_DAYS


def test_windows_are_contiguous_and_horizon_counts_from_time_zero():
    d = TrialDesign(first_month=1, last_month=18, window_months=1, horizon_days=365)
    for m in d.months[:-1]:
        assert d.window(m)[1] == d.window(m + 1)[0]
    assert d.last_day_needed == d.window(18)[1] + 365
    assert TrialDesign(window_months=3).window(2) == (30, 121)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first_month": 0},
        {"first_month": 5, "last_month": 4},
        {"window_months": 0},
        {"horizon_days": 0},
    ],
)
def test_impossible_designs_are_refused(kwargs):
    with pytest.raises(ValueError):
        TrialDesign(**kwargs)
