"""Who to touch next: a touchpoint's budget spent where it keeps the most gross profit.

``TargetingAnalysis(touchpoint, business=..., budget=...).fit(data)`` learns each customer-
trial's effect on the touchpoint's target-trial cohort (``causal.uplift``), and then

* ``customers_``: every customer active at the data's end with the predicted effect of a touch
  in the coming period on churn by the horizon and on gross profit, its cost and whether the
  policy picks it: the list for the CS team (customer ids: never in the executive summary);
* ``result_`` (no customer ids): the policy's value per period against the current practice and
  random targeting at the same spend, the cost-aware gain curve, the calibration by decile, and
  a rule of depth 2 or 3 a CS head can apply by hand, with its own value.

A period is the design's: a month, or a week for weekly trials. The budget is per month (money,
CS hours or touches) and turned into touches per period with the touchpoint's cost per event;
without one, the policy spends what the current practice spends. Per-period amounts are the
per-row means of ``causal.uplift`` times the customers active now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_causal import i18n
from churn_causal.causal.cohort import cohort_estimator
from churn_causal.causal.uplift import (
    Features,
    UpliftLearner,
    calibration,
    choose,
    fit_rule,
    gain_curve,
    gross_profit_per_touch,
    leaf_shares,
    policy_value,
    rule_touched,
)
from churn_causal.data.contract import CSData
from churn_causal.design.cohort import build_cohort, current_rows
from churn_causal.design.sampling import CONTROLS_PER_TREATED
from churn_causal.design.trials import (
    MONTH_DAYS,
    PERIOD_DAYS,
    TrialDesign,
    period_start_day,
    resolve_design,
)
from churn_causal.value.business import Business


@dataclass(frozen=True)
class Budget:
    """What may be spent on the touchpoint a month: an ``amount`` of money, CS ``hours`` (with
    the touchpoint's cost in hours), or a number of ``touches``."""

    amount: float | None = None
    hours: float | None = None
    touches: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.amount, self.hours, self.touches) if v is not None]
        if len(given) != 1 or not np.isfinite(given[0]) or given[0] <= 0:
            raise ValueError("a budget is one positive amount, number of hours or of touches")

    @classmethod
    def parse(cls, text: str) -> Budget:
        """ "50000" (money), "120h" (CS hours) or "300 touches", each a month."""
        t = str(text).strip().lower().replace(",", "")
        try:
            if t.endswith("h") or t.endswith("hours"):
                return cls(hours=float(t.rstrip("hours").strip()))
            if t.endswith("touches"):
                return cls(touches=float(t[: -len("touches")].strip()))
            return cls(amount=float(t))
        except ValueError:
            raise ValueError(
                f"budget {text!r}: give an amount (50000), hours (120h) or touches (300 touches)"
            ) from None

    def touches_per_month(self, cost_per_event: float, hours_per_event: float | None) -> float:
        if self.touches is not None:
            return float(self.touches)
        if self.hours is not None:
            if not hours_per_event:
                raise ValueError(
                    "a budget in hours needs the touchpoint's cost in hours: "
                    "business.costs.<touchpoint>: {hours_per_event: H, hourly_cost: AMOUNT}"
                )
            return self.hours / hours_per_event
        if cost_per_event <= 0:
            raise ValueError(
                "a budget in money needs the touchpoint's cost: business.costs.<touchpoint>"
            )
        return float(self.amount) / cost_per_event  # type: ignore[arg-type]

    def describe(self, currency: str) -> str:
        if self.amount is not None:
            return i18n.t("budget.amount", amount=i18n.money(self.amount, currency))
        if self.hours is not None:
            return i18n.t("budget.hours", hours=f"{self.hours:,.0f}")
        return i18n.t("budget.touches", touches=f"{self.touches:,.0f}")


RULE_DEPTH = 2


