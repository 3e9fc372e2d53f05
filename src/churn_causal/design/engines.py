"""The engines a design is built on, and a data set's tables on them.

``memory`` is numpy and pandas in this process (``cohort.build_cohort``, ``person_weeks``);
``duckdb`` (embedded) and ``spark`` (local mode, or a cluster by configuration) run the same
definitions written once as Ibis expressions (``portable``, ``portable_weeks``). An engine
reads the typed tables where they lie (a folder of Parquet: a run's snapshot, or a lake's
path), numbering customers by ``customer_id``; or it is handed the tables from this process,
numbered as they lie in memory. ``data.load`` sorts customers by id and keeps one reading a
day, so the two agree and every engine keeps the in-memory build's rows.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from churn_causal import parallel
from churn_causal.data.contract import CSData
from churn_causal.design.cohort import CUSTOMER_CATEGORICALS, HEALTH_COLUMNS, STALE_HEALTH_DAYS

MEMORY = "memory"
ENGINES = (MEMORY, "duckdb", "spark")
SECONDS_A_DAY = 86_400
SPARK_MEMORY = "6g"  # the local driver's heap, unless SPARK_DRIVER_MEMORY says otherwise
# DuckDB's share of the machine's memory, for a process with every core (the rest is for the
# rows it hands back to pandas; notebooks side by side share it by their cores);
# DUCKDB_MEMORY_LIMIT sets another (e.g. "8GB"). Past it DuckDB spills to its temp folder.
DUCKDB_MEMORY_SHARE = 0.25
# The columns the designs read from each table.
READ = {
    "customers": (
        "customer_id",
        "start_date",
        "churn_date",
        "seats",
        "mrr",
        *CUSTOMER_CATEGORICALS,
    ),
    "health": ("customer_id", "date", *HEALTH_COLUMNS),
    "touches": ("customer_id", "date", "touchpoint"),
}
READINGS_A_DAY = 1 << 32  # above any reading's number: orders readings by day, then number


@cache
def connect(engine: str) -> Any:
    """The Ibis backend of ``engine``, one per process: DuckDB in memory, or Spark in local
    mode on this process's share of the cores, or on the cluster ``SPARK_MASTER`` names
    (e.g. ``spark://host:7077`` or ``yarn``)."""
    if engine == "duckdb":
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        share = memory * DUCKDB_MEMORY_SHARE * parallel.threads() / (os.cpu_count() or 1)
        return ibis.duckdb.connect(
            threads=parallel.threads(),
            memory_limit=os.environ.get("DUCKDB_MEMORY_LIMIT", f"{share / 2**30:.1f}GiB"),
            temp_directory=_spill_folder(),
            preserve_insertion_order=False,  # every result is ordered by its keys
        )
    if engine == "spark":
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master(
                os.environ.get("SPARK_MASTER", f"local[{parallel.threads()}]")
            )
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # local mode runs in the driver's JVM: its heap (Spark's 1 GB default is too small
            # for 20,000 customers' health readings); SPARK_DRIVER_MEMORY sets another
            .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", SPARK_MEMORY))
            # the rows come back to this process whole: no cap on what the driver collects
            .config("spark.driver.maxResultSize", "0")
            # tables handed over from pandas go by Arrow, not row by row through Python
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        return ibis.pyspark.connect(spark)
    check_engine(engine)  # an unknown engine says which there are
    raise ValueError("the memory engine works in this process: nothing to connect to")


def _spill_folder() -> str:
    """A folder of this process's own for DuckDB to spill to (DuckDBs side by side must not
    share spill files), removed when the process ends."""
    folder = tempfile.mkdtemp(prefix="churn_causal_duckdb_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def check_engine(engine: str) -> str:
    """``engine`` if it is one this product builds designs on."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine


def day(column: ibis.Value) -> ibis.Value:
    """Whole days since the epoch of a date or timestamp."""
    return (column.cast("timestamp").epoch_seconds() // SECONDS_A_DAY).cast("int64")


def tables(con: Any, source: CSData | str | Path) -> dict[str, ibis.Table]:
    """The customers (numbered by ``row``), health readings (with ``reading``, which orders a
    day's readings) and touches of ``source`` on ``con``: read where they lie when ``source``
    is a folder of typed Parquet tables, or data that knows its folder (a run's snapshot) and
    is in key order; else handed over from this process, numbered as they lie in memory (the
    last of a day's readings wins, as in the in-memory build)."""
    folder = source if isinstance(source, str | Path) else source.location
    # numbered by id on the engine, by position here: the same only when sorted by id
    in_order = isinstance(source, str | Path) or (
        source.customers["customer_id"].astype(str).is_monotonic_increasing
    )
    if folder is not None and in_order:
        return _typed(**{name: con.read_parquet(f"{folder}/{name}.parquet") for name in READ})
    handed = {}
    for name, columns in READ.items():  # text as plain strings, which every engine takes
        frame = getattr(source, name)[list(columns)].reset_index(drop=True)
        text = frame.select_dtypes(exclude=["number", "datetime"]).columns
        handed[name] = frame.astype({c: str for c in text})
    handed["customers"]["row"] = np.arange(len(handed["customers"]))
    handed["health"]["reading"] = np.arange(len(handed["health"]))
    return _typed(**{name: ibis.memtable(frame) for name, frame in handed.items()})


def _typed(customers: ibis.Table, health: ibis.Table, touches: ibis.Table) -> dict[str, ibis.Table]:
    """The columns the designs read, in one set of types whatever their source. Customers
    handed over keep their ``row`` (their position); read from files they are numbered by
    ``customer_id``, the order ``data.load`` gives them. A day's readings are ordered by
    ``reading`` when handed over; files must hold one reading per customer and day, as a
    loaded data set and its snapshot do."""
    c, h, t = customers, health, touches
    ids = c.customer_id.cast("string")
    numbered = c.row if "row" in c.columns else ibis.row_number().over(order_by=ids)
    ordered = h.reading if "reading" in h.columns else ibis.literal(0, "int64")
    return {
        "customers": c.select(
            "start_date",
            "churn_date",
            customer_id=ids,
            row=numbered.cast("int64"),
            seats=c.seats.cast("float64"),
            mrr=c.mrr.cast("float64"),
            **{column: c[column].cast("string") for column in CUSTOMER_CATEGORICALS},
        ),
        "health": h.select(
            "date",
            customer_id=h.customer_id.cast("string"),
            reading=ordered.cast("int64"),
            **{column: h[column].cast("float64") for column in HEALTH_COLUMNS},
        ),
        "touches": t.select(
            "date", customer_id=t.customer_id.cast("string"), touchpoint=t.touchpoint.cast("string")
        ),
    }


def fetch(con: Any, expr: ibis.Table) -> pd.DataFrame:
    """The rows of ``expr`` as pandas, by Arrow, each column's buffers released as it is
    converted (about one copy of the rows at a time, not three)."""
    if con.name == "pyspark":
        # Ibis' PySpark backend makes Arrow from pandas made from Spark's rows (three copies
        # on the driver); Spark 4 hands its rows over as Arrow itself.
        con._run_pre_execute_hooks(expr)  # puts the query's in-memory tables on Spark
        table = con.raw_sql(con.compile(expr)).toArrow()
    else:
        table = con.to_pyarrow(expr)
    return table.to_pandas(self_destruct=True, split_blocks=True)


def facts(con: Any, t: dict[str, ibis.Table]) -> tuple[list[str], int]:
    """The touchpoints in the data, and the last day it covers (``CSData.data_end``: the
    latest date in any table), in days since the epoch."""
    touchpoints = con.to_pandas(t["touches"].select("touchpoint").distinct())
    c, dated = t["customers"], (("health", "date"), ("touches", "date"))
    ends = [t[name][column].max() for name, column in dated]
    ends += [c.start_date.max(), c.churn_date.max()]
    days = [con.execute(day(e)) for e in ends]  # a column of nothing but nulls: null
    return sorted(touchpoints["touchpoint"]), int(max(d for d in days if pd.notna(d)))


def tenure_days(customers: ibis.Table, health: ibis.Table) -> ibis.Table:
    """The readings of known customers at their tenure day: ``row``, ``day``, ``reading``
    and the score and pillars."""
    return _at_tenure(customers, health).select("row", "day", "reading", *HEALTH_COLUMNS)


def touch_days(customers: ibis.Table, touches: ibis.Table, touchpoints: list[str]) -> ibis.Table:
    """Each touch of ``touchpoints`` by a known customer from the contract's start on:
    ``row``, tenure ``day`` and ``touchpoint`` (earlier ones are pre-sales, left out)."""
    t = _at_tenure(customers, touches)
    return t.filter(t.day >= 0, t.touchpoint.isin(touchpoints)).select("row", "day", "touchpoint")


def _at_tenure(customers: ibis.Table, dated: ibis.Table) -> ibis.Table:
    """The rows of ``dated`` of known customers, with their ``row`` and tenure ``day``."""
    c = customers.select("customer_id", "row", start_day=day(customers.start_date))
    joined = dated.join(c, "customer_id")
    return joined.mutate(day=day(joined.date) - joined.start_day)


def as_of(
    rows: ibis.Table, keys: list[str], health: ibis.Table, at: ibis.Value, columns: list[str]
) -> ibis.Table:
    """Per row of ``rows`` (identified by ``keys``, the first being ``row``): the latest
    reading of ``health`` (``tenure_days``) on or before tenure day ``at`` and at most
    ``STALE_HEALTH_DAYS`` before it, the last of a day's readings; rows without one are
    left out. A range join and an arg-max aggregate, which every backend runs and spills
    (an as-of join is not portable, and a ranking window holds a partition in memory)."""
    r = rows.mutate(at=at).select(*keys, "at")
    j = r.join(
        health, [r.row == health.row, health.day <= r.at, health.day >= r.at - STALE_HEALTH_DAYS]
    )
    latest = j.day * READINGS_A_DAY + j.reading  # the latest day, then its last reading
    return j.group_by(keys).aggregate(**{c: j[c].argmax(latest) for c in columns})
