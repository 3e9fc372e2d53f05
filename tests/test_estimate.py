"""The estimation API on data with a known answer: synthetic worlds and a randomised trial."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from scipy.special import expit

from churn_causal.estimate import EffectEstimator, EstimationWarning

ADJUSTED = ("match", "iptw", "dr")


def confounded(n: int = 20_000, seed: int = 0, kind: str = "binary") -> tuple[pd.DataFrame, float]:
    """Healthy units take the treatment more and churn less; returns the table and true ATT."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    segment = rng.choice(["a", "b", "c"], size=n)
    shift = pd.Series(segment).map({"a": 0.0, "b": 0.4, "c": -0.4}).to_numpy()
    t = rng.random(n) < expit(-0.5 + 1.2 * x + shift)
    df = pd.DataFrame({"x": x, "segment": segment, "t": t})
    if kind == "binary":
        p0, p1 = expit(-1 - x + shift), expit(-1 - x + shift - 0.5)
        df["y"] = rng.random(n) < np.where(t, p1, p0)
        return df, float((p1 - p0)[t].mean())
    if kind == "continuous":
        df["y"] = 2 * x + shift + 1.5 * t + rng.normal(size=n)
        return df, 1.5
    rate0 = np.exp(-3 - 0.8 * x + shift)
    rate1 = rate0 * np.exp(-0.5)
    time = rng.exponential(1 / np.where(t, rate1, rate0))
    censor = rng.uniform(0, 100, size=n)
    df["duration"], df["event"] = np.minimum(time, censor), time <= censor
    horizon = 30
    # Risk with minus without = S0 - S1 at the horizon: negative, the treatment prevents.
    truth = (np.exp(-rate0 * horizon) - np.exp(-rate1 * horizon))[t].mean()
    return df, float(truth)


@pytest.mark.parametrize(
    ("kind", "scale", "kwargs"),
    [
        ("binary", "risk_difference", {"outcome": "y"}),
        ("continuous", "mean_difference", {"outcome": "y"}),
        (
            "time_to_event",
            "risk_difference",
            {"duration": "duration", "event": "event", "horizon": 30},
        ),
    ],
)
def test_adjusted_methods_recover_a_known_att(kind, scale, kwargs):
    df, truth = confounded(kind=kind)
    result = EffectEstimator("t", ["x", "segment"], exact=("segment",), seed=1, **kwargs).fit(df)
    assert result.outcome_type == kind
    naive = result.methods["naive"][scale]
    assert abs(naive["estimate"] - truth) > 10 * naive["se"]  # confounding is material
    for method in ADJUSTED:
        est = result.methods[method][scale]
        assert abs(est["estimate"] - truth) <= 3 * est["se"], (method, est, truth)
        assert est["ci_low"] < est["estimate"] < est["ci_high"]
    d = result.diagnostics
    assert d["max_abs_smd_before"] > 0.5
    assert d["max_abs_smd_after"] == d["match_max_abs_smd"] < 0.1
    assert 0.5 < d["match_variance_ratio_furthest"] < 2  # variance ratios in [0.5, 2]
    assert result.diagnostics["iptw_max_abs_smd"] < 0.1
    assert result.diagnostics["match_max_abs_smd"] < 0.1


def test_rmst_difference_for_time_to_event():
    df, _ = confounded(kind="time_to_event")
    result = EffectEstimator(
        "t", ["x", "segment"], duration="duration", event="event", horizon=30
    ).fit(df)
    for method in ("naive", "match", "iptw"):
        rmst = result.methods[method]["rmst_difference"]
        assert rmst["estimate"] > 0  # the treatment prevents events: more time retained


def test_spline_propensity_follows_uptake_that_reacts_to_a_fall():
    """Uptake that starts only once x is a fall (a hinge) is not linear in x: the linear
    propensity leaves confounding in the weights, the spline one removes it."""
    rng = np.random.default_rng(4)
    n = 40_000
    x = rng.uniform(-3, 3, size=n)
    fall = np.maximum(x, 0)
    t = rng.random(n) < expit(-2 + 1.5 * fall)
    df = pd.DataFrame({"x": x, "t": t, "y": 2 * fall**2 + 1.0 * t + rng.normal(size=n)})
    estimates = {}
    for model in ("linear", "spline"):
        r = EffectEstimator("t", ["x"], outcome="y", methods=("iptw",), propensity=model, seed=2)
        estimates[model] = r.fit(df).methods["iptw"]["mean_difference"]
    spline, linear = estimates["spline"], estimates["linear"]
    assert abs(spline["estimate"] - 1.0) <= 3 * spline["se"], spline
    assert abs(linear["estimate"] - 1.0) > 10 * linear["se"], linear


