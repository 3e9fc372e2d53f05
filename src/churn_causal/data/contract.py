"""The input contract: the tables, their columns and what they mean, and the typed tables an
analysis runs on (``CSData``).

A data source is a folder holding ``<table>.parquet`` or ``<table>.csv`` per table, or a
``.duckdb`` file holding tables of those names (``churn_causal.data.load`` reads it).
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
    warnings: list = field(default_factory=list)  # validation warnings (legal but suspicious)
    # The folder where these typed tables lie as <table>.parquet (a run's snapshot), for the
    # engines that read them in place (``design.engines.tables``); None when only here.
    location: Path | None = None
    # Indexes derived from the tables, built once by the steps that need them (the tables are
    # not changed after loading): e.g. the design's health index.
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def data_end(self) -> pd.Timestamp:
        """Last date the data covers: the latest date seen in any table."""
        dates = [self.health["date"].max(), self.touches["date"].max()]
        dates += [self.customers[c].max() for c in ("start_date", "churn_date")]
        return max(d for d in dates if pd.notna(d))

    @property
    def touchpoints(self) -> list[str]:
        return sorted(self.touches["touchpoint"].unique())
