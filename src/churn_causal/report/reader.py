"""The reader of a report page: the language and display names its words follow, and the fonts
its figures and pages need for them, chosen here and nowhere else.

Figures are PNGs inside the HTML, so their fonts travel with them: Japanese text is drawn with
IPAexGothic, which the ``matplotlib-fontja`` package ships (from PyPI, like every other
dependency), so no machine needs a system font to make them. Pages are text, drawn by the
reader's browser with the Japanese fonts of the reader's system (``JAPANESE_FONTS``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager

from churn_causal import i18n

# matplotlib's own font first for English, so English figures look as they always have; a
# Japanese name in them falls back to the Japanese font glyph by glyph (and the reverse in
# Japanese figures).
LATIN_FONT = "DejaVu Sans"
JAPANESE_FONT = "IPAexGothic"
# The pages' Japanese fonts, after the Latin ones: macOS, Windows, Linux (Noto from Debian's
# fonts-noto-cjk), then the figures' own font where it is installed.
JAPANESE_FONTS = '"Hiragino Sans", "Yu Gothic", Meiryo, "Noto Sans CJK JP", IPAexGothic'


@cache
def japanese_font_file() -> Path:
    """The TrueType file of the figures' Japanese font (from ``matplotlib-fontja``), made
    known to matplotlib once per process."""
    # the package's import registers its font and switches matplotlib to it; ``speak`` sets
    # the families again, so only the file's place is taken from it
    from matplotlib_fontja import get_font_ttf_path

    path = Path(get_font_ttf_path())
    font_manager.fontManager.addfont(str(path))
    return path


def speak(language: str = i18n.DEFAULT, labels: dict | None = None) -> None:
    """Write everything from now on in ``language`` with ``labels`` for the data's names
    (``i18n.use``), and draw figures in fonts that have its glyphs."""
    i18n.use(language, labels)
    japanese_font_file()
    first, second = (JAPANESE_FONT, LATIN_FONT) if language == "ja" else (LATIN_FONT, JAPANESE_FONT)
    matplotlib.rcParams["font.family"] = [first, second]


def show(key: str, /, **values: object) -> None:
    """Show message ``key`` as a paragraph of the page (Markdown)."""
    from IPython.display import Markdown, display

    display(Markdown(i18n.t(key, **values)))
