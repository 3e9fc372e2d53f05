"""End to end: notebooks run with papermill and are published as self-contained HTML."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from conftest import ARTIFACTS

from churn_causal.cli import main
from churn_causal.data.load import TRACE_ENV
from churn_causal.report import history
from churn_causal.report.names import file_stem


def report(data: str, out, *options: str) -> int:
    return main(["report", "--data", data, "--out", str(out), *options])


@pytest.fixture(scope="module")
def degenerate_dir(small_dir, tmp_path_factory):
    """Valid data plus a touchpoint whose every event predates the contract (legal, with a
    warning): its cohort has no treated customer-month, so its report must fail."""
    folder = tmp_path_factory.mktemp("degenerate")
    for f in ("customers.parquet", "health.parquet", "truth.json"):
        shutil.copy(f"{small_dir}/{f}", folder / f)
    customers = pd.read_parquet(f"{small_dir}/customers.parquet").head(30)
    legacy = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str),
            "date": customers["start_date"] - pd.Timedelta(days=10),
            "touchpoint": "legacy",
        }
    )
    touches = pd.read_parquet(f"{small_dir}/touches.parquet")
    touches = pd.concat([touches.astype({"customer_id": str, "touchpoint": str}), legacy])
    touches.to_parquet(folder / "touches.parquet", index=False)
    return str(folder)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def run(degenerate_dir, tmp_path_factory):
    """One run, two notebooks at once: seminar (monthly trials), cs_touch (weekly) and legacy,
    which fails; the executive summary and validation report follow."""
    out = tmp_path_factory.mktemp("reports")
    # What a killed run leaves behind: a staging folder whose process is gone.
    crashed = out / ".staging-crashed"
    crashed.mkdir()
    (crashed / ".pid").write_text(str(_dead_pid()))
    config = tmp_path_factory.mktemp("config") / "run.yaml"
    config.write_text(RUN_CONFIG)
    options = ("--touchpoints", "seminar,cs_touch,legacy", "--n-boot", "50", "--workers", "2")
    options += ("--config", str(config))
    trace = tmp_path_factory.mktemp("trace") / "validations.txt"
    os.environ[TRACE_ENV] = str(trace)  # every validation, the notebooks' included, is logged
    try:
        code = report(degenerate_dir, out, *options, "--run-id", "r1")
    finally:
        del os.environ[TRACE_ENV]
    RUN_VALIDATIONS.extend(trace.read_text().splitlines())
    return code, out


RUN_VALIDATIONS: list[str] = []
RUN_CONFIG = """
business:
  costs: {seminar: {per_event: 35}, cs_touch: {hours_per_event: 1.5, hourly_cost: 60}}
scenarios:
  - {name: seminars x2 in SMB, touchpoint: seminar, delta: 2, where: {tier: SMB}}
  - {name: CS calls halved in Middle, touchpoint: cs_touch, delta: 0.5, where: {tier: Middle}}
