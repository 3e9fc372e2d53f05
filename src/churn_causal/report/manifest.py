"""What a run records about itself so that it can be reproduced: inputs, code, versions."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "churn-causal",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "dowhy",
    "econml",
    "lifelines",
    "matplotlib",
    "papermill",
    "nbconvert",
    "duckdb",
    "pyarrow",
)


def fingerprint(source: str | Path) -> dict:
    """SHA-256 of the data file, or of every file in the data folder, and one digest over all."""
    source = Path(source)
    folder = source if source.is_dir() else source.parent
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    digests = {}
    for p in files:
        h = hashlib.sha256()
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digests[str(p.relative_to(folder))] = h.hexdigest()
    combined = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in digests.items()).encode())
    return {"sha256": combined.hexdigest(), "files": digests}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(where: str | Path) -> dict[str, str | bool | None]:
    """Commit of the checkout holding ``where`` and whether it has uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=where, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def environment() -> dict:
    return {
        "platform": platform.platform(),
        "executable": Path(sys.executable).name,
        "packages": package_versions(),
    }
