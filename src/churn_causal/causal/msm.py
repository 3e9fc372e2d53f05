"""An effect of a touchpoint that reacts to health and changes it (cs_touch), by time-varying
inverse probability weighting.

The question: how much churn do CS touches prevent in a customer's first year? Touches follow
falling health, and health after a touch is partly its effect: a confounder affected by earlier
treatment, where adjusting for current health is biased (Robins, Hernán & Brumback 2000).

"No touches at all" is not a question this data can answer: almost every Enterprise customer is
touched in the first year, and a customer whose health falls hard is nearly always called, so
the few untouched ones would carry weights in the billions. The estimand is therefore an
*incremental* intervention (Kennedy 2019): every week's odds of a touch multiplied by ``delta``
(0.5: half as likely, still following health the way CS managers do), estimated as a scenario of
``churn_causal.causal.uptake`` over the first ``horizon_weeks`` weeks of every contract.

Beside it, on the same bootstrap replicates: the same weights from a model that ignores health
(baseline and touch history only), and the classic analysis: a pooled logistic churn model on
current health, the profile, tenure and weeks since the last touch ("never" its own level),
predicted for the observed histories as they are and with their touches changed the way the
intervention changes them (a touch kept with probability q/p, for delta < 1; an untouched week
touched with probability (q - p)/(1 - p), for delta > 1), health held as observed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn_causal import i18n
from churn_causal.causal.logit import Logit
from churn_causal.causal.survival import bootstrap_interval
from churn_causal.causal.uptake import OUTCOMES, UptakeScenarios
from churn_causal.data.contract import CSData
from churn_causal.design.engines import MEMORY
from churn_causal.design.person_weeks import PersonWeeks, exposure_after
from churn_causal.design.portable_weeks import person_weeks_on
from churn_causal.design.scenarios import Period, Scenario
from churn_causal.design.trials import WEEK_DAYS

_CHURNED, _CUSTOMERS = OUTCOMES.index("churned"), OUTCOMES.index("customers")


class IncrementalTouchEffect:
    """First-year churn with the touchpoint as it happens minus with every week's odds of it
    multiplied by ``delta``, by time-varying IPW; beside it the baseline-only weights and the
    classic current-health model (``result_``)."""

    def __init__(
        self,
        touchpoint: str = "cs_touch",
        delta: float = 0.5,
        horizon_weeks: int = 53,
        n_boot: int = 200,
        seed: int = 0,
        engine: str = MEMORY,
    ) -> None:
        if not (delta > 0 and delta != 1):
            raise ValueError("delta must be positive and not 1 (1 is the touches as they are)")
        self.touchpoint, self.delta, self.horizon_weeks = touchpoint, delta, horizon_weeks
        self.n_boot, self.seed = n_boot, seed
        self.engine = engine  # where the person-weeks are built: memory, duckdb or spark

    @property
    def scenario(self) -> Scenario:
        period = Period("tenure", 0, self.horizon_weeks)
        return Scenario("msm", self.touchpoint, self.delta, (), period, 0)

    def fit(self, data: CSData) -> IncrementalTouchEffect:
        pw = person_weeks_on(self.engine, data, self.touchpoint, self.horizon_weeks)
        if not pw.rows["touched"].any():
            raise ValueError(
                i18n.t("dynamics.none_first_year", touchpoint=i18n.name(self.touchpoint))
            )
        fits = {
            name: UptakeScenarios([self.scenario], self.n_boot, self.seed, health=health).fit(
                data, pw
            )
            for name, health in (("msm", True), ("baseline_only", False))
        }
        risks = {name: _risks(fit) for name, fit in fits.items()}
        classic = self._classic(pw, fits["msm"])
        self.fit_ = fits["msm"]
        self.result_ = self._result(risks, classic)
        return self

    def _classic(self, pw: PersonWeeks, fit: UptakeScenarios) -> tuple[np.ndarray, np.ndarray]:
        """First-year risks (as the histories are, and with their touches changed as the
        intervention would) from the classic churn model: point (2,) and replicates (B, 2)."""
        rows = pw.rows
        everyone = np.arange(len(rows))

        def design(exposure: pd.Categorical) -> np.ndarray:
            x = pd.get_dummies(
                pd.DataFrame(
                    {
                        "tier": pw.column("tier"),
                        "contract_type": pw.column("contract_type"),
                        "onboarding": rows["onboarding"].to_numpy(),
                        "exposure": exposure,
                    }
                ),
                drop_first=True,  # the references: the first tier and contract, never touched
                dtype=np.float32,
            )
            week = rows["week"].to_numpy()
            x["week"] = week
            x["renewal"] = (week == 52) & (pw.column("contract_type") == "annual")
            score = rows["score"].to_numpy()
            x["score"] = np.where(np.isnan(score), np.nanmean(score), score)
            return x.to_numpy(dtype=np.float32)

        x0 = design(rows["exposure"].array)
        y = rows["churned"].to_numpy()
        model = Logit(C=1e4).fit(x0, y)
        p = fit.model_.predict(pw, everyone)
        q = self.delta * p / (self.delta * p + 1 - p)
        touched = rows["touched"].to_numpy()
        u = np.random.default_rng(self.seed).random(len(rows))
        changed = np.where(touched, u < q / p, u < (q - p) / (1 - p))
        x1 = design(exposure_after(pw, changed))
        hazards = [model.predict_proba(x)[:, 1] for x in (x0, x1)]
        point, reps = _hazard_risks(pw, hazards, fit.draws_)
        # The churn model's own uncertainty, which the replicates above hold fixed: each
        # replicate's one Newton step from the fit (the sandwich), carried to the risks by
        # their gradient in the coefficients.
        steps = _newton_steps(model, x0, y, rows["customer"].to_numpy(), fit.draws_)
        grads = [_risk_gradient(pw, x, h) for x, h in zip((x0, x1), hazards, strict=True)]
        return point, reps + steps @ np.column_stack(grads)

    def _result(self, risks: dict, classic: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
        (nat, nat_b), (chg, chg_b) = risks["msm"]
        out: dict[str, Any] = {
            "touchpoint": self.touchpoint,
            "delta": self.delta,
            "estimand": (
                f"churn within {self.horizon_weeks} weeks of contract start with {self.touchpoint}"
                f" as it happens minus with each week's odds of one multiplied by {self.delta}"
                " (negative = the touches prevent churn)"
            ),
            "horizon_days": self.horizon_weeks * WEEK_DAYS,
            "risk_natural": bootstrap_interval(nat, nat_b),
            "risk_intervention": bootstrap_interval(chg, chg_b),
        }
        for name in ("msm", "baseline_only"):
            (n, n_b), (c, c_b) = risks[name]
            out[name] = bootstrap_interval(n - c, n_b - c_b)
        point, reps = classic
        out["current_health"] = bootstrap_interval(point[0] - point[1], reps[:, 0] - reps[:, 1])
        d = self.fit_.diagnostics_["msm"]
        pw = self.fit_.pw_
        out["diagnostics"] = {
            "person_weeks": len(pw.rows),
            "customers": int(pw.rows["customer"].nunique()),
            "touched_weeks": int(pw.rows["touched"].sum()),
            "treatment_model_auc": self.fit_.model_.auc_,
            "ess_share_min": d["ess_share_min"],
            "ess_share_revenue_min": d["ess_share_revenue_min"],
            "ess_share_by_tier_min": d["ess_share_by_tier_min"],
            "mean_weight_range": d["mean_weight_range"],
            "weight_max": d["weight_max"],
            "reliable": d["reliable"],
        }
        return out


def _risks(fit: UptakeScenarios) -> tuple[tuple, tuple]:
    """((natural risk, replicates), (intervention risk, replicates)) of the fit's scenario."""
    nat, nat_b, chg, chg_b = fit.totals(fit.scenarios[0].name, "all")
    return tuple(
        (v[_CHURNED] / v[_CUSTOMERS], b[:, _CHURNED] / b[:, _CUSTOMERS])
        for v, b in ((nat, nat_b), (chg, chg_b))
    )