targeting: {touchpoints: [cs_touch]}
"""


def test_a_run_validates_its_data_once_and_hands_every_notebook_the_snapshot(run):
    _, out = run
    assert len(RUN_VALIDATIONS) == 1  # the runner's; six notebooks read the snapshot
    manifest = json.loads((out / "r1" / "manifest.json").read_text())
    assert set(manifest["snapshot_fingerprint"]["files"]) == {
        "snapshot.json",
        "customers.parquet",
        "health.parquet",
        "touches.parquet",
    }
    assert not (out / "r1" / "snapshot").exists()  # a copy of the data: not kept
    executed = nbformat.read(out / "r1" / "touchpoint-seminar.ipynb", as_version=4)
    injected = next(
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert ".staging-r1/snapshot" in injected.source
    assert '"unit": "month"' in injected.source  # the design resolved by the runner


def test_a_failing_notebook_fails_the_run_but_not_the_others(run):
    code, out = run
    assert code == 1
    manifest = json.loads((out / "r1" / "manifest.json").read_text())
    status = {n["name"]: n["status"] for n in manifest["notebooks"]}
    assert status == {
        "data-quality": "ok",
        "touchpoint-seminar": "ok",
        "touchpoint-cs_touch": "ok",
        "touchpoint-legacy": "failed",
        "executive-summary": "ok",
        "validation": "ok",
    }
    failed = next(n for n in manifest["notebooks"] if n["status"] == "failed")
    assert "treated and untreated" in failed["error"]
    index = (out / "r1" / "index.html").read_text()
    assert "touchpoint-seminar.html" in index and "failed" in index


def test_run_is_published_with_manifest_and_latest_link(run):
    _, out = run
    assert (out / "latest").resolve() == (out / "r1").resolve()
    assert not list(out.glob(".staging-*"))
    m = json.loads((out / "r1" / "manifest.json").read_text())
    assert m["parameters"]["designs"]["seminar"]["unit"] == "month"
    assert m["parameters"]["designs"]["cs_touch"]["unit"] == "week"
    assert m["parameters"]["workers"] == 2 and m["parameters"]["business"]["currency"] == "EUR"
    assert len(m["data_fingerprint"]["sha256"]) == 64
    assert set(m["data_fingerprint"]["files"]) >= {"customers.parquet", "touches.parquet"}
    assert m["environment"]["packages"]["lifelines"]
    assert set(m["code"]) == {"commit", "dirty"}
    for n in m["notebooks"]:
        assert n["seconds"] > 0
    for name in (
        "touchpoint-seminar.ipynb",
        "touchpoint-seminar.html",
        "data-quality.html",
        "executive-summary.html",
        "executive-summary.ipynb",
        "validation.html",
        "result-seminar.json",
    ):
        assert (out / "r1" / name).exists()
    assert not list((out / "r1").glob(".*.json")) and not list((out / "r1").glob("*.status.json"))


def test_the_executive_summary_reads_the_touchpoint_results(run):
    _, out = run
    page = (out / "r1" / "executive-summary.html").read_text()
    for words in (
        "seminar",
        "cs_touch",
        "percentage points",
        "What each programme is worth",
        "gross profit kept",
        "What if",
        "seminars x2 in SMB",
        "LTV formula",
        "EUR",
    ):
        assert words in page  # fmt: skip
    assert "legacy" not in page  # its report failed: no result to summarise
    assert "import " not in page


class _Tables(HTMLParser):
    """The tables of a page as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.tables:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _table(page: str, marker: str) -> pd.DataFrame:
    """The first HTML table after ``marker`` on a page, as text: its first header row names
    the columns, the first cell of each row is its index."""
    parser = _Tables()
    parser.feed(page[page.index(marker) :])
    rows = parser.tables[0]
    header = rows[0]
    body = [r for r in rows[1:] if len(r) == len(header) and r[0]]
    frame = pd.DataFrame([r[1:] for r in body], index=[r[0] for r in body], columns=header[1:])
    return frame


def _amount(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text.replace("EUR", "")))


