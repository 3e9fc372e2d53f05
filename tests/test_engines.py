"""The cohort and the person-weeks written once and run on three engines: in memory, on DuckDB
and on Spark (local mode), equal row for row, whether the engine is handed the tables or reads
the files where they lie; and a report run whose cohorts and person-weeks Spark builds."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from churn_causal.causal.msm import IncrementalTouchEffect
from churn_causal.cli import main
from churn_causal.data.load import load
from churn_causal.data.snapshot import read_snapshot, write_snapshot
from churn_causal.design.cohort import build_cohort
from churn_causal.design.engines import ENGINES, check_engine, connect
from churn_causal.design.person_weeks import person_weeks
from churn_causal.design.portable import PortableCohort
from churn_causal.design.portable_weeks import PortablePersonWeeks
from churn_causal.design.trials import resolve_design
from churn_causal.report.config import ConfigError, RunConfig

DOUBLED = 40  # readings exported twice, the second time with another score


@pytest.fixture(scope="module")
def small_data(small_dir):
    return load(small_dir)


@pytest.fixture(scope="module")
def shuffled(small_dir, tmp_path_factory):
    """The small world's files in another row order, with some readings exported twice (the
    second copy later the same day and 7 points lower) and two months of 300 customers'
    readings missing (weeks without a recent score): what ``load`` reads, and the snapshot it
    writes, which the engines read in place."""
    folder = tmp_path_factory.mktemp("shuffled")
    rng = np.random.default_rng(4)
    for name in ("customers", "health", "touches"):
        frame = pd.read_parquet(f"{small_dir}/{name}.parquet")
        frame = frame.iloc[rng.permutation(len(frame))]
        if name == "health":
            gap = frame["date"].min() + pd.to_timedelta([300, 360], unit="D")
            ids = frame["customer_id"].astype(str)
            gone = frame["date"].between(*gap) & ids.isin(sorted(set(ids))[:300])
            frame = frame[~gone]
            again = frame.iloc[:DOUBLED].assign(
                score=lambda d: d["score"] - 7, date=lambda d: d["date"] + pd.Timedelta(hours=17)
            )
            frame = pd.concat([frame, again])
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    data = load(folder)
    snapshot = read_snapshot(write_snapshot(data, folder / "snapshot"))
    assert snapshot.location == folder / "snapshot"
    return data, snapshot


def test_load_orders_the_tables_by_their_keys(small_data, shuffled):
    """Customers by id and one reading per customer and day, the last exported: the order
    every engine can rebuild from the keys alone."""
    data, _ = shuffled
    assert data.customers["customer_id"].astype(str).is_monotonic_increasing
    assert data.customers.index.equals(pd.RangeIndex(len(data.customers)))
    assert not data.health.duplicated(["customer_id", "date"]).any()
    keys = ["customer_id", "date"]
    merged = small_data.health.merge(data.health, on=keys, suffixes=("", "_loaded"))
    assert len(merged) == len(data.health)  # every reading loaded is one of the world's
    lowered = (merged["score"] - merged["score_loaded"]).round(6)
    assert (lowered == 7).sum() == DOUBLED and set(lowered) == {0, 7}


def assert_same_cohort(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """The same rows in the same order, the same columns and values to the last bit (the
    90-day trend from exact sums, whatever order an engine adds them in), the same counts."""
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=True)
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


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize(
    ("touchpoint", "controls"), [("seminar", None), ("cs_touch", 10)], ids=["monthly", "weekly"]
)
def test_every_engine_reads_the_files_where_they_lie(shuffled, engine, touchpoint, controls):
    """From the run's snapshot (Parquet, in key order), not from this process: the rows of the
    in-memory build on the loaded tables, with the same risk-set draws."""
    data, snapshot = shuffled
    design = resolve_design(touchpoint)
    expected = build_cohort(data, touchpoint, design, None, controls, 3)
    got = PortableCohort(connect(engine), touchpoint, design).build(snapshot, controls, 3)
    assert_same_cohort(expected, got)
    assert_same_cohort(expected, PortableCohort(connect(engine), touchpoint, design).build(
        str(snapshot.location), controls, 3
    ))  # fmt: skip


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize(
    ("touchpoint", "weeks", "where"),
    [("seminar", None, "handed"), ("cs_touch", 53, "in place")],
    ids=["all-weeks-handed", "first-year-in-place"],
)
def test_every_engine_builds_the_in_memory_person_weeks_row_for_row(
    shuffled, engine, touchpoint, weeks, where
):
    """The person-weeks of programme value, scenarios and the MSM: the same weeks, scores at
    the week's start and eight weeks before, touched weeks, churn and exposure bins."""
    data, snapshot = shuffled
    expected = person_weeks(data, touchpoint, weeks)
    source = snapshot if where == "in place" else data
    got = PortablePersonWeeks(connect(engine), touchpoint).build(source, weeks)
    assert expected.rows["touched"].sum() > 500 and expected.rows["score"].isna().any()
    assert expected.rows["exposure"].nunique() == 5 and expected.rows["churned"].sum() > 50
    pd.testing.assert_frame_equal(got.rows, expected.rows)
    np.testing.assert_array_equal(got.observed_weeks, expected.observed_weeks)
    np.testing.assert_array_equal(got.from_start, expected.from_start)
    assert got.events_per_week == expected.events_per_week
    assert got.data_end_day == expected.data_end_day


