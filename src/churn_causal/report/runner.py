"""Run the report suite with papermill, in parallel, and publish it as self-contained HTML.

Phase 1 runs the data-quality report and one report per touchpoint, at most ``workers`` at once,
each notebook in a process group of its own so that an interrupted run stops them all. Phase 2
builds, from phase 1's saved results, the executive summary and (on simulated data, with a
truth.json beside it) the validation report. A failing notebook is marked failed in the index
and the manifest while the others still run; the run then reports failure.

A run is built in a hidden staging folder and published by one rename to ``<out>/<run-id>/``;
``<out>/latest`` then points to it and the run's estimates are added to the history database.
An interrupted run removes its staging folder; staging folders left by killed runs are removed
by the next run. Published runs are never touched.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import nbformat
from nbconvert import HTMLExporter
from tqdm import tqdm

from churn_causal import i18n, parallel
from churn_causal.data.load import load
from churn_causal.data.snapshot import write_snapshot
from churn_causal.design.trials import TrialDesign
from churn_causal.i18n import name, t
from churn_causal.report import history
from churn_causal.report.config import RunConfig
from churn_causal.report.manifest import environment, fingerprint, git_state
from churn_causal.report.names import file_stem
from churn_causal.report.reader import JAPANESE_FONTS

log = logging.getLogger(__name__)
TOUCHPOINT_NOTEBOOK = "touchpoint_report.ipynb"
QUALITY_NOTEBOOK = "data_quality.ipynb"
EXECUTIVE_NOTEBOOK = "executive_summary.ipynb"
VALIDATION_NOTEBOOK = "validation.ipynb"
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
KERNEL = "python3"
SNAPSHOT = "snapshot"  # the staging folder's copy of the validated data
POLL_SECONDS = 0.2
# Reports are static pages: no script runs and nothing is fetched, whatever a name in the data
# holds (names are escaped too; this is the second wall). Figures are inline data: images.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
)


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
    return Path(__file__).resolve().parents[3] / "notebooks"


def export_html(notebook: Path, target: Path, title: str, language: str = "en") -> None:
    """Notebook to HTML without code cells or stderr, with images inline and no external
    scripts, its ``lang`` the report's language."""
    exporter = HTMLExporter(
        language_code=language,
        template_name="offline",
        extra_template_basedirs=[str(resources.files("churn_causal.report") / "templates")],
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
    page = {
        "content_security_policy": CONTENT_SECURITY_POLICY,
        "japanese_fonts": JAPANESE_FONTS if language == "ja" else "",
    }
    body, _ = exporter.from_notebook_node(nb, resources=page)
    target.write_text(body, encoding="utf-8")


# ----------------------------------------------------------------------------- one notebook
def run_job(spec_path: str) -> int:
    """Execute one notebook and export its HTML (the body of a job process); the status goes
    to ``<name>.status.json`` beside the notebook."""
    import papermill

    spec = json.loads(Path(spec_path).read_text())
    staging, name = Path(spec["staging"]), spec["name"]
    out = staging / f"{name}.ipynb"
    status: dict = {"status": "ok", "error": None}
    try:
        papermill.execute_notebook(
            spec["source"],
            str(out),
            parameters=spec["parameters"],
            kernel_name=KERNEL,
            progress_bar=False,
            cwd=str(Path(spec["source"]).parent),
        )
    except Exception as exc:  # the runner reports it; the other notebooks go on
        status = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:500]}",
        }
    if out.exists():
        export_html(out, staging / f"{name}.html", spec["title"], spec["language"])
    (staging / f"{name}.status.json").write_text(json.dumps(status))
    return 0 if status["status"] == "ok" else 1


@dataclass
class _Job:
    run: NotebookRun
    proc: subprocess.Popen
    started: float


def _start(run: NotebookRun, source: Path, staging: Path, threads: int) -> _Job:
    spec = staging / f".{run.name}.job.json"
    spec.write_text(
        json.dumps(
            {
                "name": run.name,
                "title": run.title,
                "language": run.parameters["language"],
                "source": str(source),
                "staging": str(staging),
                "parameters": run.parameters,
            }
        )
    )
    env = {
        **os.environ,
        # the cores shared among the kernels, by BLAS and by churn_causal.parallel alike
        **{v: str(threads) for v in (*BLAS_THREADS, "CHURN_CAUSAL_THREADS")},
        # DoWhy's results move in the 12th digit with Python's string hashing: fix it, so that
        # the same inputs and seed give the same numbers to the last digit.
        "PYTHONHASHSEED": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "churn_causal.report.runner", str(spec)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: the kernel dies with it
    )
    return _Job(run, proc, time.perf_counter())


def _finish(job: _Job, staging: Path) -> None:
    run = job.run
    run.seconds = round(time.perf_counter() - job.started, 2)
    status_file = staging / f"{run.name}.status.json"
    if status_file.exists():
        status = json.loads(status_file.read_text())
        status_file.unlink()
        run.status, run.error = status["status"], status["error"]
    else:
        tail = (job.proc.stderr.read() if job.proc.stderr else "").strip().splitlines()[-1:]
        run.status = "failed"
        run.error = t("index.process_ended", code=job.proc.returncode, tail=" ".join(tail))
    (staging / f".{run.name}.job.json").unlink(missing_ok=True)
    if run.status == "failed":
        log.error("%s failed: %s", run.name, run.error)