def test_survival_curves_per_trial_undo_censoring_that_depends_on_the_trial():
    """Stacked trials: the early trial churns more and is followed for the whole horizon, the
    late one churns less and is mostly censored early. One pooled Kaplan-Meier curve lets the
    early trial dominate late follow-up and overstates the risk; curves per trial, averaged
    with the treated's trial shares, give the true risk (no effect here)."""
    rng = np.random.default_rng(5)
    n = 40_000
    late = rng.random(n) < 0.5
    rate = np.where(late, 0.002, 0.01)
    time = rng.exponential(1 / rate)
    censor = np.where(late & (rng.random(n) < 0.8), rng.uniform(0, 100, size=n), 400.0)
    df = pd.DataFrame(
        {
            "trial": np.where(late, "late", "early"),
            "t": rng.random(n) < 0.5,
            "x": rng.normal(size=n),
            "duration": np.minimum(time, censor),
            "event": time <= censor,
        }
    )
    horizon = 365
    truth = 1 - (0.5 * np.exp(-0.01 * horizon) + 0.5 * np.exp(-0.002 * horizon))
    risks = {}
    for strata in (None, "trial"):
        r = EffectEstimator(
            "t",
            ["x"],
            duration="duration",
            event="event",
            horizon=horizon,
            methods=("naive",),
            km_strata=strata,
            seed=1,
        ).fit(df)
        rd = r.methods["naive"]["risk_difference"]
        risks[strata] = rd["risk_control"], rd["se"]
    (per_trial, se), (pooled, _) = risks["trial"], risks[None]
    assert abs(per_trial - truth) <= 3 * se
    assert pooled - truth > 10 * se


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_agrees_with_the_rossi_randomised_trial(estimand):
    """Financial aid was randomised in the Rossi recidivism study: every adjusted estimate of
    re-arrest within a year must agree with the trial's plain comparison."""
    rossi = load_rossi()
    methods = ("naive", "match", "iptw", "dr") if estimand == "ATT" else ("naive", "iptw", "dr")
    result = EffectEstimator(
        "fin",
        ["age", "race", "wexp", "mar", "paro", "prio"],
        duration="week",
        event="arrest",
        horizon=52,
        estimand=estimand,
        methods=methods,
        n_boot=400,
        seed=3,
    ).fit(rossi)
    trial = result.methods["naive"]["risk_difference"]
    assert trial["estimate"] == pytest.approx(-0.0833, abs=0.001)  # 22.2% vs 30.6% re-arrested
    for method in methods[1:]:
        est = result.methods[method]["risk_difference"]
        assert abs(est["estimate"] - trial["estimate"]) < 0.5 * trial["se"], method
        assert est["ci_low"] < trial["estimate"] < est["ci_high"]
    assert result.diagnostics["propensity_auc"] < 0.65  # randomised: little to predict


def test_result_serialises_to_the_documented_json():
    df, _ = confounded(n=3_000)
    payload = json.loads(EffectEstimator("t", ["x", "segment"], outcome="y").fit(df).to_json())
    assert payload["schema_version"] == 1
    assert set(payload) >= {
        "treatment",
        "estimand",
        "outcome_type",
        "n",
        "methods",
        "diagnostics",
        "warnings",
    }
    assert set(payload["methods"]) == {"naive", "match", "iptw", "dr"}
    for scales in payload["methods"].values():
        for v in scales.values():
            assert set(v) >= {"estimate", "se", "ci_low", "ci_high"}
    assert set(payload["diagnostics"]) >= {
        "max_abs_smd_before",
        "max_abs_smd_after",
        "variance_ratio_furthest_before",
        "propensity_auc",
        "overlap",
        "ess",
        "matched_fraction",
    }
    assert payload["verdict"]["level"] in ("reliable", "caution", "unreliable")
    assert payload["e_value"]["point"] > 1


def test_no_treated_or_no_controls_is_refused():
    df, _ = confounded(n=500)
    for value in (True, False):
        with pytest.raises(ValueError, match="needs treated and untreated rows"):
            EffectEstimator("t", ["x"], outcome="y").fit(df.assign(t=value))


def test_no_overlap_is_reported_instead_of_a_number():
    df, _ = confounded(n=2_000)
    df["t"] = df["x"] > 0  # perfectly separated by x
    with pytest.warns(EstimationWarning, match="no overlap"):
        result = EffectEstimator("t", ["x"], outcome="y").fit(df)
    assert set(result.methods) == {"naive"}
    assert any("no overlap" in w for w in result.warnings)
    assert result.to_dict()["verdict"]["level"] == "unreliable"


def test_constant_covariates_are_left_out_with_a_warning():
    df, _ = confounded(n=3_000)
    with pytest.warns(EstimationWarning, match="constant covariates left out: \\['k'\\]"):
        result = EffectEstimator("t", ["x", "k"], outcome="y").fit(df.assign(k=1.0))
    assert "iptw" in result.methods


