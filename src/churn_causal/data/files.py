"""Writing files: results so that a reader never sees half of one, and tables as Parquet
that every engine reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

# Timestamps in microseconds: Spark refuses Parquet's nanoseconds, pandas' own unit.
PARQUET_TIMESTAMPS = "us"


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as JSON beside ``path`` and rename it into place (atomic on POSIX)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float) + "\n")
    tmp.replace(path)
    return path


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """``frame`` as Parquet that DuckDB, Spark and pandas all read (dates lose nothing)."""
    frame.to_parquet(
        path, index=False, coerce_timestamps=PARQUET_TIMESTAMPS, allow_truncated_timestamps=True
    )
    return Path(path)
