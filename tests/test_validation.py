"""The input contract: every bad-input fixture fails with its message; good data passes."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from churn_causal.cli import main
from churn_causal.data.contract import CONTRACT
from churn_causal.data.load import load, read_raw
from churn_causal.data.problems import DataError
from churn_causal.data.validation import validate

FIXTURES = Path(__file__).parent / "fixtures"
BAD = sorted((FIXTURES / "bad").iterdir())
# Errors of the configuration file: reported by the command line without a [code] tag.
UNTAGGED = {"config"}


def cli(folder: Path, *command: str) -> int:
    """``command`` on the fixture's data: the folder, or the .duckdb file in it."""
    config = folder / "config.yaml"
    extra = ["--config", str(config)] if config.exists() else []
    data = next(folder.glob("*.duckdb"), folder)
    return main([*command, "--data", str(data), *extra])


def expected(folder: Path) -> list[tuple[str, str]]:
    lines = (folder / "expected.txt").read_text().splitlines()
    return [tuple(part.strip() for part in line.split("|", 1)) for line in lines]


def test_the_corpus_is_large_enough():
    assert len(BAD) >= 40


@pytest.mark.parametrize("folder", BAD, ids=lambda p: p.name)
def test_each_bad_input_exits_2_with_its_message(folder, tmp_path, capsys):
    """Each bad input (data that breaks the contract, a file that cannot be read, an analysis
    that is impossible) ends with exit 2 and its message, no traceback, nothing written. The
    command is `validate` unless the fixture's command.txt gives another."""
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "out"
    command = folder / "command.txt"
    if command.exists():
        argv = command.read_text().format(here=folder, out=out).split()
        code = main(argv)
    else:
        code = cli(folder, "validate")
    assert code == 2
    err = capsys.readouterr().err
    for tag, fragment in expected(folder):
        if tag not in UNTAGGED:
            assert f"[{tag}]" in err, err
        assert fragment in err, err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing written
    assert not out.exists()


def test_every_message_says_where_how_many_and_what_to_do(capsys):
    folder = FIXTURES / "bad" / "several_problems_at_once"
    cli(folder, "validate")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
    assert len(lines) == 4
    for line in lines:
        assert ".csv, column '" in line  # file and column
        assert re.search(r"\(\d+ rows?; row \d+", line)  # count and example rows
        assert line.rstrip().endswith(".")  # ends with the advice


def test_valid_data_passes(capsys):
    assert cli(FIXTURES / "valid", "validate") == 0
    assert "valid (6 customers" in capsys.readouterr().out


def test_simulator_output_is_valid_without_warnings(world_dir):
    report = validate(read_raw(world_dir))
    assert report.problems == []


def test_suspicious_data_gives_warnings_but_passes(capsys):
    folder = FIXTURES / "suspicious"
    assert cli(folder, "validate") == 0
    err = capsys.readouterr().err
    for code, fragment in expected(folder):
        assert f"WARNING [{code}]" in err and fragment in err


def test_column_mapping_lets_users_keep_their_names():
    folder = FIXTURES / "mapped"
    assert cli(folder, "validate") == 0
    assert main(["validate", "--data", str(folder)]) == 2  # without the mapping it fails


def test_load_raises_with_all_problems():
    with pytest.raises(DataError) as info:
        load(FIXTURES / "bad" / "several_problems_at_once")
    assert len(info.value.problems) == 4


def test_types_are_enforced_on_load():
    data = load(FIXTURES / "valid")
    c = data.customers
    assert pd.api.types.is_datetime64_any_dtype(c["start_date"])
    assert pd.api.types.is_numeric_dtype(c["seats"]) and pd.api.types.is_numeric_dtype(c["mrr"])
    assert data.touchpoints == ["community", "cs_touch", "seminar", "support"]


def test_readme_documents_every_column():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Input data") :]
    for table in CONTRACT.values():
        assert f"`{table.name}`" in section
        for col in table.columns:
            assert f"`{col.name}`" in section, (table.name, col.name)


JAPANESE = {"SMB": "SMB", "Middle": "ミドル", "Enterprise": "エンタープライズ"}
JAPANESE_TOUCHPOINTS = {"support": "サポート", "seminar": "セミナー", "cs_touch": "CSタッチ"}


def _japanese_copy(folder: Path, encoding: str) -> Path:
    """The valid fixture with Japanese tier and touchpoint names, written in ``encoding``."""
    for name in ("customers", "health", "touches"):
        df = pd.read_csv(FIXTURES / "valid" / f"{name}.csv", dtype=str, keep_default_na=False)
        if name == "customers":
            df["tier"] = df["tier"].map(JAPANESE)
        if name == "touches":
            df["touchpoint"] = df["touchpoint"].replace(JAPANESE_TOUCHPOINTS)
        df.to_csv(folder / f"{name}.csv", index=False, encoding=encoding)
    return folder


@pytest.mark.parametrize("encoding", ["cp932", "shift_jis", "utf-8-sig", "utf-8"])
def test_japanese_names_read_in_every_accepted_encoding(tmp_path, encoding):
    """What Excel in Japan saves (cp932), and UTF-8 with or without a byte-order mark, read
    to the same tables, names intact, without a warning about the tiers."""
    data = load(_japanese_copy(tmp_path, encoding))
    assert set(data.customers["tier"]) == set(JAPANESE.values())
    assert data.touchpoints == sorted(["community", *JAPANESE_TOUCHPOINTS.values()])
    reference = load(FIXTURES / "valid")
    assert (data.customers["seats"] == reference.customers["seats"]).all()
    assert not [w for w in data.warnings if w.code == "unknown_tier"]


def test_a_declared_encoding_is_used(tmp_path, capsys):
    folder = _japanese_copy(tmp_path, "cp932")
    assert main(["validate", "--data", str(folder), "--encoding", "cp932"]) == 0
    assert main(["validate", "--data", str(folder), "--encoding", "utf-8"]) == 2
    assert "[unsupported_encoding] customers.csv" in capsys.readouterr().err
    assert main(["validate", "--data", str(folder), "--encoding", "klingon"]) == 2
