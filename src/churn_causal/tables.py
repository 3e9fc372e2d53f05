"""The input contract and reading it from CSV, Parquet or a DuckDB database file.

A data source is a folder holding ``<table>.parquet`` or ``<table>.csv`` per table, or a
``.duckdb`` file holding tables of those names. A column mapping renames the user's columns to
the contract's names, so nobody has to rename their data. ``load`` validates before it returns:
a file that cannot be read or bad data raises ``DataError`` with every problem found (see
``churn_causal.readers`` and ``churn_causal.validation``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churn_causal.problems import DataError, Problem, error
from churn_causal.readers import AUTO, read_csv, read_duckdb, read_parquet


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # "id", "string", "integer", "number", "date"
    meaning: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    meaning: str
    columns: tuple[Col, ...]
    required: bool = True

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


_ID = Col("customer_id", "id", "the customer's identifier, the same in every table")
CONTRACT: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            "one row per customer",
            (
                Col("customer_id", "id", "unique identifier of the customer"),
                Col("tier", "string", "segment: Enterprise, Middle or SMB (others are allowed)"),
                Col("contract_type", "string", "annual (churns only at renewal) or monthly"),
                Col("seats", "integer", "licensed seats, >= 0"),
                Col("mrr", "number", "monthly recurring revenue, >= 0, in the report currency"),
                Col("start_date", "date", "contract start; tenure month 1 starts here"),
                Col(
                    "churn_date",
                    "date",
                    "first day no longer a customer; empty if active",
                    nullable=True,
                ),
            ),
        ),
        Table(
            "health",
            "health score readings, typically weekly",
            (
                _ID,
                Col("date", "date", "date of the reading (describes the state at that date)"),
                Col("score", "number", "health score, 0-100"),
                Col("action", "number", "pillar: uses the vendor's support content, 0-100"),
                Col("utilization", "number", "pillar: features used broadly and often, 0-100"),
                Col("penetration", "number", "pillar: ordinary users log in and work, 0-100"),
            ),
        ),
        Table(
            "touches",
            "one row per touchpoint event",
            (
                _ID,
                Col("date", "date", "date of the event"),
                Col(
                    "touchpoint",
                    "string",
                    "its type, e.g. support, seminar, community, "
                    "cs_touch; any other type is analysed the same way",
                ),
            ),
        ),
        Table(
            "revenue",
            "MRR history, for net revenue retention",
            (
                _ID,
                Col("date", "date", "month or date the MRR applies from"),
                Col("mrr", "number", "monthly recurring revenue from that date, >= 0"),
            ),
            required=False,
        ),
        Table(
            "surveys",
            "survey answers",
            (
                _ID,
                Col("date", "date", "date of the answer"),
                Col("nps", "number", "likelihood to recommend, 0-10", nullable=True),
                Col("satisfaction", "number", "satisfaction, 1-5", nullable=True),
            ),
            required=False,
        ),
    )
}
TABLES = tuple(CONTRACT)


@dataclass
class RawTable:
    """A table as read, before any type is enforced, and where it came from."""

    name: str
    origin: str  # file name or "<db>:<table>", for messages
    frame: pd.DataFrame


@dataclass
class CSData:
    """The customer-success tables an analysis runs on (types enforced)."""

    customers: pd.DataFrame
    health: pd.DataFrame
    touches: pd.DataFrame
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    warnings: list = field(default_factory=list)  # validation warnings (legal but suspicious)

    @property
    def data_end(self) -> pd.Timestamp:
        """Last date the data covers: the latest date seen in any table."""
        dates = [self.health["date"].max(), self.touches["date"].max()]
        dates += [self.customers[c].max() for c in ("start_date", "churn_date")]
        return max(d for d in dates if pd.notna(d))

    @property
    def touchpoints(self) -> list[str]:
        return sorted(self.touches["touchpoint"].unique())


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


def load(
    source: str | Path,
    columns: dict[str, dict[str, str]] | None = None,
    touchpoints: list[str] | None = None,
    encoding: str = AUTO,
) -> CSData:
    """Read, validate and type the tables of ``source``; raise ``DataError`` on any error."""
    from churn_causal.validation import validate

    report = validate(read_raw(source, columns, encoding), touchpoints)
    if report.errors:
        raise DataError(report.errors)
    t = report.tables
    extras = {k: v for k, v in t.items() if k not in ("customers", "health", "touches")}
    return CSData(t["customers"], t["health"], t["touches"], extras, report.warnings)
