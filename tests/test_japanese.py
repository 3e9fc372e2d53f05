"""The report suite in Japanese, as a Japanese CS team runs it: tier and touchpoint names in
Japanese, money in yen, every page and figure in Japanese, looked at in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from matplotlib.text import Text
from test_i18n import english_words
from test_report import ARTIFACTS

from churn_causal.cli import main
from churn_causal.data.load import load
from churn_causal.design.trials import TrialDesign
from churn_causal.i18n import currency_unit, t
from churn_causal.report import executive, plots, quality, targeting
from churn_causal.report.reader import speak

matplotlib.use("Agg")

TIERS = {"Enterprise": "エンタープライズ", "Middle": "ミドル", "SMB": "SMB"}
TOUCHPOINTS = {"seminar": "セミナー", "support": "サポート", "community": "コミュニティ",
               "cs_touch": "CSタッチ"}  # fmt: skip
YEN_PER_EURO = 150
CONFIG = """
design: {CSタッチ: {unit: week}}
business:
  currency: JPY
  costs: {セミナー: {per_event: 4000}, CSタッチ: {hours_per_event: 1.5, hourly_cost: 8000}}
scenarios:
  - {name: SMBのセミナーを2倍に, touchpoint: セミナー, delta: 2, where: {tier: SMB}}
  - {name: ミドルのCS架電を半分に, touchpoint: CSタッチ, delta: 0.5, where: {tier: ミドル}}
