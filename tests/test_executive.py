"""The executive summary's tables and sentences from per-touchpoint results."""

from __future__ import annotations

import pytest

from churn_causal.report import executive


def ci(est: float, low: float, high: float) -> dict:
    return {"estimate": est, "ci_low": low, "ci_high": high, "se": (high - low) / 4,
            "excludes_zero": low > 0 or high < 0}  # fmt: skip


def programme(reliable: bool = True) -> dict:
    value = {
        "events": ci(1500, 1400, 1600),
        "churn_prevented": ci(40, 20, 60),
        "customer_months": ci(600, 300, 900),
        "revenue": ci(400_000, 200_000, 600_000),
        "gross_profit": ci(300_000, 150_000, 450_000),
        "cost": ci(150_000, 140_000, 160_000),
        "net": ci(150_000, -10_000, 310_000),
        "roi": ci(1.0, -0.1, 2.0),
    }
    group = {"against": "none", "why": "weights usable", "reliable": reliable,
             "cost_per_event": 100.0, "natural_gross_profit": 6_750_000.0}  # fmt: skip
    if reliable:
        group["value"] = value
    return {
        "period": "in each customer's first year",
        "follow_up_months": 12,
        "gross_margin": 0.75,
        "programme": {"all": group},
        "scenarios": {} if not reliable else {
            "x2": {
                "description": "seminar odds x2 in each customer's first year",
                "groups": {"all": {"reliable": True, "natural_gross_profit": 6_750_000.0,
                                   "change": {k: value[k] for k in ("customer_months",
                                              "gross_profit", "cost", "net")}
                                   | {"churned": ci(-20, -30, -10), "events": ci(900, 800, 1000)}}},
            }
        },
    }  # fmt: skip


def record(effect: float, low: float, high: float, level: str, reasons: list[str], **kw) -> dict:
    rd = {"estimate": effect, "ci_low": low, "ci_high": high, "risk_control": 0.2}
    naive = {"estimate": -0.07, "ci_low": -0.08, "ci_high": -0.06}
    return {
        "touchpoint": "seminar",
        "design": {"horizon_days": 365},
        "result": {
            "methods": {"naive": {"risk_difference": naive}, "match": {"risk_difference": rd}},
            "verdict": {"method": "match", "level": level, "reasons": reasons},
        },
        **kw,
    }


@pytest.fixture
def records():
    return {
        "seminar": record(-0.02, -0.03, -0.01, "reliable", ["ok"], programme=programme()),
        "support": record(
            0.004,
            -0.01,
            0.02,
            "caution",
            ["match and iptw disagree"],
            programme=programme(reliable=False),
        ),
    }


def test_the_headline_table_has_one_row_per_touchpoint(records):
    table = executive.headline_table(records)
    row = table.loc["seminar"]
    assert row["plain difference (pp)"] == -7.0 and row["corrected effect (pp)"] == -2.0
    assert row["95% CI (pp)"] == "-3.0 to -1.0" and row["verdict"] == "reliable"
    assert table.loc["support", "why"] == "match and iptw disagree"


def test_sentences_say_what_the_interval_supports(records):
    seminar, support = executive.sentences(executive.headline_table(records), records, "USD")
    assert "lowers the chance of churning within 12 months by 2.0 points" in seminar
    assert "kept about 40 customers and USD 300,000 of gross profit" in seminar
    assert "net USD 150,000" in seminar and "cannot be told from zero" in seminar
    assert "has no clear effect" in support and "caution" in support
    assert "cannot be told from this data" in support


def test_the_programme_table_shows_every_input_of_its_money(records):
    table = executive.programme_table(records, "USD")
    row = table["seminar"]
    assert row["revenue kept"] == "USD 400,000" and row["gross margin"] == "75%"
    assert row["gross profit kept"] == "USD 300,000" and row["cost per event"] == "USD 100"
    assert row["touches delivered"] == "1,500" and row["net"] == "USD 150,000"
    assert row["note"] == "net not clear of zero"
    assert table.loc["compared with", "support"] == "cannot be told from this data"
    rows = executive.money_rows(records)
    assert [r[0] for r in rows] == ["seminar: programme vs none of it", "what if: x2"]


def test_what_if_rows_carry_their_change_and_scale(records):
    table = executive.whatif_table(records, "USD")
    assert table.loc["x2", "churn (customers)"] == "-20"
    assert table.loc["x2", "gross profit of the segment over the same weeks"] == "USD 6,750,000"


def test_no_results_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make report`"):
        executive.load_results(tmp_path)


def test_over_time_says_how_each_touchpoint_works():
    ci_ = {"estimate": -0.012, "ci_low": -0.018, "ci_high": -0.006}
    dyn = {
        "half_life_days": {"estimable": True, "estimate": 33.0, "ci_high": 36.0},
        "event_study": {"mechanism": "raises the level"},
        "msm": None,
    }
    records = {
        "seminar": record(-0.02, -0.03, -0.01, "reliable", [], dynamics=dyn),
        "cs_touch": record(
            -0.01, -0.02, 0.0, "reliable", [],
            dynamics={
                "half_life_days": {"estimable": False, "reason": "peaks late"},
                "event_study": {"mechanism": "changes health too little to tell"},
                "msm": {"msm": ci_},
            },
        ),
        "support": record(-0.01, -0.02, 0.0, "reliable", [], dynamics={"error": "short"}),
    }  # fmt: skip
    table = executive.over_time(records)
    assert list(table.index) == ["seminar", "cs_touch"]  # the failed one is left out
    assert table.loc["seminar", "effect on health fades by half in"] == "33 days"
    assert table.loc["cs_touch", "effect on health fades by half in"] == (
        "no clear fading within a year"
    )
    assert table.loc["cs_touch"].iloc[-1] == "-1.2 (-1.8 to -0.6)"
    assert table.loc["seminar"].iloc[-1] == ""  # only CS-manager touches have a programme effect
