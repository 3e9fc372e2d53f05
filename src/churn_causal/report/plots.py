"""Figures drawn from an estimate's result (``EffectResult.to_dict()`` or its JSON).

Everything a figure needs is in the result, so a report can be redrawn from ``result.json``
without the data: the love plot, propensity overlap, adjusted survival curves, forest plot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from churn_causal.causal.reliability import primary_scale
from churn_causal.i18n import amount, covariate, name, t

SMD_LIMIT = 0.1
METHODS = ("naive", "match", "iptw", "dr")
# How the dynamics analysis words a mechanism (kept in English in the results), by message key.
MECHANISMS = {
    "raises the level and changes the slope": "level_and_slope",
    "raises the level": "raises_level",
    "lowers the level": "lowers_level",
    "prevents decline": "prevents_decline",
    "speeds decline": "speeds_decline",
    "changes health too little to tell": "too_little",
}


def method_name(method: str) -> str:
    """An estimation method as readers know it ("matched", "doubly robust")."""
    return t(f"method.{method}")


def mechanism(words: str) -> str:
    """How a touchpoint works on health (``causal.dynamics.mechanism``), in the reader's
    language."""
    return t(f"mechanism.{MECHANISMS[words]}")


def group_name(group: str) -> str:
    """ "treated" or "control" as readers know them ("touched", "untreated")."""
    return t(f"plots.group.{group}")


def _axes(ax: plt.Axes | None, size: tuple[float, float]) -> plt.Axes:
    return ax if ax is not None else plt.subplots(figsize=size)[1]


def love_plot(result: dict[str, Any], ax: plt.Axes | None = None) -> plt.Axes:
    """Absolute standardised mean difference of every covariate (level), before and after."""
    b = result["diagnostics"]["balance"]
    order = np.argsort(np.abs(b["naive"]))
    ax = _axes(ax, (8, 0.25 * len(order) + 1.2))
    y = np.arange(len(order))
    for method, marker in (("naive", "o"), ("match", "s"), ("iptw", "^")):
        if method in b:
            ax.scatter(
                np.abs(np.asarray(b[method]))[order], y, marker=marker, label=method_name(method)
            )
    ax.axvline(SMD_LIMIT, color="grey", linestyle=":")
    ax.set_yticks(y, [covariate(b["covariates"][i]) for i in order])
    ax.set_xlabel(t("plots.love.xlabel"))
    ax.set_title(t("plots.love.title"))
    ax.legend(loc="lower right")
    return ax


def overlap_plot(result: dict[str, Any], ax: plt.Axes | None = None) -> plt.Axes:
    """Distributions of the propensity score among treated and untreated."""
    h = result["diagnostics"]["overlap"]["histogram"]
    ax = _axes(ax, (8, 3.5))
    for group, color in (("treated", "C1"), ("control", "C0")):
        ax.stairs(
            h[group],
            h["edges"],
            label=group_name(group),
            color=color,
            fill=True,
            alpha=0.4,
        )
    share = result["diagnostics"]["overlap"]["share_treated_in_common_support"]
    ax.set_xlabel(t("plots.overlap.xlabel"))
    ax.set_ylabel(t("plots.density"))
    ax.set_title(t("plots.overlap.title", share=f"{100 * share:.1f}"))
    ax.legend()
    return ax


def survival_plot(
    result: dict[str, Any], method: str | None = None, ax: plt.Axes | None = None
) -> plt.Axes:
    """Retention after time zero: as observed (dashed) and adjusted by ``method`` (solid)."""
    if result["outcome_type"] != "time_to_event":
        raise ValueError(f"a {result['outcome_type']} outcome has no survival curves")
    curves = result["curves"]
    method = method or result["verdict"]["method"]
    ax = _axes(ax, (8, 4.5))
    for arm, style in (("naive", "--"), (method, "-")):
        c = curves[arm]
        for group, color in (("treated", "C1"), ("control", "C0")):
            label = f"{group_name(group)}, {method_name(arm)}"
            ax.step(c["days"], c[group], where="post", linestyle=style, color=color, label=label)
    ax.set_xlabel(t("plots.survival.xlabel"))
    ax.set_ylabel(t("plots.retained"))
    ax.set_title(t("plots.survival.title"))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def forest_rows(result: dict[str, Any], scale: str | None = None) -> list[tuple]:
    """(label, estimate, low, high) per method, and per level of ``by`` for the primary one,
    on ``scale`` (default: the risk difference, or the mean difference of a continuous
    outcome)."""
    scale = scale or primary_scale(next(iter(result["methods"].values())))
    rows = [
        (method_name(m), v[scale]["estimate"], v[scale]["ci_low"], v[scale]["ci_high"])
        for m, v in result["methods"].items()
        if scale in v
    ]
    primary = result["verdict"]["method"]
    for level, part in result.get("by", {}).items():
        est = part.get("methods", {}).get(primary, {}).get(scale)
        if est:
            label = f"{name(level)} ({method_name(primary)})"
            rows.append((label, est["estimate"], est["ci_low"], est["ci_high"]))
    return rows


def effect_label(result: dict[str, Any]) -> tuple[str, bool]:
    """The axis label of a result's effect and whether it is in percentage points."""
    label = name(result["outcome_label"]) if result.get("outcome_label") else t("plots.the_outcome")
    if result["outcome_type"] == "continuous":
        return t("plots.effect_on_mean", outcome=label), False
    if result["outcome_type"] == "time_to_event":
        return t("plots.effect_by_horizon", outcome=label), True
    return t("plots.effect_on", outcome=label), True


