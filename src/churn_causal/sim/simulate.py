"""A customer-success world with known causal effects of its touchpoints.

The world follows what CS teams report (docs/simulator.md): customers of three tiers on
monthly or annual contracts, a weekly health score from three pillars, four touchpoints whose
uptake is selected on current health (support, seminar and community by healthy customers;
cs_touch by large tiers and falling health), and true mechanisms set in ``simulator.yaml``.

Exact truth (``churn_causal.sim.truth``): for each monthly target trial, every treated customer is
simulated again with that month's events of the touchpoint removed, on the same random draws
(``churn_causal.sim.draws``). Everything is vectorised over customers; the only Python loop is over
weeks.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from churn_causal.data.files import write_parquet
from churn_causal.design.scenarios import (
    FOLLOW_UP_MONTHS,
    HALF,
    NONE,
    Period,
    Scenario,
    programme_scenarios,
)
from churn_causal.design.trials import WEEK_DAYS, TrialDesign, resolve_design
from churn_causal.sim.individual import individual_effects, sampled_trials
from churn_causal.sim.records import HealthRecords, customer_ids
from churn_causal.sim.scenarios import ScenarioTruth
from churn_causal.sim.truth import TruthAccumulator, run_factual
from churn_causal.sim.world import TIERS, TOUCHPOINTS, World, make_population

SCHEMA_VERSION = 1


# ----------------------------------------------------------------------------- parameters
def default_params() -> dict[str, Any]:
    """The documented defaults from ``simulator.yaml``."""
    text = resources.files("churn_causal.sim").joinpath("simulator.yaml").read_text()
    return yaml.safe_load(text)


def merge_params(base: dict, overrides: dict | None, path: str = "") -> dict:
    """Deep-merge ``overrides`` into a copy of ``base``; unknown keys are an error, not a no-op."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        where = f"{path}{key}"
        if key not in out:
            raise KeyError(f"unknown simulator parameter '{where}'; known: {sorted(out)}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge_params(out[key], value, f"{where}.")
        elif isinstance(out[key], dict):
            raise TypeError(f"simulator parameter '{where}' is a section; give a mapping")
        else:
            out[key] = value
    return out


def parse_assignments(items: list[str]) -> dict:
    """Turn ``["effects.seminar.boost_points=5", ...]`` into a nested override mapping."""
    out: dict = {}
    for item in items:
        dotted, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"expected KEY=VALUE, got '{item}'")
        *parents, leaf = dotted.strip().split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(raw)
    return out


# ------------------------------------------------------------------------------ driver
@dataclass
class SimulationResult:
    """The simulated data set; the health table is kept as compact records (``health_records``)
    and built as a frame only when ``health`` is first used."""

    customers: pd.DataFrame
    health_records: HealthRecords
    touches: pd.DataFrame
    truth: dict[str, Any]
    # per touchpoint, each sampled customer-trial's exact effect (``sim.individual``)
    individual: dict[str, pd.DataFrame] = field(default_factory=dict)

    @cached_property
    def health(self) -> pd.DataFrame:
        return self.health_records.frame()

    def write(self, out_dir: str | Path) -> Path:
        """Write the three tables as Parquet and truth.json into ``out_dir``; the health table is
        streamed from its records, never built whole."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_parquet(self.customers, out / "customers.parquet")
        self.health_records.write(out / "health.parquet")
        write_parquet(self.touches, out / "touches.parquet")
        (out / "truth.json").write_text(json.dumps(self.truth, indent=2) + "\n")
        for tp, frame in self.individual.items():
            write_parquet(frame, out / f"individual_truth_{tp}.parquet")
        return out


def truth_designs(section: dict) -> dict[str, TrialDesign]:
    """The designs of the simulator's ``truth`` section, by name."""
    return {
        name: TrialDesign(
            first=d["trials"][0],
            last=d["trials"][1],
            window=d["window"],
            horizon_days=section["horizon_days"],
            unit=d["unit"],
        )
        for name, d in section["designs"].items()
    }


def truth_scenarios(section: dict, scenarios: list[Scenario] | None = None) -> list[Scenario]:
    """The scenarios whose exact truth ``churn-causal simulate`` reports: every touchpoint's
    programme against none of it and against half of it (``programme_scenarios`` over the
    ``truth.programme`` period), the ``truth.scenarios`` of the parameters, and ``scenarios``
    (a run config's, say)."""
    programme = section.get("programme") or {}
    period = Period.parse(programme.get("period"))
    months = programme.get("follow_up_months", FOLLOW_UP_MONTHS)
    out = [
        s
        for tp in TOUCHPOINTS
        for s in programme_scenarios(tp, period, months)
        if s.name in (NONE, HALF)
    ]
    out += [Scenario.from_dict(d, period, months) for d in section.get("scenarios") or []]
    return out + list(scenarios or [])