def _hazard_risks(
    pw: PersonWeeks, hazards: list[np.ndarray], draws: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Risk by the end of the rows' weeks from each row's predicted weekly hazard: one minus the
    product over weeks of one minus the week's mean hazard (the classic model's risk), for
    each hazard vector, as points and bootstrap replicates (customers resampled by
    ``draws``)."""
    rows = pw.rows
    customer, week = rows["customer"].to_numpy(), rows["week"].to_numpy()
    n, weeks = len(pw.customers), int(week.max()) + 1
    key = customer.astype(np.int64) * weeks + week
    columns = [np.ones(len(rows)), *hazards]
    table = np.empty((n, len(columns), weeks), dtype=np.float32)
    for j, v in enumerate(columns):
        table[:, j, :] = np.bincount(key, weights=v, minlength=n * weeks).reshape(n, -1)
    flat = table.reshape(n, -1)
    point = flat.sum(axis=0, dtype=np.float64)[None]
    boot = np.vstack(
        [draws[b : b + 25].astype(np.float32) @ flat for b in range(0, len(draws), 25)]
    )

    def risk(sums: np.ndarray) -> np.ndarray:
        s = sums.reshape(len(sums), len(columns), weeks)
        at = s[:, :1]
        hazard = np.divide(s[:, 1:], at, out=np.zeros_like(s[:, 1:]), where=at > 0)
        return 1 - np.prod(1 - hazard, axis=2)

    return risk(point)[0], risk(boot.astype(np.float64))


def _risk_gradient(pw: PersonWeeks, x: np.ndarray, hazard: np.ndarray) -> np.ndarray:
    """The gradient of ``_hazard_risks``' risk in the churn model's coefficients (intercept
    first): with weekly mean hazards h_w over n_w rows, risk = 1 - prod(1 - h_w), so
    d risk = (1 - risk) sum_w d h_w / (1 - h_w), d h_w = mean of mu (1 - mu) x over week w."""
    week = pw.rows["week"].to_numpy()
    n_w = np.bincount(week)
    h_w = np.bincount(week, weights=hazard) / np.maximum(n_w, 1)
    survive = np.prod(1 - h_w)
    row = survive / ((1 - h_w) * np.maximum(n_w, 1))[week] * hazard * (1 - hazard)
    return np.r_[row.sum(), row.astype(np.float32) @ x]


def _newton_steps(
    model: Logit, x: np.ndarray, y: np.ndarray, customer: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """(B, 1 + columns): each bootstrap replicate's one Newton step of the logistic model from
    its fit, H^-1 sum_i (w_i - 1) s_i, with s_i customer i's score and w_i their Poisson
    weight."""
    mu = model.predict_proba(x)[:, 1]
    resid = (y - mu).astype(np.float32)
    n = int(customer.max()) + 1
    scores = np.column_stack(
        [np.bincount(customer, weights=resid, minlength=n)]
        + [np.bincount(customer, weights=resid * x[:, j], minlength=n) for j in range(x.shape[1])]
    )
    v = (mu * (1 - mu)).astype(np.float32)
    xt = np.column_stack([np.ones(len(x), dtype=np.float32), x])
    hessian = (xt * v[:, None]).T @ xt + np.diag(np.r_[0.0, np.full(x.shape[1], 1 / model.C)])
    gradients = (draws.astype(np.float64) - 1.0) @ scores[: draws.shape[1]]
    return np.linalg.solve(hessian.astype(np.float64), gradients.T).T
