"""The cohort written once and run on three engines: in memory, on DuckDB and on Spark (local
mode), equal row for row; and a report run whose cohorts Spark builds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churn_causal.cli import main
from churn_causal.data.load import load
from churn_causal.design.cohort import build_cohort
from churn_causal.design.portable import ENGINES, PortableCohort, check_engine, connect
from churn_causal.design.trials import resolve_design
from churn_causal.report.config import ConfigError, RunConfig


@pytest.fixture(scope="module")
def small_data(small_dir):
    return load(small_dir)


def assert_same_cohort(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """The same rows in the same order, the same columns and values (floats to the 9th
    digit: the engines sum the 90-day trend in another order), and the same counts."""
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-9, atol=1e-9)
    for key in ("eligible", "churned_in_window", "sampling", "touchpoints", "design"):
        assert got.attrs.get(key) == expected.attrs.get(key), key


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize(
    ("touchpoint", "controls"), [("seminar", None), ("cs_touch", 10)], ids=["monthly", "weekly"]
)
def test_every_engine_builds_the_in_memory_cohort_row_for_row(
    small_data, engine, touchpoint, controls
):
    """Monthly trials whole, and weekly ones risk-set sampled (the same rows kept, with the
    same weights): eligibility, treatment, health as of the window's start, its change and
    trend, the touch history, the outcome and its censoring."""
    design = resolve_design(touchpoint)
    expected = build_cohort(small_data, touchpoint, design, None, controls, 3)
    got = PortableCohort(connect(engine), touchpoint, design).build(small_data, controls, 3)
    assert len(expected) > 1000 and expected["treated"].sum() > 50
    assert expected["score_slope_90d"].ne(0).mean() > 0.5  # the trend is exercised
    assert_same_cohort(expected, got)


def test_an_engine_is_named_or_refused():
    assert [check_engine(e) for e in ENGINES] == ["memory", "duckdb", "spark"]
    with pytest.raises(ValueError, match="engine must be one of memory, duckdb, spark"):
        check_engine("polars")
    assert RunConfig.from_dict({"data": {"engine": "spark"}}).engine == "spark"
    with pytest.raises(ConfigError, match="engine must be one of"):
        RunConfig.from_dict({"data": {"engine": "hive"}})


def test_a_report_run_on_spark_gives_the_same_numbers(small_dir, tmp_path):
    """``churn-causal report --engine spark`` builds each touchpoint's cohort on Spark; its
    results are the default run's (the cohorts being the same, so is everything after)."""
    results = {}
    for engine in ("memory", "spark"):
        out = tmp_path / engine
        options = ["--touchpoints", "seminar", "--n-boot", "20", "--workers", "1"]
        code = main(["report", "--data", small_dir, "--out", str(out), *options,
                     "--engine", engine, "--run-id", engine])  # fmt: skip
        assert code == 0
        manifest = json.loads((out / engine / "manifest.json").read_text())
        assert manifest["parameters"]["engine"] == engine
        record = json.loads((out / engine / "result-seminar.json").read_text())
        results[engine] = record["result"]
    memory, spark = results["memory"], results["spark"]
    assert spark["n"] == memory["n"]
    for method, scales in memory["methods"].items():
        for scale, value in scales.items():
            got = spark["methods"][method][scale]
            assert np.isclose(got["estimate"], value["estimate"], rtol=1e-6), (method, scale)
