"""Reading a data source (a folder of tables or a DuckDB file) and validating it.

``read_raw`` reads every table as it is, with the user's columns renamed to the contract's;
``validated`` reads and validates (every problem at once); ``load`` gives the typed tables an
analysis runs on, or raises ``DataError``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow

from churn_causal.data.contract import CONTRACT, TABLES, CSData, RawTable
from churn_causal.data.problems import DataError, Problem, error
from churn_causal.data.readers import AUTO, read_csv, read_duckdb, read_parquet
from churn_causal.data.validation import ValidationReport, validate

TRACE_ENV = "CHURN_CAUSAL_TRACE_VALIDATION"
NS_A_DAY = 86_400 * 10**9


def read_raw(
    source: str | Path,
    columns: dict[str, dict[str, str]] | None = None,
    encoding: str = AUTO,
) -> dict[str, RawTable]:
    """Read every table of ``source`` as it is, renaming mapped columns to the contract's names.

    ``columns`` maps table -> {contract name: the user's column name}; ``encoding`` is that
    of the CSV files ("auto": UTF-8 or cp932, recognised per file). Missing optional tables
    are skipped. CSV values stay strings so that validation can say which ones do not parse.
    Raises ``DataError`` with every file that cannot be read and every required table missing.
    """
    source = Path(source)
    if source.suffix == ".duckdb" and source.is_file():
        found = {
            n: RawTable(n, f"{source.name}:{n}", frame)
            for n, frame in read_duckdb(source, TABLES).items()
        }
    elif source.is_dir():
        found = _read_folder(source, encoding)
    else:
        raise DataError(
            [
                error(
                    "no_data",
                    str(source),
                    "no such folder or .duckdb file",
                    "Give the folder with the customers, health and touches tables (.csv or "
                    ".parquet), or a database made by 'churn-causal ingest'.",
                )
            ]
        )
    missing = [t for t in TABLES if CONTRACT[t].required and t not in found]
    if missing:
        raise DataError([_missing_table(source, t) for t in missing])
    for name, raw in found.items():
        mapping = (columns or {}).get(name, {})
        raw.frame = raw.frame.rename(columns={theirs: ours for ours, theirs in mapping.items()})
    return found


def _missing_table(source: Path, table: str) -> Problem:
    if not source.is_dir():
        return error(
            "missing_table",
            source.name,
            f"no {table} table in the database",
            "Make the database with 'churn-causal ingest', which writes every table.",
        )
    held = sorted(p.name for p in source.iterdir() if not p.name.startswith("."))
    other = [n for n in held if Path(n).stem.lower() == table]
    hint = (
        f"Save {other[0]} as {table}.csv (only .csv and .parquet files are read)."
        if other
        else f"Add {table}.csv or {table}.parquet to the folder."
    )
    return error(
        "missing_table",
        f"{source.name}/",
        f"no {table} table: expected {table}.csv or {table}.parquet "
        f"(the folder holds {', '.join(held[:8]) or 'nothing'}"
        f"{', ...' if len(held) > 8 else ''})",
        hint,
    )


def _read_folder(folder: Path, encoding: str) -> dict[str, RawTable]:
    """Every table file of the folder; all files that cannot be read at once."""
    out, problems = {}, []
    for name in TABLES:
        path = next(
            (p for p in (folder / f"{name}.parquet", folder / f"{name}.csv") if p.exists()), None
        )
        if path is None:
            continue
        try:
            frame = read_parquet(path) if path.suffix == ".parquet" else read_csv(path, encoding)
        except DataError as exc:
            problems += exc.problems
            continue
        out[name] = RawTable(name, path.name, frame)
    if problems:
        raise DataError(problems)
    return out


def validated(
    source: str | Path,
    columns: dict[str, dict[str, str]] | None = None,
    touchpoints: list[str] | None = None,
    encoding: str = AUTO,
) -> ValidationReport:
    """Read and validate ``source``: every problem found, and the typed tables.

    Setting ``TRACE_ENV`` to a file appends a line to it for each validation, so that a run
    (its notebooks included) can be checked to validate its data once."""
    report = validate(read_raw(source, columns, encoding), touchpoints)
    # Arrow's memory pool (Parquet reading, text columns) keeps what it freed for Arrow, and
    # numpy never reuses it: at 100k customers 0.4 GB held through the whole analysis.
    pyarrow.default_memory_pool().release_unused()
    trace = os.environ.get(TRACE_ENV)
    if trace:
        with open(trace, "a", encoding="utf-8") as f:
            f.write(f"{source}\n")
    return report


def load(
    source: str | Path,
    columns: dict[str, dict[str, str]] | None = None,
    touchpoints: list[str] | None = None,
    encoding: str = AUTO,
) -> CSData:
    """Read, validate and type the tables of ``source``; raise ``DataError`` on any error."""
    report = validated(source, columns, touchpoints, encoding)
    if report.errors:
        raise DataError(report.errors)
    t = in_key_order(report.tables, report.warnings)
    return CSData(t["customers"], t["health"], t["touches"], report.warnings)


def in_key_order(
    tables: dict[str, pd.DataFrame], warnings: list[Problem]
) -> dict[str, pd.DataFrame]:
    """The typed tables with an order their keys define, not the files' row order: customers
    sorted by ``customer_id``, and one health reading per customer and day (the last, as the
    ``duplicate_reading`` warning says; readings are dated by the day, as the analysis counts
    them). Every engine then numbers customers and picks readings the same way, whether it
    reads the files in place or is handed the tables (``design.engines.tables``)."""
    out = dict(tables)
    customers = out["customers"]
    ids = customers["customer_id"].astype(str)
    if not ids.is_monotonic_increasing:
        out["customers"] = customers.iloc[np.argsort(ids.to_numpy(), kind="stable")]
    out["customers"] = out["customers"].reset_index(drop=True)
    health = out["health"]
    stamps = health["date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    if (stamps % NS_A_DAY != 0).any():  # a time of day: dated by the day, in place (no copy)
        health["date"] = health["date"].dt.floor("D")
    del stamps
    if any(w.code == "duplicate_reading" for w in warnings):
        health = health[~health.duplicated(["customer_id", "date"], keep="last")]
    out["health"] = health
    return out