targeting: {touchpoints: [CSタッチ]}
labels: {CSタッチ: {ja: CSマネージャーの架電, en: CS-manager calls}}
"""
PAGES = ("index.html", "executive-summary.html", "touchpoint-CSタッチ.html",
         "touchpoint-セミナー.html", "data-quality.html")  # fmt: skip


@pytest.fixture(scope="module")
def japanese_suite(small_dir, tmp_path_factory):
    """The small world with Japanese tier and touchpoint names and prices in yen (no
    truth.json: the names are no longer the simulator's), reported with --language ja."""
    root = tmp_path_factory.mktemp("japanese")
    data = root / "データ"
    data.mkdir()
    customers = pd.read_parquet(f"{small_dir}/customers.parquet")
    customers["tier"] = customers["tier"].astype(str).map(TIERS)
    customers["mrr"] = (customers["mrr"] * YEN_PER_EURO).round()
    touches = pd.read_parquet(f"{small_dir}/touches.parquet")
    touches["touchpoint"] = touches["touchpoint"].astype(str).map(TOUCHPOINTS)
    customers.to_parquet(data / "customers.parquet", index=False)
    touches.to_parquet(data / "touches.parquet", index=False)
    shutil.copy(f"{small_dir}/health.parquet", data / "health.parquet")
    config = root / "run.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    out = root / "reports"
    code = main(["report", "--config", str(config), "--data", str(data), "--out", str(out),
                 "--touchpoints", "セミナー,CSタッチ", "--n-boot", "20", "--workers", "2",
                 "--language", "ja", "--run-id", "ja"])  # fmt: skip
    assert code == 0
    return data, out / "ja"


def test_every_page_reads_in_japanese_in_chromium(japanese_suite, browser):
    """Each page opens offline with lang="ja", shows no English word (bar the abbreviations
    readers use), money in 万円 and 億円, the data's date in Japanese; screenshots of the
    executive summary and a touchpoint report are kept in tests/artifacts/."""
    _, run = japanese_suite
    ARTIFACTS.mkdir(exist_ok=True)
    texts = {}
    for name in PAGES:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((run / name).as_uri())
        page.wait_for_load_state("networkidle")
        lang = page.evaluate("() => document.documentElement.lang")
        images = page.evaluate("() => [...document.images].map(i => i.naturalWidth > 0)")
        if name in ("executive-summary.html", "touchpoint-CSタッチ.html"):
            shot = "executive" if name.startswith("executive") else "touchpoint"
            page.screenshot(path=ARTIFACTS / f"ja-language-{shot}.png", full_page=True)
        texts[name] = page.inner_text("body")
        # config keys and commands (`targeting:`) are code, written as the reader types them
        prose = page.evaluate(
            "() => { const b = document.body.cloneNode(true);"
            " b.querySelectorAll('code, style').forEach(c => c.remove()); return b.innerText; }"
        )
        page.close()
        assert lang == "ja" and all(images), name
        shown = english_words(prose)
        assert shown == set(), name
    summary = texts["executive-summary.html"]
    assert "カスタマーサクセスのタッチポイントが解約に与える影響" in summary
    assert "CSマネージャーの架電" in summary and "セミナー" in summary  # a label, a data name
    assert "JPY" not in summary and re.search(r"\d(,\d{3})*(\.\d)?(万|億)円", summary)
    assert "2025年12月31日" in summary  # the data's last day
    assert "エンタープライズ" in texts["touchpoint-セミナー.html"]
    assert "ミドル" in texts["touchpoint-CSタッチ.html"]


def test_no_figure_of_the_run_misses_a_glyph(japanese_suite):
    """matplotlib warns "Glyph ... missing from font(s)" where it draws boxes; the executed
    notebooks keep every warning their cells gave."""
    _, run = japanese_suite
    notebooks = list(run.glob("*.ipynb"))
    assert len(notebooks) == 4
    outputs = [json.dumps(json.loads(nb.read_text(encoding="utf-8"))["cells"]) for nb in notebooks]
    assert [nb.name for nb, o in zip(notebooks, outputs, strict=True) if "missing from" in o] == []


def _figures(records: dict, data, language: str, labels: dict):
    """Every figure the suite draws, redrawn from the run's records and data."""
    import matplotlib.pyplot as plt

    speak(language, labels)
    seminar, cs = records["セミナー"], records["CSタッチ"]
    drawers = [
        lambda: plots.forest_plot(executive.forest_rows(records)),
        lambda: plots.forest_plot(
            executive.money_rows(records),
            percent=False,
            xlabel=t("exec.money_xlabel", currency=currency_unit("JPY")),
        ),
        lambda: plots.forest_plot(plots.forest_rows(seminar["result"])),
        lambda: plots.love_plot(cs["result"]),
        lambda: plots.overlap_plot(cs["result"]),
        lambda: plots.survival_plot(cs["result"]),
        lambda: targeting.gain_plot(cs["targeting"], "JPY"),
        lambda: targeting.calibration_plot(cs["targeting"]),
        lambda: quality.plot_churn_by_tier(data),
        lambda: quality.plot_early_health(data),
        lambda: quality.plot_uptake_over_time(data),
        lambda: quality.plot_uptake_by_health(quality.uptake_by_health_decile(data, TrialDesign())),
    ]
    for r in records.values():
        if r["dynamics"] and "error" not in r["dynamics"]:
            drawers += [lambda r=r: plots.decay_plot(r["dynamics"]),
                        lambda r=r: plots.event_study_plot(r["dynamics"])]  # fmt: skip
    for draw in drawers:
        fig = draw().figure
        yield fig
        plt.close(fig)


def test_every_figure_is_labelled_in_japanese_and_finds_its_glyphs(japanese_suite):
    data_dir, run = japanese_suite
    records = executive.load_results(run)
    data = load(data_dir)
    labels = {"CSタッチ": {"ja": "CSマネージャーの架電"}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = []
        for fig in _figures(records, data, "ja", labels):
            fig.canvas.draw()
            words = [t.get_text() for t in fig.findobj(Text) if t.get_text().strip()]
            drawn.append(words)
            assert english_words(" ".join(words)) == set(), words
    assert len(drawn) >= 12 and all(drawn)
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []


def test_the_japanese_demo_config_runs_the_same_demo_in_yen():
    from churn_causal.report.config import RunConfig

    root = Path(__file__).parents[1]
    english = RunConfig.from_file(root / "notebooks/demo.yaml")
    japanese = RunConfig.from_file(root / "notebooks/demo-ja.yaml")
    assert (japanese.language, japanese.business.currency) == ("ja", "JPY")
    assert (english.language, english.business.currency) == ("en", "EUR")
    assert japanese.touchpoints == english.touchpoints and japanese.design == english.design
    assert [s.touchpoint for s in japanese.scenarios] == [s.touchpoint for s in english.scenarios]
    assert japanese.targeting == english.targeting
    makefile = (root / "Makefile").read_text()
    assert "report-ja:" in makefile and "price_per_seat" in makefile
