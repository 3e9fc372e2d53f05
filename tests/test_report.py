"""End to end: notebooks run with papermill and are published as self-contained HTML."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from churn_causal.cli import main


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


@pytest.fixture(scope="module")
def run(degenerate_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    code = report(
        degenerate_dir, out, "--touchpoints", "seminar,legacy", "--n-boot", "50", "--run-id", "r1"
    )
    return code, out


def test_a_failing_notebook_fails_the_run_but_not_the_others(run):
    code, out = run
    assert code == 1
    manifest = json.loads((out / "r1" / "manifest.json").read_text())
    status = {n["name"]: n["status"] for n in manifest["notebooks"]}
    assert status == {
        "data-quality": "ok",
        "touchpoint-seminar": "ok",
        "touchpoint-legacy": "failed",
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
    assert m["parameters"]["designs"]["seminar"]["horizon_days"] == 365
    assert len(m["data_fingerprint"]["sha256"]) == 64
    assert set(m["data_fingerprint"]["files"]) >= {"customers.parquet", "touches.parquet"}
    assert m["environment"]["packages"]["lifelines"]
    assert set(m["code"]) == {"commit", "dirty"}
    for n in m["notebooks"]:
        assert n["seconds"] > 0
    for name in ("touchpoint-seminar.ipynb", "touchpoint-seminar.html", "data-quality.html"):
        assert (out / "r1" / name).exists()


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
    assert "before_start" in quality  # the validation warning is shown


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
