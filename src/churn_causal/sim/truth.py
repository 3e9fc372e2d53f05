"""Exact ground truth: the treated customers of each trial simulated again without the touchpoint.

``run_factual`` runs the observed world; as each trial (monthly and weekly designs) closes, its
treated customers are re-simulated from the start of its window with the window's events of the
touchpoint removed (``counterfactual_churn``), and only their rows and counterfactual churn days
are kept. ``TruthAccumulator`` pools the effects once the factual churn days are final;
``truth_for`` finds the truth of a given design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_causal.design.trials import WEEK_DAYS, TrialDesign
from churn_causal.progress import tracked
from churn_causal.sim.records import HealthRecords
from churn_causal.sim.world import TIERS, TOUCHPOINTS, Population, State, Suppression, World


@dataclass
class Trial:
    """One trial of the factual run.

    While its window is open, ``snapshot`` is everyone's state at its start and ``treated`` marks
    who has had each touchpoint in it. ``close`` runs the counterfactual of the treated units and
    keeps only what the truth needs, so a closed trial holds little memory: their rows
    (``unit_rows``), touchpoints (``unit_k``) and counterfactual churn days (``cf_churn_day``).
    """

    design: str
    m: int
    lo: int
    hi: int
    snapshot: State | None
    treated: np.ndarray | None  # (n, 4) while the window is open
    unit_rows: np.ndarray | None = None
    unit_k: np.ndarray | None = None
    cf_churn_day: np.ndarray | None = None

    @property
    def first_week(self) -> int:
        return self.lo // WEEK_DAYS

    @property
    def last_week(self) -> int:
        return (self.hi - 1) // WEEK_DAYS

    def close(self, world: World, horizon_days: int) -> None:
        """Run the treated units' counterfactual, touchpoint by touchpoint; drop the snapshot.

        Events happen only to customers alive at the week's start, so every treated unit was
        alive at the window's start (eligible)."""
        unit_k, unit_rows = np.nonzero(self.treated.T)
        self.cf_churn_day = counterfactual_churn(
            world,
            self.snapshot.take(unit_rows),
            Suppression(k=unit_k, lo=self.lo, hi=self.hi),
            horizon_days,
        )
        self.unit_rows, self.unit_k = unit_rows.astype(np.int32), unit_k.astype(np.int8)
        self.snapshot = self.treated = None