def test_the_time_varying_effect_takes_its_person_weeks_from_the_engine(small_data):
    """The MSM fitted on DuckDB's person-weeks is the in-memory one, number for number."""
    fits = {
        engine: IncrementalTouchEffect("cs_touch", n_boot=5, engine=engine).fit(small_data)
        for engine in ("memory", "duckdb")
    }
    assert fits["duckdb"].result_ == fits["memory"].result_
    assert fits["memory"].result_["diagnostics"]["person_weeks"] > 10_000


def test_data_out_of_key_order_is_handed_over_not_read_in_place(shuffled):
    """Tables changed after loading (customers in another order) no longer match their files'
    numbering: the engine is handed them, and keeps the in-memory build's rows."""
    _, snapshot = shuffled
    reordered = dataclasses.replace(snapshot, customers=snapshot.customers.iloc[::-1])
    assert reordered.location == snapshot.location
    design = resolve_design("cs_touch")
    expected = build_cohort(reordered, "cs_touch", design, None, 10, 3)
    got = PortableCohort(connect("duckdb"), "cs_touch", design).build(reordered, 10, 3)
    assert_same_cohort(expected, got)
    assert expected["customer_id"].iloc[0] > expected["customer_id"].iloc[-1]


def test_an_engine_is_named_or_refused():
    assert [check_engine(e) for e in ENGINES] == ["memory", "duckdb", "spark"]
    with pytest.raises(ValueError, match="engine must be one of memory, duckdb, spark"):
        check_engine("polars")
    assert RunConfig.from_dict({"data": {"engine": "spark"}}).engine == "spark"
    with pytest.raises(ConfigError, match="engine must be one of"):
        RunConfig.from_dict({"data": {"engine": "hive"}})


def test_a_report_run_on_spark_gives_the_same_numbers(small_dir, tmp_path):
    """``churn-causal report --engine spark`` builds each touchpoint's cohort and person-weeks
    on Spark, from the run's snapshot; its results are the default run's (the rows being the
    same, so is everything after)."""
    results = {}
    for engine in ("memory", "spark"):
        out = tmp_path / engine
        options = ["--touchpoints", "seminar", "--n-boot", "20", "--workers", "1"]
        code = main(["report", "--data", small_dir, "--out", str(out), *options,
                     "--engine", engine, "--run-id", engine])  # fmt: skip
        assert code == 0
        manifest = json.loads((out / engine / "manifest.json").read_text())
        assert manifest["parameters"]["engine"] == engine
        results[engine] = json.loads((out / engine / "result-seminar.json").read_text())
    # the programme's value and scenarios, from person-weeks Spark built, to the last digit
    assert results["spark"]["programme"] == results["memory"]["programme"]
    assert "error" not in results["memory"]["programme"]
    assert results["memory"]["programme"]["programme"]["all"]["group"] == "all"
    memory, spark = results["memory"]["result"], results["spark"]["result"]
    assert spark["n"] == memory["n"]
    for method, scales in memory["methods"].items():
        for scale, value in scales.items():
            got = spark["methods"][method][scale]
            assert np.isclose(got["estimate"], value["estimate"], rtol=1e-6), (method, scale)
