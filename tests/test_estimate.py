"""The estimation API on data with a known answer: synthetic worlds and a randomised trial."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from scipy.special import expit

from churn_causal.causal.estimate import (
    AnalysisError,
    EffectEstimator,
    EffectResult,
    EstimationWarning,
)

ADJUSTED = ("match", "iptw", "dr")


def confounded(n: int = 20_000, seed: int = 0, kind: str = "binary") -> tuple[pd.DataFrame, float]:
    """Healthy units take the treatment more and churn less; returns the table and its true
    ATT. Both worlds use the same random numbers (as the simulator does), so the truth is that
    of this table: ``df.attrs["truth"]`` also has the ATE and, for time to event, the RMST
    difference of the treated."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    segment = rng.choice(["a", "b", "c"], size=n)
    shift = pd.Series(segment).map({"a": 0.0, "b": 0.4, "c": -0.4}).to_numpy()
    t = rng.random(n) < expit(-0.5 + 1.2 * x + shift)
    df = pd.DataFrame({"x": x, "segment": segment, "t": t})
    if kind == "binary":
        u = rng.random(n)
        y0, y1 = u < expit(-1 - x + shift), u < expit(-1 - x + shift - 0.5)
        df["y"] = np.where(t, y1, y0)
        effect = y1.astype(float) - y0
    elif kind == "continuous":
        df["y"] = 2 * x + shift + 1.5 * t + rng.normal(size=n)
        effect = np.full(n, 1.5)
    else:
        e = rng.standard_exponential(n)
        rate0 = np.exp(-3 - 0.8 * x + shift)
        time0, time1 = e / rate0, e / (rate0 * np.exp(-0.5))
        time = np.where(t, time1, time0)
        censor = rng.uniform(0, 100, size=n)
        df["duration"], df["event"] = np.minimum(time, censor), time <= censor
        horizon = 30
        # Risk with minus without: negative, the treatment prevents.
        effect = (time1 <= horizon).astype(float) - (time0 <= horizon)
        rmst = np.minimum(time1, horizon) - np.minimum(time0, horizon)
        df.attrs["truth"] = {"rmst_att": float(rmst[t].mean())}
    df.attrs["truth"] = {
        **df.attrs.get("truth", {}),
        "att": float(effect[t].mean()),
        "ate": float(effect.mean()),
    }
    return df, df.attrs["truth"]["att"]


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
    """Days retained up to the horizon: the adjusted estimates recover the true RMST
    difference of the treated that the naive contrast misses."""
    df, _ = confounded(kind="time_to_event")
    truth = df.attrs["truth"]["rmst_att"]
    result = EffectEstimator(
        "t", ["x", "segment"], duration="duration", event="event", horizon=30, seed=1
    ).fit(df)
    naive = result.methods["naive"]["rmst_difference"]
    assert abs(naive["estimate"] - truth) > 10 * naive["se"]
    for method in ("match", "iptw"):
        est = result.methods[method]["rmst_difference"]
        assert abs(est["estimate"] - truth) <= 3 * est["se"], (method, est, truth)


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


def test_rows_without_a_survival_stratum_make_one_of_their_own():
    """A missing trial is a stratum like any other: the same estimate as naming it."""
    rng = np.random.default_rng(8)
    n = 4_000
    time = rng.exponential(200, n)
    df = pd.DataFrame(
        {
            "trial": np.where(rng.random(n) < 0.05, None, rng.choice(["a", "b", "c"], n)),
            "t": rng.random(n) < 0.4,
            "x": rng.normal(size=n),
            "duration": np.minimum(time, 400.0),
            "event": time <= 400,
        }
    )
    fits = [
        EffectEstimator(
            "t",
            ["x"],
            duration="duration",
            event="event",
            horizon=365,
            km_strata="trial",
            methods=("naive", "iptw"),
            n_boot=50,
            seed=1,
        )
        .fit(table)
        .methods
        for table in (df, df.fillna({"trial": "unknown"}))
    ]
    for method in ("naive", "iptw"):
        missing, named = (f[method]["risk_difference"] for f in fits)
        assert missing["estimate"] == pytest.approx(named["estimate"], rel=1e-9)
        assert missing["risk_control"] == pytest.approx(named["risk_control"], rel=1e-9)


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
    """The JSON has the documented keys, reads back into the same result, and on a clean
    design (good overlap, a large effect) its verdict is reliable for reasons that say so."""
    df, _ = confounded(n=8_000)
    result = EffectEstimator("t", ["x", "segment"], outcome="y", seed=2).fit(df)
    payload = json.loads(result.to_json())
    assert payload["schema_version"] == 1
    assert set(payload) >= {
        "treatment",
        "estimand",
        "outcome_type",
        "outcome_label",
        "design",
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
        "matching",
    }
    assert payload["diagnostics"]["matching"]["variance"].startswith("matched-set bootstrap")
    assert EffectResult.from_dict(payload).to_dict() == payload
    assert payload["verdict"]["level"] == "reliable", payload["verdict"]
    assert payload["verdict"]["reasons"][0].startswith("largest covariate imbalance")
    assert payload["e_value"]["via"] == "risk ratio" and payload["e_value"]["ci_limit"] > 1.25


