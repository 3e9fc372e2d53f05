"""The data-quality report: who the customers are, how they churn, and who takes up what.

Its last figure shows the selection bias before any model: uptake of each touchpoint by decile
of the health score at the start of the month.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from churn_causal.data.contract import CSData
from churn_causal.design.cohort import build_cohort
from churn_causal.design.trials import TrialDesign
from churn_causal.i18n import name, t
from churn_causal.report.names import markdown


def warnings_text(data: CSData) -> str:
    """The validation's warnings as a list for readers (Markdown), or that there are none."""
    lines = []
    for w in data.warnings:
        values = {k: name(v) if k == "touchpoint" else v for k, v in w.params.items()}
        where = markdown(w.origin) + (
            t("quality.warning.column", column=markdown(w.column)) if w.column else ""
        )
        lines.append(
            "* "
            + t(
                "quality.warning.line",
                where=where,
                message=markdown(t(f"warning.{w.code}.message", **values)),
                rows=_rows(w.count),
                hint=t(f"warning.{w.code}.hint"),
            )
        )
    return "\n".join(lines) or t("quality.warning.none")


def _rows(count: int) -> str:
    """How many rows a warning flags, in words ("" for a whole file)."""
    if not count:
        return ""
    return t("quality.warning.row") if count == 1 else t("quality.warning.rows", n=f"{count:,}")


def _tenure(data: CSData) -> tuple[pd.Series, pd.Series]:
    """Days from start to churn or to the end of data, and whether churn was observed."""
    c = data.customers
    end = c["churn_date"].fillna(data.data_end)
    return (end - c["start_date"]).dt.days, c["churn_date"].notna()


def population(data: CSData) -> pd.DataFrame:
    """Customers per tier with their contracts, size, revenue and observed churn."""
    c = data.customers.assign(
        annual=lambda d: d["contract_type"] == "annual",
        churned=lambda d: d["churn_date"].notna(),
    )
    g = c.groupby("tier", observed=True)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "annual": g["annual"].mean().round(2),
            "seats": g["seats"].median(),
            "mrr": g["mrr"].median().round(0),
            "churned": g["churned"].mean().round(3),
        }
    )
    out.loc["all"] = [
        len(c),
        round(c["annual"].mean(), 2),
        c["seats"].median(),
        round(c["mrr"].median()),
        round(c["churned"].mean(), 3),
    ]
    out = out.astype({"customers": int, "seats": int, "mrr": int})
    out.index = pd.Index([name(x) for x in out.index], name=t("col.tier"))
    return out.rename(columns={k: t(f"quality.col.{k}") for k in out.columns})


def plot_churn_by_tier(data: CSData, ax: plt.Axes | None = None) -> plt.Axes:
    """Kaplan-Meier retention by months of tenure, per tier."""
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    days, churned = _tenure(data)
    for tier, rows in data.customers.groupby("tier", observed=True).groups.items():
        KaplanMeierFitter(label=name(tier)).fit(days[rows] / 30.4375, churned[rows]).plot(ax=ax)
    ax.set_xlabel(t("quality.churn.xlabel"))
    ax.set_ylabel(t("plots.retained"))
    ax.set_title(t("quality.churn.title"))
    ax.grid(alpha=0.3)
    return ax


def plot_early_health(data: CSData, ax: plt.Axes | None = None) -> plt.Axes:
    """Mean health in the first six months: customers who churned within a year vs the rest."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    c = data.customers.set_index("customer_id")
    h = data.health
    tenure = (h["date"] - c["start_date"].reindex(h["customer_id"]).to_numpy()).dt.days
    early = h[tenure < 182].groupby("customer_id", observed=True)["score"].mean()
    days, churned = _tenure(data)
    days.index = churned.index = data.customers["customer_id"]
    groups = {
        t("quality.health.churned"): churned & (days < 365),
        t("quality.health.retained"): days >= 365,
    }
    bins = np.linspace(0, 100, 41)
    for label, mask in groups.items():
        ax.hist(
            early.reindex(mask[mask].index).dropna(),
            bins=bins,
            alpha=0.55,
            density=True,
            label=label,
        )
    ax.set_xlabel(t("quality.health.xlabel"))
    ax.set_ylabel(t("plots.density"))
    ax.legend()
    ax.set_title(t("quality.health.title"))
    return ax


def plot_uptake_over_time(data: CSData, ax: plt.Axes | None = None) -> plt.Axes:
    """Events per 100 active customers in each calendar month, per touchpoint."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    months = pd.period_range(data.customers["start_date"].min(), data.data_end, freq="M")
    c = data.customers
    start = c["start_date"].dt.to_period("M").to_numpy()
    stop = c["churn_date"].fillna(data.data_end + pd.Timedelta(days=1)).dt.to_period("M")
    active = pd.Series([((start <= m) & (stop.to_numpy() > m)).sum() for m in months], index=months)
    touches = data.touches
    counts = pd.crosstab(touches["date"].dt.to_period("M"), touches["touchpoint"])
    rate = 100 * counts.reindex(months, fill_value=0).div(active.replace(0, np.nan), axis=0)
    rate.index = rate.index.to_timestamp()
    for tp in rate.columns:
        ax.plot(rate.index, rate[tp], label=name(tp))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=8))  # room for each label
    ax.xaxis.set_major_formatter(mdates.DateFormatter(t("quality.uptake.month_format")))
    ax.legend(title=t("col.touchpoint"), loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel(t("quality.uptake.xlabel"))
    ax.set_ylabel(t("quality.uptake.ylabel"))
    ax.set_title(t("quality.uptake.title"))
    ax.grid(alpha=0.3)
    return ax


def uptake_by_health_decile(data: CSData, design: TrialDesign | None = None) -> pd.DataFrame:
    """Share of customer-months with each touchpoint, by decile of health at the month's start."""
    out = {}
    for tp in data.touchpoints:
        c = build_cohort(data, tp, design)
        decile = pd.qcut(c["score"], 10, labels=range(1, 11))
        out[name(tp)] = c.groupby(decile, observed=True)["treated"].mean()
    table = pd.DataFrame(out)
    table.index.name = t("quality.decile")
    return table


def plot_uptake_by_health(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    (100 * table).plot(ax=ax, marker="o")
    ax.set_xlabel(table.index.name)
    ax.set_ylabel(t("quality.selection.ylabel"))
    ax.set_title(t("quality.selection.title"))
    ax.grid(alpha=0.3)
    return ax