def simulate(
    customers: int = 20_000,
    seed: int = 0,
    params: dict | None = None,
    scenarios: list[Scenario] | None = None,
    individual: list[str] | tuple[str, ...] = (),
) -> SimulationResult:
    """Simulate ``customers`` customers; ``params`` overrides keys of ``simulator.yaml``;
    ``scenarios`` (e.g. ``truth_scenarios``) get an exact truth, which costs a run of the
    world per scenario and world (``truth.scenario_worlds``); each touchpoint of
    ``individual`` gets every sampled customer-trial's exact effect (``sim.individual``)."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    p = merge_params(default_params(), params)
    designs = truth_designs(p["truth"])
    first = np.datetime64(p["calendar"]["first_start"], "D")
    data_end = np.datetime64(p["calendar"]["data_end"], "D")
    if (data_end - first).astype(int) < p["calendar"]["start_span_days"]:
        raise ValueError("calendar.data_end must lie after the last possible contract start")
    pop = make_population(customers, seed, p)
    observe_days = (data_end - first).astype(int) - pop.start_day  # last observed tenure day
    last_day = max(d.last_day_needed for d in designs.values())
    weeks = max(int(observe_days.max()), last_day) // WEEK_DAYS + 1
    world = World(p, weeks)

    health = HealthRecords(pop.start_day, first)
    st, closed, touch_parts = run_factual(world, pop, p, designs, observe_days, health)

    acc = {name: TruthAccumulator() for name in designs}
    for trial in closed:
        horizon = designs[trial.design].horizon_days
        acc[trial.design].add(trial, st.churn_day, pop.tier, horizon, observe_days)

    wanted = list(scenarios or [])
    names = [(s.touchpoint, s.name) for s in wanted]
    if len(set(names)) < len(names):
        raise ValueError("two scenarios of the same touchpoint have the same name")
    runs = ScenarioTruth(p, pop, first, data_end, p["truth"]["scenario_worlds"])
    truth = {
        "schema_version": SCHEMA_VERSION,
        "dynamics": dynamics_truth(p, runs),
        "scenarios": runs.of(wanted) if wanted else {},
        "seed": seed,
        "customers": customers,
        "data_end": str(data_end),
        "definitions": {
            "att_risk_difference": "per design: mean over treated customer-trials in the data "
            "(window closed by the data end) alive at time zero in both worlds of [churned within "
            "horizon_days after time zero] with the touchpoint minus without it (negative = "
            "prevents churn)",
            "att_rmst_difference_days": "same units, mean of days retained up to the horizon with "
            "minus without the touchpoint",
            "naive_risk_difference": "observed churn risk by the horizon, treated minus untreated "
            "eligible customer-trials in the data alive at time zero, on the full (uncensored) "
            "future",
            "all_trials": "the ATT over every treated customer-trial, also those whose window "
            "closes after the data end (not in any cohort built from the data)",
            "in_window": "treated customer-trials by what happened inside the treatment window: "
            "churned there (factual), saved there (would have churned without the touchpoint), "
            "caused there",
        },
        "designs": {
            name: {"design": d.to_dict(), "touchpoints": acc[name].result()}
            for name, d in designs.items()
        },
        "parameters": p,
    }
    effects = {}
    for tp in individual:  # each on the design the product gives the touchpoint
        design = designs[resolve_design(tp).unit]
        effects[tp] = individual_effects(
            p, pop, tp, design, sampled_trials(design), observe_days,
            p["truth"]["individual_worlds"], seed,
        )  # fmt: skip
    return SimulationResult(
        customers=_customers_table(pop, st.churn_day, observe_days, first),
        health_records=health,
        touches=_touches_table(touch_parts, pop, first),
        truth=truth,
        individual=effects,
    )


MSM_SCENARIO = Scenario("msm", "cs_touch", 0.5, (), Period("tenure", 0, 53), 0)


def dynamics_truth(p: dict, runs: ScenarioTruth) -> dict[str, Any]:
    """What the dynamics analyses estimate: each effect's half-life and mechanism (set in the
    parameters), and for cs_touch the incremental intervention of ``MSM_SCENARIO``: every
    customer's first 53 weeks with each week's odds of a touch halved (same draws), against
    the same weeks as they happened."""
    ef = p["effects"]
    s = MSM_SCENARIO
    t = runs.of([s])[s.touchpoint][s.name]
    risk = {k: t[k]["all"]["churned"] / t[k]["all"]["customers"] for k in ("natural", "changed")}
    return {
        "half_life_days": {k: ef[k]["half_life_days"] for k in TOUCHPOINTS},
        "mechanism": {
            "support": "prevents decline (damps falls of the health pillars)",
            "seminar": "raises the level (a boost of the pillars that fades)",
            "community": "prevents decline and lifts the pillars' target gradually",
            "cs_touch": "lowers the churn hazard directly, small lift of health",
        },
        "msm": {
            s.touchpoint: {
                "estimand": f"churn within {s.period.end} weeks of contract start with "
                f"{s.touchpoint} as it happens minus with each week's odds of one multiplied "
                f"by {s.delta}",
                "delta": s.delta,
                "horizon_days": s.period.end * 7,
                "risk_natural": risk["natural"],
                "risk_intervention": risk["changed"],
                "risk_difference": risk["natural"] - risk["changed"],
            }
        },
    }


def _customers_table(pop, churn_day, observe_days, first) -> pd.DataFrame:
    start = first + pop.start_day.astype("timedelta64[D]")
    seen = churn_day <= observe_days
    churn_date = np.where(
        seen, start + np.where(seen, churn_day, 0).astype("timedelta64[D]"), np.datetime64("NaT")
    )
    return pd.DataFrame(
        {
            "customer_id": customer_ids(len(pop.tier)),
            "tier": pd.Categorical.from_codes(pop.tier, categories=list(TIERS)),
            "contract_type": np.where(pop.annual, "annual", "monthly"),
            "seats": pop.seats,
            "mrr": pop.mrr,
            "start_date": pd.to_datetime(start),
            "churn_date": pd.to_datetime(churn_date),
        }
    )


def _touches_table(parts, pop, first) -> pd.DataFrame:
    rows = np.concatenate([p[0] for p in parts])
    k = np.concatenate([p[1] for p in parts])
    day = np.concatenate([p[2] for p in parts])
    order = np.lexsort((k, day, rows))
    rows, k, day = rows[order], k[order], day[order]
    return pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(rows, categories=customer_ids(len(pop.tier))),
            "date": pd.to_datetime(first + (pop.start_day[rows] + day).astype("timedelta64[D]")),
            "touchpoint": pd.Categorical.from_codes(k, categories=list(TOUCHPOINTS)),
        }
    )