def test_the_verdict_calls_for_caution_when_many_treated_find_no_match():
    """Four in ten rows are treated: matching three controls to each without replacement
    runs out of close controls, and the verdict says so."""
    df, _ = confounded(n=8_000)
    result = EffectEstimator("t", ["x", "segment"], outcome="y", ratio=3, replace=False, seed=2)
    payload = result.fit(df).to_dict()
    assert payload["diagnostics"]["matched_fraction"] < 0.9
    assert payload["verdict"]["level"] == "caution"
    assert any("found no match" in r for r in payload["verdict"]["reasons"])


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
    with pytest.raises(AnalysisError, match="nope: no such column"):
        EffectEstimator("t", ["nope"], outcome="y").fit(df)
    with pytest.raises(ValueError, match="ratio must be a whole number"):
        EffectEstimator("t", ["x"], outcome="y", ratio=0)


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
    """Each stratum's estimate recovers that stratum's own truth (the effect on the risk
    differs by segment), and a stratum without treated rows says why it has none."""
    df, _ = confounded(n=30_000, seed=2, kind="binary")
    rng = np.random.default_rng(2)  # confounded()'s draws, to know each row's own effect
    x, segment = rng.normal(size=len(df)), rng.choice(["a", "b", "c"], size=len(df))
    shift = pd.Series(segment).map({"a": 0.0, "b": 0.4, "c": -0.4}).to_numpy()
    rng.random(len(df))
    u = rng.random(len(df))
    effect = (u < expit(-1.5 - x + shift)).astype(float) - (u < expit(-1 - x + shift))
    df.loc[df["segment"] == "c", "t"] = False  # no treated in segment c
    result = (
        EffectEstimator("t", ["x", "segment"], outcome="y", by="segment", n_boot=100, seed=4)
        .fit(df)
        .to_dict()
    )
    assert set(result["by"]) == {"a", "b", "c"}
    assert "needs treated and untreated" in result["by"]["c"]["error"]
    for level in ("a", "b"):
        part = result["by"][level]
        rows = (df["segment"] == level).to_numpy()
        assert part["n"]["treated"] + part["n"]["control"] == rows.sum()
        truth = effect[rows & df["t"].to_numpy()].mean()
        for method in ADJUSTED:
            est = part["methods"][method]["risk_difference"]
            assert abs(est["estimate"] - truth) <= 3 * est["se"], (level, method, est, truth)
        naive = part["methods"]["naive"]["risk_difference"]
        assert abs(naive["estimate"] - truth) > 5 * naive["se"]
        assert part["verdict"]["level"] == "reliable", part["verdict"]


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


