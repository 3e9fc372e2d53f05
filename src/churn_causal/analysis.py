"""One touchpoint's analysis, as the report notebook uses it: configure, ``fit``, then read.

>>> a = TouchpointAnalysis("seminar", TrialDesign()).fit(data)      # doctest: +SKIP
>>> a.summary()                                                     # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from churn_causal.design import (
    CATEGORICAL_COVARIATES,
    NUMERIC_COVARIATES,
    build_cohort,
    prior_count_columns,
)
from churn_causal.effects import (
    Effect,
    MatchedSample,
    match,
    matched_effect,
    naive_effect,
    standardized_differences,
)
from churn_causal.tables import CSData
from churn_causal.trials import TrialDesign

SMD_LIMIT = 0.1


def load_truth(data_source: str | Path) -> dict | None:
    """The simulator's truth.json in the data folder, or None (real data, or a database)."""
    path = Path(data_source) / "truth.json"
    return json.loads(path.read_text()) if path.exists() else None


def pp(x: float) -> str:
    """A risk difference in percentage points, signed."""
    return f"{100 * x:+.1f} pp"


class TouchpointAnalysis:
    """Naive versus propensity-matched effect of one touchpoint on churn by the horizon."""

    def __init__(
        self,
        touchpoint: str,
        design: TrialDesign | None = None,
        caliper_sd: float = 0.2,
        n_boot: int = 200,
        seed: int = 0,
    ) -> None:
        self.touchpoint = touchpoint
        self.design = design or TrialDesign()
        self.caliper_sd = caliper_sd
        self.n_boot = n_boot
        self.seed = seed

    def fit(self, data: CSData) -> TouchpointAnalysis:
        self.cohort_ = build_cohort(data, self.touchpoint, self.design)
        self.numeric_ = [
            *NUMERIC_COVARIATES,
            *prior_count_columns(self.cohort_.attrs["touchpoints"]),
        ]
        self.categorical_ = list(CATEGORICAL_COVARIATES)
        complete = self.cohort_[self.numeric_].notna().all(axis=1)
        self.n_missing_ = int((~complete).sum())
        self.cohort_ = self.cohort_[complete].reset_index(drop=True)
        if self.cohort_["treated"].all() or not self.cohort_["treated"].any():
            raise ValueError(
                f"{self.touchpoint}: the cohort needs treated and untreated customer-months; "
                f"it has {int(self.cohort_['treated'].sum())} treated of {len(self.cohort_)}"
            )
        h = self.design.horizon_days
        self.naive_ = naive_effect(self.cohort_, h, self.n_boot, self.seed)
        self.sample_: MatchedSample = match(
            self.cohort_, self.numeric_, self.categorical_, ["trial", "tier"], self.caliper_sd
        )
        self.matched_ = matched_effect(self.cohort_, self.sample_, h, self.n_boot, self.seed)
        self.balance_ = standardized_differences(
            self.cohort_, self.numeric_ + self.categorical_, self.sample_
        )
        return self

    # ------------------------------------------------------------------ reading results
    @property
    def effects(self) -> list[Effect]:
        return [self.naive_, self.matched_]

    def cohort_summary(self) -> pd.DataFrame:
        c = self.cohort_
        rows = {
            "customer-months (trials x customers)": len(c),
            "customers": c["customer_id"].nunique(),
            "treated customer-months": int(c["treated"].sum()),
            "untreated customer-months": int((~c["treated"]).sum()),
            "churned inside the treatment month (left out)": c.attrs["churned_in_window"],
            "left out for missing baseline health": self.n_missing_,
            "treated customer-months matched": len(self.sample_.treated_rows),
        }
        return pd.DataFrame({"count": rows})

    def summary(self, truth: dict | None = None) -> pd.DataFrame:
        """Both estimates in percentage points; with the simulator's exact values when given."""
        out = pd.DataFrame(
            {
                "effect on churn (pp)": [round(100 * e.estimate, 2) for e in self.effects],
                "95% CI (pp)": [
                    f"{100 * e.ci_low:+.2f} to {100 * e.ci_high:+.2f}" for e in self.effects
                ],
                "treated customer-months": [e.n_treated for e in self.effects],
                "control customer-months": [e.n_control for e in self.effects],
            },
            index=pd.Index([e.method for e in self.effects], name="method"),
        )
        if truth is not None:
            t = truth["touchpoints"][self.touchpoint]
            # The naive row's target is the naive contrast itself; the matched row's is the ATT.
            out["simulator truth (pp)"] = [
                round(100 * t["naive_risk_difference"], 2),
                round(100 * t["att_risk_difference"], 2),
            ]
        return out

    def headline(self) -> str:
        """One plain sentence on the matched estimate and what selection did to the naive one."""
        m, n = self.matched_, self.naive_
        months = self.design.horizon_days / 365 * 12
        verb = "lowers" if m.ci_high < 0 else "raises" if m.ci_low > 0 else "has no clear effect on"
        return (
            f"Compared with similar customers in the same month of tenure, a {self.touchpoint} "
            f"{verb} the chance of churning within {months:.0f} months: "
            f"{pp(m.estimate)} (95% CI {pp(m.ci_low)} to {pp(m.ci_high)}). "
            f"The plain comparison says {pp(n.estimate)}; the gap of "
            f"{abs(100 * (n.estimate - m.estimate)):.1f} percentage points is selection, "
            f"not effect."
        )

    def balance_ok(self) -> bool:
        return bool((self.balance_["after"].abs() < SMD_LIMIT).all())

    def balance_note(self) -> str:
        worst = self.balance_.abs().max()
        verdict = (
            "every covariate is balanced (|SMD| below 0.1)"
            if self.balance_ok()
            else "some covariates remain imbalanced (|SMD| of 0.1 or more): treat with caution"
        )
        return (
            f"Largest imbalance before matching {worst['before']:.2f}, after {worst['after']:.2f}: "
            f"{verdict}. {100 * self.sample_.matched_fraction:.1f}% of treated customer-months "
            f"found a match within the caliper."
        )

    def truth_note(self, truth: dict | None) -> str:
        """How far each estimate is from the simulator's exact truth (simulated data only)."""
        if truth is None:
            return "No truth.json beside the data: real data, so no ground truth to compare with."
        t = truth["touchpoints"][self.touchpoint]["att_risk_difference"]
        m, n = self.matched_, self.naive_
        covered = "covers" if m.ci_low <= t <= m.ci_high else "misses"
        return (
            f"Simulated data: the true effect is {pp(t)}. The matched estimate is off by "
            f"{100 * (m.estimate - t):+.2f} pp and its 95% CI {covered} the truth; the naive "
            f"estimate is off by {100 * (n.estimate - t):+.2f} pp."
        )

    # -------------------------------------------------------------------------- plots
    def plot_survival(self, ax: plt.Axes | None = None) -> plt.Axes:
        """Kaplan-Meier retention after time zero: all customer-months and the matched sample."""
        ax = ax or plt.subplots(figsize=(8, 4.5))[1]
        c, s = self.cohort_, self.sample_
        d, e = c["duration_days"].to_numpy(), c["churned"].to_numpy()
        t = c["treated"].to_numpy()
        curves = [
            ("treated", np.flatnonzero(t), None, "C1", "--"),
            ("untreated (all)", np.flatnonzero(~t), None, "C0", "--"),
            ("treated (matched)", s.treated_rows, None, "C1", "-"),
            ("matched controls", s.control_rows, None, "C0", "-"),
        ]
        for label, rows, w, color, style in curves:
            kmf = KaplanMeierFitter(label=label).fit(d[rows], e[rows], weights=w)
            kmf.plot_survival_function(ax=ax, ci_show=False, color=color, linestyle=style)
        ax.set_xlabel("days after the treatment month")
        ax.set_ylabel("share of customers retained")
        ax.set_title(f"{self.touchpoint}: retention, plain (dashed) and matched (solid)")
        ax.grid(alpha=0.3)
        return ax

    def plot_balance(self, ax: plt.Axes | None = None) -> plt.Axes:
        """Love plot: absolute standardised mean differences before and after matching."""
        b = self.balance_.abs().sort_values("before")
        ax = ax or plt.subplots(figsize=(8, 0.28 * len(b) + 1))[1]
        y = np.arange(len(b))
        ax.scatter(b["before"], y, label="before matching", color="C3")
        ax.scatter(b["after"], y, label="after matching", color="C2")
        ax.axvline(SMD_LIMIT, color="grey", linestyle=":")
        ax.set_yticks(y, b.index)
        ax.set_xlabel("absolute standardised mean difference")
        ax.legend(loc="lower right")
        ax.set_title("Covariate balance (dotted line: 0.1)")
        return ax
