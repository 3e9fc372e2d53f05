"""Every run's estimates in one DuckDB file, so a report can show how each estimate moved.

One row per run, touchpoint and method (risk difference by the horizon), with the interval, the
verdict and the data fingerprint. ``append`` writes a run's rows in one transaction; ``read``
gives all rows, oldest first (an empty table when there is no history yet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from churn_causal import i18n
from churn_causal.design.trials import TrialDesign

COLUMNS = {
    "run_id": "VARCHAR",
    "created_utc": "TIMESTAMP",
    "data_fingerprint": "VARCHAR",
    "touchpoint": "VARCHAR",
    "design": "VARCHAR",
    "method": "VARCHAR",
    "estimate": "DOUBLE",
    "ci_low": "DOUBLE",
    "ci_high": "DOUBLE",
    "n_treated": "BIGINT",
    "verdict": "VARCHAR",
    "primary_method": "BOOLEAN",
}
_SCHEMA = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())


def rows_of(
    run_id: str, created_utc: str, fingerprint: str, results: dict[str, dict[str, Any]]
) -> pd.DataFrame:
    """The history rows of one run from its per-touchpoint results (``report_result`` dicts)."""
    rows = []
    for tp, r in results.items():
        res = r["result"]
        primary = res["verdict"]["method"]
        with i18n.using():  # the history is read by scripts: the same words in any run
            design_text = TrialDesign.from_dict(r["design"]).describe()
        for method, scales in res["methods"].items():
            rd = scales.get("risk_difference")
            if rd is None:
                continue
            rows.append(
                {
                    "run_id": run_id,
                    "created_utc": pd.Timestamp(created_utc).tz_localize(None),
                    "data_fingerprint": fingerprint,
                    "touchpoint": tp,
                    "design": design_text,
                    "method": method,
                    "estimate": rd["estimate"],
                    "ci_low": rd["ci_low"],
                    "ci_high": rd["ci_high"],
                    "n_treated": res["n"]["treated"],
                    "verdict": res["verdict"]["level"],
                    "primary_method": method == primary,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def append(path: str | Path, rows: pd.DataFrame) -> None:
    """Add a run's rows; a run id already in the file is replaced, never doubled."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE TABLE IF NOT EXISTS estimates ({_SCHEMA})")
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM estimates WHERE run_id IN (SELECT DISTINCT run_id FROM rows)")
        con.execute(f"INSERT INTO estimates SELECT {', '.join(COLUMNS)} FROM rows")
        con.execute("COMMIT")


def read(path: str | Path) -> pd.DataFrame:
    """All runs' rows, oldest first; empty when the file does not exist yet."""
    if not Path(path).exists():
        return pd.DataFrame(columns=list(COLUMNS))
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM estimates ORDER BY created_utc, run_id").df()