def forest_plot(
    rows: list[tuple], ax: plt.Axes | None = None, percent: bool = True, xlabel: str | None = None
) -> plt.Axes:
    """Estimates with 95% intervals, one row each; the dotted line is no effect."""
    ax = _axes(ax, (8, 0.45 * len(rows) + 1.2))
    k = 100.0 if percent else 1.0
    y = np.arange(len(rows))[::-1]
    est = np.array([r[1] for r in rows]) * k
    low = np.array([r[2] for r in rows]) * k
    high = np.array([r[3] for r in rows]) * k
    ax.errorbar(est, y, xerr=[est - low, high - est], fmt="o", capsize=3)
    ax.axvline(0, color="grey", linestyle=":")
    ax.set_yticks(y, [r[0] for r in rows])
    default = t("plots.churn_effect_pp") if percent else t("plots.effect")
    ax.set_xlabel(xlabel or default)
    if not percent:
        thousands(ax.xaxis)
    return ax


def thousands(axis) -> None:
    """An axis of amounts written as in the tables (thousands separated; 万 and 億 in
    Japanese)."""
    axis.set_major_formatter(plt.FuncFormatter(lambda v, _: amount(v)))


def write_figures(result: dict[str, Any], folder: str | Path) -> list[Path]:
    """The result's figures as PNG files in ``folder``: the forest plot, covariate balance,
    propensity overlap and, for a time-to-event outcome, the survival curves."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    label, percent = effect_label(result)
    drawers = {
        "forest": lambda: forest_plot(forest_rows(result), percent=percent, xlabel=label),
        "balance": lambda: love_plot(result),
        "overlap": lambda: overlap_plot(result),
    }
    if result["outcome_type"] == "time_to_event":
        drawers["survival"] = lambda: survival_plot(result)
    written = []
    for figure, draw in drawers.items():
        fig = draw().figure
        fig.savefig(folder / f"{figure}.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(folder / f"{figure}.png")
    return written


def truth_plot(table, ax: plt.Axes | None = None) -> plt.Axes:
    """Each estimate (pp) with its 95% interval and the simulator's truth beside it: the table
    of ``grading.runs.run_against_truth`` (one row per touchpoint and method)."""
    ax = _axes(ax, (8, 0.4 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    est = table["estimate"].to_numpy()
    err = [est - table["ci_low"].to_numpy(), table["ci_high"].to_numpy() - est]
    ax.errorbar(est, y, xerr=err, fmt="o", capsize=3, label=t("plots.estimate_ci"))
    ax.scatter(table["truth"], y, marker="x", color="crimson", zorder=3, label=t("plots.truth"))
    labels = [
        f"{name(tp)}: {method_name(m)}"
        for tp, m in zip(table["touchpoint"], table["method"], strict=True)
    ]
    ax.set_yticks(y, labels)
    ax.axvline(0, color="grey", linestyle=":")
    ax.set_xlabel(t("plots.churn_effect_pp"))
    ax.legend(fontsize="small")
    return ax


def decay_plot(dynamics: dict[str, Any], ax: plt.Axes | None = None) -> plt.Axes:
    """Effect on the health score by days after the touch (95% CI), with the fitted
    exponential decay and its half-life where one was estimable (a ``dynamics.json``)."""
    ax = _axes(ax, (8, 3.5))
    lags = dynamics["lags"]
    x = np.array([r["days_after_touch"] for r in lags])
    est = np.array([r["effect"] for r in lags])
    lo, hi = np.array([r["ci_low"] for r in lags]), np.array([r["ci_high"] for r in lags])
    ax.errorbar(x, est, yerr=[est - lo, hi - est], fmt="o", capsize=3, label=t("plots.effect_ci"))
    hl = dynamics["half_life_days"]
    if hl.get("estimable"):
        days = np.linspace(hl["peak_days_after_touch"], x.max(), 200)
        fit = hl["fitted_amplitude_points"] * 2 ** (-(days - days[0]) / hl["estimate"])
        label = t("plots.decay.fit", days=f"{hl['estimate']:.0f}")
        ax.plot(days, fit, color="crimson", label=label)
    ax.axhline(0, color="grey", linestyle=":")
    ax.set_xlabel(t("plots.decay.xlabel"))
    ax.set_ylabel(t("plots.decay.ylabel"))
    ax.legend(fontsize="small")
    return ax


def event_study_plot(dynamics: dict[str, Any], ax: plt.Axes | None = None) -> plt.Axes:
    """Health of treated customers and matched controls by week around the touch, and their
    difference with its 95% band (a ``dynamics.json``)."""
    es = dynamics["event_study"]["curve"]
    if ax is None:
        _, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    else:
        top, bottom = ax, ax.twinx()
    w = np.array(es["weeks"])
    top.plot(w, es["treated"], label=t("plots.event.touched"))
    top.plot(w, es["controls"], label=t("plots.event.controls"))
    top.set_ylabel(t("plots.event.ylabel"))
    top.legend(fontsize="small")
    bottom.fill_between(w, es["ci_low"], es["ci_high"], alpha=0.3)
    bottom.plot(w, es["difference"])
    bottom.axhline(0, color="grey", linestyle=":")
    for a in (top, bottom):
        a.axvline(0.5, color="grey", linestyle="--", linewidth=0.8)
    bottom.set_xlabel(t("plots.event.xlabel"))
    bottom.set_ylabel(t("plots.event.difference"))
    return bottom