@pytest.mark.parametrize(
    ("kind", "estimand"), [("binary", "ATT"), ("continuous", "ATT"), ("binary", "ATE")]
)
def test_binary_and_continuous_outcomes_through_the_command_line(tmp_path, capsys, kind, estimand):
    """A table with a known answer through `estimate --table --outcome`: the JSON reads back
    into the same result, every adjusted estimate lies within two standard errors of the
    truth where the naive contrast is far off, and the verdict, E-value and figures exist.
    (Two SE for three methods at once: an unbiased estimator misses on about one data set in
    ten, so the data set is fixed; seeds 1-10 give 8 of 10 within.)"""
    from churn_causal.cli import main

    df, _ = confounded(kind=kind, seed=1)
    truth = df.attrs["truth"][estimand.lower()]
    table = tmp_path / "table.csv"
    df.assign(y=df["y"].astype(float)).to_csv(table, index=False)
    out, figures = tmp_path / "result.json", tmp_path / "figures"
    argv = ["estimate", "--table", str(table), "--treatment", "t", "--covariates", "x,segment"]
    argv += ["--outcome", "y", "--estimand", estimand, "--out", str(out)]
    assert main([*argv, "--figures", str(figures), "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert EffectResult.from_dict(payload).to_dict() == payload
    assert payload["outcome_type"] == kind and payload["design"] is None
    scale = "risk_difference" if kind == "binary" else "mean_difference"
    naive = payload["methods"]["naive"][scale]
    assert abs(naive["estimate"] - truth) > 10 * naive["se"]
    adjusted = ("match", "iptw", "dr") if estimand == "ATT" else ("iptw", "dr")
    assert set(payload["methods"]) == {"naive", *adjusted}
    for method in adjusted:
        est = payload["methods"][method][scale]
        assert abs(est["estimate"] - truth) <= 2 * est["se"], (method, est, truth)
    assert payload["verdict"]["level"] == "reliable", payload["verdict"]
    assert payload["e_value"]["point"] > payload["e_value"]["ci_limit"] > 1
    expected_via = "risk ratio" if kind == "binary" else "standardised mean difference"
    assert payload["e_value"]["via"].startswith(expected_via)
    assert sorted(p.name for p in figures.iterdir()) == ["balance.png", "forest.png", "overlap.png"]
    assert scale in printed and "verdict: reliable" in printed


def test_cluster_option_resamples_whole_clusters(tmp_path):
    """Every row twice, clustered on its unit: the standard errors are those of the table
    once; without the cluster column they shrink by about the square root of two."""
    from churn_causal.cli import main

    df, _ = confounded(n=6_000, kind="continuous", seed=5)
    df["unit"] = np.arange(len(df))
    twice = tmp_path / "twice.csv"
    pd.concat([df, df]).to_csv(twice, index=False)
    once = tmp_path / "once.csv"
    df.to_csv(once, index=False)

    def se(table, *extra):
        out = tmp_path / "r.json"
        argv = ["estimate", "--table", str(table), "--treatment", "t", "--covariates", "x"]
        argv += ["--outcome", "y", "--methods", "naive,iptw", "--out", str(out), *extra]
        assert main(argv) == 0
        return json.loads(out.read_text())["methods"]["naive"]["mean_difference"]["se"]

    base = se(once)
    assert se(twice, "--cluster", "unit") == pytest.approx(base, rel=0.15)
    assert se(twice) == pytest.approx(base / np.sqrt(2), rel=0.15)


def test_an_arm_with_one_outcome_is_estimated_with_a_note():
    """No treated row has the event: the effect is still defined (every method gives minus
    the controls' adjusted risk); the doubly robust outcome model of that arm is a constant."""
    df, _ = confounded(n=4_000)
    df.loc[df["t"], "y"] = False
    with pytest.warns(EstimationWarning, match="every treated row has the same outcome"):
        result = EffectEstimator("t", ["x"], outcome="y", seed=1).fit(df)
    for method in ADJUSTED:
        rd = result.methods[method]["risk_difference"]
        assert rd["estimate"] == pytest.approx(-rd["risk_control"], abs=1e-9)


def test_the_spline_basis_is_scikit_learns():
    from sklearn.preprocessing import SplineTransformer

    from churn_causal.causal.propensity import cubic_bsplines

    rng = np.random.default_rng(8)
    for x in (rng.normal(size=(5_000, 4)), rng.integers(0, 9, size=(3_000, 2)).astype(float)):
        expected = SplineTransformer(n_knots=5, degree=3, include_bias=False).fit_transform(x)
        assert np.abs(cubic_bsplines(x, 5) - expected).max() < 1e-12


def test_sampling_weights_carry_through_every_method():
    """Untreated rows sampled at one in four and weighted by four: every method estimates the
    full table's ATT (within 3 SE of the truth), the naive contrast included."""
    df, truth = confounded(n=40_000, seed=6)
    rng = np.random.default_rng(1)
    keep = df["t"].to_numpy() | (rng.random(len(df)) < 0.25)
    sampled = df[keep].assign(w=np.where(df["t"], 1.0, 4.0)[keep])
    full = EffectEstimator("t", ["x", "segment"], outcome="y", seed=1).fit(df)
    weighted = EffectEstimator("t", ["x", "segment"], outcome="y", weight="w", seed=1).fit(sampled)
    for method in ADJUSTED:
        est = weighted.methods[method]["risk_difference"]
        assert abs(est["estimate"] - truth) <= 3 * est["se"], (method, est, truth)
    naive_full = full.methods["naive"]["risk_difference"]["estimate"]
    naive = weighted.methods["naive"]["risk_difference"]
    assert abs(naive["estimate"] - naive_full) <= 3 * naive["se"]
    # and the ATE: among everybody, the sampled untreated standing for four each
    ate = df.attrs["truth"]["ate"]
    est = EffectEstimator(
        "t",
        ["x", "segment"],
        outcome="y",
        weight="w",
        estimand="ATE",
        methods=("iptw", "dr"),
        seed=1,
    ).fit(sampled)
    for method in ("iptw", "dr"):
        rd = est.methods[method]["risk_difference"]
        assert abs(rd["estimate"] - ate) <= 3 * rd["se"], (method, rd, ate)
