"""DoWhy's pipeline as a cross-check, and its refuters, on data with a known answer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from test_estimate import confounded

from churn_causal.causal.estimate import EffectEstimator
from churn_causal.causal.refute import _judge, dowhy_check
from churn_causal.causal.reliability import verdict


def test_dowhy_agrees_and_every_refutation_passes_on_a_sound_analysis():
    df, truth = confounded(n=20_000, kind="binary")
    df["y"] = df["y"].astype(int)
    result = (
        EffectEstimator(
            "t", ["x", "segment"], outcome="y", methods=("naive", "iptw"), refute=True, n_boot=100
        )
        .fit(df)
        .to_dict()
    )
    ref = result["refutation"]
    ours = result["methods"]["iptw"]["risk_difference"]
    assert abs(ref["estimate"] - truth) <= 3 * ours["se"]
    placebo = ref["refutation"]["placebo_treatment"]
    assert abs(placebo["new_effect"]) < 0.1 * abs(truth)  # the workaround for dowhy#1728
    assert ref["passed"]
    assert any("refutations passed" in r for r in result["verdict"]["reasons"])


def test_time_to_event_is_refuted_on_the_event_by_the_horizon():
    df, truth = confounded(n=8_000, kind="time_to_event")
    result = EffectEstimator(
        "t",
        ["x", "segment"],
        duration="duration",
        event="event",
        horizon=30,
        methods=("iptw",),
        refute=True,
        n_boot=50,
    ).fit(df)
    ref = result.to_dict()["refutation"]
    assert ref["rows"] < 8_000  # rows censored before the horizon are left out
    assert abs(ref["estimate"] - truth) < 0.05


@pytest.mark.parametrize("weighted", [False, True])
def test_an_outcome_beside_the_table_is_the_outcome_as_a_column(weighted):
    """The time-to-event path hands the event by the horizon as a Series (NaN = unknown) so
    that the cohort is not copied: the same rows are sampled and the same answer comes out."""
    import numpy as np

    df, _ = confounded(n=6_000, kind="binary")
    rng = np.random.default_rng(4)
    y = df["y"].astype(float).where(rng.random(len(df)) > 0.2)  # a fifth unknown
    df["w"] = np.where(df["t"], 1.0, rng.choice([1.0, 3.0], len(df)))
    args = ("t", ["x", "segment"])
    kwargs = {"sample": 3_000, "simulations": 2, "seed": 1, "weights": "w" if weighted else None}
    beside = dowhy_check(df, *args, y, **kwargs)
    column = dowhy_check(df.assign(y=y), *args, "y", **kwargs)
    assert beside == column
    assert beside["rows"] == 3_000


@pytest.mark.parametrize(
    ("name", "new", "passed"),
    [
        ("placebo_treatment", 0.001, True),
        ("placebo_treatment", -0.06, False),
        ("random_common_cause", -0.099, True),
        ("data_subset", -0.05, False),
    ],
)
def test_refutation_judgement(name, new, passed):
    r = SimpleNamespace(new_effect=new, refutation_result={"p_value": 0.5})
    assert _judge(name, -0.1, r)["passed"] is passed


def test_a_failed_refutation_calls_for_caution():
    rd = {"estimate": -0.02, "se": 0.004, "ci_low": -0.028, "ci_high": -0.012}
    result = {
        "estimand": "ATE",
        "methods": {"iptw": {"risk_difference": rd}},
        "diagnostics": {
            "iptw_max_abs_smd": 0.02,
            "ess": {"control": 5000},
            "max_weight": 5,
            "overlap": {"share_treated_in_common_support": 1},
        },
        "refutation": {"refutation": {"placebo_treatment": {"passed": False}}},
    }
    v = verdict(result)
    assert v["level"] == "caution" and "refutation failed: placebo treatment" in v["reasons"]


def test_sampling_noise_alone_does_not_fail_a_refutation():
    r = SimpleNamespace(new_effect=-0.0085, refutation_result={})
    assert not _judge("placebo_treatment", -0.002, r)["passed"]
    assert _judge("placebo_treatment", -0.002, r, noise=0.005)["passed"]


def test_dowhy_agrees_when_uptake_is_rare():
    """Most propensities below 0.05: DoWhy's default clipping to [0.05, 0.95] would bias it."""
    import numpy as np
    import pandas as pd
    from scipy.special import expit

    rng = np.random.default_rng(2)
    n = 20_000
    x = rng.normal(size=n)
    t = rng.random(n) < expit(-3.5 + 1.2 * x)
    p0, p1 = expit(-1 - x), expit(-1 - x - 0.5)
    df = pd.DataFrame({"x": x, "t": t, "y": (rng.random(n) < np.where(t, p1, p0)).astype(int)})
    truth = float((p1 - p0)[t].mean())
    result = (
        EffectEstimator("t", ["x"], outcome="y", methods=("naive", "iptw"), refute=True, n_boot=100)
        .fit(df)
        .to_dict()
    )
    se = result["methods"]["iptw"]["risk_difference"]["se"]
    assert abs(result["refutation"]["estimate"] - truth) <= 3 * se
