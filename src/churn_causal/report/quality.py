"""The data-quality report: who the customers are, how they churn, and who takes up what.

Its last figure shows the selection bias before any model: uptake of each touchpoint by decile
of the health score at the start of the month.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from churn_causal.data.contract import CSData
from churn_causal.design.cohort import build_cohort
from churn_causal.design.trials import TrialDesign


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
            "share on annual contracts": g["annual"].mean().round(2),
            "median seats": g["seats"].median(),
            "median MRR": g["mrr"].median().round(0),
            "churned by the end of data": g["churned"].mean().round(3),
        }
    )
    out.loc["all"] = [
        len(c),
        round(c["annual"].mean(), 2),
        c["seats"].median(),
        round(c["mrr"].median()),
        round(c["churned"].mean(), 3),
    ]
    return out.astype({"customers": int, "median seats": int, "median MRR": int})


def plot_churn_by_tier(data: CSData, ax: plt.Axes | None = None) -> plt.Axes:
    """Kaplan-Meier retention by months of tenure, per tier."""
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    days, churned = _tenure(data)
    for tier, rows in data.customers.groupby("tier", observed=True).groups.items():
        KaplanMeierFitter(label=str(tier)).fit(days[rows] / 30.4375, churned[rows]).plot(ax=ax)
    ax.set_xlabel("months since contract start")
    ax.set_ylabel("share of customers retained")
    ax.set_title("Retention by tier (Kaplan-Meier; annual contracts leave at renewals)")
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
        "churned within 12 months": churned & (days < 365),
        "retained 12 months or more": days >= 365,
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
    ax.set_xlabel("mean health score in the first six months")
    ax.set_ylabel("density")
    ax.legend()
    ax.set_title("Early health separates later churners")
    return ax


def plot_uptake_over_time(data: CSData, ax: plt.Axes | None = None) -> plt.Axes:
    """Events per 100 active customers in each calendar month, per touchpoint."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    months = pd.period_range(data.customers["start_date"].min(), data.data_end, freq="M")
    c = data.customers
    start = c["start_date"].dt.to_period("M").to_numpy()
    stop = c["churn_date"].fillna(data.data_end + pd.Timedelta(days=1)).dt.to_period("M")
    active = pd.Series([((start <= m) & (stop.to_numpy() > m)).sum() for m in months], index=months)
    t = data.touches
    counts = pd.crosstab(t["date"].dt.to_period("M"), t["touchpoint"])
    rate = 100 * counts.reindex(months, fill_value=0).div(active.replace(0, np.nan), axis=0)
    rate.index = rate.index.to_timestamp()
    rate.plot(ax=ax)
    ax.legend(title="touchpoint", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel("calendar month")
    ax.set_ylabel("events per 100 active customers")
    ax.set_title("Touchpoint uptake over time")
    ax.grid(alpha=0.3)
    return ax


def uptake_by_health_decile(data: CSData, design: TrialDesign | None = None) -> pd.DataFrame:
    """Share of customer-months with each touchpoint, by decile of health at the month's start."""
    out = {}
    for tp in data.touchpoints:
        c = build_cohort(data, tp, design)
        decile = pd.qcut(c["score"], 10, labels=range(1, 11))
        out[tp] = c.groupby(decile, observed=True)["treated"].mean()
    table = pd.DataFrame(out)
    table.index.name = "health decile at the month's start (1 = lowest)"
    return table


def plot_uptake_by_health(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    (100 * table).plot(ax=ax, marker="o")
    ax.set_xlabel(table.index.name)
    ax.set_ylabel("% of customer-months with the touchpoint")
    ax.set_title("Who takes up what: the selection bias before any model")
    ax.grid(alpha=0.3)
    return ax
