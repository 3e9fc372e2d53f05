"""The executive summary's table and sentences from per-touchpoint results."""

from __future__ import annotations

import pytest
from test_money import data

from churn_causal.report import executive
from churn_causal.value.money import Business


def record(effect: float, low: float, high: float, level: str, reasons: list[str]) -> dict:
    rd = {"estimate": effect, "ci_low": low, "ci_high": high, "risk_control": 0.2}
    naive = {"estimate": -0.07, "ci_low": -0.08, "ci_high": -0.06}
    rmst = {"estimate": 6.0, "ci_low": 2.0, "ci_high": 10.0}
    return {
        "touchpoint": "seminar",
        "design": {"horizon_days": 365},
        "result": {
            "methods": {
                "naive": {"risk_difference": naive},
                "match": {"risk_difference": rd, "rmst_difference": rmst},
            },
            "verdict": {"method": "match", "level": level, "reasons": reasons},
            "by": {"SMB": {"methods": {"match": {"risk_difference": rd}}}},
        },
    }


@pytest.fixture
def table():
    records = {
        "seminar": record(-0.02, -0.03, -0.01, "reliable", ["balance ok"]),
        "support": record(0.004, -0.01, 0.02, "caution", ["match and iptw disagree"]),
    }
    d = data()
    values = executive.money(records, d, Business(currency="USD"))
    return executive.headline_table(records, d, values)


def test_the_headline_table_has_one_row_per_touchpoint(table):
    row = table.loc["seminar"]
    assert row["plain difference (pp)"] == -7.0 and row["corrected effect (pp)"] == -2.0
    assert row["95% CI (pp)"] == "-3.0 to -1.0"
    assert row["customers reached (12 months)"] == 3
    assert row["extra customer-months retained"] == round(6.0 / (365.25 / 12) * 3)
    assert row["value"] > 0 and row["verdict"] == "reliable"
    assert table.loc["support", "why"] == "match and iptw disagree"


def test_sentences_say_what_the_interval_supports(table):
    seminar, support = executive.sentences(table, "USD")
    assert "lowers the chance of churning within 12 months by 2.0 points" in seminar
    assert "USD" in seminar and "customers reached" in seminar
    assert "has no clear effect" in support and "caution" in support


def test_no_results_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make report`"):
        executive.load_results(tmp_path)


def test_over_time_says_how_each_touchpoint_works():
    ci = {"estimate": -0.012, "ci_low": -0.018, "ci_high": -0.006}
    dyn = {
        "half_life_days": {"estimable": True, "estimate": 33.0, "ci_high": 36.0},
        "event_study": {"mechanism": "raises the level"},
        "msm": None,
    }
    records = {
        "seminar": {**record(-0.02, -0.03, -0.01, "reliable", []), "dynamics": dyn},
        "cs_touch": {
            **record(-0.01, -0.02, 0.0, "reliable", []),
            "dynamics": {
                "half_life_days": {"estimable": False, "reason": "peaks late"},
                "event_study": {"mechanism": "changes health too little to tell"},
                "msm": {"msm": ci},
            },
        },
        "support": {**record(-0.01, -0.02, 0.0, "reliable", []), "dynamics": {"error": "short"}},
    }
    table = executive.over_time(records)
    assert list(table.index) == ["seminar", "cs_touch"]  # the failed one is left out
    assert table.loc["seminar", "effect on health fades by half in"] == "33 days"
    assert table.loc["cs_touch", "effect on health fades by half in"] == (
        "no clear fading within a year"
    )
    assert table.loc["cs_touch"].iloc[-1] == "-1.2 (-1.8 to -0.6)"
    assert table.loc["seminar"].iloc[-1] == ""  # only CS-manager touches have a programme effect
