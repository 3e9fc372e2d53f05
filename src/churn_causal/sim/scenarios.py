"""Exact truth of uptake scenarios (``churn_causal.design.scenarios``): the world run again from
every contract's start with the scenario's odds of the touchpoint, on the same random draws.

Each run counts, customer by customer, what the estimator counts (the scenario's own ``counted``
weeks): whether the customer is in the scenario's population (alive in a counted week), weeks
alive, churn in a counted week, and weeks with the touchpoint. The natural course is one run
without any change. A scenario on a customer segment runs only that segment's customers again:
customers do not affect each other, so everyone else's outcomes are the natural ones.

What a scenario changes in one world is not unique: it depends on how the scenario's random
draws are coupled to the factual ones (here the same uniform draws with the uptake threshold
moved); another coupling gives other numbers with the same expectation. With a small change
the difference is a handful of customers whose churn flips, as noisy as the estimate itself (on
20 data sets of 20,000 customers, the odds of support times 1/1.1 changed revenue by -164k with
a standard deviation of 97k between data sets, against an estimate's standard error of 67k).
So the truth is the mean over ``worlds`` draws of the world for the same customers (world 0 the
factual one), each scenario against the natural course on that world's own draws: the effect
for these customers, which is what an estimate from their data can know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from churn_causal.design.scenarios import Scenario
from churn_causal.design.trials import MONTH_DAYS, WEEK_DAYS
from churn_causal.progress import advance, progress
from churn_causal.sim.draws import world_keys
from churn_causal.sim.world import TIERS, TOUCHPOINTS, Population, State, World


@dataclass
class Tally:
    """Per customer over one scenario's counted weeks."""

    member: np.ndarray  # alive in a counted week: in the scenario's population
    weeks: np.ndarray  # weeks alive (at the week's start)
    churned: np.ndarray  # churned in a counted week
    events: np.ndarray  # weeks with the scenario's touchpoint

    @classmethod
    def empty(cls, n: int) -> Tally:
        return cls(
            np.zeros(n, bool), np.zeros(n, np.int32), np.zeros(n, bool), np.zeros(n, np.int32)
        )

    def put(self, rows: np.ndarray, other: Tally) -> Tally:
        """A copy with ``rows`` taken from ``other`` (which holds just those rows)."""
        out = Tally(self.member.copy(), self.weeks.copy(), self.churned.copy(), self.events.copy())
        for name in ("member", "weeks", "churned", "events"):
            getattr(out, name)[rows] = getattr(other, name)
        return out

    def totals(self, rows: np.ndarray, mrr: np.ndarray) -> dict[str, float]:
        """Customers, churned customers, customer-months, revenue and touch events of ``rows``."""
        months = self.weeks[rows] * (WEEK_DAYS / MONTH_DAYS)
        return {
            "customers": int(self.member[rows].sum()),
            "churned": int(self.churned[rows].sum()),
            "customer_months": float(months.sum()),
            "revenue": float((months * mrr[rows]).sum()),
            "events": int(self.events[rows].sum()),
        }


def _key(s: Scenario) -> tuple:
    """Scenarios that count the same weeks of the same touchpoint share a natural tally."""
    return (s.period.kind, s.window(), s.touchpoint)