def test_the_money_is_recomputable_from_the_page_and_below_the_whole(run):
    """From the executive page alone: gross profit kept = revenue kept x gross margin, cost =
    touches x cost per event, net = gross profit - cost, ROI = net / cost (to the page's
    rounding), and every amount below the customers' whole gross profit over the same weeks,
    per touchpoint, tier and scenario; the LTV formula's figure below its own lifetime gross
    profit of the active customers."""
    _, out = run
    page = (out / "r1" / "executive-summary.html").read_text()
    table = _table(page, "What each programme is worth")
    checked = 0
    for tp, row in table.T.iterrows():  # a column per touchpoint
        if not row.get("gross profit kept", "").startswith("EUR") or not row["cost"].startswith(
            "EUR"
        ):
            continue
        margin = float(row["gross margin"].rstrip("%")) / 100
        gp, revenue = _amount(row["gross profit kept"]), _amount(row["revenue kept"])
        cost, net = _amount(row["cost"]), _amount(row["net"])
        per_event = _amount(row["cost per event"])
        assert gp == pytest.approx(revenue * margin, abs=2.0), tp
        assert cost == pytest.approx(_amount(row["touches delivered"]) * per_event,
                                     abs=0.5 * per_event + 1), tp  # fmt: skip
        assert net == pytest.approx(gp - cost, abs=2.0), tp
        assert float(row["ROI"]) == pytest.approx(net / cost, abs=0.006), tp
        whole = _amount(row["gross profit of these customers over the same weeks"])
        for column in ("gross profit kept", "cost", "net"):
            assert abs(_amount(row[column])) < whole, (tp, column)
        checked += 1
    assert checked >= 1
    tiers = _table(page, "Per tier")
    for _, row in tiers.iterrows():
        if row.get("gross profit of the tier over the same weeks", "").startswith("EUR"):
            whole = _amount(row["gross profit of the tier over the same weeks"])
            assert abs(_amount(row["gross profit kept"])) < whole
    whatif = _table(page, "What if")
    assert "seminars x2 in SMB" in whatif.index
    for _, row in whatif.iterrows():
        if row.get("gross profit", "").startswith("EUR"):
            whole = _amount(row["gross profit of the segment over the same weeks"])
            assert abs(_amount(row["gross profit"])) < whole and abs(_amount(row["net"])) < whole
    team = _table(page, "Why not the LTV formula")
    for _, row in team.iterrows():  # the formula's figure against its own lifetime scale
        if not row["the LTV formula says"].startswith("EUR"):
            continue
        book = _amount(row["the formula's lifetime gross profit of all active customers"])
        assert abs(_amount(row["the LTV formula says"])) < book
        checked += 1
    assert checked >= 2


def test_the_validation_report_sets_estimates_beside_the_truth(run, degenerate_dir):
    """The page's count of intervals that contain the truth is that of the results against
    the simulator's truth.json, and most of them do: 12 95% intervals (two touchpoints, three
    methods and three tiers each), of which at least 10 (all but 2% of runs, were they
    independent)."""
    from churn_causal.grading.runs import run_against_truth
    from churn_causal.report.executive import load_results
    from churn_causal.report.touchpoint import load_truth

    _, out = run
    page = (out / "r1" / "validation.html").read_text()
    table = run_against_truth(load_results(out / "r1"), load_truth(degenerate_dir))
    adjusted = table[table["method"] != "naive"]
    assert f"{adjusted['covered'].sum()} of {len(adjusted)} adjusted intervals" in page
    assert len(adjusted) == 12 and adjusted["covered"].sum() >= 10
    truth = json.loads(Path(degenerate_dir, "truth.json").read_text())
    seminar = truth["designs"]["month"]["touchpoints"]["seminar"]["att_risk_difference"]
    row = table[(table["touchpoint"] == "seminar") & (table["tier"] == "all")]
    assert (row.loc[row["method"] != "naive", "truth"] == round(100 * seminar, 2)).all()
    assert page.count("data:image/png;base64") >= 1


def test_the_run_is_added_to_the_history(run):
    _, out = run
    rows = history.read(out / "history.duckdb")
    assert set(rows["run_id"]) == {"r1"}
    assert set(rows["touchpoint"]) == {"seminar", "cs_touch"}
    assert set(rows["method"]) == {"naive", "match", "iptw", "dr"}
    assert rows["primary_method"].sum() == 2
    assert (rows["ci_low"] <= rows["estimate"]).all() and (
        rows["estimate"] <= rows["ci_high"]
    ).all()


