"""The reader's language: complete catalogues, no report text outside them, display names,
and numbers, money and dates written the reader's way."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import warnings
from pathlib import Path

import matplotlib
import pytest

from churn_causal import i18n
from churn_causal.report.config import ConfigError, RunConfig
from churn_causal.report.reader import speak

ROOT = Path(__file__).parents[1]
# Abbreviations and product names Japanese SaaS readers use as they are.
LATIN_IN_JAPANESE = {"ROI", "MRR", "LTV", "ARPA", "SMD", "IPTW", "MSM", "DoWhy", "EconML", "CS",
                     "SaaS", "SMB", "Qini"}  # fmt: skip


def english_words(text: str) -> set[str]:
    """Latin words in ``text`` outside code spans, placeholders and markup."""
    text = re.sub(r"`[^`]*`|\{[^}]*\}|<[^>]*>|%[a-zA-Z]|\w+\.json", "", text)
    return set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_IN_JAPANESE


def test_both_catalogues_have_the_same_keys_and_placeholders():
    en, ja = i18n.catalogue("en"), i18n.catalogue("ja")
    assert list(en) == list(ja)
    assert [k for k in en if i18n.placeholders(en[k]) != i18n.placeholders(ja[k])] == []
    assert [k for k, v in {**en, **ja}.items() if not v.strip()] == []


def test_the_japanese_catalogue_has_no_english_left():
    found = {k: english_words(v) for k, v in i18n.catalogue("ja").items()}
    assert {k: w for k, w in found.items() if w} == {}


def test_every_message_the_code_names_is_in_the_catalogues():
    """Message keys written out in the code and notebooks exist (keys built from data, such as
    ``verdict.level.<level>``, are checked where they are used)."""
    sources = [p.read_text() for p in (ROOT / "src").rglob("*.py") if "i18n" not in p.parts]
    sources += [json.dumps(json.loads(p.read_text())) for p in (ROOT / "notebooks").glob("*.ipynb")]
    keys = {k for s in sources for k in re.findall(r'\b(?:t|show)\(\\?"([a-z_.]+)\\?"', s)}
    assert len(keys) > 150
    assert sorted(keys - set(i18n.catalogue("en"))) == []


# Report text is any string literal a report module could show. These are not: keys of the
# results and the LTV formula's table, constants (UPPER_CASE: the mechanisms' codes, fonts,
# the pages' security policy) and matplotlib's legend places.
REPORT_MODULES = ["executive", "targeting", "touchpoint", "whatif", "quality", "plots", "wording",
                  "reader", "runner"]  # fmt: skip
NOT_SHOWN = {"all tiers", "book LTV", "treated customer-periods (last 12 months)"}


def _shown_literals(source: str) -> list[str]:
    """String literals of two or more words outside docstrings, raised errors and logs."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            skip.add(id(first.value))  # a docstring
        if isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id.isupper() for t in node.targets
        ):
            skip |= {id(n) for n in ast.walk(node)}
        if isinstance(node, ast.keyword) and node.arg == "loc":
            skip.add(id(node.value))
        if isinstance(node, ast.Raise) or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "log"
        ):
            skip |= {id(n) for n in ast.walk(node)}
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and id(n) not in skip
        and re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", n.value)
        and n.value not in NOT_SHOWN
    ]


@pytest.mark.parametrize("module", REPORT_MODULES)
def test_no_report_module_writes_words_past_the_catalogue(module):
    source = (ROOT / "src/churn_causal/report" / f"{module}.py").read_text()
    shown = [s for s in _shown_literals(source) if "<" not in s]  # the index page's markup
    assert shown == []


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_no_notebook_writes_words_past_the_catalogue(notebook):
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    assert {c["cell_type"] for c in cells} == {"code"}  # prose lives in the catalogues
    code = [
        "".join(c["source"]) for c in cells if "parameters" not in c["metadata"].get("tags", [])
    ]
    shown = [s for c in code for s in _shown_literals(c)]
    assert shown == []