class ScenarioTruth:
    """Runs the world under each scenario and tallies it against the natural course."""

    def __init__(
        self,
        params: dict,
        pop: Population,
        first: np.datetime64,
        data_end: np.datetime64,
        worlds: int = 1,
    ) -> None:
        if worlds < 1:
            raise ValueError("a truth needs at least one world")
        self.p, self.pop, self.worlds = params, pop, worlds
        epoch = np.datetime64("1970-01-01", "D")
        self.day0 = (first - epoch).astype(int) + pop.start_day  # calendar day of tenure day 0
        self.data_end = int((data_end - epoch).astype(int))
        self.columns = {
            "tier": np.asarray(TIERS)[pop.tier],
            "contract_type": np.where(pop.annual, "annual", "monthly"),
        }

    def weeks_needed(self, scenarios: list[Scenario]) -> int:
        """Tenure weeks that cover every scenario's counted weeks."""
        out = 0
        for s in scenarios:
            end = s.window()[1]
            if s.period.kind == "tenure":
                out = max(out, end)
            else:
                last_day = min(end, self.data_end + 1) - 1
                out = max(out, int((last_day - self.day0.min()) // WEEK_DAYS) + 1)
        return out

    def run(
        self,
        rows: np.ndarray,
        counts: list[Scenario],
        change: Scenario | None = None,
        world: int = 0,
    ) -> list[Tally]:
        """Customers ``rows`` from contract start on the draws of ``world``, with ``change``'s
        odds where it applies; one tally per scenario of ``counts``."""
        weeks = self.weeks_needed(counts)
        engine = World(self.p, weeks)
        st = State.initial(self.pop, self.p).take(rows)
        st.key = world_keys(st.key, world)
        day0 = self.day0[rows]
        tallies = [Tally.empty(len(rows)) for _ in counts]
        kinds = [TOUCHPOINTS.index(s.touchpoint) for s in counts]
        shift = np.zeros((len(rows), len(TOUCHPOINTS)))
        if change is not None:
            k = TOUCHPOINTS.index(change.touchpoint)
            log_delta = np.log(change.delta) if change.delta > 0 else -np.inf
        for w in range(weeks):
            day = day0 + WEEK_DAYS * w
            if change is not None:
                shift[:, k] = np.where(change.applies(np.full(len(rows), w), day), log_delta, 0.0)
            out = engine.step(st, w, uptake_shift=shift if change is not None else None)
            churned = st.churn_day == WEEK_DAYS * (w + 1)  # gone by the next week's start
            for s, k_s, t in zip(counts, kinds, tallies, strict=True):
                counted = s.counted(np.full(len(rows), w), day, self.data_end) & out.alive
                t.member |= counted
                t.weeks += counted
                t.churned |= counted & churned
                t.events += counted & out.events[:, k_s]
        return tallies

    def of(self, scenarios: list[Scenario]) -> dict[str, Any]:
        """Each scenario's outcomes and the natural course's, for everyone, per tier and in
        the scenario's segment, each the mean over the worlds: ``{touchpoint: {name:
        {scenario, worlds, natural: {group: totals}, changed: {group: totals}}}}``."""
        sums: dict[tuple[str, str], dict[str, Any]] = {}
        with progress("the scenarios' truth", self.worlds * (len(scenarios) + 1)):
            for world in range(self.worlds):
                for s, totals in self._world(scenarios, world):
                    entry = sums.setdefault((s.touchpoint, s.name), {"scenario": s.to_dict()})
                    for course, groups in totals.items():
                        into = entry.setdefault(course, {})
                        for g, t in groups.items():
                            into[g] = {k: into.get(g, {}).get(k, 0) + v for k, v in t.items()}
        out: dict[str, Any] = {}
        for (tp, name), entry in sums.items():
            for course in ("natural", "changed"):
                for t in entry[course].values():
                    t.update({k: v / self.worlds for k, v in t.items()})
            out.setdefault(tp, {})[name] = {**entry, "worlds": self.worlds}
        return out

    def _world(self, scenarios: list[Scenario], world: int):
        """(scenario, {natural|changed: {group: totals}}) on the draws of ``world``."""
        everyone = np.arange(len(self.pop.tier))
        keys = list(dict.fromkeys(_key(s) for s in scenarios))
        first_of = {key: next(s for s in scenarios if _key(s) == key) for key in keys}
        runs = self.run(everyone, [first_of[k] for k in keys], world=world)
        natural = dict(zip(keys, runs, strict=True))
        advance(f"the natural course of world {world}")
        for s in scenarios:
            rows = np.flatnonzero(s.in_segment(self.columns))
            changed = natural[_key(s)].put(rows, self.run(rows, [s], s, world)[0])
            groups = {"all": everyone, **self._tiers(), "segment": rows}
            yield (
                s,
                {
                    name: {g: t.totals(r, self.pop.mrr) for g, r in groups.items()}
                    for name, t in (("natural", natural[_key(s)]), ("changed", changed))
                },
            )
            advance(s.name)

    def _tiers(self) -> dict[str, np.ndarray]:
        return {t: np.flatnonzero(self.pop.tier == k) for k, t in enumerate(TIERS)}