def test_html_is_self_contained_and_readable(run):
    _, out = run
    for name, images in (("touchpoint-seminar.html", 2), ("data-quality.html", 4)):
        page = (out / "r1" / name).read_text()
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?:", page)
        assert page.count("data:image/png;base64") >= images
        assert "import " not in page  # code cells are hidden
    page = (out / "r1" / "touchpoint-seminar.html").read_text()
    assert "percentage points" in page and "seminar" in page
    quality = (out / "r1" / "data-quality.html").read_text()
    assert "dates lie before the customer" in quality  # the validation warning is shown


def test_an_existing_run_is_never_overwritten(run, small_dir, capsys):
    _, out = run
    before = (out / "r1" / "manifest.json").read_text()
    assert report(small_dir, out, "--touchpoints", "seminar", "--run-id", "r1") == 2
    assert "exists already" in capsys.readouterr().err
    assert (out / "r1" / "manifest.json").read_text() == before


def test_bad_data_runs_nothing_and_keeps_earlier_reports(run, capsys):
    _, out = run
    before = sorted(p.name for p in out.iterdir())
    bad = "tests/fixtures/bad/several_problems_at_once"
    assert report(bad, out, "--run-id", "r2") == 2
    err = capsys.readouterr().err
    assert "[unknown_customer]" in err and "earlier reports are untouched" in err
    assert sorted(p.name for p in out.iterdir()) == before


