import logging
import sys

import pytest

from churn_causal import progress as pg


@pytest.fixture
def lines(caplog, monkeypatch):
    """The progress lines logged without a terminal, every pass logged."""
    monkeypatch.setattr(pg, "LOG_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    caplog.set_level(logging.INFO, logger="churn_causal")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "churn_causal"]


def test_plain_lines_without_a_terminal(lines):
    assert list(pg.tracked(["a", "b", "c"], "reading")) == ["a", "b", "c"]
    said = lines()
    assert [m.split(",")[0] for m in said] == ["reading: (1/3", "reading: (2/3", "reading: (3/3"]


def test_nested_steps_report_to_the_innermost(lines):
    with pg.progress("grading", 2):
        for seed in (1, 2):
            with pg.progress("estimating"):
                pg.advance("propensity fitted")
            pg.advance(f"seed {seed}")
    said = [m.split(",")[0] for m in lines()]
    # a step of no known length says when it is done; one of known length, its last pass
    assert said[:3] == [
        "estimating: propensity fitted (1",
        "estimating: done in 0 s",
        "grading: seed 1 (1/2",
    ]
    assert said[-1] == "grading: seed 2 (2/2"


def test_a_bar_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    for _ in pg.tracked(range(4), "weeks"):
        pass
    assert "weeks: 100%" in capsys.readouterr().err


def test_silent_without_a_listener_or_when_quiet(lines, monkeypatch):
    pg.advance("nobody listens")  # no step open: nothing, no error
    monkeypatch.setattr(pg, "_silent", False)
    with pg.progress("grading", 1):
        pg.quiet()  # as a worker process does
        pg.advance("from a worker")
        with pg.progress("inside the worker", 1):
            pg.advance("also quiet")
    assert lines() == []
