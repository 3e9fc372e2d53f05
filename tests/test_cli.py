import json

import numpy as np
import pandas as pd
import pytest

from churn_causal.cli import main


def test_simulate_writes_tables_and_truth(tmp_path, capsys, caplog):
    out = tmp_path / "sim"
    assert (
        main(
            [
                "simulate",
                "--customers",
                "500",
                "--seed",
                "2",
                "--out",
                str(out),
                "--set",
                "confounder.strength=0.3",
            ]
        )
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == ["customers.parquet", "health.parquet", "touches.parquet", "truth.json"]
    truth = json.loads((out / "truth.json").read_text())
    assert truth["parameters"]["confounder"]["strength"] == 0.3
    assert "true ATT" in capsys.readouterr().out
    # Without a terminal (as here) the long steps log where they are: at least their last pass.
    said = [r.getMessage() for r in caplog.records if r.name == "churn_causal"]
    assert any(m.startswith("simulating the world's weeks: (") for m in said), said


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "--out", "x", "--set", "effects.nope=1"], "unknown simulator parameter"),
        (["simulate", "--out", "x", "--set", "strength"], "KEY=VALUE"),
        (["simulate", "--out", "x", "--customers", "0"], "at least 1"),
        (["report", "--data", "no/such/folder"], "no such folder"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_bad_thread_count_exits_2_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CHURN_CAUSAL_THREADS", "all")
    assert main(["simulate", "--out", str(tmp_path / "x"), "--customers", "50"]) == 2
    assert "CHURN_CAUSAL_THREADS='all'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_impossible_design_exits_2(small_dir, tmp_path, capsys):
    argv = ["report", "--data", small_dir, "--out", str(tmp_path), "--first-trial", "0"]
    assert main(argv) == 2
    assert "trial design" in capsys.readouterr().err


def test_estimate_on_cs_data_records_its_design_and_draws_its_figures(small_dir, tmp_path):
    out, figures = tmp_path / "seminar.json", tmp_path / "figures"
    argv = ["estimate", "--data", small_dir, "--touchpoint", "seminar", "--methods", "naive,match"]
    argv += ["--ratio", "2", "--without-replacement", "--n-boot", "30", "--out", str(out)]
    assert (
        main([*argv, "--figures", str(figures), "--trial-unit", "week", "--last-trial", "40"]) == 0
    )
    result = json.loads(out.read_text())
    assert result["design"] == {
        "first": 1,
        "last": 40,
        "window": 1,
        "horizon_days": 365,
        "unit": "week",
        "period_days": 7.0,
    }
    matching = result["diagnostics"]["matching"]
    assert (matching["ratio"], matching["replace"]) == (2, False)
    assert 1 < matching["controls_per_matched_treated"] <= 2
    assert matching["variance"].startswith("matched-set bootstrap")
    assert sorted(p.name for p in figures.iterdir()) == [
        "balance.png",
        "forest.png",
        "overlap.png",
        "survival.png",
    ]


def test_validate_methods_from_the_command_line(tmp_path, capsys):
    """A tiny grading run: its CSV holds the simulator's truth for each data set."""
    from churn_causal.sim.simulate import simulate

    out = tmp_path / "grades.csv"
    argv = ["validate-methods", "--replications", "2", "--customers", "600", "--first-seed", "7"]
    argv += ["--touchpoints", "seminar", "--methods", "naive,match", "--n-boot", "20"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "2 replications of 600 customers" in capsys.readouterr().out
    grades = pd.read_csv(out)
    assert len(grades) == 4 and set(grades["method"]) == {"naive", "match"}
    truth = simulate(600, seed=8).truth["designs"]["month"]["touchpoints"]["seminar"]
    assert grades.loc[grades["seed"] == 8, "truth"].iloc[0] == pytest.approx(
        truth["att_risk_difference"]
    )


def test_validate_dynamics_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "dynamics.csv"
    argv = ["validate-dynamics", "--replications", "1", "--customers", "1500", "--n-boot", "20"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "half_life_true_days" in printed and "1 replications of 1500 customers" in printed
    grades = pd.read_csv(out).set_index("touchpoint")
    assert set(grades.index) == {"seminar", "support", "cs_touch"}
    assert grades.loc["seminar", "half_life_true"] == 30.0
    assert grades.loc["seminar", "mechanism"] == "raises the level"


def test_bad_input_never_overwrites_an_earlier_result(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("t,x,y\n" + "".join(f"{i % 2},{i},{i % 3}\n" for i in range(40)))
    out = tmp_path / "result.json"
    out.write_text('{"earlier": true}\n')
    argv = ["estimate", "--table", str(table), "--treatment", "t", "--covariates", "x,nope"]
    assert main([*argv, "--outcome", "y", "--out", str(out)]) == 2
    assert "[missing_column]" in capsys.readouterr().err
    assert out.read_text() == '{"earlier": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json", "t.csv"]


def test_every_command_and_option_is_in_the_readme():
    """The README's command line lists every subcommand and each of its options."""
    import argparse
    from pathlib import Path

    from churn_causal.cli import parser

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Command line") : readme.index("## Input data")]
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, sub in commands.choices.items():
        if f"churn-causal {name}" not in section:
            missing.append(name)
        for action in sub._actions:
            missing += [o for o in action.option_strings if o.startswith("--") and o not in section]
    assert sorted(set(missing)) == ["--help"]


def test_the_grading_summary_compares_spread_with_standard_errors():
    from churn_causal.grading.methods import summarise

    errors = np.array([-0.02, 0.0, 0.02, 0.0])  # SD 0.0163
    truth = -0.01 + np.array([0.0, 0.01, 0.0, -0.01])  # SD 0.0082
    rows = pd.DataFrame(
        {
            "touchpoint": "seminar",
            "method": "match",
            "truth": truth,
            "estimate": truth + errors,
            "se": 0.01,
            "ci_low": truth + errors - 0.0196,
            "ci_high": truth + errors + 0.0196,
        }
    )
    s = summarise(rows).loc[("seminar", "match")]
    assert s["sd_error_over_se"] == pytest.approx(errors.std(ddof=1) / 0.01, abs=1e-3)
    assert s["sd_estimate_over_se"] == pytest.approx((truth + errors).std(ddof=1) / 0.01, abs=1e-3)
    assert s["sd_truth_over_se"] == pytest.approx(truth.std(ddof=1) / 0.01, abs=1e-3)
    assert s["coverage"] == 0.5 and s["mean_bias_pp"] == 0.0 and not s["passes"]


def test_simulate_writes_the_truth_of_a_configs_scenarios(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "programme: {follow_up_months: 6}\n"
        "scenarios: [{name: more seminars, touchpoint: seminar, delta: 2}]\n"
    )
    out = tmp_path / "sim"
    argv = ["simulate", "--customers", "300", "--seed", "3", "--out", str(out)]
    assert main([*argv, "--scenarios", str(config), "--set", "truth.scenario_worlds=1"]) == 0
    truth = json.loads((out / "truth.json").read_text())["scenarios"]
    assert set(truth["seminar"]) == {"none", "half", "more seminars"}
    mine = truth["seminar"]["more seminars"]
    assert mine["scenario"]["follow_up_weeks"] == 26 and mine["worlds"] == 1
    assert mine["changed"]["all"]["events"] > mine["natural"]["all"]["events"]


def test_whatif_prints_and_writes_the_money(small_dir, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(
        "business: {costs: {seminar: {per_event: 35}}}\n"
        "scenarios: [{name: seminars x2 in SMB, touchpoint: seminar, delta: 2, "
        "where: {tier: SMB}}]\n"
    )
    out = tmp_path / "whatif.json"
    argv = ["whatif", "--data", small_dir, "--config", str(config), "--touchpoints", "seminar"]
    assert main([*argv, "--n-boot", "20", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "seminars x2 in SMB" in printed and "net (EUR)" in printed
    result = json.loads(out.read_text())["touchpoints"]["seminar"]
    assert result["cost"] == "EUR 35 per event"
    segment = result["scenarios"]["seminars x2 in SMB"]["groups"]["segment"]
    assert segment["change"]["events"]["estimate"] > 0


def test_whatif_refuses_a_scenario_the_data_cannot_hold(small_dir, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("scenarios: [{name: s, touchpoint: webinar, delta: 2}]\n")
    assert main(["whatif", "--data", small_dir, "--config", str(config)]) == 2
    assert "touchpoint 'webinar' is not one of this run's" in capsys.readouterr().err
    config.write_text("scenarios: [{name: s, touchpoint: seminar, delta: 2, where: {region: EU}}]")
    assert main(["whatif", "--data", small_dir, "--config", str(config)]) == 2
    assert "region, not a column of the customers table" in capsys.readouterr().err


def test_validate_whatif_from_the_command_line(tmp_path, capsys, monkeypatch):
    from churn_causal.grading import whatif

    monkeypatch.setattr(whatif, "GRADED", whatif.GRADED[2:3])  # one scenario: support halved
    out = tmp_path / "whatif.csv"
    argv = ["validate-whatif", "--replications", "1", "--customers", "800", "--n-boot", "20"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "1 replications of 800 customers" in capsys.readouterr().out
    grades = pd.read_csv(out)
    assert set(grades["outcome"]) == {"churn_pp", "customer_months", "gross_profit", "events"}
    assert (grades["scenario"] == "support halved").all() and grades["truth"].notna().all()


def test_target_writes_the_policy_and_the_customer_list_apart(small_dir, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("business: {costs: {community: {per_event: 15}}}\n")
    out = tmp_path / "targeting"
    argv = ["target", "--data", small_dir, "--config", str(config), "--touchpoint", "community"]
    assert main([*argv, "--budget", "300 touches", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "300 touches a month" in printed and "gain over current practice" in printed
    policy = (out / "policy-community.json").read_text()
    listed = pd.read_csv(out / "customers-community.csv")
    ids = pd.read_parquet(f"{small_dir}/customers.parquet")["customer_id"].astype(str)
    assert set(listed["customer_id"]) <= set(ids) and listed["pick"].any()
    assert not [i for i in ids if i in policy]
    assert json.loads(policy)["touches_per_period"] == pytest.approx(300)


def test_target_refuses_what_it_cannot_do(small_dir, tmp_path, capsys):
    argv = ["target", "--data", small_dir, "--out", str(tmp_path / "t")]
    assert main([*argv, "--touchpoint", "webinar"]) == 2
    assert "--touchpoint webinar: the data has" in capsys.readouterr().err
    assert main([*argv, "--touchpoint", "community", "--budget", "120h"]) == 2
    assert "needs the touchpoint's cost in hours" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_validate_targeting_from_the_command_line(tmp_path, capsys, monkeypatch):
    from churn_causal.grading import targeting

    monkeypatch.setattr(targeting, "GRADED", ("community",))
    out = tmp_path / "targeting.csv"
    argv = ["validate-targeting", "--replications", "1", "--customers", "1500"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ratio_to_oracle" in printed and "1 replications of 1500 customers" in printed
    grades = pd.read_csv(out)
    assert list(grades["touchpoint"]) == ["community"]
    assert (grades["policy_true"] <= grades["oracle_true"] + 1e-9).all()
    assert 0 < grades["qini_ratio"].iloc[0] <= 1 + 1e-9