class TargetingAnalysis:
    """The policy for one touchpoint under a budget (see the module's docstring)."""

    def __init__(
        self,
        touchpoint: str,
        design: TrialDesign | None = None,
        business: Business | None = None,
        budget: Budget | None = None,
        depth: int = RULE_DEPTH,
        folds: int = 2,
        controls_per_treated: float | None = CONTROLS_PER_TREATED,
        seed: int = 0,
    ) -> None:
        if depth not in (1, 2, 3):
            raise ValueError("the rule's depth is 1, 2 or 3 (a rule a CS head can apply)")
        self.touchpoint = touchpoint
        self.design = design or resolve_design(touchpoint)
        self.business = business or Business()
        self.budget, self.depth, self.folds = budget, depth, folds
        self.controls_per_treated, self.seed = controls_per_treated, seed

    def fit(self, data: CSData, cohort: pd.DataFrame | None = None) -> TargetingAnalysis:
        """Learn, choose and value on ``data`` (``cohort``: the touchpoint's target-trial
        cohort when it is already built, e.g. by its report's analysis)."""
        table = self._learn(data, cohort)
        s, rows = self._learner.scores_, self.rows_
        now = self._now(data)
        cost = self.business.cost(self.touchpoint)
        self.cost_ = cost.per_event_amount if cost else 0.0
        current = float(np.average(rows["treated"], weights=s.weight))
        if self.budget is None:  # what today's practice spends
            self.touches_ = current * len(now)
        else:
            self.touches_ = (PERIOD_DAYS[self.design.unit] / MONTH_DAYS) * (
                self.budget.touches_per_month(self.cost_, cost.hours_per_event if cost else None)
            )
        share = min(1.0, self.touches_ / len(now)) if len(now) else 0.0

        gp = (rows["gp_score"].to_numpy(), rows["gp_att"].to_numpy())
        gp_hat = rows["gp_hat"].to_numpy()
        value = policy_value(s, choose(gp_hat, self.cost_, share, s.weight), gp)
        features = _rule_features(table)
        self.rule_ = fit_rule(features, gp_hat, s.risk_hat, s.weight, self.depth)
        by_rule = rule_touched(self.rule_, self.rule_.leaf(features), self.cost_, value.share)
        rule_value = policy_value(s, by_rule, gp)

        now["pick"] = choose(now["gross_profit_per_touch"].to_numpy(), self.cost_, share,
                             np.ones(len(now))) > 0  # fmt: skip
        now["rule_group"] = _group_of(self.rule_, self.rule_.leaf(_rule_features(now)))
        self.customers_ = self._customer_list(now)
        self.result_ = self._result(value, rule_value, now, share, current)
        return self

    def _learn(self, data: CSData, cohort: pd.DataFrame | None) -> pd.DataFrame:
        """Fit the learner on the cohort; ``rows_``: its rows with their scores and cross-
        fitted predictions (gross profit per touch too). Returns the prepared table."""
        horizon = self.design.horizon_days
        if cohort is None:
            cohort = build_cohort(
                data, self.touchpoint, self.design, None, self.controls_per_treated, self.seed
            )
        estimator = cohort_estimator(data.touchpoints, horizon)
        prepared = estimator.prepare(cohort)
        table = prepared.df  # may be ``cohort`` itself: it gains the column below
        table["days_to_renewal"] = days_to_renewal(
            period_start_day(table["trial"].to_numpy(), self.design.unit),
            table["contract_type"].to_numpy(),
        )
        features = Features.of(table, [*estimator.covariates, "days_to_renewal"])
        self._learner = UpliftLearner(self.folds, seed=self.seed).fit(
            prepared.data, horizon, features, table
        )
        s, margin = self._learner.scores_, self.business.gross_margin
        mrr = np.expm1(table["log_mrr"].to_numpy(dtype=float))
        self.rows_ = pd.DataFrame(
            {
                "customer_id": table["customer_id"].to_numpy(),
                "trial": table["trial"].to_numpy(),
                "tier": table["tier"].to_numpy(),
                "phase": table["phase"].to_numpy(),
                "treated": prepared.data.t,
                "weight": s.weight,
                "mrr": mrr,
                "risk_score": s.risk,
                "risk_hat": s.risk_hat,
                "gp_score": gross_profit_per_touch(s.days, mrr, margin),
                "gp_att": gross_profit_per_touch(s.days_att, mrr, margin),
                "gp_hat": gross_profit_per_touch(s.days_hat, mrr, margin),
            }
        )
        return table

    def _now(self, data: CSData) -> pd.DataFrame:
        """The customers active at the data's end, their covariates and predicted effects."""
        now = current_rows(data, data.touchpoints)
        now["days_to_renewal"] = days_to_renewal(
            np.round(now["tenure_months"].to_numpy() * MONTH_DAYS), now["contract_type"].to_numpy()
        )
        risk, days = self._learner.effect(now)
        now["churn_effect_pp"] = 100 * risk
        now["gross_profit_per_touch"] = gross_profit_per_touch(
            days, now["mrr"].to_numpy(), self.business.gross_margin
        )
        return now

    def _customer_list(self, now: pd.DataFrame) -> pd.DataFrame:
        """The CS team's list, best first (customer ids: never in a page)."""
        out = now[["customer_id", "tier", "phase", "score", "mrr", "churn_effect_pp",
                   "gross_profit_per_touch"]].copy()  # fmt: skip
        out["cost_per_touch"] = self.cost_
        out["net_per_touch"] = out["gross_profit_per_touch"] - self.cost_
        out["rule_group"] = now["rule_group"].to_numpy()  # 1 is touched first
        out["pick"] = now["pick"].to_numpy()
        out = out.sort_values("net_per_touch", ascending=False, kind="stable")
        out["rank"] = np.arange(1, len(out) + 1)
        return out

    def _result(self, value, rule_value, now, share: float, current: float) -> dict[str, Any]:
        """The JSON of the policy (no customer ids): per period amounts and the segments."""
        customers, s, rows = len(now), self._learner.scores_, self.rows_

        def per_period(v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
            return {k: {q: x * customers for q, x in d.items()} for k, d in v.items()}

        gain = gain_curve(s, rows["gp_hat"].to_numpy(), rows["gp_score"].to_numpy())
        amounts = [c for c in gain.columns if c != "share"]
        gain[amounts] *= customers
        gain["touches"] = gain["share"] * customers
        gain["spend"] = gain["touches"] * self.cost_
        segments = (
            now.groupby(["tier", "phase"], observed=True)
            .agg(
                customers=("pick", "size"),
                picked=("pick", "sum"),
                gross_profit=("gross_profit_per_touch", "mean"),
            )
            .reset_index()
        )
        cost = self.business.cost(self.touchpoint)
        currency = self.business.currency
        return {
            "touchpoint": self.touchpoint,
            "design": self.design.to_dict(),
            "period": self.design.unit,
            "customers_now": customers,
            "budget": None if self.budget is None else vars(self.budget),
            "budget_text": (
                self.budget.describe(currency) if self.budget else i18n.t("budget.current")
            ),
            "cost_per_touch": self.cost_,
            "cost_text": (cost.describe(currency) if cost else i18n.t("cost.none")),
            "touches_per_period": self.touches_,
            "share": share,
            "current_share": current,
            "policy": {k: per_period(v) for k, v in value.outcomes.items()},
            "rule": {k: per_period(v) for k, v in rule_value.outcomes.items()},
            "rule_leaves": self.rule_.leaves.assign(
                touched=leaf_shares(self.rule_, self.cost_, share)
            )
            .reset_index(drop=True)
            .to_dict(orient="records"),
            "rule_depth": self.depth,
            "gain": gain.to_dict(orient="list"),
            "calibration": calibration(s).to_dict(orient="list"),
            # how much of the predicted spread between customers is real (BLP slope, 1 = all)
            "heterogeneity": self._learner.blp_,
            "segments": segments.to_dict(orient="records"),
            "picked_now": int(now["pick"].sum()),
        }


def _group_of(rule, leaf: np.ndarray) -> np.ndarray:
    """Each row's group of the rule, numbered in the order to touch them (1 first)."""
    order = pd.Series(np.arange(1, len(rule.leaves) + 1), index=rule.leaves.index)
    return order.reindex(leaf).to_numpy()


def days_to_renewal(tenure_day: np.ndarray, contract: np.ndarray) -> np.ndarray:
    """Days from a tenure day to the next annual renewal (annual contracts churn only there);
    a monthly contract renews every month: days to the next month's start."""
    year = 365.25
    annual = np.ceil((tenure_day + 1) / year) * year - tenure_day
    monthly = np.ceil((tenure_day + 1) / MONTH_DAYS) * MONTH_DAYS - tenure_day
    return np.floor(np.where(contract == "annual", annual, monthly))


def _rule_features(table: pd.DataFrame) -> pd.DataFrame:
    """What the rule may split on: tier, phase, contract, health, its 30-day change, seats and
    the days to the next renewal."""
    out = table[
        ["tier", "phase", "contract_type", "score", "score_change_30d", "days_to_renewal"]
    ].copy()
    out["seats"] = np.exp(table["log_seats"].to_numpy(dtype=float)).round()
    return out
