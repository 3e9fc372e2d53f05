"""Names that come from the data (touchpoints, tiers) made safe for where they go.

A name is data: any Unicode text, Japanese included, and possibly hostile (``../../x``,
``<script>``). ``file_stem`` turns it into a file-name part that stays inside its folder;
``markdown`` into text that Markdown and HTML show as written instead of interpreting it.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

MAX_STEM = 60
# Letters and digits of any script, and - _; everything else (separators, dots, spaces,
# control and markup characters) becomes "_".
_UNSAFE = re.compile(r"[^\w-]", re.UNICODE)
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")  # ">" and "<" are escaped as HTML


def file_stem(name: str) -> str:
    """A file-name part for ``name``: the name itself where it is safe (``seminar``,
    ``セミナー``), else its safe characters with a short digest of the name, so that two
    names never share a file."""
    normal = unicodedata.normalize("NFC", str(name))
    stem = _UNSAFE.sub("_", normal).strip("_")[:MAX_STEM]
    if stem == normal and stem:
        return stem
    digest = hashlib.sha256(normal.encode("utf-8")).hexdigest()[:8]
    return f"{stem}-{digest}" if stem else digest


def markdown(name: object) -> str:
    """``name`` as literal text in Markdown (and so in the HTML it becomes)."""
    return html.escape(_MARKDOWN.sub(r"\\\1", str(name)), quote=False)