@pytest.mark.parametrize(
    ("amount", "currency", "japanese", "english"),
    [
        (12_345_678, "JPY", "1,235万円", "JPY 12,345,678"),
        (123_456_789, "JPY", "1.2億円", "JPY 123,456,789"),
        (2_812_340_780, "JPY", "28.1億円", "JPY 2,812,340,780"),
        (15_000_000_000, "JPY", "150億円", "JPY 15,000,000,000"),
        (9_999, "JPY", "9,999円", "JPY 9,999"),
        (56_789, "JPY", "5.7万円", "JPY 56,789"),
        (100_000, "JPY", "10万円", "JPY 100,000"),
        (99_999_999, "JPY", "1億円", "JPY 99,999,999"),
        (-4_560_000, "JPY", "-456万円", "JPY -4,560,000"),
        (1234.56, "JPY", "1,235円", "JPY 1,235"),
        (281_084_078, "EUR", "2.8億ユーロ", "EUR 281,084,078"),
        (5_000, "CHF", "5,000 CHF", "CHF 5,000"),
        (float("nan"), "JPY", "-", "-"),
    ],
)
def test_money_is_written_the_readers_way(amount, currency, japanese, english):
    i18n.use("ja")
    assert i18n.money(amount, currency) == japanese
    i18n.use("en")
    assert i18n.money(amount, currency) == english


def test_dates_are_written_the_readers_way():
    i18n.use("ja")
    assert i18n.date(dt.date(2026, 12, 1)) == "2026年12月1日"
    assert i18n.date("2025-12-31T00:00:00") == "2025年12月31日"
    i18n.use("en")
    assert i18n.date(dt.date(2026, 12, 1)) == "December 1, 2026"


def test_a_language_used_for_a_block_is_left_behind_it():
    i18n.use("en")
    with i18n.using("ja"):
        assert i18n.t("col.tier") == "ティア"
    assert i18n.language() == "en" and i18n.t("col.tier") == "tier"


def test_names_are_shown_by_the_labels_then_the_defaults_then_as_they_are():
    i18n.use("ja", {"cs_touch": {"en": "CS-manager touches", "ja": "CSタッチ"}})
    assert i18n.name("cs_touch") == "CSタッチ"  # the config's label
    assert i18n.name("seminar") == "セミナー"  # a default
    assert i18n.name("ウェビナー") == "ウェビナー"  # a name from the data, as it is
    assert i18n.covariate("prior_seminar") == i18n.t(
        "covariate.prior_touchpoint", touchpoint="セミナー"
    )
    i18n.use("en", {"cs_touch": {"en": "CS-manager touches"}})
    assert i18n.name("cs_touch") == "CS-manager touches"
    assert i18n.name("seminar") == "seminar"  # English defaults are the data's names


def test_the_config_takes_a_language_and_labels_and_refuses_what_it_cannot_speak():
    cfg = RunConfig.from_dict(
        {"output": {"language": "ja"}, "labels": {"cs_touch": {"ja": "CSタッチ"}}}
    )
    assert cfg.language == "ja" and cfg.labels == {"cs_touch": {"ja": "CSタッチ"}}
    assert RunConfig.from_dict({}).language == "en"
    with pytest.raises(ConfigError, match=r"language 'fr' is not one of en, ja"):
        RunConfig.from_dict({"output": {"language": "fr"}})
    with pytest.raises(ConfigError, match=r"labels\.cs_touch"):
        RunConfig.from_dict({"labels": {"cs_touch": "CSタッチ"}})
    with pytest.raises(ConfigError, match=r"labels\.cs_touch"):
        RunConfig.from_dict({"labels": {"cs_touch": {"de": "CS-Kontakte"}}})


@pytest.mark.parametrize("language", ["ja", "en"])
def test_figures_draw_japanese_names_without_a_missing_glyph(language):
    """Japanese text in a figure of either language finds its glyphs (matplotlib warns
    "Glyph ... missing from font(s)" where it does not and draws boxes)."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speak(language)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="エンタープライズ・ミドル・SMB")
        ax.set_title("セミナーの効果（95%信頼区間）")
        ax.legend()
        fig.savefig(Path("/dev/null"), format="png")
        plt.close(fig)
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
