"""The DuckDB history of every run's estimates."""

from __future__ import annotations

import pandas as pd

from churn_causal import i18n
from churn_causal.design.trials import TrialDesign
from churn_causal.report import executive, history


def record(tp: str, effect: float) -> dict:
    rd = {"estimate": effect, "ci_low": effect - 0.01, "ci_high": effect + 0.01}
    return {
        "touchpoint": tp,
        "design": TrialDesign().to_dict(),
        "result": {
            "n": {"treated": 100, "control": 900},
            "verdict": {"method": "match", "level": "reliable"},
            "methods": {"naive": {"risk_difference": rd}, "match": {"risk_difference": rd}},
        },
    }


def rows(run_id: str, when: str, effect: float) -> pd.DataFrame:
    records = {"seminar": record("seminar", effect), "support": record("support", effect)}
    return history.rows_of(run_id, when, "abc", records)


def test_runs_accumulate_oldest_first_and_a_rerun_replaces_its_rows(tmp_path):
    path = tmp_path / "h" / "history.duckdb"
    assert history.read(path).empty
    history.append(path, rows("r2", "2026-02-01T00:00:00+00:00", -0.02))
    history.append(path, rows("r1", "2026-01-01T00:00:00+00:00", -0.01))
    history.append(path, rows("r2", "2026-02-01T00:00:00+00:00", -0.03))
    h = history.read(path)
    assert list(dict.fromkeys(h["run_id"])) == ["r1", "r2"]
    assert len(h) == 8  # 2 runs x 2 touchpoints x 2 methods, r2 not doubled
    assert h.loc[h["run_id"] == "r2", "estimate"].eq(-0.03).all()
    assert h["primary_method"].sum() == 4


def test_the_history_words_a_design_the_same_in_every_language():
    with i18n.using("ja"):
        japanese = rows("r1", "2026-01-01T00:00:00+00:00", -0.01)
    assert japanese["design"].str.startswith("monthly trials for months 1-18").all()


def test_the_summary_shows_earlier_runs_and_this_one(tmp_path):
    path = tmp_path / "history.duckdb"
    history.append(path, rows("r1", "2026-01-01T00:00:00+00:00", -0.01))
    now = {"seminar": record("seminar", -0.05)}
    trend = executive.history_with(path, "r9", now)
    assert list(dict.fromkeys(trend["run_id"])) == ["r1", "r9"]
    assert trend.loc[trend["run_id"] == "r9", "estimate"].eq(-0.05).all()
    ax = executive.history_plot(trend)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["r1", "r9"]