def test_missing_covariates_are_counted_or_refused():
    df, _ = confounded(n=3_000)
    df.loc[[3, 10, 11], "x"] = np.nan
    with pytest.warns(EstimationWarning, match="dropped 3 rows with missing covariates"):
        result = EffectEstimator("t", ["x"], outcome="y").fit(df)
    assert sum(result.n.values()) == 2_997
    with pytest.raises(
        ValueError, match=re.escape("3 rows have missing covariates (e.g. rows 4, 11, 12")
    ):
        EffectEstimator("t", ["x"], outcome="y", missing="error").fit(df)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="either outcome"):
        EffectEstimator("t", ["x"])
    with pytest.raises(ValueError, match="needs event= and horizon="):
        EffectEstimator("t", ["x"], duration="d")
    with pytest.raises(ValueError, match="unknown method"):
        EffectEstimator("t", ["x"], outcome="y", methods=("magic",))
    with pytest.raises(ValueError, match="propensity must be one of"):
        EffectEstimator("t", ["x"], outcome="y", propensity="forest")
    df, _ = confounded(n=500)
    with pytest.raises(ValueError, match="match estimates the ATT"):
        EffectEstimator("t", ["x"], outcome="y", estimand="ATE").fit(df)
    with pytest.raises(ValueError, match="columns not in the table"):
        EffectEstimator("t", ["nope"], outcome="y").fit(df)


def test_command_line_on_any_table_and_on_cs_data(tmp_path, small_dir, capsys):
    from churn_causal.cli import main

    table = tmp_path / "rossi.csv"
    load_rossi().to_csv(table, index=False)
    out = tmp_path / "rossi.json"
    argv = [
        "estimate",
        "--table",
        str(table),
        "--treatment",
        "fin",
        "--covariates",
        "age,prio,wexp",
        "--duration",
        "week",
        "--event",
        "arrest",
        "--horizon",
        "52",
        "--methods",
        "naive,iptw",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    rossi = json.loads(out.read_text())
    assert rossi["methods"]["iptw"]["risk_difference"]["estimate"] < 0
    assert rossi["diagnostics"]["propensity_model"] == "linear"
    assert main([*argv, "--propensity", "spline", "--strata", "race"]) == 0
    assert json.loads(out.read_text())["diagnostics"]["survival_strata"] == "race"
    assert main([*argv, "--propensity", "forest"]) == 2
    assert "propensity must be one of" in capsys.readouterr().err
    cs = tmp_path / "seminar.json"
    argv = [
        "estimate",
        "--data",
        small_dir,
        "--touchpoint",
        "seminar",
        "--methods",
        "naive,match",
        "--n-boot",
        "50",
        "--out",
        str(cs),
    ]
    assert main(argv) == 0
    result = json.loads(cs.read_text())
    assert result["outcome_type"] == "time_to_event"
    assert set(result["methods"]["match"]) == {"risk_difference", "rmst_difference", "hazard_ratio"}
    assert result["methods"]["match"]["hazard_ratio"]["estimate"] > 0
    assert result["diagnostics"]["propensity_model"] == "spline"
    assert result["diagnostics"]["survival_strata"] == "trial"
    assert main(["estimate", "--table", str(table), "--treatment", "fin", "--out", "x"]) == 2
    assert "--covariates" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_estimates_per_stratum():
    df, _ = confounded(n=12_000)
    df.loc[df["segment"] == "c", "t"] = False  # no treated in segment c
    result = (
        EffectEstimator(
            "t", ["x", "segment"], outcome="y", by="segment", methods=("naive", "iptw"), n_boot=50
        )
        .fit(df)
        .to_dict()
    )
    assert set(result["by"]) == {"a", "b", "c"}
    assert "needs treated and untreated" in result["by"]["c"]["error"]
    a = result["by"]["a"]
    assert a["n"]["treated"] + a["n"]["control"] == (df["segment"] == "a").sum()
    assert a["methods"]["iptw"]["risk_difference"]["se"] > 0
    assert a["verdict"]["level"] in ("reliable", "caution", "unreliable")


def test_econml_effect_per_segment_finds_where_it_helps():
    rng = np.random.default_rng(5)
    n = 30_000
    x, segment = rng.normal(size=n), rng.choice(["a", "b", "c"], n)
    t = rng.random(n) < expit(0.8 * x)
    effect = pd.Series(segment).map({"a": 0.0, "b": -0.1, "c": -0.2}).to_numpy()
    p0 = expit(-1 - x)
    p1 = np.clip(p0 + effect, 0.001, 1)
    df = pd.DataFrame(
        {"x": x, "segment": segment, "t": t, "y": (rng.random(n) < np.where(t, p1, p0)).astype(int)}
    )
    result = (
        EffectEstimator(
            "t", ["x", "segment"], outcome="y", by="segment", methods=("naive", "iptw"), n_boot=50
        )
        .fit(df)
        .to_dict()
    )
    cate = result["cate"]["by"]
    for level in "abc":
        truth = (p1 - p0)[segment == level].mean()
        half = (cate[level]["ci_high"] - cate[level]["ci_low"]) / 2
        assert abs(cate[level]["estimate"] - truth) <= 3 * half / 1.96, level
    assert cate["c"]["estimate"] < cate["b"]["estimate"] < cate["a"]["estimate"]
