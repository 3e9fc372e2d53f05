"""One touchpoint's analysis, as the report notebook uses it: configure, ``fit``, then read.

>>> a = TouchpointAnalysis("seminar", TrialDesign()).fit(data)      # doctest: +SKIP
>>> a.summary(truth)                                                # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from churn_causal.causal.cohort import cohort_estimator
from churn_causal.causal.dynamics import LagEffects, TouchpointDynamics
from churn_causal.data.contract import CSData
from churn_causal.data.files import write_json
from churn_causal.design.cohort import ONBOARDING_DAYS
from churn_causal.design.engines import MEMORY
from churn_causal.design.portable import cohort_on
from churn_causal.design.sampling import CONTROLS_PER_TREATED
from churn_causal.design.scenarios import FOLLOW_UP_MONTHS, Period, Scenario
from churn_causal.design.trials import TrialDesign, period_start_day, resolve_design
from churn_causal.i18n import name, t
from churn_causal.report.executive import ci_pp
from churn_causal.report.names import markdown
from churn_causal.report.plots import method_name
from churn_causal.report.whatif import programme_value_of
from churn_causal.sim.truth import truth_by_phase, truth_for
from churn_causal.value.business import Business
from churn_causal.value.policy import RULE_DEPTH, Budget, TargetingAnalysis

REACH_DAYS = 365  # the team's LTV formula counts the treated customer-periods of the last year


def load_truth(data_source: str | Path) -> dict | None:
    """The simulator's truth.json in the data folder, or None (real data, or a database)."""
    path = Path(data_source) / "truth.json"
    return json.loads(path.read_text()) if path.exists() else None


def pp(x: float) -> str:
    """A risk difference in percentage points, signed."""
    return t("tp.pp", value=f"{100 * x:+.1f}")


