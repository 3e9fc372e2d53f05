import json

import pytest

from churn_causal.cli import main


def test_simulate_writes_tables_and_truth(tmp_path, capsys):
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


def test_impossible_design_exits_2(small_dir, tmp_path, capsys):
    argv = ["report", "--data", small_dir, "--out", str(tmp_path), "--first-trial", "0"]
    assert main(argv) == 2
    assert "trial design" in capsys.readouterr().err
