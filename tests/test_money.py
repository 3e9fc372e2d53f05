"""The CS team's LTV formula with the corrected effect, on hand-made inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from churn_causal.data.contract import CSData
from churn_causal.value.money import Business, ltv, monthly_rate, reached_by_tier, value_by_tier

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
        {
            "customer_id": ["a", "a", "b", "c", "d"],
            "date": pd.to_datetime(
                ["2025-03-01", "2025-04-01", "2024-06-01", "2025-12-30", "2025-02-01"]
            ),
            "touchpoint": "seminar",
        }
    )
    health = pd.DataFrame({"customer_id": ["a"], "date": [END], "score": [60.0]})
    return CSData(customers, health, touches)


def result(effect: float, low: float, high: float, r0: float = 0.2) -> dict:
    rd = {"estimate": effect, "ci_low": low, "ci_high": high, "risk_control": r0}
    return {
        "verdict": {"method": "match"},
        "by": {
            "SMB": {"methods": {"match": {"risk_difference": rd}}},
            "Enterprise": {"methods": {"match": {"risk_difference": rd}}},
        },
    }


def test_monthly_rate_compounds_to_the_risk_by_the_horizon():
    c = monthly_rate(0.2, 365)
    assert (1 - c) ** (365 / (365.25 / 12)) == pytest.approx(0.8, rel=1e-9)
    assert monthly_rate(0.0, 365) == pytest.approx(0.001)  # floored: LTV stays finite
    assert ltv(0.2, 100.0, 0.8, 365) == pytest.approx(0.8 * 100 / c)


def test_reached_counts_distinct_customers_in_the_last_year_per_tier():
    reached = reached_by_tier(data(), "seminar")
    # a twice (once counted), c on the last days, d before churning; b's event is too old.
    assert reached.to_dict() == {"SMB": 2, "Enterprise": 1}


def test_value_is_the_ltv_gain_times_customers_reached():
    biz = Business(gross_margin=0.8, currency="USD")
    table = value_by_tier(result(-0.05, -0.08, -0.02), data(), "seminar", biz, 365)
    smb = table.loc["SMB"]
    assert smb["monthly ARPA"] == pytest.approx(200.0)  # active SMB customers a and b
    gain = ltv(0.15, 200.0, 0.8, 365) - ltv(0.2, 200.0, 0.8, 365)
    assert smb["value"] == pytest.approx(2 * gain)
    # Lower churn is worth more: the CI's lower effect gives the higher value.
    assert smb["value high"] == pytest.approx(
        2 * (ltv(0.12, 200.0, 0.8, 365) - ltv(0.2, 200, 0.8, 365))
    )
    assert smb["value low"] < smb["value"] < smb["value high"]
    total = table.loc["all tiers"]
    assert total["value"] == pytest.approx(table.loc[["SMB", "Enterprise"], "value"].sum())
    assert total["customers reached"] == 3


def test_a_harmful_touchpoint_has_negative_value_and_fixed_arpa_is_used():
    biz = Business(arpa={"SMB": 50.0, "Enterprise": 1000.0})
    table = value_by_tier(result(0.03, 0.01, 0.05), data(), "seminar", biz, 365)
    assert (table["value"] < 0).all()
    assert table.loc["Enterprise", "monthly ARPA"] == 1000.0


@pytest.mark.parametrize("kwargs", [{"gross_margin": 0}, {"gross_margin": 1.5}, {"arpa": "avg"}])
def test_impossible_business_inputs_are_refused(kwargs):
    with pytest.raises(ValueError):
        Business(**kwargs)