class TouchpointAnalysis:
    """Naive, matched, weighted and doubly robust effects of one touchpoint on churn by the
    horizon, per tier, with diagnostics, refutation and a verdict (``result_`` is the JSON);
    and unless ``value`` is False, what its programme is worth and what its ``scenarios``
    would change (``programme_``), counted over ``programme`` (period, follow-up) with the
    ``business`` inputs."""

    def __init__(
        self,
        touchpoint: str,
        design: TrialDesign | dict | None = None,
        n_boot: int = 200,
        seed: int = 0,
        refute: bool = True,
        dynamics: bool = True,
        ratio: int = 1,
        replace: bool = True,
        controls_per_treated: float | None = CONTROLS_PER_TREATED,
        business: Business | dict | None = None,
        programme: dict | None = None,
        scenarios: list[dict] | None = None,
        value: bool = True,
        targeting: dict | None = None,
        engine: str = MEMORY,
    ) -> None:
        self.touchpoint = touchpoint
        if isinstance(design, dict):  # as the runner hands it over (``TrialDesign.to_dict``)
            design = TrialDesign.from_dict(design)
        self.design = design or resolve_design(touchpoint)
        self.n_boot, self.seed, self.refute, self.dynamics = n_boot, seed, refute, dynamics
        self.ratio, self.replace = ratio, replace
        self.controls_per_treated = controls_per_treated
        if isinstance(business, dict):  # as the runner hands it over
            business = Business.from_config(business)
        self.business = business or Business()
        programme = programme or {}
        self.period = Period.parse(programme.get("period"))
        self.follow_up_months = float(programme.get("follow_up_months", FOLLOW_UP_MONTHS))
        self.scenarios = [
            s
            if isinstance(s, Scenario)
            else Scenario.from_dict(s, self.period, self.follow_up_months)
            for s in scenarios or []
        ]
        self.value = value
        # who to touch next ({"budget": Budget fields or None, "depth": int}); None: not asked
        self.targeting = targeting or None
        self.engine = engine  # where the cohort and person-weeks are built

    def fit(self, data: CSData) -> TouchpointAnalysis:
        dynamics = TouchpointDynamics(
            self.touchpoint, self.design, self.n_boot, self.seed, engine=self.engine
        )
        self.dynamics_: dict[str, Any] | None = None
        # the programme's person-weeks, like the MSM's, come and go before the cohort's memory
        self.programme_ = self._programme(data) if self.value else None
        incremental = None
        if self.dynamics:  # the weekly designs' MSM first, before the cohort takes memory
            try:
                incremental = dynamics.incremental_effect(data)
            except ValueError as exc:  # e.g. no touch in the first year: the rest stands
                self.dynamics_ = {"touchpoint": self.touchpoint, "error": str(exc)}
        # risk-set sampling of the untreated (weighted) as the cohort is built
        self.cohort_ = cohort_on(
            self.engine, data, self.touchpoint, self.design, self.controls_per_treated, self.seed
        )
        self.reach_ = self._reach(data)
        self.targeting_ = self._target(data)
        lags = self._estimate(data, dynamics if self.dynamics and self.dynamics_ is None else None)
        if lags is not None:  # the prepared table is gone: the event study prepares its own
            try:
                dynamics.fit(data, self.cohort_, lags, incremental)
                self.dynamics_ = dynamics.to_dict()
            except ValueError as exc:  # e.g. too little history: the rest of the report stands
                self.dynamics_ = {"touchpoint": self.touchpoint, "error": str(exc)}
        return self

    def _programme(self, data: CSData) -> dict[str, Any]:
        """What the programme is worth and what each scenario would change
        (``whatif.programme_value_of``); an impossible one says why, and the rest stands."""
        try:
            return programme_value_of(
                data,
                self.touchpoint,
                self.business,
                self.period,
                self.follow_up_months,
                self.scenarios,
                self.n_boot,
                self.seed,
                self.engine,
            )
        except ValueError as exc:  # e.g. a window the data does not cover
            return {"error": str(exc)}

    def _target(self, data: CSData) -> TargetingAnalysis | None:
        """The policy under the budget asked for, on this analysis' cohort."""
        if not self.targeting:
            return None
        budget = self.targeting.get("budget")
        return TargetingAnalysis(
            self.touchpoint,
            self.design,
            self.business,
            Budget(**budget) if budget else None,
            int(self.targeting.get("depth", RULE_DEPTH)),
            controls_per_treated=self.controls_per_treated,
            seed=self.seed,
        ).fit(data, self.cohort_)

    def _reach(self, data: CSData) -> dict[str, int]:
        """Treated customer-periods (months, or weeks) per tier whose window ended in the
        last ``REACH_DAYS`` days of the data: what the team's LTV formula multiplies by."""
        c = self.cohort_
        treated = c[c["treated"].to_numpy()]
        start = data.customers.set_index("customer_id")["start_date"]
        end_day = period_start_day(
            treated["trial"].to_numpy() + self.design.window, self.design.unit
        )
        ends = start.reindex(treated["customer_id"]).to_numpy() + end_day.astype("timedelta64[D]")
        recent = ends > (data.data_end - pd.Timedelta(days=REACH_DAYS)).to_datetime64()
        return {str(k): int(v) for k, v in treated[recent].groupby("tier").size().items()}

    def _estimate(self, data: CSData, dynamics: TouchpointDynamics | None) -> LagEffects | None:
        """Every estimate on the cohort, prepared once; with ``dynamics``, its effects on health
        by lag too, from the same prepared table. A method of its own, so that the table (the
        cohort's encoded copy) is freed before what comes next."""
        estimator = cohort_estimator(
            data.touchpoints,
            self.design.horizon_days,
            by="tier",
            refute=self.refute,
            n_boot=self.n_boot,
            seed=self.seed,
            ratio=self.ratio,
            replace=self.replace,
        )
        prepared = estimator.prepare(self.cohort_)  # once, for every estimate below
        result = estimator.fit(prepared)
        result.design = self.design.to_dict()
        self.result_: dict[str, Any] = result.to_dict()
        # Lifecycle phase: the primary (matched) estimate within onboarding and adoption trials.
        self.phase_: dict[str, Any] = estimator.levels("phase", methods=("naive", "match"))
        if dynamics is None:
            return None
        try:
            return dynamics.lag_effects(data, prepared)
        except ValueError as exc:  # e.g. no matched pair with a reading: the rest stands
            self.dynamics_ = {"touchpoint": self.touchpoint, "error": str(exc)}
            return None

    def record(self) -> dict[str, Any]:
        """What the executive summary and the history need from this analysis: the result,
        the design and the headline (no customer identifiers)."""
        return {
            "touchpoint": self.touchpoint,
            "design": self.design.to_dict(),
            "design_text": self.design.describe(),
            "headline": self.headline(),
            "result": self.result_,
            "dynamics": self.dynamics_,
            "programme": self.programme_,
            "targeting": self.targeting_.result_ if self.targeting_ is not None else None,
            "reach": {"days": REACH_DAYS, "unit": self.design.unit, "by_tier": self.reach_},
        }

    def save(self, path: str | Path) -> Path:
        """Write ``record()`` as JSON (atomically: a half-written file never exists)."""
        return write_json(path, self.record())

    @property
    def primary(self) -> str:
        return self.result_["verdict"]["method"]

    def effect(self, method: str | None = None, scale: str = "risk_difference") -> dict:
        return self.result_["methods"][method or self.primary][scale]

    # ------------------------------------------------------------------ reading results
    def cohort_summary(self) -> pd.DataFrame:
        c, r, unit = self.cohort_, self.result_, self.design.unit
        rows = {
            t(f"tp.cohort.{unit}.rows"): len(c),
            t("tp.cohort.customers"): c["customer_id"].nunique(),
            t(f"tp.cohort.{unit}.treated"): int(c["treated"].sum()),
            t(f"tp.cohort.{unit}.untreated"): c.attrs.get("sampling", {}).get(
                "untreated_rows", int((~c["treated"]).sum())
            ),
            t(f"tp.cohort.{unit}.sampled"): int((~c["treated"]).sum()),
            t(f"tp.cohort.{unit}.churned_in_window"): c.attrs["churned_in_window"],
            t("tp.cohort.missing_health"): len(c) - sum(r["n"].values()),
            t(f"tp.cohort.{unit}.matched"): round(
                r["diagnostics"].get("matched_fraction", 0) * r["n"]["treated"]
            ),
        }
        return pd.DataFrame({t("col.count"): rows})

    def summary(self, truth: dict | None = None) -> pd.DataFrame:
        """Every method's effect: churn risk (pp), retention (days) and hazard ratio."""
        rows = []
        for method, scales in self.result_["methods"].items():
            rd = scales["risk_difference"]
            row = {
                t("col.method"): method_name(method),
                t("tp.col.effect_pp"): round(100 * rd["estimate"], 2),
                t("col.ci_pp"): ci_pp(rd),
                t("tp.col.extra_days"): round(scales["rmst_difference"]["estimate"], 1)
                if "rmst_difference" in scales
                else None,
                t("tp.col.hazard_ratio"): round(scales["hazard_ratio"]["estimate"], 2)
                if "hazard_ratio" in scales
                else None,
            }
            true = self.true_effects(truth)
            if true is not None:
                # The naive row's target is the naive contrast itself; the others' the ATT.
                key = "naive_risk_difference" if method == "naive" else "att_risk_difference"
                row[t("col.truth_pp")] = round(100 * true[key], 2)
            rows.append(row)
        return pd.DataFrame(rows).set_index(t("col.method"))

    def by_tier(self, truth: dict | None = None) -> pd.DataFrame:
        """The primary method per tier, EconML's conditional effect beside it (and the truth)."""
        true = self.true_effects(truth)
        cate = (self.result_.get("cate") or {}).get("by", {})
        parts = self.result_.get("by", {})
        return self._strata_table(parts, "tier", true["by_tier"] if true else None, cate)

    def by_phase(self, truth: dict | None = None) -> pd.DataFrame:
        """The matched estimate in onboarding-phase trials and in adoption-phase ones."""
        effects = self.true_effects(truth)
        true = truth_by_phase(effects, self.design, ONBOARDING_DAYS) if effects else None
        return self._strata_table(self.phase_, "phase", true, method="match")

    def _strata_table(
        self,
        parts: dict[str, Any],
        label: str,
        truth: dict | None,
        cate: dict | None = None,
        method: str | None = None,
    ) -> pd.DataFrame:
        method = method or self.primary
        rows = []
        for level, part in parts.items():
            row: dict[str, Any] = {t(f"col.{label}"): name(level)}
            if "error" in part:
                row[t("col.note")] = t("tp.level_error", why=part["error"])
            else:
                rd = part["methods"][method]["risk_difference"]
                row.update(
                    {
                        t("col.treated"): part["n"]["treated"],
                        t("tp.col.method_pp", method=method_name(method)): round(
                            100 * rd["estimate"], 2
                        ),
                        t("col.ci_pp"): ci_pp(rd),
                        t("exec.col.verdict"): t(f"verdict.level.{part['verdict']['level']}"),
                    }
                )
            if cate and level in cate:
                row[t(f"tp.col.econml_{label}")] = round(100 * cate[level]["estimate"], 2)
            if truth is not None:
                row[t("col.truth_pp")] = round(
                    100 * truth.get(level, {}).get("att_risk_difference", float("nan")), 2
                )
            rows.append(row)
        return pd.DataFrame(rows).set_index(t(f"col.{label}"))

    def true_effects(self, truth: dict | None) -> dict | None:
        """The simulator's truth for this touchpoint under this design, if it has one."""
        per_touchpoint = truth_for(truth, self.design) if truth is not None else None
        return per_touchpoint[self.touchpoint] if per_touchpoint else None

    def refutation_table(self) -> pd.DataFrame:
        """DoWhy's refuters: what each found, what it should find, and whether it did."""
        ref = self.result_.get("refutation")
        if not ref:
            return pd.DataFrame()
        table = pd.DataFrame(ref["refutation"]).T
        table[["new_effect", "expected", "tolerance"]] = (
            100 * table[["new_effect", "expected", "tolerance"]].astype(float)
        ).round(2)
        table["passed"] = [t(f"common.{bool(x)}") for x in table["passed"]]
        table.index = [t(f"tp.refuter.{r}") for r in table.index]
        keys = ("new_effect", "expected", "tolerance", "p_value", "passed")
        return table.rename(columns={k: t(f"tp.refutation.{k}") for k in keys})

    def headline(self) -> str:
        """One plain sentence on the primary estimate and what selection did to the naive one."""
        m, n = self.effect(), self.effect("naive")
        months = self.design.horizon_days / 365 * 12
        verb = "lowers" if m["ci_high"] < 0 else "raises" if m["ci_low"] > 0 else "unclear"
        return t(
            f"tp.headline.{verb}",
            unit=t(f"tp.unit.{self.design.unit}"),
            touchpoint=name(self.touchpoint),
            months=f"{months:.0f}",
            effect=pp(m["estimate"]),
            low=pp(m["ci_low"]),
            high=pp(m["ci_high"]),
            plain=pp(n["estimate"]),
            gap=f"{abs(100 * (n['estimate'] - m['estimate'])):.1f}",
            verdict=t(f"verdict.level.{self.result_['verdict']['level']}"),
        )

    def verdict_note(self) -> str:
        v, ev = self.result_["verdict"], self.result_.get("e_value")
        level = t(f"verdict.level.{v['level']}")
        lines = [t("tp.verdict", level=level, method=method_name(v["method"]))]
        lines += [f"* {markdown(reason)}" for reason in v["reasons"]]
        if ev:
            lines.append("* " + t("tp.e_value", value=f"{ev['point']:.2f}"))
        return "\n".join(lines)

    def truth_note(self, truth: dict | None) -> str:
        """How far each estimate is from the simulator's exact truth (simulated data only)."""
        if truth is None:
            return t("tp.truth.none")
        true = self.true_effects(truth)
        if true is None:
            return t("tp.truth.no_design")
        effect = true["att_risk_difference"]
        m, n = self.effect(), self.effect("naive")
        covered = m["ci_low"] <= effect <= m["ci_high"]
        return t(
            "tp.truth.covers" if covered else "tp.truth.misses",
            truth=pp(effect),
            method=method_name(self.primary),
            off=f"{100 * (m['estimate'] - effect):+.2f}",
            naive_off=f"{100 * (n['estimate'] - effect):+.2f}",
        )