def _kill(jobs: list[_Job]) -> None:
    for job in jobs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.proc.pid, signal.SIGKILL)
        job.proc.wait()


def _run_all(runs: list[NotebookRun], staging: Path, workers: int, bar: tqdm) -> None:
    """Run the notebooks, at most ``workers`` at once; on any interruption kill them all."""
    pending, running = list(runs), []
    threads = max(1, parallel.threads() // workers)
    try:
        while pending or running:
            while pending and len(running) < workers:
                run = pending.pop(0)
                log.info("running %s", run.name)
                running.append(_start(run, notebooks_dir() / run.notebook, staging, threads))
            for job in [j for j in running if j.proc.poll() is not None]:
                running.remove(job)
                _finish(job, staging)
                bar.update()
                bar.set_postfix_str(job.run.name)
                log.info("%s: %s in %.1f s", job.run.name, job.run.status, job.run.seconds)
            time.sleep(POLL_SECONDS)
    except BaseException:
        _kill(running)
        raise


# ----------------------------------------------------------------------------- the run
def _plan(
    cfg: RunConfig, source: Path, designs: dict[str, TrialDesign], staging: Path, run_id: str
):
    """Phase 1 (data quality, one report per touchpoint) and phase 2 (summary, validation)."""
    common = {
        "data_source": str(source),
        "columns": cfg.columns,
        "encoding": cfg.encoding,
        "snapshot": str(staging / SNAPSHOT),  # the data validated once, for every notebook
        "language": cfg.language,
        "labels": cfg.labels,
    }
    analysis = {
        "seed": cfg.seed,
        "n_boot": cfg.n_boot,
        "match_ratio": cfg.match_ratio,
        "match_replace": cfg.match_replace,
        "controls_per_treated": cfg.controls_per_treated,
        "engine": cfg.engine,
    }
    first = [NotebookRun("data-quality", t("title.quality"), QUALITY_NOTEBOOK, common)]
    # Longest first: weekly trials have 4.4x the rows of monthly ones.
    weekly_first = sorted(designs, key=lambda tp: designs[tp].unit != "week")
    for tp in weekly_first:
        stem = file_stem(tp)  # a touchpoint's name is data: it never picks a path
        params = {
            **common,
            **analysis,
            "touchpoint": tp,
            "design": designs[tp].to_dict(),  # resolved once, for the whole run
            "refute": cfg.refute,
            "business": cfg.business.to_config(),
            "programme": cfg.programme,
            "scenarios": cfg.scenarios_of(tp),
            "targeting": cfg.targeting_of(tp),
            "result_path": str(staging / f"result-{stem}.json"),
            # who to touch next: the customer list for the CS team (ids: never in a page)
            "customers_path": str(staging / f"customers-{stem}.csv"),
        }
        first.append(
            NotebookRun(
                f"touchpoint-{stem}",
                t("title.touchpoint", touchpoint=name(tp)),
                TOUCHPOINT_NOTEBOOK,
                params,
            )
        )
    summary = {**common, "results_dir": str(staging)}
    second = [
        NotebookRun(
            "executive-summary",
            t("title.executive"),
            EXECUTIVE_NOTEBOOK,
            {
                **summary,
                "business": cfg.business.to_config(),
                "history_path": str(cfg.history_path),
                "run_id": run_id,
            },
        )
    ]
    if (source / "truth.json").exists():
        reader = {k: common[k] for k in ("language", "labels")}
        truth = {"data_source": str(source), "results_dir": str(staging), **reader}
        second.append(NotebookRun("validation", t("title.validation"), VALIDATION_NOTEBOOK, truth))
    return first, second


def run_report(cfg: RunConfig, run_id: str | None = None) -> RunResult:
    """Validate the data, run the report notebooks on it and publish the run, its pages'
    titles, index and messages in the run's language.

    Raises ``DataError`` before anything is written when the data breaks the contract, and
    ``ConfigError`` when the config's scenarios do not fit the data.
    """
    with i18n.using(cfg.language, cfg.labels):
        return _run_report(cfg, run_id)


def _run_report(cfg: RunConfig, run_id: str | None) -> RunResult:
    if cfg.source is None:
        raise ValueError("no data source: set RunConfig.source (data.source in the config)")
    source, out_dir = Path(cfg.source).resolve(), Path(cfg.out_dir)
    # every problem at once, before any run
    data = load(source, cfg.columns, cfg.touchpoints, cfg.encoding)
    touchpoints = cfg.touchpoints or data.touchpoints
    designs = cfg.designs(touchpoints)
    cfg.check_scenarios(touchpoints, list(data.customers.columns))
    run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if (out_dir / run_id).exists():
        raise FileExistsError(f"{out_dir / run_id} exists already; choose another run id")
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_staging(out_dir)
    staging = out_dir / f".staging-{run_id}"
    staging.mkdir()
    (staging / ".pid").write_text(str(os.getpid()))
    result = RunResult(run_id, out_dir / run_id)
    started = time.perf_counter()
    try:
        write_snapshot(data, staging / SNAPSHOT)
        first, second = _plan(cfg, source, designs, staging, run_id)
        result.runs = first + second
        interactive = sys.stderr.isatty()
        with tqdm(
            total=len(result.runs), desc=run_id, unit="notebook", disable=not interactive
        ) as bar:
            _run_all(first, staging, cfg.worker_count, bar)
            _run_all(second, staging, cfg.worker_count, bar)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        (staging / "index.html").write_text(_index_html(result, source.name), encoding="utf-8")
        manifest = {
            "run_id": run_id,
            "created_utc": created,
            "parameters": {
                "touchpoints": touchpoints,
                "designs": {tp: d.to_dict() for tp, d in designs.items()},
                "seed": cfg.seed,
                "n_boot": cfg.n_boot,
                "refute": cfg.refute,
                "match_ratio": cfg.match_ratio,
                "match_replace": cfg.match_replace,
                "controls_per_treated": cfg.controls_per_treated,
                "business": cfg.business.to_config(),
                "programme": cfg.programme,
                "scenarios": [sc.to_dict() for sc in cfg.scenarios],
                "targeting": {tp: cfg.targeting_of(tp) for tp in cfg.targeting},
                "workers": cfg.worker_count,
                "data": source.name,
                "columns": cfg.columns,
                "encoding": cfg.encoding,
                "engine": cfg.engine,
                "language": cfg.language,
                "labels": cfg.labels,
            },
            "data_fingerprint": fingerprint(source),
            # the typed tables every notebook read; removed once the run is published
            "snapshot_fingerprint": fingerprint(staging / SNAPSHOT),
            "code": git_state(Path(__file__).parent),
            "environment": environment(),
            "notebooks": [asdict(r) for r in result.runs],
            "seconds_total": round(time.perf_counter() - started, 2),
            "status": "ok" if result.ok else "failed",
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (staging / ".pid").unlink()
        shutil.rmtree(staging / SNAPSHOT)  # a copy of the data: not kept with the reports
        result.path = _publish(staging, out_dir, run_id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _record_history(cfg, result, created, manifest["data_fingerprint"]["sha256"])
    return result


def _record_history(cfg: RunConfig, result: RunResult, created: str, data_sha: str) -> None:
    """Add the published run's estimates to the history (a failure here is logged, the run
    stays published)."""
    from churn_causal.report.executive import RESULT_GLOB, load_results

    if not list(result.path.glob(RESULT_GLOB)):
        return  # every touchpoint failed: nothing to record
    records = load_results(result.path)
    try:
        history.append(cfg.history_path, history.rows_of(result.run_id, created, data_sha, records))
    except Exception as exc:  # e.g. the database is locked by another process
        log.error("could not add run %s to %s: %s", result.run_id, cfg.history_path, exc)


def _remove_abandoned_staging(out_dir: Path) -> None:
    """Staging folders whose run process is gone (killed runs) are removed."""
    for folder in out_dir.glob(".staging-*"):
        pid_file = folder / ".pid"
        try:
            os.kill(int(pid_file.read_text()), 0)
            continue  # that run is still going
        except (OSError, ValueError):
            log.info("removing %s, left by a run that did not finish", folder.name)
            shutil.rmtree(folder, ignore_errors=True)


def _index_html(result: RunResult, data_label: str) -> str:
    def link(name: str) -> str:
        return html.escape(quote(name), quote=True)

    rows = "\n".join(
        f"<tr><td>{html.escape(r.title)}</td>"
        f"<td class='{r.status}'>{t(f'index.{r.status}')}</td>"
        f"<td>{t('index.seconds', seconds=f'{r.seconds:.0f}')}</td>"
        f"<td><a href='{link(r.html)}'>{t('index.report')}</a> · "
        f"<a href='{link(r.name)}.ipynb'>{t('index.notebook')}</a></td>"
        f"<td>{html.escape(r.error or '')}</td></tr>"
        for r in result.runs
    )
    ok = sum(r.status == "ok" for r in result.runs)
    return f"""<!DOCTYPE html>
<html lang="{i18n.language()}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<title>{t("index.title", run_id=html.escape(result.run_id))}</title>
<style>
body {{ font-family: system-ui, sans-serif, {JAPANESE_FONTS}; margin: 2rem auto;
       max-width: 60rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
.ok {{ color: #176b2c; font-weight: bold; }} .failed {{ color: #b00020; font-weight: bold; }}
.lead {{ font-size: 1.2rem; }}
</style></head><body>
<h1>{t("title.executive")}</h1>
<p class="lead">{t("index.start")}</p>
<p>{t("index.run", run_id=html.escape(result.run_id), data=html.escape(data_label))}
{t("index.succeeded", ok=ok, total=len(result.runs))}
{t("index.details")}</p>
<table><tr><th>{t("index.col.report")}</th><th>{t("index.col.status")}</th>
<th>{t("index.col.time")}</th><th></th><th>{t("index.col.error")}</th></tr>
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


if __name__ == "__main__":
    sys.exit(run_job(sys.argv[1]))
