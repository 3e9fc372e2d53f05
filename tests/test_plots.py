"""Every figure draws from a result's JSON alone."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest
from test_estimate import confounded

from churn_causal.causal.estimate import EffectEstimator
from churn_causal.report import plots


@pytest.fixture(scope="module")
def result():
    df, _ = confounded(n=6_000, kind="time_to_event")
    fitted = EffectEstimator(
        "t",
        ["x", "segment"],
        duration="duration",
        event="event",
        horizon=30,
        by="segment",
        n_boot=50,
    ).fit(df)
    return json.loads(fitted.to_json())  # figures need nothing the JSON lacks


def test_love_plot_shows_every_covariate_level(result, tmp_path):
    ax = plots.love_plot(result)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert set(labels) == {"x", "segment_a", "segment_b", "segment_c"}
    assert len(ax.collections) == 3  # before, matched, weighted
    ax.figure.savefig(tmp_path / "love.png")
    assert (tmp_path / "love.png").stat().st_size > 1_000
    plt.close("all")


def test_overlap_and_survival_plots(result):
    ax = plots.overlap_plot(result)
    assert "of the treated" in ax.get_title()
    ax = plots.survival_plot(result)
    assert len(ax.get_lines()) == 4  # treated and untreated, observed and adjusted
    plt.close("all")


def test_forest_plot_has_a_row_per_method_and_segment(result):
    rows = plots.forest_rows(result)
    assert len(rows) == 4 + 3
    assert all(low <= est <= high for _, est, low, high in rows)
    ax = plots.forest_plot(rows)
    assert len(ax.get_yticklabels()) == 7
    plt.close("all")
