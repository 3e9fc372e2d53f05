"""The typed tables of a run, written once after validation and read by every notebook.

A report run validates its data once and writes this snapshot into its staging folder; each
notebook reads it back instead of reading and validating the source again. Parquet keeps the
typed columns as they were (categories, dates, whole numbers), so every notebook sees the same
tables, and the validation warnings travel with them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.data.files import write_parquet
from churn_causal.data.problems import Problem

TABLES = ("customers", "health", "touches")
INDEX = "snapshot.json"


def write_snapshot(data: CSData, folder: str | Path) -> Path:
    """Write ``data`` to ``folder`` (made if missing); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        write_parquet(getattr(data, name), folder / f"{name}.parquet")
    index = {
        "tables": {name: len(getattr(data, name)) for name in TABLES},
        "warnings": [dataclasses.asdict(w) for w in data.warnings],
    }
    (folder / INDEX).write_text(json.dumps(index, default=str, ensure_ascii=False) + "\n")
    return folder


def is_snapshot(path: str | Path) -> bool:
    return (Path(path) / INDEX).is_file()


def read_snapshot(folder: str | Path) -> CSData:
    """The tables as they were written, without reading or validating the source again."""
    folder = Path(folder)
    index = json.loads((folder / INDEX).read_text())
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    warnings = [
        Problem(**{**w, "examples": [tuple(e) for e in w["examples"]]}) for w in index["warnings"]
    ]
    return CSData(**tables, warnings=warnings, location=folder)
