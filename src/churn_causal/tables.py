"""Reading the three input tables (customers, health, touches) from a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TABLES = ("customers", "health", "touches")
DATE_COLUMNS = {
    "customers": ("start_date", "churn_date"),
    "health": ("date",),
    "touches": ("date",),
}


@dataclass
class CSData:
    """The customer-success tables an analysis runs on."""

    customers: pd.DataFrame
    health: pd.DataFrame
    touches: pd.DataFrame

    @property
    def data_end(self) -> pd.Timestamp:
        """Last date the data covers: the latest date seen in any table."""
        dates = [self.health["date"].max(), self.touches["date"].max()]
        dates += [self.customers[c].max() for c in DATE_COLUMNS["customers"]]
        return max(d for d in dates if pd.notna(d))


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def load(folder: str | Path) -> CSData:
    """Load ``customers``, ``health`` and ``touches`` (.parquet or .csv) from ``folder``."""
    folder = Path(folder)
    frames = {}
    for name in TABLES:
        found = [folder / f"{name}{ext}" for ext in (".parquet", ".csv")]
        path = next((p for p in found if p.exists()), None)
        if path is None:
            raise FileNotFoundError(f"{folder}: no {name}.parquet or {name}.csv")
        df = _read(path)
        df["customer_id"] = df["customer_id"].astype(str)
        for col in DATE_COLUMNS[name]:
            df[col] = pd.to_datetime(df[col])
        frames[name] = df
    frames["touches"]["touchpoint"] = frames["touches"]["touchpoint"].astype(str)
    return CSData(**frames)