def test_an_interrupted_run_publishes_nothing_and_keeps_the_last_report(run, small_dir):
    _, out = run
    before = {p.name: p.read_bytes() for p in (out / "r1").iterdir()}
    cmd = [sys.executable, "-m", "churn_causal.cli", "report", "--data", small_dir]
    cmd += ["--out", str(out), "--touchpoints", "seminar", "--run-id", "r-int"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    staging = out / ".staging-r-int"
    deadline = time.monotonic() + 120
    while not list(staging.glob(".touchpoint-seminar.job.json")):  # notebooks are running
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert "nothing was published" in proc.stderr.read()
    assert not staging.exists() and not (out / "r-int").exists()
    assert (out / "latest").resolve() == (out / "r1").resolve()
    assert {p.name: p.read_bytes() for p in (out / "r1").iterdir()} == before
    # The notebook processes were stopped with the run.
    left = subprocess.run(["pgrep", "-f", str(staging)], capture_output=True, text=True)
    assert left.stdout.strip() == ""


@pytest.mark.parametrize("page_name", ["index.html", "executive-summary.html"])
def test_pages_open_offline_in_chromium(run, browser, page_name, degenerate_dir):
    _, out = run
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((out / "r1" / page_name).as_uri())
    page.wait_for_load_state("networkidle")
    images = page.evaluate("() => [...document.images].map(i => i.complete && i.naturalWidth > 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{page_name}.png", full_page=True)
    text = page.inner_text("body")
    page.close()
    assert all(images)
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    if page_name == "executive-summary.html":
        assert len(images) >= 2  # the forest plot, and the programmes' and scenarios' net value
        assert "What customer-success touchpoints do to churn" in text
        assert "What if" in text and "seminars x2 in SMB" in text
        assert "Who to touch next" in text and "the rule to apply by hand" in text
        ids = pd.read_parquet(f"{degenerate_dir}/customers.parquet")["customer_id"].astype(str)
        raw = re.sub(
            r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", (out / "r1" / page_name).read_text()
        )
        assert not [i for i in ids if i in raw]
        # while the CS team's list beside the pages has them
        listed = pd.read_csv(out / "r1" / "customers-cs_touch.csv")["customer_id"].astype(str)
        assert len(listed) > 0 and set(listed) <= set(ids)


def test_scheduled_runs_are_documented_and_the_workflow_runs_the_report():
    root = Path(__file__).parents[1]
    workflow = yaml.safe_load((root / ".github/workflows/report.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"]
    steps = workflow["jobs"]["report"]["steps"]
    assert any(s.get("run") == "make report" for s in steps)
    readme = (root / "README.md").read_text()
    cron = re.search(r"^\d+ \d+ \* \* \S+ .*churn-causal report --config .*$", readme, re.M)
    assert cron, "README gives a crontab line"


# ------------------------------------------------------------------ Japanese data, hostile names
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">/../../コミュニティ"
JA_TIERS = {"Enterprise": "エンタープライズ", "Middle": "ミドル", "SMB": "SMB"}
JA_TOUCHPOINTS = {"seminar": "セミナー", "support": "サポート", "cs_touch": "CSタッチ"}


@pytest.fixture(scope="module")
def japanese_run(small_dir, tmp_path_factory):
    """The small world as a Japanese team's Excel export: CSV files in cp932 with Japanese
    tier and touchpoint names, plus a touchpoint whose name is markup and a path. No
    truth.json: real data has none. Two touchpoints are reported."""
    root = tmp_path_factory.mktemp("ja")
    data = root / "export"
    data.mkdir()
    customers = pd.read_parquet(f"{small_dir}/customers.parquet")
    customers["tier"] = customers["tier"].astype(str).map(JA_TIERS)
    touches = pd.read_parquet(f"{small_dir}/touches.parquet")
    names = {**JA_TOUCHPOINTS, "community": HOSTILE}
    touches["touchpoint"] = touches["touchpoint"].astype(str).map(names)
    health = pd.read_parquet(f"{small_dir}/health.parquet")
    for name, df in (("customers", customers), ("health", health), ("touches", touches)):
        df.to_csv(data / f"{name}.csv", index=False, encoding="cp932", date_format="%Y-%m-%d")
    out = root / "reports"
    options = ("--touchpoints", f"セミナー,{HOSTILE}", "--n-boot", "50", "--workers", "2")
    code = report(str(data), out, *options, "--run-id", "ja")
    return code, root, out / "ja"


def test_a_cp932_export_with_japanese_names_is_published(japanese_run):
    code, _, run = japanese_run
    assert code == 0  # every notebook succeeded
    manifest = json.loads((run / "manifest.json").read_text())
    assert {n["status"] for n in manifest["notebooks"]} == {"ok"}
    assert manifest["parameters"]["touchpoints"] == ["セミナー", HOSTILE]
    seminar = (run / "touchpoint-セミナー.html").read_text(encoding="utf-8")
    assert "セミナー" in seminar and "エンタープライズ" in seminar and "ミドル" in seminar
    result = json.loads((run / "result-セミナー.json").read_text(encoding="utf-8"))
    assert set(result["result"]["by"]) == {"エンタープライズ", "ミドル", "SMB"}
    assert result["result"]["design"]["unit"] == "month"
    rows = history.read(run.parent / "history.duckdb")
    assert set(rows["touchpoint"]) == {"セミナー", HOSTILE}


def test_a_name_never_picks_a_path(japanese_run):
    _, root, run = japanese_run
    stem = file_stem(HOSTILE)
    assert (run / f"touchpoint-{stem}.html").exists() and (run / f"result-{stem}.json").exists()
    inside = {run.parent.resolve(), (root / "export").resolve()}
    for path in root.rglob("*"):
        assert any(p in inside for p in path.resolve().parents) or path.resolve() in inside, path


@pytest.mark.parametrize("page_name", ["executive-summary.html", "hostile", "index.html"])
def test_names_show_as_text_and_never_run_in_the_browser(japanese_run, browser, page_name):
    _, _, run = japanese_run
    if page_name == "hostile":
        page_name = f"touchpoint-{file_stem(HOSTILE)}.html"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((run / page_name).as_uri())
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"ja-{page_name.split('-')[0]}.png", full_page=True)
    title, text = page.title(), page.inner_text("body")
    injected = page.evaluate("() => document.querySelectorAll('[onerror], img[src=x]').length")
    page.close()
    assert title != "pwned" and injected == 0
    assert HOSTILE in text  # shown as written
    if page_name == "executive-summary.html":
        assert "セミナー" in text
