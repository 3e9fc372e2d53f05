"""DuckDB as the store: ingest validates, writes atomically, and reads back the same data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churn_causal.cli import main
from churn_causal.data.load import load
from churn_causal.design.cohort import build_cohort

FIXTURES = Path(__file__).parent / "fixtures"


def test_ingest_then_analyse_from_the_database(small_dir, tmp_path):
    db = tmp_path / "cs.duckdb"
    assert main(["ingest", "--from", small_dir, "--to", str(db)]) == 0
    assert main(["validate", "--data", str(db)]) == 0
    from_folder, from_db = load(small_dir), load(db)
    for name in ("customers", "health", "touches"):
        a, b = getattr(from_folder, name), getattr(from_db, name)
        assert len(a) == len(b)
    pd.testing.assert_frame_equal(
        build_cohort(from_folder, "support"), build_cohort(from_db, "support")
    )


def test_ingest_with_a_column_mapping(tmp_path):
    db = tmp_path / "mapped.duckdb"
    folder = FIXTURES / "mapped"
    assert (
        main(
            [
                "ingest",
                "--from",
                str(folder),
                "--to",
                str(db),
                "--config",
                str(folder / "config.yaml"),
            ]
        )
        == 0
    )
    assert load(db).customers["customer_id"].tolist()[:2] == ["C1", "C2"]


def test_bad_input_is_not_ingested_and_the_old_database_survives(small_dir, tmp_path, capsys):
    db = tmp_path / "cs.duckdb"
    assert main(["ingest", "--from", small_dir, "--to", str(db)]) == 0
    before = db.read_bytes()
    bad = FIXTURES / "bad" / "negative_mrr"
    assert main(["ingest", "--from", str(bad), "--to", str(db)]) == 2
    assert "[negative_value]" in capsys.readouterr().err
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cs.duckdb"]
