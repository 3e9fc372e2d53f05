"""Writing result files so that a reader never sees half of one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as JSON beside ``path`` and rename it into place (atomic on POSIX)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float) + "\n")
    tmp.replace(path)
    return path
