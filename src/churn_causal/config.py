"""The YAML configuration of a data source (and, later, of a whole report run).

```yaml
data:
  source: data/acme            # a folder of .csv/.parquet tables or a .duckdb file
  touchpoints: [support, seminar, community, cs_touch]   # default: every type in the data
  columns:                     # contract name: your column name, per table
    customers: {customer_id: account_id, start_date: contract_start}
    touches: {touchpoint: activity_type}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from churn_causal.tables import CONTRACT

DATA_KEYS = {"source", "touchpoints", "columns"}


class ConfigError(ValueError):
    """The configuration file is malformed; the message says where."""


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read and check a config file; ``None`` gives the empty configuration."""
    if path is None:
        return {"data": {}}
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it as YAML ({exc})") from exc
    data = cfg.setdefault("data", {})
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: 'data' must be a mapping")
    unknown = set(data) - DATA_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) data.{', data.'.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(DATA_KEYS))}"
        )
    for table, mapping in (data.get("columns") or {}).items():
        if table not in CONTRACT:
            raise ConfigError(
                f"{path}: data.columns.{table}: no such table; tables: {', '.join(CONTRACT)}"
            )
        bad = set(mapping or {}) - set(CONTRACT[table].names)
        if bad:
            raise ConfigError(
                f"{path}: data.columns.{table}: {', '.join(sorted(bad))} not in "
                f"the contract; columns: {', '.join(CONTRACT[table].names)}"
            )
    tps = data.get("touchpoints")
    if tps is not None and not (isinstance(tps, list) and all(isinstance(t, str) for t in tps)):
        raise ConfigError(f"{path}: data.touchpoints must be a list of names")
    if "source" in data:
        data["source"] = str((path.parent / data["source"]).resolve())
    return cfg
