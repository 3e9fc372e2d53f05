"""Reading one input file (CSV or Parquet) or the tables of a DuckDB file, where every way
a file can fail to be read becomes a ``Problem`` that names the file and says what to do.

CSV text is UTF-8 (with or without a byte-order mark) or cp932, the Shift-JIS that Excel
saves in Japan; the encoding is recognised from the file, or set (``data.encoding`` in the
config, ``--encoding`` on the command line). Recognition looks only at the lines that hold
non-ASCII bytes: valid UTF-8 is UTF-8; otherwise charset-normalizer ranks the encodings that
could have produced those lines, and cp932 is taken when it is among the most plausible
(the product's users are Japanese teams). A file that is neither is an error that says what
it looks like.
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
import re
from pathlib import Path

import pandas as pd

from churn_causal.data.problems import DataError, Problem, error

AUTO = "auto"
UTF8 = "utf-8-sig"  # reads UTF-8 with and without the byte-order mark
CP932 = "cp932"  # Microsoft's Shift-JIS, a superset of JIS X 0208 Shift-JIS
# Names charset-normalizer gives the Shift-JIS family.
SHIFT_JIS_NAMES = {"cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213"}
SAMPLE_BYTES = 1 << 18  # non-ASCII lines looked at to recognise the encoding
TAIL_BYTES = 1 << 16
_HIGH = re.compile(rb"[\x80-\xff]")
_SAVE_AS = (
    "Save it from Excel as 'CSV UTF-8 (comma delimited)' or 'CSV (comma delimited)', or set "
    "data.encoding in the config (--encoding) to the file's encoding."
)


def check_encoding(name: str) -> str:
    """``name`` if Python knows that codec (or it is "auto"); ValueError otherwise."""
    if name != AUTO:
        try:
            codecs.lookup(name)
        except LookupError as exc:
            raise ValueError(
                f"unknown encoding {name!r}: use auto, utf-8 or cp932 (Shift-JIS)"
            ) from exc
    return name


def csv_encoding(path: Path, origin: str) -> str:
    """The encoding of a CSV file: UTF-8 or cp932 (``DataError`` for anything else)."""
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return UTF8
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError([_not_csv_text(origin, "UTF-16 text (Excel's 'Unicode text')")])
    sample = _non_ascii_lines(path)
    try:
        sample.decode("utf-8")
        return UTF8
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    japanese = [m for m in matches if m.encoding in SHIFT_JIS_NAMES]
    if best is not None and japanese and japanese[0].chaos <= best.chaos:
        return CP932
    looks = f"it looks like {best.encoding}" if best is not None else "it is not text"
    raise DataError([_not_csv_text(origin, f"neither UTF-8 nor cp932 (Shift-JIS) text; {looks}")])


def _not_csv_text(origin: str, what: str) -> Problem:
    return error("unsupported_encoding", origin, f"the file is {what}", _SAVE_AS)


def _non_ascii_lines(path: Path) -> bytes:
    """Up to ``SAMPLE_BYTES`` of the file's lines that hold a byte above 127."""
    out = bytearray()
    if path.stat().st_size == 0:
        return bytes(out)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = 0
        while len(out) < SAMPLE_BYTES:
            hit = _HIGH.search(mm, pos)
            if hit is None:
                break
            start = mm.rfind(b"\n", 0, hit.start()) + 1
            end = mm.find(b"\n", hit.start())
            end = len(mm) if end < 0 else end + 1
            out += mm[start:end]
            pos = end
    return bytes(out)


def read_csv(
    path: Path, encoding: str = AUTO, origin: str | None = None, text: bool = True
) -> pd.DataFrame:
    """A CSV file; ``DataError`` if it cannot be read whole. With ``text`` every value stays
    text (blank = missing), so that validation can say which values do not parse; without,
    pandas infers numbers and booleans (a table for the estimator)."""
    origin = origin or path.name
    if path.stat().st_size == 0:
        raise DataError([_empty(origin)])
    enc = csv_encoding(path, origin) if encoding == AUTO else encoding
    as_text = {"dtype": str, "keep_default_na": False, "na_values": [""]} if text else {}
    try:
        frame = pd.read_csv(path, encoding=enc, index_col=False, **as_text)
    except UnicodeDecodeError as exc:
        raise DataError([_undecodable(path, origin, enc, exc)]) from None
    except pd.errors.EmptyDataError:
        raise DataError([_empty(origin)]) from None
    except pd.errors.ParserError as exc:
        raise DataError([_unparseable(origin, exc)]) from None
    _check_complete(path, origin, enc, frame)
    return frame


