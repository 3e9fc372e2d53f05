"""Run the report notebooks with papermill and publish them as self-contained HTML.

A run is built in a hidden staging folder and published by one rename to
``<out>/<run-id>/``; ``<out>/latest`` then points to it. A failing notebook is marked failed
in the index and the manifest while the others still run; the run then reports failure.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

from churn_causal.manifest import environment, fingerprint, git_state
from churn_causal.tables import load
from churn_causal.trials import TrialDesign

log = logging.getLogger(__name__)
TOUCHPOINT_NOTEBOOK = "touchpoint_report.ipynb"
QUALITY_NOTEBOOK = "data_quality.ipynb"
KERNEL = "python3"


@dataclass
class NotebookRun:
    name: str
    title: str
    notebook: str
    parameters: dict
    status: str = "pending"
    seconds: float = 0.0
    error: str | None = None

    @property
    def html(self) -> str:
        return f"{self.name}.html"


@dataclass
class RunResult:
    run_id: str
    path: Path
    runs: list[NotebookRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.runs)


def notebooks_dir() -> Path:
    """The project's ``notebooks/`` folder: under the working directory, else the checkout's."""
    here = Path.cwd() / "notebooks"
    if (here / TOUCHPOINT_NOTEBOOK).exists():
        return here
    return Path(__file__).resolve().parents[2] / "notebooks"


def export_html(notebook: Path, target: Path, title: str) -> None:
    """Notebook to HTML without code cells or stderr, with images inline and no external
    scripts."""
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(resources.files("churn_causal") / "templates")],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    for cell in nb.cells:  # library warnings on stderr are for the .ipynb, not for readers
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
    body, _ = exporter.from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


def _execute(run: NotebookRun, source: Path, staging: Path) -> None:
    out = staging / f"{run.name}.ipynb"
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(out),
            parameters=run.parameters,
            kernel_name=KERNEL,
            progress_bar=False,
            cwd=str(source.parent),
        )
        run.status = "ok"
    except Exception as exc:  # a failed notebook must not stop the others
        run.status = "failed"
        run.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:500]}"
        log.error("%s failed: %s", run.name, run.error)
    if out.exists():
        export_html(out, staging / run.html, run.title)
    run.seconds = round(time.perf_counter() - t0, 2)


def _index_html(result: RunResult, data_label: str) -> str:
    rows = "\n".join(
        f"<tr><td>{html.escape(r.title)}</td>"
        f"<td class='{r.status}'>{r.status}</td><td>{r.seconds:.0f} s</td>"
        f"<td><a href='{html.escape(r.html)}'>report</a></td>"
        f"<td>{html.escape(r.error or '')}</td></tr>"
        for r in result.runs
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>churn-causal reports {result.run_id}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
.ok {{ color: #176b2c; font-weight: bold; }} .failed {{ color: #b00020; font-weight: bold; }}
</style></head><body>
<h1>What customer-success touchpoints do to churn</h1>
<p>Run <code>{result.run_id}</code> on data <code>{html.escape(data_label)}</code>.
{sum(r.status == "ok" for r in result.runs)} of {len(result.runs)} reports succeeded.
Details of the run: <a href="manifest.json">manifest.json</a>.</p>
<table><tr><th>report</th><th>status</th><th>time</th><th></th><th>error</th></tr>
{rows}
</table></body></html>
"""


def _publish(staging: Path, out_dir: Path, run_id: str) -> Path:
    final = out_dir / run_id
    os.rename(staging, final)
    tmp = out_dir / f".latest-{run_id}"
    tmp.symlink_to(run_id, target_is_directory=True)
    os.replace(tmp, out_dir / "latest")
    return final


def _plan(
    source: Path,
    columns: dict | None,
    touchpoints: list[str],
    design: dict,
    seed: int,
    n_boot: int,
) -> list[NotebookRun]:
    """The notebooks of a run: data quality first, then one report per touchpoint."""
    common = {
        "data_source": str(source),
        "columns": columns or {},
        "design": design,
    }
    runs = [NotebookRun("data-quality", "Data quality", QUALITY_NOTEBOOK, common)]
    for tp in touchpoints:
        params = {**common, "touchpoint": tp, "seed": seed, "n_boot": n_boot}
        runs.append(
            NotebookRun(f"touchpoint-{tp}", f"Touchpoint: {tp}", TOUCHPOINT_NOTEBOOK, params)
        )
    return runs


def run_report(
    source: str | Path,
    out_dir: str | Path = "reports",
    touchpoints: list[str] | None = None,
    design: dict | None = None,
    seed: int = 0,
    n_boot: int = 200,
    run_id: str | None = None,
    columns: dict | None = None,
) -> RunResult:
    """Validate ``source``, run the report notebooks on it and publish the run.

    ``design`` overrides keys of each touchpoint's default ``TrialDesign`` (monthly, or weekly
    for reactive touchpoints). Raises ``DataError`` before anything is written when the data
    breaks the contract.
    """
    source, out_dir = Path(source).resolve(), Path(out_dir)
    design = design or {}
    data = load(source, columns, touchpoints)  # every problem at once, before anything runs
    touchpoints = touchpoints or data.touchpoints
    designs = {tp: TrialDesign.for_touchpoint(tp, **design) for tp in touchpoints}
    run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if (out_dir / run_id).exists():
        raise FileExistsError(f"{out_dir / run_id} exists already; choose another run id")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".staging-{run_id}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    result = RunResult(run_id, out_dir / run_id)
    started = time.perf_counter()
    for run in _plan(source, columns, touchpoints, design, seed, n_boot):
        log.info("running %s", run.name)
        _execute(run, notebooks_dir() / run.notebook, staging)
        log.info("%s: %s in %.1f s", run.name, run.status, run.seconds)
        result.runs.append(run)
    (staging / "index.html").write_text(_index_html(result, source.name), encoding="utf-8")
    manifest = {
        "run_id": run_id,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "touchpoints": touchpoints,
            "designs": {tp: d.to_dict() for tp, d in designs.items()},
            "seed": seed,
            "n_boot": n_boot,
            "data": source.name,
            "columns": columns or {},
        },
        "data_fingerprint": fingerprint(source),
        "code": git_state(Path(__file__).parent),
        "environment": environment(),
        "notebooks": [asdict(r) for r in result.runs],
        "seconds_total": round(time.perf_counter() - started, 2),
        "status": "ok" if result.ok else "failed",
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    result.path = _publish(staging, out_dir, run_id)
    return result