def run_factual(
    world: World,
    pop: Population,
    p: dict,
    designs: dict[str, TrialDesign],
    observe_days: np.ndarray,
    health: HealthRecords,
) -> tuple[State, list[Trial], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Run the observed world, closing each trial (its counterfactual run) as its window ends.

    Records the observed health readings into ``health``; returns the final state, the closed
    trials and each week's observed touches (rows, touchpoint, tenure day)."""
    customers = len(pop.tier)
    st = State.initial(pop, p)
    trials = {(name, k): d.window_days(k) for name, d in designs.items() for k in d.trials}
    open_trials: dict[tuple[str, int], Trial] = {}
    closed: list[Trial] = []
    touch_parts = []
    for w in tracked(range(world.weeks), "simulating the world's weeks"):
        for (name, m), (lo, hi) in trials.items():
            if lo // WEEK_DAYS == w:
                open_trials[name, m] = Trial(
                    name, m, lo, hi, st.take(slice(None)), np.zeros((customers, 4), dtype=bool)
                )
        out = world.step(st, w)
        seen = np.flatnonzero(out.alive & (WEEK_DAYS * w <= observe_days))
        health.add(w, seen, out.score[seen], out.pillars[seen])
        ev_rows, ev_k = np.nonzero(out.events)
        ev_day = out.event_day[ev_rows, ev_k]
        keep = ev_day <= observe_days[ev_rows]
        touch_parts.append(
            (
                ev_rows[keep].astype(np.int32),
                ev_k[keep].astype(np.int8),
                ev_day[keep].astype(np.int32),
            )
        )
        for key in list(open_trials):
            trial = open_trials[key]
            trial.treated |= out.events & (out.event_day >= trial.lo) & (out.event_day < trial.hi)
            if w == trial.last_week:
                trial.close(world, designs[trial.design].horizon_days)
                closed.append(open_trials.pop(key))

    return st, closed, touch_parts


def counterfactual_churn(
    world: World, units: State, suppress: Suppression, horizon_days: int
) -> np.ndarray:
    """Churn day of each unit, simulated from its state at the start of week
    ``suppress.lo // WEEK_DAYS`` up to ``horizon_days`` after ``suppress.hi`` with its events of
    touchpoint ``suppress.k`` in the window removed; advances ``units`` in place."""
    last_week = (suppress.hi + horizon_days) // WEEK_DAYS - 1
    for w in range(suppress.lo // WEEK_DAYS, last_week + 1):
        world.step(units, w, suppress)
    return units.churn_day


def _outcomes(churn_day: np.ndarray, t0: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Churned within the horizon after time zero, and days retained up to the horizon."""
    return churn_day <= t0 + horizon, np.minimum(churn_day - t0, horizon)


class TruthAccumulator:
    """Pools one design's treated customer-trials, per touchpoint and tier."""

    def __init__(self) -> None:
        self.rows: list[dict[str, np.ndarray]] = []
        self.naive: list[dict[str, np.ndarray]] = []

    def add(
        self,
        trial: Trial,
        factual: np.ndarray,
        tier: np.ndarray,
        horizon: int,
        observe_days: np.ndarray,
    ) -> None:
        """Add a closed trial, given the ``factual`` churn days of everyone.

        ``observe_days`` (each customer's last observed tenure day) marks the customer-trials
        whose window closed by the data end: the ones a cohort built from the data can hold.
        Alive at time zero implies alive at the window's start, so ``at_risk`` are eligible.
        """
        t0, h = trial.hi, horizon
        in_data = t0 <= observe_days
        at_risk = (factual > t0) & in_data
        y, _ = _outcomes(factual, t0, h)
        treated = np.zeros(len(factual), dtype=bool)
        for k in range(len(TOUCHPOINTS)):
            of_k = trial.unit_k == k
            rows = trial.unit_rows[of_k]
            treated[:] = False
            treated[rows] = True
            self.naive.append(
                {
                    "k": np.full(2, k),
                    "treated": np.array([True, False]),
                    "n": np.array([(at_risk & treated).sum(), (at_risk & ~treated).sum()]),
                    "events": np.array([y[at_risk & treated].sum(), y[at_risk & ~treated].sum()]),
                }
            )
            cd1, cd0 = factual[rows], trial.cf_churn_day[of_k]
            y1, r1 = _outcomes(cd1, t0, h)
            y0, r0 = _outcomes(cd0, t0, h)
            self.rows.append(
                {
                    "k": np.full(len(rows), k),
                    "m": np.full(len(rows), trial.m),
                    "tier": tier[rows],
                    "in_data": in_data[rows],
                    "alive1": cd1 > t0,
                    "alive0": cd0 > t0,
                    "y1": y1,
                    "y0": y0,
                    "r1": r1,
                    "r0": r0,
                }
            )

    def result(self) -> dict[str, Any]:
        units = pd.DataFrame({c: np.concatenate([r[c] for r in self.rows]) for c in self.rows[0]})
        naive = pd.DataFrame({c: np.concatenate([r[c] for r in self.naive]) for c in self.naive[0]})
        naive = naive.groupby(["k", "treated"])[["n", "events"]].sum()
        out = {}
        for k, name in enumerate(TOUCHPOINTS):
            every = units[(units["k"] == k) & units["alive1"] & units["alive0"]]
            u = units[(units["k"] == k) & units["in_data"]]
            main = u[u["alive1"] & u["alive0"]]
            risk = naive.loc[k, "events"] / naive.loc[k, "n"]
            out[name] = {
                **_att(main),
                "naive_risk_difference": float(risk.loc[True] - risk.loc[False]),
                "naive_risk_treated": float(risk.loc[True]),
                "naive_risk_untreated": float(risk.loc[False]),
                "in_window": {
                    "n_treated_eligible": len(u),
                    "churned_in_window": int((~u["alive1"]).sum()),
                    "saved_in_window": int((u["alive1"] & ~u["alive0"]).sum()),
                    "caused_in_window": int((~u["alive1"] & u["alive0"]).sum()),
                },
                "by_tier": {TIERS[t]: _att(main[main["tier"] == t]) for t in range(len(TIERS))},
                "by_trial_month": {int(m): _att(g) for m, g in main.groupby("m", sort=True)},
                "all_trials": _att(every),
            }
        return out


def _att(u: pd.DataFrame) -> dict[str, Any]:
    n = len(u)
    if n == 0:
        return {"n_treated": 0}
    return {
        "n_treated": n,
        "att_risk_difference": float(u["y1"].mean() - u["y0"].mean()),
        "att_rmst_difference_days": float((u["r1"] - u["r0"]).mean()),
        "risk_treated": float(u["y1"].mean()),
        "risk_untreated_counterfactual": float(u["y0"].mean()),
    }


def truth_for(truth: dict, design: TrialDesign) -> dict | None:
    """The per-touchpoint truth of ``design`` in a truth.json, or None if it was not simulated."""
    want = design.to_dict()
    for entry in truth.get("designs", {}).values():
        if {k: entry["design"].get(k) for k in want} == want:
            return entry["touchpoints"]
    return None


def truth_by_phase(true_effects: dict, design: TrialDesign, onboarding_days: int) -> dict:
    """The ATT per lifecycle phase: the trials whose window starts in the first
    ``onboarding_days`` of tenure (onboarding) or later (adoption), pooled by treated count."""
    out: dict[str, dict[str, float]] = {}
    per_trial = true_effects["by_trial_month"]
    for phase in ("onboarding", "adoption"):
        parts = [
            t
            for k, t in per_trial.items()
            if (design.window_days(int(k))[0] < onboarding_days) == (phase == "onboarding")
            and t.get("n_treated")
        ]
        n = sum(t["n_treated"] for t in parts)
        if n:
            att = sum(t["n_treated"] * t["att_risk_difference"] for t in parts) / n
            out[phase] = {"n_treated": n, "att_risk_difference": att}
    return out


def dynamics_truth_for(truth: dict, touchpoint: str) -> dict:
    """From a truth.json: how the touchpoint works on health (``mechanism``, in words) and,
    for a one-off boost only, the half-life its effect on health fades with (the memory's own;
    effects that build up and fade more slowly than their memories have none to grade)."""
    t = truth.get("dynamics", {})
    out = {"mechanism": t.get("mechanism", {}).get(touchpoint)}
    if str(out["mechanism"]).startswith("raises the level"):
        out["half_life_days"] = t.get("half_life_days", {}).get(touchpoint)
    return out
