"""The reader's language: every word a report shows, display names, and numbers, money and
dates written the reader's way.

One message catalogue per language (``en.yaml``, ``ja.yaml`` beside this file, the same keys in
each); text is ``t("section.key", **values)`` in the language chosen with ``use``. A process
speaks one language at a time, like matplotlib's rcParams: each report notebook calls ``use``
first, and everything it writes (verdicts, descriptions, tables, figures) follows.
"""

from __future__ import annotations

import datetime as dt
import math
import string
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from babel.dates import format_date

LANGUAGES = ("en", "ja")
DEFAULT = "en"
# What readers see for the standard data names, per language (``labels:`` in a run config
# adds to and overrides these); a name without a label is shown as it is in the data.
DEFAULT_LABELS: dict[str, dict[str, str]] = {
    "support": {"ja": "サポート問い合わせ"},
    "seminar": {"ja": "セミナー"},
    "community": {"ja": "コミュニティ"},
    "cs_touch": {"ja": "CSマネージャーのタッチ"},
    "Enterprise": {"ja": "エンタープライズ"},
    "Middle": {"ja": "ミドル"},
    "SMB": {"ja": "SMB"},
    "onboarding": {"ja": "オンボーディング期"},
    "adoption": {"ja": "活用期"},
    "all": {"ja": "全体"},
    "annual": {"ja": "年間契約"},
    "monthly": {"ja": "月次契約"},
    "churn": {"ja": "解約"},  # the outcome
}
# Money in Japanese: the currency's word after the amount (円, ドル), else its code.
CURRENCY_WORDS = {"ja": {"JPY": "円", "USD": "ドル", "EUR": "ユーロ"}}
MAN, OKU = 10_000, 100_000_000


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flatten(value, path + ".")
        else:
            out[path] = str(value).rstrip("\n")
    return out


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every message of ``language``, by dotted key."""
    if language not in LANGUAGES:
        raise ValueError(f"language '{language}' is not one of {', '.join(LANGUAGES)}")
    text = (resources.files(__package__) / f"{language}.yaml").read_text(encoding="utf-8")
    return _flatten(yaml.safe_load(text))


def placeholders(message: str) -> set[str]:
    """The names a message fills in ({name} or {name:spec})."""
    return {f for _, f, _, _ in string.Formatter().parse(message) if f}


@dataclass(frozen=True)
class Reader:
    """One language and its display names: what ``t``, ``name`` and the formatters use."""

    language: str = DEFAULT
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        catalogue(self.language)  # an unknown language fails here, with the known ones
        for name, shown in self.labels.items():
            if not isinstance(shown, dict) or set(shown) - set(LANGUAGES):
                raise ValueError(
                    f"labels.{name}: a mapping of language to the name shown, languages "
                    f"{', '.join(LANGUAGES)} (e.g. {{en: CS-manager touches, ja: CSタッチ}})"
                )


_reader = Reader()


def use(language: str = DEFAULT, labels: dict[str, dict[str, str]] | None = None) -> Reader:
    """Speak ``language`` from now on, showing data names by ``labels`` (on top of
    ``DEFAULT_LABELS``)."""
    global _reader
    _reader = Reader(language, {str(k): dict(v) for k, v in (labels or {}).items()})
    return _reader


@contextmanager
def using(language: str = DEFAULT, labels: dict[str, dict[str, str]] | None = None):
    """Speak ``language`` inside the block, and as before after it."""
    global _reader
    before = _reader
    use(language, labels)
    try:
        yield _reader
    finally:
        _reader = before


def language() -> str:
    return _reader.language


def t(key: str, /, **values: Any) -> str:
    """The message ``key`` in the current language, filled with ``values``."""
    try:
        message = catalogue(_reader.language)[key]
    except KeyError:
        raise KeyError(f"no message '{key}' in the {_reader.language} catalogue") from None
    return message.format(**values) if values else message


def name(data_name: object) -> str:
    """What readers see for a name from the data (a touchpoint, a tier, a phase)."""
    key = str(data_name)
    for labels in (_reader.labels, DEFAULT_LABELS):
        shown = labels.get(key, {}).get(_reader.language)
        if shown:
            return str(shown)
    return key


def number(x: float | None, digits: int = 0, sign: bool = False) -> str:
    """A number with thousands separated (the same in both languages); "-" for none."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:{'+' if sign else ''},.{digits}f}"


def money(x: float | None, currency: str) -> str:
    """An amount a reader can quote: whole units (no decimals, yen never has any); in
    Japanese with 万 and 億 (1,234万円, 1.2億円) and the currency after the amount."""
    if x is None or not math.isfinite(x):
        return "-"
    if _reader.language != "ja":
        return f"{currency} {amount(x)}"
    unit = CURRENCY_WORDS["ja"].get(currency, f" {currency}")
    return f"{amount(x)}{unit}"


def amount(x: float) -> str:
    """An amount without its currency, for an axis: 1,234,567, or 123万 and 1.2億."""
    return _japanese_amount(x) if _reader.language == "ja" else f"{x:,.0f}"


def currency_unit(currency: str) -> str:
    """The currency as an axis or a column names its unit: 円 in Japanese, JPY in English."""
    return CURRENCY_WORDS.get(_reader.language, {}).get(currency, currency)


def _japanese_amount(x: float) -> str:
    """1,234万 / 1.2億 / 12.3万 / 9,999, the way Japanese reports write amounts."""
    sign, a = ("-" if x < 0 else ""), abs(x)
    if round(a) < MAN:
        return f"{sign}{a:,.0f}"
    if a < 100 * MAN:  # 12.3万: 万 with one decimal keeps three figures
        return f"{sign}{_trim(f'{a / MAN:,.1f}')}万"
    if round(a / MAN) < OKU // MAN:  # 99,999,999 is 1億, not 10,000万
        return f"{sign}{a / MAN:,.0f}万"
    digits = 1 if a < 100 * OKU else 0
    return f"{sign}{_trim(f'{a / OKU:,.{digits}f}')}億"


def _trim(text: str) -> str:
    return text[:-2] if text.endswith(".0") else text


def date(d: dt.date | str) -> str:
    """A date the reader's way: 2026年12月1日, December 1, 2026."""
    day = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10])
    return format_date(day, "long", locale=_reader.language)


def interval(low: str, high: str) -> str:
    """Two ends of an interval, already formatted, joined the reader's way."""
    return t("common.interval", low=low, high=high)


# Covariates made per touchpoint or per level: prior_<touchpoint>, tier_<level>.
_PER_TOUCHPOINT = ("prior_", "days_since_")
_PER_LEVEL = ("tier", "contract_type", "phase")


def covariate(column: str) -> str:
    """A covariate of the cohort (``score_slope_90d``, ``prior_seminar``, ``tier_SMB``) as
    readers know it; one the catalogue does not name is shown as it is."""
    known = catalogue(_reader.language)
    if f"covariate.{column}" in known:
        return known[f"covariate.{column}"]
    for prefix in _PER_TOUCHPOINT:
        if column.startswith(prefix):
            return t(f"covariate.{prefix}touchpoint", touchpoint=name(column[len(prefix) :]))
    for base in _PER_LEVEL:
        if column.startswith(base + "_"):
            level = name(column[len(base) + 1 :])
            return t("covariate.level", base=known[f"covariate.{base}"], level=level)
    return column
