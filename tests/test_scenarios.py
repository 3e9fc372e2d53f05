"""Scenario definitions: periods, segments, which weeks they change and which they count."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from churn_causal.design.scenarios import (
    HALF,
    MORE,
    NONE,
    Period,
    Scenario,
    follow_up_weeks,
    programme_scenarios,
)

EPOCH = dt.date(1970, 1, 1)


def day(iso: str) -> int:
    return (dt.date.fromisoformat(iso) - EPOCH).days


def test_periods_parse_from_a_config():
    assert Period.parse("first_year") == Period("tenure", 0, 52) == Period.parse(None)
    assert Period.parse({"tenure_weeks": [4, 20]}) == Period("tenure", 4, 20)
    year = Period.parse({"year": 2024})
    assert (year.start, year.end) == (day("2024-01-01"), day("2025-01-01"))
    span = Period.parse({"from": "2025-04-01", "to": "2025-06-30"})
    assert (span.start, span.end) == (day("2025-04-01"), day("2025-07-01"))
    for p in (Period(), year, span, Period("tenure", 4, 20)):
        assert Period.parse(p.to_config()) == p
    assert year.describe() == "in 2024" and Period().describe() == "in each customer's first year"
    for bad in ("last_year", {"year": 2024, "to": "2025-01-01"}, {"tenure_weeks": [5, 5]}):
        with pytest.raises(ValueError):
            Period.parse(bad)


def test_a_scenario_from_a_config_entry():
    s = Scenario.from_dict(
        {"name": "x2", "touchpoint": "seminar", "delta": 2, "where": {"tier": ["SMB", "Middle"]}}
    )
    assert s.where == (("tier", ("SMB", "Middle")),) and s.follow_up_weeks == 52
    assert Scenario.from_dict(s.to_dict()) == s
    assert s.describe() == "seminar odds x2 (tier SMB/Middle) in each customer's first year"
    assert s.window() == (0, 104)
    assert follow_up_weeks(6) == 26
    for bad in (
        {"name": "a", "touchpoint": "t", "delta": -1},
        {"name": "a", "touchpoint": "t"},
        {"name": "a", "touchpoint": "t", "delta": 1, "who": "x"},
        {"name": "a", "touchpoint": "t", "delta": 1, "where": {"phase": "renewal"}},
    ):
        with pytest.raises(ValueError):
            Scenario.from_dict(bad)


def test_which_weeks_a_scenario_changes_and_counts():
    week = np.arange(0, 110)
    first = Scenario("onboarding", "community", 2.0, (("phase", ("onboarding",)),))
    applies = first.applies(week, week)
    assert applies[:17].all() and not applies[17:].any()  # weeks 0-16: the first 119 days
    later = Scenario("adoption", "community", 2.0, (("phase", ("adoption",)),))
    assert later.applies(week, week).sum() == 52 - 17
    counted = first.counted(week, week, data_end_day=0)
    assert counted[:104].all() and not counted[104:].any()  # the year and the 12 months after
    cal = Scenario("2024", "support", 1.5, (), Period.parse({"year": 2024}))
    days = day("2024-01-01") + np.array([-7, -1, 0, 300, 366, 700, 730])  # 2024: 366 days
    assert (
        list(cal.applies(week[: len(days)], days))
        == [False, False, True, True, False] + [False] * 2
    )
    # counted through the year and 52 weeks after it, while the week is whole in the data
    end = day("2025-12-31")
    assert list(cal.counted(week[: len(days)], days, end)) == [False, False, True, True, True,
                                                                 True, False]  # fmt: skip
    assert not cal.counted(np.array([0]), np.array([end - 3]), end)[0]  # its last days unseen
    # the window stops where the latest-starting week of a 7-day step would end after the data:
    # a week of step 102 that fits itself is not counted, as step 102's last one would not fit
    step = day("2024-01-01") + 7 * np.array([101, 102])
    assert list(cal.counted(np.array([0, 0]), step, day("2025-12-24"))) == [True, False]


def test_a_segment_is_the_customers_its_columns_name():
    s = Scenario("s", "cs_touch", 0.5, (("tier", ("Middle",)), ("contract_type", ("annual",))))
    columns = {
        "tier": np.array(["Middle", "Middle", "SMB"]),
        "contract_type": np.array(["annual", "monthly", "annual"]),
    }
    assert list(s.in_segment(columns)) == [True, False, False]
    with pytest.raises(ValueError, match="not a customer column"):
        Scenario("s", "cs_touch", 0.5, (("region", ("EU",)),)).in_segment(columns)


def test_every_programme_is_valued_against_none_half_and_the_margin():
    names = [s.name for s in programme_scenarios("support")]
    assert names[:3] == [NONE, HALF, MORE]
    assert [s.delta for s in programme_scenarios("support")] == pytest.approx(
        [0, 0.5, 1.1, 1 / 1.1]
    )
