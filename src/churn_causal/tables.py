"""The input contract and reading it from CSV, Parquet or a DuckDB database file.

A data source is a folder holding ``<table>.parquet`` or ``<table>.csv`` per table, or a
``.duckdb`` file holding tables of those names. A column mapping renames the user's columns to
the contract's names, so nobody has to rename their data. ``load`` validates before it returns:
bad data raises ``DataError`` with every problem found (see ``churn_causal.validation``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


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


class DataError(Exception):
    """The data breaks the contract; ``problems`` lists every problem found."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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


def read_raw(source: str | Path, columns: dict[str, dict[str, str]] | None = None) -> dict:
    """Read every table of ``source`` as it is, renaming mapped columns to the contract's names.

    ``columns`` maps table -> {contract name: the user's column name}. Missing optional tables
    are skipped; a missing required table raises ``FileNotFoundError``. CSV values stay strings
    so that validation can say which ones do not parse.
    """
    source = Path(source)
    if source.suffix == ".duckdb":
        found = _read_duckdb(source)
    elif source.is_dir():
        found = _read_folder(source)
    else:
        raise FileNotFoundError(
            f"{source}: not a folder or a .duckdb file; give the folder with customers, health "
            "and touches tables (.csv or .parquet) or a database made by 'churn-causal ingest'"
        )
    missing = [t for t in TABLES if CONTRACT[t].required and t not in found]
    if missing:
        raise FileNotFoundError(
            f"{source}: no {', '.join(missing)} table; expected {', '.join(missing)}"
            f"{'.parquet/.csv files' if source.is_dir() else ' tables in the database'}"
        )
    for name, raw in found.items():
        mapping = (columns or {}).get(name, {})
        raw.frame = raw.frame.rename(columns={theirs: ours for ours, theirs in mapping.items()})
    return found


def _read_folder(folder: Path) -> dict[str, RawTable]:
    out = {}
    for name in TABLES:
        for ext in (".parquet", ".csv"):
            path = folder / f"{name}{ext}"
            if path.exists():
                frame = (
                    pd.read_parquet(path)
                    if ext == ".parquet"
                    else pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
                )
                out[name] = RawTable(name, path.name, frame)
                break
    return out


def _read_duckdb(path: Path) -> dict[str, RawTable]:
    import duckdb

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such database; make one with 'churn-causal ingest'")
    with duckdb.connect(str(path), read_only=True) as con:
        present = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {
            name: RawTable(name, f"{path.name}:{name}", con.execute(f'SELECT * FROM "{name}"').df())
            for name in TABLES
            if name in present
        }


def load(
    source: str | Path,
    columns: dict[str, dict[str, str]] | None = None,
    touchpoints: list[str] | None = None,
) -> CSData:
    """Read, validate and type the tables of ``source``; raise ``DataError`` on any error."""
    from churn_causal.validation import validate

    report = validate(read_raw(source, columns), touchpoints)
    if report.errors:
        raise DataError(report.errors)
    t = report.tables
    extras = {k: v for k, v in t.items() if k not in ("customers", "health", "touches")}
    return CSData(t["customers"], t["health"], t["touches"], extras, report.warnings)
