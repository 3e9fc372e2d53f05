"""The business inputs, the CS team's LTV formula in its own units, and the programme money's
arithmetic (on a fit whose totals are set by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn_causal.causal.uptake import OUTCOMES
from churn_causal.data.contract import CSData
from churn_causal.design.scenarios import HALF, LESS, MORE, NONE, Scenario
from churn_causal.value.business import Business, Cost, LongerView
from churn_causal.value.ltv import ltv, monthly_rate, team_formula
from churn_causal.value.programme import MoneyFault, programme_value, scenario_value

END = pd.Timestamp("2025-12-31")


def data() -> CSData:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "tier": ["SMB", "SMB", "Enterprise", "SMB"],
            "contract_type": "monthly",
            "seats": 10,
            "mrr": [100.0, 300.0, 5000.0, 900.0],
            "start_date": pd.Timestamp("2024-01-01"),
            "churn_date": [pd.NaT, pd.NaT, pd.NaT, pd.Timestamp("2025-06-01")],
        }
    )
    touches = pd.DataFrame(
        {"customer_id": ["a"], "date": [pd.Timestamp("2025-03-01")], "touchpoint": "seminar"}
    )
    health = pd.DataFrame({"customer_id": ["a"], "date": [END], "score": [60.0]})
    return CSData(customers, health, touches)


def test_costs_are_per_event_or_hours_at_a_rate():
    assert Cost(per_event=40).per_event_amount == 40
    hourly = Cost(hours_per_event=1.5, hourly_cost=60)
    assert hourly.per_event_amount == 90
    assert hourly.describe("EUR") == "1.5 hours per event x EUR 60 an hour = EUR 90 per event"
    for bad in ({}, {"per_event": 1, "hourly_cost": 2}, {"hours_per_event": 1}, {"per_event": -1}):
        with pytest.raises(ValueError):
            Cost(**bad)


def test_business_reads_its_config_section_and_gives_it_back():
    section = {
        "currency": "JPY",
        "gross_margin": 0.8,
        "costs": {
            "seminar": {"per_event": 3000},
            "cs_touch": {"hours_per_event": 1, "hourly_cost": 5000},
        },
        "longer_view": {"lifetime_months": 48},
    }  # fmt: skip
    biz = Business.from_config(section)
    assert biz.cost("cs_touch").per_event_amount == 5000 and biz.cost("support") is None
    assert biz.longer_view == LongerView(48, 0.10)
    assert Business.from_config(biz.to_config()) == biz
    assert Business.from_config({}).longer_view is None


@pytest.mark.parametrize(
    "section",
    [{"gross_margin": 0}, {"gross_margin": 1.5}, {"arpa": "avg"},
     {"costs": [1]}, {"longer_view": {"discount_rate": 1.2}}],
)  # fmt: skip
def test_impossible_business_inputs_are_refused(section):
    with pytest.raises((ValueError, TypeError)):
        Business.from_config(section)


def test_monthly_rate_compounds_to_the_risk_by_the_horizon():
    c = monthly_rate(0.2, 365)
    assert (1 - c) ** (365 / (365.25 / 12)) == pytest.approx(0.8, rel=1e-9)
    assert monthly_rate(0.0, 365) == pytest.approx(0.001)  # floored: LTV stays finite
    assert ltv(0.2, 100.0, 0.8, 365) == pytest.approx(0.8 * 100 / c)


def test_the_team_formula_multiplies_by_treated_customer_periods():
    """The effect is one period's touch: the formula counts treated customer-periods of the
    last year (3 in SMB here), not distinct customers; tiers are summed without an interval."""
    rd = {"estimate": -0.05, "ci_low": -0.08, "ci_high": -0.02, "risk_control": 0.2}
    record = {
        "design": {"horizon_days": 365},
        "result": {
            "verdict": {"method": "match"},
            "by": {
                t: {"methods": {"match": {"risk_difference": rd}}} for t in ("SMB", "Enterprise")
            },
        },
        "reach": {"by_tier": {"SMB": 3, "Enterprise": 1}},
    }  # fmt: skip
    table = team_formula(record, data(), Business(gross_margin=0.8))
    smb = table.loc["SMB"]
    assert smb["monthly ARPA"] == pytest.approx(200.0)  # active SMB customers a and b
    gain = ltv(0.15, 200.0, 0.8, 365) - ltv(0.2, 200.0, 0.8, 365)
    assert smb["value"] == pytest.approx(3 * gain)
    assert smb["value high"] == pytest.approx(
        3 * (ltv(0.12, 200.0, 0.8, 365) - ltv(0.2, 200, 0.8, 365))
    )
    assert table.loc["all tiers", "value"] == pytest.approx(
        table.loc[["SMB", "Enterprise"], "value"].sum()
    )
    assert np.isnan(table.loc["all tiers", "value high"])  # fmt: skip


class FakeFit:
    """An uptake fit whose totals are set by hand: (natural, changed) per scenario, with
    bootstrap replicates that scatter around them."""

    touchpoint = "seminar"

    def __init__(self, totals: dict[str, tuple[dict, dict]], reliable=True) -> None:
        self.totals_ = totals
        self.scenarios = [Scenario(name, "seminar", 0.5) for name in totals]
        self.result_ = {"scenarios": {n: {} for n in totals}}
        self._reliable = reliable

    def totals(self, name, group):
        nat, chg = (np.array([d.get(k, 0.0) for k in OUTCOMES], float) for d in self.totals_[name])
        noise = np.random.default_rng(0).normal(1, 0.01, size=(50, 1))
        return nat, nat * np.ones((50, 1)), chg, chg * noise

    def reliable(self, name, group):
        return self._reliable, "weights usable" if self._reliable else "too few customers"


NATURAL = {"customers": 1000, "churned": 300, "customer_months": 18000, "revenue": 9e6,
           "events": 2000, "survivors": 700, "survivor_mrr": 350000}  # fmt: skip


def changed(**kw) -> dict:
    return {**NATURAL, **kw}


def test_programme_money_follows_from_revenue_margin_and_cost():
    fit = FakeFit(
        {
            NONE: (NATURAL, changed(churned=340, customer_months=17400, revenue=8.6e6, events=500)),
            HALF: (NATURAL, changed(churned=320, revenue=8.8e6, events=1200)),
            MORE: (NATURAL, changed(churned=298, revenue=9.02e6, events=2100)),
            LESS: (NATURAL, changed(churned=302, revenue=8.98e6, events=1900)),
        }
    )
    biz = Business(gross_margin=0.75, costs={"seminar": Cost(per_event=100)})
    v = programme_value(fit, biz)
    assert v["against"] == NONE and v["reliable"]
    value = v["value"]
    assert value["events"]["estimate"] == pytest.approx(1500)  # touches the programme delivers
    assert value["churn_prevented"]["estimate"] == pytest.approx(40)
    assert value["gross_profit"]["estimate"] == pytest.approx(0.75 * 0.4e6)
    assert value["cost"]["estimate"] == pytest.approx(150_000)
    assert value["net"]["estimate"] == pytest.approx(300_000 - 150_000)
    assert value["roi"]["estimate"] == pytest.approx(1.0)
    assert value["cost_per_churn_prevented"]["estimate"] == pytest.approx(150_000 / 40)
    assert v["per_100_touches"]["churn_prevented"]["estimate"] == pytest.approx(100 * 40 / 1500)
    m = v["one_more_touch"]  # 200 more touches between x1.1 and /1.1: 4 fewer churned
    assert m["churn_prevented_per_100"]["estimate"] == pytest.approx(2.0)
    assert m["gross_profit"]["estimate"] == pytest.approx(0.75 * 40_000 / 200)
    assert m["net"]["estimate"] == pytest.approx(0.75 * 40_000 / 200 - 100)
    assert value["gross_profit"]["ci_low"] < 300_000 < value["gross_profit"]["ci_high"]


def test_an_unusable_comparison_gives_no_number():
    fit = FakeFit({NONE: (NATURAL, NATURAL), HALF: (NATURAL, NATURAL)}, reliable=False)
    v = programme_value(fit, Business())
    assert v["against"] is None and not v["reliable"] and "value" not in v
    s = scenario_value(fit, NONE, Business())
    assert not s["reliable"] and s["reason"] == "too few customers"


def test_a_value_above_the_whole_gross_profit_is_a_fault():
    fit = FakeFit({"big": (NATURAL, changed(revenue=20e6))})
    with pytest.raises(MoneyFault, match="exceeds the group's whole gross profit"):
        scenario_value(fit, "big", Business())


def test_the_longer_view_adds_the_kept_customers_later_months():
    """24 months counted; kept customers pay on for 12 more at the natural churn rate,
    discounted at 10% a year."""
    fit = FakeFit({"s": (NATURAL, changed(revenue=9.1e6, survivors=710, survivor_mrr=355000))})
    fit.scenarios = [Scenario("s", "seminar", 2.0, follow_up_weeks=52)]
    biz = Business(gross_margin=0.5, longer_view=LongerView(36, 0.10))
    out = scenario_value(fit, "s", biz)
    months = out["window_months"]
    rate = 1 - (700 / 1000) ** (1 / months)
    m = np.arange(1, round(36 - months) + 1)
    annuity = ((1 - rate) ** m / 1.1 ** ((months + m) / 12)).sum()
    expected = 0.5 * 0.1e6 / 1.1 ** (months / 24) + 0.5 * 5000 * annuity
    assert out["longer_view"]["gross_profit"]["estimate"] == pytest.approx(expected)
    assert out["longer_view"]["assumptions"]["months_after_window"] == round(36 - months)
