"""Names from the data stay in their place: inside their folder, and text in a page."""

from __future__ import annotations

import mistune
import pytest

from churn_causal.report.names import file_stem, markdown

HOSTILE = ["../../x", "/etc/passwd", "a/b", "..", ".hidden", "a\\b", "con\x00trol", "", " "]


@pytest.mark.parametrize("name", ["seminar", "cs_touch", "セミナー", "CSタッチ", "support-2"])
def test_safe_names_keep_their_spelling(name):
    assert file_stem(name) == name


@pytest.mark.parametrize("name", [*HOSTILE, "<script>alert(1)</script>", "a b"])
def test_any_other_name_becomes_one_plain_file_name(name, tmp_path):
    stem = file_stem(name)
    assert stem and "/" not in stem and "\\" not in stem and not stem.startswith(".")
    assert (tmp_path / f"touchpoint-{stem}.html").resolve().parent == tmp_path.resolve()


def test_names_that_differ_never_share_a_file():
    names = ["a/b", "a_b", "a b", "a.b", "a\\b", "a_b-", "セミナー", "セミナ"]
    assert len({file_stem(n) for n in names}) == len(names)


@pytest.mark.parametrize(
    "name",
    [
        '<img src=x onerror="alert(1)">',
        "<script>alert(1)</script>",
        "**bold** [link](javascript:alert(1)) `code` # head",
        "cs_touch & <b>",
    ],
)
def test_markdown_shows_a_name_as_written(name):
    html = mistune.html(f"The touchpoint {markdown(name)} helps.")
    assert "<img" not in html and "<script" not in html and "<a " not in html
    assert "<strong>" not in html and "<code>" not in html
    text = html.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = text.replace("&quot;", '"')
    assert name in text
