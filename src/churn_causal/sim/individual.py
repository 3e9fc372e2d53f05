"""Exact individual effects: each sampled customer-trial run again with the touchpoint added and
with it removed, on the same random numbers.

For a trial (a window of tenure days ``[lo, hi)``) every customer alive at its start is copied
twice from its factual state at the window's first week: one copy gets the touchpoint for sure
in one whole week of the window (chosen at random; its own events stay), the other has every
event of the touchpoint in the window removed. Both then run to the horizon on the same draws.
Churn ends a path but does not change it, so instead of drawing churn the runs carry each week's
chance of it: the expected churn within the horizon after the window's end (among those alive
at its end) and the expected days retained up to the horizon, without the noise of one draw of
churn. ``worlds`` further draws of the future from the same state (health noise, downturns,
uptake) are averaged: the customer-trial's effect as its state at the window's start
determines it, which is what a ranking from data can aim for (the oracle of the grading).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from churn_causal.design.trials import WEEK_DAYS, TrialDesign
from churn_causal.progress import tracked
from churn_causal.sim.draws import world_keys
from churn_causal.sim.records import customer_ids
from churn_causal.sim.world import TOUCHPOINTS, Population, State, Suppression, World


@dataclass
class _Pool:
    """The copies being run: per copy its customer, trial, arm, window and expectations."""

    st: State
    cust: np.ndarray
    trial: np.ndarray
    added: np.ndarray  # the arm with the touchpoint added
    lo: np.ndarray
    hi: np.ndarray
    forced_week: np.ndarray
    treated: np.ndarray  # the factual world touched the customer in the window
    survival: np.ndarray  # chance of no churn since the window's end
    days: np.ndarray  # expected days retained since the window's end

    def end_week(self, horizon: int) -> np.ndarray:
        """The first week after the last one whose churn counts."""
        return (self.hi + horizon) // WEEK_DAYS

    def take(self, rows: np.ndarray) -> _Pool:
        return _Pool(
            st=self.st.take(rows),
            **{f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "st"},
        )

    @classmethod
    def concat(cls, parts: list[_Pool]) -> _Pool:
        return cls(
            st=State.concat([p.st for p in parts]),
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(cls)
                if f.name != "st"
            },
        )


SAMPLED_TRIALS = 6  # trials per design whose customer-trials get an individual truth


def sampled_trials(design: TrialDesign, count: int = SAMPLED_TRIALS) -> np.ndarray:
    """Evenly spaced trials of ``design`` (each runs every customer alive at its start twice
    per world to the horizon: all of a weekly design's would cost 13 times as much)."""
    trials = design.trials
    return np.unique(trials[np.linspace(0, len(trials) - 1, count).round().astype(int)])


def individual_effects(
    params: dict,
    pop: Population,
    touchpoint: str,
    design: TrialDesign,
    trials: list[int] | np.ndarray,
    observe_days: np.ndarray,
    worlds: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per customer-trial of ``trials`` whose window closes by the customer's data end
    (``observe_days``) and who is alive at its start: ``customer_id``, ``trial``, ``treated``
    (in the factual world), and with the touchpoint added and removed the expected churn by the
    horizon (``risk_added``, ``risk_removed``) and days retained (``days_added``,
    ``days_removed``), each the mean over ``worlds`` draws of the future."""
    k = TOUCHPOINTS.index(touchpoint)
    windows = {int(m): design.window_days(int(m)) for m in trials}
    horizon = design.horizon_days
    weeks = max(hi for _, hi in windows.values()) // WEEK_DAYS + horizon // WEEK_DAYS + 2
    world = World(params, weeks)
    base = State.initial(pop, params)
    rng = np.random.default_rng([seed, k])
    pool: _Pool | None = None
    done: list[_Pool] = []
    for w in tracked(range(weeks), f"individual effects of {touchpoint}"):
        forks = [
            _fork(base, m, lo, hi, observe_days, worlds, rng)
            for m, (lo, hi) in windows.items()
            if lo // WEEK_DAYS == w
        ]
        if forks:
            pool = _Pool.concat(([pool] if pool is not None else []) + forks)
        factual = world.step(base, w)
        if pool is None:
            continue
        in_window = (pool.lo // WEEK_DAYS <= w) & (w <= (pool.hi - 1) // WEEK_DAYS)
        day = factual.event_day[pool.cust, k]
        pool.treated |= (
            in_window & factual.events[pool.cust, k] & (day >= pool.lo) & (day < pool.hi)
        )
        shift = np.zeros((len(pool.cust), len(TOUCHPOINTS)))
        shift[pool.added & (pool.forced_week == w), k] = np.inf
        lo_removed = np.where(pool.added, pool.hi, pool.lo)  # the added arm removes nothing
        out = world.step(
            pool.st, w, Suppression(np.full(len(pool.cust), k), lo_removed, pool.hi), shift, False
        )
        # a churn in week w is on day 7(w + 1); it counts when after the window's end and
        # within the horizon from it
        churn_day = WEEK_DAYS * (w + 1)
        counted = (churn_day > pool.hi) & (churn_day <= pool.hi + horizon)
        p = np.where(counted, out.p_churn, 0.0)
        pool.days += pool.survival * p * np.where(counted, churn_day - pool.hi, 0)
        pool.survival *= 1.0 - p
        finished = w + 1 >= pool.end_week(horizon)
        if finished.any():  # a copy past its horizon leaves the runs
            done.append(pool.take(np.flatnonzero(finished)))
            pool = pool.take(np.flatnonzero(~finished)) if not finished.all() else None
    if pool is not None:
        done.append(pool)
    if not done:
        return _summarise(None, len(pop.tier))
    ended = _Pool.concat(done)
    # survivors of the whole horizon are retained for all of it
    ended.days += ended.survival * horizon
    return _summarise(ended, len(pop.tier))


def _fork(
    base: State,
    m: int,
    lo: int,
    hi: int,
    observe_days: np.ndarray,
    worlds: int,
    rng: np.random.Generator,
) -> _Pool:
    """Copies of the customers alive at the window's start (window inside their data): both
    arms in every world."""
    rows = np.flatnonzero(base.alive & (hi <= observe_days))
    # a whole week inside the window for the added touch: weeks w with lo <= 7w, 7w + 7 <= hi
    first, last = -(-lo // WEEK_DAYS), hi // WEEK_DAYS - 1
    if last < first:  # a window shorter than a week: its only week
        first = last = lo // WEEK_DAYS
    forced = rng.integers(first, last + 1, size=len(rows))
    parts = []
    for world in range(worlds):
        for added in (True, False):
            st = base.take(rows)
            st.key = world_keys(st.key, world)
            parts.append((st, added))
    n = len(rows)
    copies = len(parts)
    return _Pool(
        st=State.concat([s for s, _ in parts]),
        cust=np.tile(rows, copies),
        trial=np.full(n * copies, m),
        added=np.concatenate([np.full(n, a) for _, a in parts]),
        lo=np.full(n * copies, lo),
        hi=np.full(n * copies, hi),
        forced_week=np.tile(forced, copies),
        treated=np.zeros(n * copies, dtype=bool),
        survival=np.ones(n * copies),
        days=np.zeros(n * copies),
    )


def _summarise(pool: _Pool | None, customers: int) -> pd.DataFrame:
    """Each customer-trial's expectations per arm, averaged over the worlds."""
    columns = ["customer_id", "trial", "treated", "risk_added", "risk_removed",
               "days_added", "days_removed"]  # fmt: skip
    if pool is None:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "cust": pool.cust,
            "trial": pool.trial,
            "arm": np.where(pool.added, "added", "removed"),
            "treated": pool.treated,
            "risk": 1.0 - pool.survival,
            "days": pool.days,
        }
    )
    wide = frame.pivot_table(
        index=["cust", "trial"], columns="arm", values=["risk", "days"], aggfunc="mean"
    )
    treated = frame.groupby(["cust", "trial"])["treated"].any()
    out = pd.DataFrame(
        {
            "customer_id": np.asarray(customer_ids(customers))[wide.index.get_level_values(0)],
            "trial": wide.index.get_level_values(1).to_numpy(),
            "treated": treated.reindex(wide.index).to_numpy(),
            "risk_added": wide[("risk", "added")].to_numpy(),
            "risk_removed": wide[("risk", "removed")].to_numpy(),
            "days_added": wide[("days", "added")].to_numpy(),
            "days_removed": wide[("days", "removed")].to_numpy(),
        }
    )
    return out[columns]
