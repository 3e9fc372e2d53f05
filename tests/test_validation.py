"""The input contract: every bad-input fixture fails with its message; good data passes."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from churn_causal.cli import main
from churn_causal.tables import CONTRACT, DataError, load, read_raw
from churn_causal.validation import validate

FIXTURES = Path(__file__).parent / "fixtures"
BAD = sorted((FIXTURES / "bad").iterdir())
# Codes raised before validation proper: reported by the command line without a [code] tag.
UNTAGGED = {"missing_table", "config"}


def cli(folder: Path, *command: str) -> int:
    config = folder / "config.yaml"
    extra = ["--config", str(config)] if config.exists() else []
    return main([*command, "--data", str(folder), *extra])


def expected(folder: Path) -> list[tuple[str, str]]:
    lines = (folder / "expected.txt").read_text().splitlines()
    return [tuple(part.strip() for part in line.split("|", 1)) for line in lines]


def test_the_corpus_is_large_enough():
    assert len(BAD) >= 20


@pytest.mark.parametrize("folder", BAD, ids=lambda p: p.name)
def test_each_bad_input_exits_2_with_its_message(folder, capsys):
    before = sorted(p.name for p in folder.iterdir())
    assert cli(folder, "validate") == 2
    err = capsys.readouterr().err
    for code, fragment in expected(folder):
        if code not in UNTAGGED:
            assert f"[{code}]" in err, err
        assert fragment in err, err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


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