def _empty(origin: str) -> Problem:
    return error(
        "empty_file",
        origin,
        "the file is empty (not even a header line)",
        "Export the table again: the file must start with its header line.",
    )


def _undecodable(path: Path, origin: str, enc: str, exc: UnicodeDecodeError) -> Problem:
    """Which line is not text in ``enc``, for the message."""
    line = _first_bad_line(path, enc)
    where = f" (line {line})" if line else ""
    return error(
        "unsupported_encoding",
        origin,
        f"the file is not valid {codecs.lookup(enc).name} text{where}: {exc.reason}",
        _SAVE_AS,
    )


def _first_bad_line(path: Path, enc: str) -> int | None:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode(enc)
            except UnicodeDecodeError:
                return number
    return None


def _unparseable(origin: str, exc: pd.errors.ParserError) -> Problem:
    text = re.sub(r"Error tokenizing data. (C error: )?", "", str(exc).strip().splitlines()[-1])
    if "EOF inside string" in text:
        return error(
            "truncated_file",
            origin,
            "the file ends inside a quoted value: it looks cut off, or a quote is not closed",
            "Export the table again, or close the quote.",
        )
    return error(
        "unreadable_file",
        origin,
        f"the file cannot be read as CSV ({text})",
        "Every line needs as many comma-separated fields as the header; check the "
        "delimiter (a comma) and the quoting, or export the table again.",
    )


def _check_complete(path: Path, origin: str, enc: str, frame: pd.DataFrame) -> None:
    """A last line without a line end and with fewer fields than the header is a file that
    was cut off (a download or a copy that stopped)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read()
    if tail.endswith(b"\n") or len(frame) == 0:
        return
    last = tail.rsplit(b"\n", 1)[-1].decode(enc, errors="replace")
    fields = next(csv.reader(io.StringIO(last)), [])
    if len(fields) < len(frame.columns):
        raise DataError(
            [
                Problem(
                    "error",
                    "truncated_file",
                    origin,
                    None,
                    f"the last line has {len(fields)} of the header's {len(frame.columns)} "
                    "fields and no line end: the file looks cut off",
                    "Export or download the table again.",
                    1,
                    [(len(frame) - 1, last)],
                )
            ]
        )


def read_parquet(path: Path, origin: str | None = None) -> pd.DataFrame:
    """A Parquet file; ``DataError`` if it is not Parquet or is damaged."""
    origin = origin or path.name
    if path.stat().st_size == 0:
        raise DataError([_empty(origin)])
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        reason = re.sub(r"^Could not open Parquet input source '[^']*': ", "", str(exc).strip())
        reason = reason.splitlines()[0]
        raise DataError(
            [
                error(
                    "unreadable_file",
                    origin,
                    f"the file cannot be read as Parquet ({reason})",
                    "It is damaged or not a Parquet file: export the table again, or save "
                    "it as .csv.",
                )
            ]
        ) from None


def read_table(path: Path, encoding: str = AUTO) -> pd.DataFrame:
    """Any one table for the estimator, from a ``.csv`` (types inferred) or ``.parquet`` file."""
    if not path.is_file():
        raise DataError([error("no_data", str(path), "no such file", "Check the path.")])
    if path.suffix.lower() == ".parquet":
        return read_parquet(path)
    if path.suffix.lower() == ".csv":
        return read_csv(path, encoding, text=False)
    raise DataError(
        [error("unsupported_file", path.name, "not a .csv or .parquet file", "Save it as .csv.")]
    )


def read_duckdb(path: Path, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The tables of ``names`` that a DuckDB file holds; ``DataError`` if it is not one."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        reason = re.sub(r'^IO Error: The file ".*" exists, but ', "", str(exc).strip())
        raise DataError(
            [
                error(
                    "unreadable_file",
                    path.name,
                    f"the file cannot be opened as a DuckDB database ({reason})",
                    "Give a database made by 'churn-causal ingest', or a folder of .csv or "
                    ".parquet tables.",
                )
            ]
        ) from None
    with con:
        present = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {n: con.execute(f'SELECT * FROM "{n}"').df() for n in names if n in present}
