"""End to end: notebooks run with papermill and are published as self-contained HTML."""

from __future__ import annotations

import json
import re

import pytest

from churn_causal.cli import main


def report(data: str, out, *options: str) -> int:
    return main(["report", "--data", data, "--out", str(out), *options])


@pytest.fixture(scope="module")
def run(small_dir, tmp_path_factory):
    """One run with a good and a failing report (a touchpoint the data does not have)."""
    out = tmp_path_factory.mktemp("reports")
    code = report(
        small_dir, out, "--touchpoints", "seminar,webinar", "--n-boot", "50", "--run-id", "r1"
    )
    return code, out


def test_a_failing_notebook_fails_the_run_but_not_the_others(run):
    code, out = run
    assert code == 1
    manifest = json.loads((out / "r1" / "manifest.json").read_text())
    status = {n["name"]: n["status"] for n in manifest["notebooks"]}
    assert status == {"touchpoint-seminar": "ok", "touchpoint-webinar": "failed"}
    failed = next(n for n in manifest["notebooks"] if n["status"] == "failed")
    assert "webinar" in failed["error"]
    index = (out / "r1" / "index.html").read_text()
    assert "touchpoint-seminar.html" in index and "failed" in index


def test_run_is_published_with_manifest_and_latest_link(run):
    _, out = run
    assert (out / "latest").resolve() == (out / "r1").resolve()
    assert not list(out.glob(".staging-*"))
    m = json.loads((out / "r1" / "manifest.json").read_text())
    assert m["parameters"]["design"]["horizon_days"] == 365
    assert len(m["data_fingerprint"]["sha256"]) == 64
    assert m["environment"]["packages"]["lifelines"]
    assert set(m["code"]) == {"commit", "dirty"}
    for n in m["notebooks"]:
        assert n["seconds"] > 0
    for name in ("touchpoint-seminar.ipynb", "touchpoint-seminar.html"):
        assert (out / "r1" / name).exists()


def test_html_is_self_contained_and_readable(run):
    _, out = run
    page = (out / "r1" / "touchpoint-seminar.html").read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?:", page)
    assert page.count("data:image/png;base64") >= 2  # survival curves and love plot
    assert "percentage points" in page and "seminar" in page
    assert "import " not in page  # code cells are hidden


def test_an_existing_run_is_never_overwritten(run, small_dir, capsys):
    _, out = run
    before = (out / "r1" / "manifest.json").read_text()
    code = report(small_dir, out, "--touchpoints", "seminar", "--run-id", "r1")
    assert code == 2
    assert "exists already" in capsys.readouterr().err
    assert (out / "r1" / "manifest.json").read_text() == before
