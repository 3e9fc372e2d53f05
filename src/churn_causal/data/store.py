"""DuckDB as the embedded store: validated tables in one file that every command can read."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from churn_causal.data.load import validated
from churn_causal.data.problems import DataError
from churn_causal.data.readers import AUTO
from churn_causal.data.validation import ValidationReport


def ingest(
    source: str | Path,
    target: str | Path,
    columns: dict[str, dict[str, str]] | None = None,
    touchpoints: list[str] | None = None,
    encoding: str = AUTO,
) -> ValidationReport:
    """Validate ``source`` and write its typed tables to the DuckDB file ``target``.

    Raises ``DataError`` (and writes nothing) on any error. The file is written beside the
    target and renamed into place, so an existing database is replaced whole or not at all.
    """
    import duckdb

    report = validated(source, columns, touchpoints, encoding)
    if report.errors:
        raise DataError(report.errors)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    tmp.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(tmp)) as con:
            for name, df in report.tables.items():
                frame = _portable(df)
                con.register("frame", frame)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
                con.unregister("frame")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return report


def _portable(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals and pandas strings as plain text columns."""
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out
