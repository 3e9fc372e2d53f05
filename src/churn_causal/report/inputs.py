"""The data a report notebook works on: the run's snapshot, or the source itself.

In a report run the runner validates the data once and hands every notebook the same typed
snapshot; a notebook opened on its own in JupyterLab reads and validates its source.
"""

from __future__ import annotations

from pathlib import Path

from churn_causal.data.contract import CSData
from churn_causal.data.load import load
from churn_causal.data.readers import AUTO
from churn_causal.data.snapshot import is_snapshot, read_snapshot


def open_data(
    data_source: str | Path,
    columns: dict | None = None,
    encoding: str = AUTO,
    snapshot: str | Path | None = None,
) -> CSData:
    """The run's ``snapshot`` when there is one, else ``data_source`` read and validated."""
    if snapshot and is_snapshot(snapshot):
        return read_snapshot(snapshot)
    return load(data_source, columns or None, encoding=encoding)
