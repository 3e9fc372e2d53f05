import math

import pytest

from churn_causal.causal.reliability import e_value, verdict


def test_e_value_of_a_protective_effect():
    ev = e_value({"estimate": -0.1, "ci_low": -0.15, "ci_high": -0.05, "risk_control": 0.2})
    assert ev["risk_ratio"] == pytest.approx(0.5)
    assert ev["point"] == pytest.approx(2 + 2**0.5)  # RR 2 (inverted): 2 + sqrt(2 * 1)
    assert ev["ci_limit"] == pytest.approx(4 / 3 + (4 / 3 * 1 / 3) ** 0.5)


def test_e_value_is_one_when_the_interval_includes_no_effect():
    ev = e_value({"estimate": 0.02, "ci_low": -0.01, "ci_high": 0.05, "risk_control": 0.2})
    assert ev["ci_limit"] == 1.0 and ev["point"] > 1
    assert e_value({"estimate": 0.1, "ci_low": 0, "ci_high": 0.2, "risk_control": 0}) is None


def result(smd=0.03, support=1.0, matched=1.0, second=-0.02, ci_limit=2.0):
    rd = {"estimate": -0.02, "se": 0.004, "ci_low": -0.028, "ci_high": -0.012}
    return {
        "estimand": "ATT",
        "methods": {
            "naive": {"risk_difference": rd},
            "match": {"risk_difference": rd},
            "dr": {"risk_difference": {**rd, "estimate": second}},
        },
        "diagnostics": {
            "match_max_abs_smd": smd,
            "matched_fraction": matched,
            "overlap": {"share_treated_in_common_support": support},
        },
        "e_value": {"ci_limit": ci_limit},
    }


def test_verdict_reliable_when_every_gate_passes():
    v = verdict(result())
    assert v["level"] == "reliable" and v["method"] == "match"
    assert any("imbalance" in r for r in v["reasons"])


@pytest.mark.parametrize(
    ("kwargs", "level", "reason"),
    [
        ({"smd": 0.15}, "caution", "imbalance"),
        ({"smd": 0.3}, "unreliable", "imbalance"),
        ({"support": 0.7}, "caution", "comparable untreated"),
        ({"matched": 0.8}, "caution", "found no match"),
        ({"second": -0.05}, "caution", "disagree"),
        ({"ci_limit": 1.1}, "caution", "unmeasured confounder"),
    ],
)
def test_verdict_names_the_failed_gate(kwargs, level, reason):
    v = verdict(result(**kwargs))
    assert v["level"] == level
    assert any(reason in r for r in v["reasons"])


def test_no_adjusted_estimate_is_unreliable():
    r = result()
    r["methods"] = {"naive": r["methods"]["naive"]}
    v = verdict(r)
    assert v["level"] == "unreliable" and "do not overlap" in v["reasons"][0]


def test_e_value_of_a_continuous_outcome_through_the_standardised_difference():
    """d = 0.5 SD: risk ratio about exp(0.91 x 0.5) (VanderWeele & Ding 2017)."""
    ev = e_value({"estimate": 5.0, "ci_low": 3.0, "ci_high": 7.0, "outcome_sd": 10.0})
    rr = math.exp(0.455)
    assert ev["risk_ratio"] == pytest.approx(rr)
    assert ev["point"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)))
    low = math.exp(0.91 * 0.3)
    assert ev["ci_limit"] == pytest.approx(low + math.sqrt(low * (low - 1)))
    assert ev["via"].startswith("standardised mean difference")
    assert e_value({"estimate": 5.0, "ci_low": 3.0, "ci_high": 7.0}) is None  # no SD


def test_verdict_of_a_continuous_outcome_compares_mean_differences():
    r = result()
    for scales in r["methods"].values():
        scales["mean_difference"] = scales.pop("risk_difference")
    assert verdict(r)["level"] == "reliable"
    r["methods"]["dr"]["mean_difference"]["estimate"] = -0.05
    assert any("disagree" in x for x in verdict(r)["reasons"])
