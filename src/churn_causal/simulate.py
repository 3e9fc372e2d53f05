"""A customer-success world with known causal effects of its touchpoints.

The simulator follows ../DOMAIN (see README): customers of three tiers on monthly or annual
contracts, a weekly health score from three pillars, four touchpoints whose uptake is selected
on current health (support, seminar and community by healthy customers; cs_touch by large tiers
and falling health), and true mechanisms set in ``simulator.yaml``.

Exact truth: for each monthly target trial (``churn_causal.trials``), every treated customer is
simulated again with that month's events of the touchpoint removed. Random numbers come from a
counter-based generator keyed by (customer, week, stream), so both worlds see the same draws
(common random numbers) and an untreated customer's counterfactual is its factual path exactly.
Everything is vectorised over customers; the only Python loop is over weeks.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy.special import expit, ndtri

from churn_causal.trials import MONTH_DAYS, WEEK_DAYS, TrialDesign

TOUCHPOINTS = ("support", "seminar", "community", "cs_touch")
TIERS = ("Enterprise", "Middle", "SMB")
PILLARS = ("action", "utilization", "penetration")
SCHEMA_VERSION = 1
NO_CHURN = np.iinfo(np.int64).max // 2

# Columns of the per-week random draws.
_NOISE = slice(0, 3)
_SHOCK, _SHOCK_SIZE = 3, 4
_UPTAKE = slice(5, 9)
_DAY = slice(9, 13)
_CHURN = 13
_N_STREAMS = 14


# ----------------------------------------------------------------------------- parameters
def default_params() -> dict[str, Any]:
    """The documented defaults from ``simulator.yaml``."""
    text = resources.files("churn_causal").joinpath("simulator.yaml").read_text()
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


# ------------------------------------------------------------------ counter-based draws
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective 64-bit hash (uint64 arithmetic wraps by design)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def customer_keys(seed: int, n: int) -> np.ndarray:
    """One 64-bit key per customer; the draws of a customer depend on nothing else."""
    base = _mix(np.array([seed], dtype=np.uint64))
    return _mix(base ^ np.arange(n, dtype=np.uint64))


def _stream_keys(weeks: int) -> np.ndarray:
    grid = np.arange(weeks * _N_STREAMS, dtype=np.uint64).reshape(weeks, _N_STREAMS)
    return _mix(_mix(grid))


def _uniforms(keys: np.ndarray, stream_keys_w: np.ndarray) -> np.ndarray:
    """Uniform(0, 1) draws of shape (len(keys), streams) for one week."""
    bits = _mix(keys[:, None] ^ stream_keys_w[None, :]) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


# ------------------------------------------------------------------------- population
@dataclass
class Population:
    """Static customer attributes; ``level`` and ``u`` are never written out (latent)."""

    tier: np.ndarray  # int codes into TIERS
    seats: np.ndarray
    mrr: np.ndarray
    annual: np.ndarray
    start_day: np.ndarray  # days after calendar.first_start
    level: np.ndarray  # (n, 3) long-run pillar levels
    u: np.ndarray  # unobserved confounder
    key: np.ndarray


def make_population(n: int, seed: int, p: dict) -> Population:
    rng = np.random.default_rng([seed, 0])
    pop, hp = p["population"], p["health"]
    tier = rng.choice(len(TIERS), size=n, p=[pop["tier_shares"][t] for t in TIERS])
    median = np.array([pop["seats_median"][t] for t in TIERS], dtype=float)[tier]
    seats = np.maximum(1, np.round(median * np.exp(pop["seats_log_sd"] * rng.standard_normal(n))))
    discount = np.array([pop["tier_discount"][t] for t in TIERS])[tier]
    mrr = seats * pop["price_per_seat"] * (1 - discount) * np.exp(0.1 * rng.standard_normal(n))
    annual = rng.random(n) < np.array([pop["annual_share"][t] for t in TIERS])[tier]
    start_day = rng.integers(0, p["calendar"]["start_span_days"], size=n)
    common = hp["level_mean"] + hp["level_sd"] * rng.standard_normal(n)
    offsets = np.array([hp["pillar_offset"][k] for k in PILLARS])
    level = common[:, None] + offsets + hp["pillar_sd"] * rng.standard_normal((n, 3))
    level[:, 2] += hp["penetration_per_log_seat"] * (np.log(seats) - 4.0)
    level = np.clip(level, 5.0, 95.0)
    return Population(
        tier=tier.astype(np.int8),
        seats=seats.astype(np.int64),
        mrr=np.round(mrr, 2),
        annual=annual,
        start_day=start_day.astype(np.int64),
        level=level,
        u=rng.standard_normal(n),
        key=customer_keys(seed, n),
    )


# ------------------------------------------------------------------------------ state
@dataclass
class State:
    """Everything that evolves, one row per simulated unit (a customer in one world)."""

    cust: np.ndarray
    tier: np.ndarray
    annual: np.ndarray
    u: np.ndarray
    level: np.ndarray
    key: np.ndarray
    x: np.ndarray  # (n, 3) latent pillars
    shift: np.ndarray  # downturn shift of the pillars' target
    mem: np.ndarray  # (n, 4) touchpoint memories in [0, 1]
    hist: np.ndarray  # (n, fall_weeks) scores of the last weeks (ring buffer)
    alive: np.ndarray
    churn_day: np.ndarray  # tenure day on which the customer is gone; NO_CHURN if never

    @classmethod
    def initial(cls, pop: Population, p: dict) -> State:
        n = len(pop.tier)
        x = np.clip(pop.level - p["health"]["onboarding_deficit"], 0.0, 100.0)
        score = x.mean(axis=1)
        return cls(
            cust=np.arange(n),
            tier=pop.tier,
            annual=pop.annual,
            u=pop.u,
            level=pop.level,
            key=pop.key,
            x=x,
            shift=np.zeros(n),
            mem=np.zeros((n, 4)),
            hist=np.repeat(score[:, None], p["uptake"]["cs_touch"]["fall_weeks"], axis=1),
            alive=np.ones(n, dtype=bool),
            churn_day=np.full(n, NO_CHURN, dtype=np.int64),
        )

    def take(self, idx: np.ndarray) -> State:
        """A deep copy of the rows ``idx``."""
        return State(**{f.name: getattr(self, f.name)[idx].copy() for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[State]) -> State:
        return cls(
            **{f.name: np.concatenate([getattr(s, f.name) for s in parts]) for f in fields(cls)}
        )


@dataclass
class Suppression:
    """Per unit: remove events of touchpoint ``k`` dated in tenure days ``[lo, hi)``."""

    k: np.ndarray
    lo: int
    hi: int


@dataclass
class WeekOutput:
    pillars: np.ndarray  # observed pillars at the week's start
    score: np.ndarray
    alive: np.ndarray  # alive at the week's start
    events: np.ndarray  # (n, 4) bool
    event_day: np.ndarray  # (n, 4) tenure day of each event


# ----------------------------------------------------------------------------- engine
class World:
    """The weekly dynamics; the same ``step`` drives the factual and counterfactual worlds."""

    def __init__(self, params: dict, weeks: int) -> None:
        p = self.p = params
        self.weeks = weeks
        self.stream_keys = _stream_keys(weeks)
        up, ef, hp, ch = p["uptake"], p["effects"], p["health"], p["churn"]
        self.intercept = np.array([up[k]["intercept"] for k in TOUCHPOINTS])
        self.health_slope = np.array([up[k]["health_slope"] for k in TOUCHPOINTS])
        self.tier_logit = np.array([[up[k]["tier"][t] for k in TOUCHPOINTS] for t in TIERS])
        self.onboarding_logit = np.array([up[k]["onboarding"] for k in TOUCHPOINTS])
        s = p["confounder"]["strength"]
        self.u_logit = np.array([s, s, s, -s])
        self.u_log_hr = -s
        self.decay = np.array([0.5 ** (WEEK_DAYS / ef[k]["half_life_days"]) for k in TOUCHPOINTS])
        self.boost = ef["seminar"]["boost_points"] * np.array([1.0, 1.0, 0.0])
        self.cs_lift = ef["cs_touch"]["lift_points"] * np.array([1.0, 0.0, 0.0])
        self.cs_log_hr = np.log([ef["cs_touch"]["hazard_ratio"][t] for t in TIERS])
        self.tier_log_hr = np.log([ch["tier_hr"][t] for t in TIERS])
        self.shift_decay = 0.5 ** (1.0 / hp["downturn_half_life_weeks"])
        self.onboarding_weeks = up["onboarding_weeks"]

    def step(self, st: State, w: int, suppress: Suppression | None = None) -> WeekOutput:
        """Advance every unit in ``st`` through tenure week ``w`` (days 7w..7w+6) in place."""
        p, hp, ch, ef = self.p, self.p["health"], self.p["churn"], self.p["effects"]
        n = len(st.cust)
        draws = _uniforms(st.key, self.stream_keys[w])
        onboarding = w < self.onboarding_weeks

        # Health at the start of the week, as the vendor's score would show it.
        pillars = np.clip(st.x + st.mem[:, 1:2] * self.boost, 0.0, 100.0)
        score = pillars.mean(axis=1)
        slot = w % st.hist.shape[1]
        fall = np.maximum(st.hist[:, slot] - score, 0.0)
        st.hist[:, slot] = score
        alive = st.alive.copy()

        # Uptake, selected on current health (and tier, phase, falling health, U).
        z = (score - 60.0) / 10.0
        logit = (
            self.intercept
            + z[:, None] * self.health_slope
            + self.tier_logit[st.tier]
            + self.onboarding_logit * onboarding
            + st.u[:, None] * self.u_logit
        )
        logit[:, 3] += p["uptake"]["cs_touch"]["fall_per_point"] * fall
        events = (draws[:, _UPTAKE] < expit(logit)) & alive[:, None]
        event_day = WEEK_DAYS * w + np.floor(WEEK_DAYS * draws[:, _DAY]).astype(np.int64)
        if suppress is not None:
            rows = np.arange(n)
            day_k = event_day[rows, suppress.k]
            events[rows, suppress.k] &= ~((day_k >= suppress.lo) & (day_k < suppress.hi))

        # Churn during the week; effects of this week's events start next week.
        tenure_months = WEEK_DAYS * w / MONTH_DAYS
        h0 = ch["late"] + (ch["early"] - ch["late"]) * np.exp(-tenure_months / ch["decay_months"])
        log_h = (
            np.log(h0)
            + ch["health_log_hr_per_10"] * z
            + self.tier_log_hr[st.tier]
            + self.cs_log_hr[st.tier] * st.mem[:, 3]
            + self.u_log_hr * st.u
        )
        hazard = np.exp(log_h)
        renewal = _renewal_in_week(w)
        p_churn = np.where(
            st.annual,
            -np.expm1(-12.0 * hazard) if renewal else 0.0,
            -np.expm1(-hazard * WEEK_DAYS / MONTH_DAYS),
        )
        churned = alive & (draws[:, _CHURN] < p_churn)
        st.churn_day[churned] = WEEK_DAYS * (w + 1)
        st.alive &= ~churned

        # Memories: fade, then refresh on this week's events.
        st.mem *= self.decay
        st.mem[events] = 1.0

        # Latent pillars move towards their target; support and community damp declines.
        phase = ef["community"]["onboarding_factor"] if onboarding else 1.0
        target = (
            st.level
            + st.shift[:, None]
            + (ef["community"]["lift_points"] * phase) * st.mem[:, 2:3]
            + st.mem[:, 3:4] * self.cs_lift
        )
        delta = hp["reversion"] * (target - st.x) + hp["noise_sd"] * ndtri(draws[:, _NOISE])
        damp = (1.0 - ef["support"]["fall_damping"] * st.mem[:, 0]) * (
            1.0 - ef["community"]["stabilisation"] * st.mem[:, 2]
        )
        delta = np.where(delta < 0.0, delta * damp[:, None], delta)
        np.clip(st.x + delta, 0.0, 100.0, out=st.x)
        lo, hi = hp["downturn_size"]
        shock = (draws[:, _SHOCK] < hp["downturn_rate"]) * (lo + (hi - lo) * draws[:, _SHOCK_SIZE])
        st.shift = st.shift * self.shift_decay - shock
        return WeekOutput(pillars, score, alive, events, event_day)


def run_factual(
    world: World, pop: Population, p: dict, design: TrialDesign, observe_days: np.ndarray
) -> tuple[State, list[Trial], list, list]:
    """Run the observed world; keep each trial's starting state and treated flags for the truth."""
    customers = len(pop.tier)
    st = State.initial(pop, p)
    trials = {m: design.window(m) for m in design.months}
    open_trials: dict[int, Trial] = {}
    closed: list[Trial] = []
    health_parts, touch_parts = [], []
    for w in range(world.weeks):
        for m, (lo, hi) in trials.items():
            if lo // WEEK_DAYS == w:
                open_trials[m] = Trial(
                    m, lo, hi, st.take(slice(None)), np.zeros((customers, 4), dtype=bool)
                )
        out = world.step(st, w)
        seen = np.flatnonzero(out.alive & (WEEK_DAYS * w <= observe_days))
        health_parts.append(
            (
                seen.astype(np.int32),
                w,
                out.pillars[seen].astype(np.float32),
                out.score[seen].astype(np.float32),
            )
        )
        ev_rows, ev_k = np.nonzero(out.events)
        ev_day = out.event_day[ev_rows, ev_k]
        keep = ev_day <= observe_days[ev_rows]
        touch_parts.append((ev_rows[keep], ev_k[keep], ev_day[keep]))
        for m in list(open_trials):
            trial = open_trials[m]
            trial.treated |= out.events & (out.event_day >= trial.lo) & (out.event_day < trial.hi)
            if w == trial.last_week:
                closed.append(open_trials.pop(m))

    return st, closed, health_parts, touch_parts


def _renewal_in_week(w: int) -> bool:
    """Whether an annual renewal (tenure day 365.25 * k, k >= 1) falls in week w's days."""
    k = np.floor(WEEK_DAYS * (w + 1) / 365.25)
    return bool(k >= 1 and WEEK_DAYS * w < 365.25 * k <= WEEK_DAYS * (w + 1))


# ------------------------------------------------------------------------------ truth
@dataclass
class Trial:
    """Bookkeeping of one trial during the factual run."""

    m: int
    lo: int
    hi: int
    snapshot: State
    treated: np.ndarray  # (n, 4)

    @property
    def first_week(self) -> int:
        return self.lo // WEEK_DAYS

    @property
    def last_week(self) -> int:
        return (self.hi - 1) // WEEK_DAYS


def counterfactual_churn(world: World, trial: Trial, design: TrialDesign) -> list[np.ndarray]:
    """Churn days of each touchpoint's treated customers with the trial's events removed."""
    eligible = trial.snapshot.alive
    parts, ks = [], []
    for k in range(len(TOUCHPOINTS)):
        rows = np.flatnonzero(trial.treated[:, k] & eligible)
        parts.append(trial.snapshot.take(rows))
        ks.append(np.full(len(rows), k))
    units = State.concat(parts)
    suppress = Suppression(k=np.concatenate(ks), lo=trial.lo, hi=trial.hi)
    last_week = (trial.hi + design.horizon_days) // WEEK_DAYS - 1
    for w in range(trial.first_week, last_week + 1):
        world.step(units, w, suppress)
    bounds = np.cumsum([0] + [len(s.cust) for s in parts])
    return [units.churn_day[a:b] for a, b in itertools.pairwise(bounds)]


def _outcomes(churn_day: np.ndarray, t0: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Churned within the horizon after time zero, and days retained up to the horizon."""
    return churn_day <= t0 + horizon, np.minimum(churn_day - t0, horizon)


class _TruthAccumulator:
    """Pools treated customer-months over trials, per touchpoint and tier."""

    def __init__(self) -> None:
        self.rows: list[dict[str, np.ndarray]] = []
        self.naive: list[dict[str, np.ndarray]] = []

    def add(self, trial: Trial, factual: np.ndarray, cf: list[np.ndarray], tier, design) -> None:
        t0, h = trial.hi, design.horizon_days
        eligible = trial.snapshot.alive
        at_risk = eligible & (factual > t0)
        y, _ = _outcomes(factual, t0, h)
        for k in range(len(TOUCHPOINTS)):
            treated = trial.treated[:, k] & eligible
            self.naive.append(
                {
                    "k": np.full(2, k),
                    "treated": np.array([True, False]),
                    "n": np.array([(at_risk & treated).sum(), (at_risk & ~treated).sum()]),
                    "events": np.array([y[at_risk & treated].sum(), y[at_risk & ~treated].sum()]),
                }
            )
            rows = np.flatnonzero(treated)
            cd1, cd0 = factual[rows], cf[k]
            y1, r1 = _outcomes(cd1, t0, h)
            y0, r0 = _outcomes(cd0, t0, h)
            self.rows.append(
                {
                    "k": np.full(len(rows), k),
                    "m": np.full(len(rows), trial.m),
                    "tier": tier[rows],
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
            u = units[units["k"] == k]
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


# ------------------------------------------------------------------------------ driver
@dataclass
class SimulationResult:
    customers: pd.DataFrame
    health: pd.DataFrame
    touches: pd.DataFrame
    truth: dict[str, Any]

    def write(self, out_dir: str | Path) -> Path:
        """Write the three tables as Parquet and truth.json into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("customers", "health", "touches"):
            getattr(self, name).to_parquet(out / f"{name}.parquet", index=False)
        (out / "truth.json").write_text(json.dumps(self.truth, indent=2) + "\n")
        return out


def simulate(
    customers: int = 20_000,
    seed: int = 0,
    params: dict | None = None,
) -> SimulationResult:
    """Simulate ``customers`` customers; ``params`` overrides keys of ``simulator.yaml``."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    p = merge_params(default_params(), params)
    tm = p["truth"]
    design = TrialDesign(
        tm["trial_months"][0], tm["trial_months"][1], tm["window_months"], tm["horizon_days"]
    )
    first = np.datetime64(p["calendar"]["first_start"], "D")
    data_end = np.datetime64(p["calendar"]["data_end"], "D")
    if (data_end - first).astype(int) < p["calendar"]["start_span_days"]:
        raise ValueError("calendar.data_end must lie after the last possible contract start")
    pop = make_population(customers, seed, p)
    observe_days = (data_end - first).astype(int) - pop.start_day  # last observed tenure day
    weeks = max(int(observe_days.max()), design.last_day_needed) // WEEK_DAYS + 1
    world = World(p, weeks)

    st, closed, health_parts, touch_parts = run_factual(world, pop, p, design, observe_days)

    acc = _TruthAccumulator()
    for trial in closed:
        cf = counterfactual_churn(world, trial, design)
        acc.add(trial, st.churn_day, cf, pop.tier, design)

    truth = {
        "schema_version": SCHEMA_VERSION,
        "seed": seed,
        "customers": customers,
        "design": {**design.to_dict(), "data_end": str(data_end)},
        "definitions": {
            "att_risk_difference": "mean over treated customer-months alive at time zero in both "
            "worlds of [churned within horizon_days after time zero] with the touchpoint minus "
            "without it (negative = prevents churn)",
            "att_rmst_difference_days": "same units, mean of days retained up to the horizon with "
            "minus without the touchpoint",
            "naive_risk_difference": "observed churn risk by the horizon, treated minus untreated "
            "eligible customer-months alive at time zero, on the full (uncensored) future",
            "in_window": "treated customer-months by what happened inside the treatment month: "
            "churned there (factual), saved there (would have churned without the touchpoint), "
            "caused there",
        },
        "touchpoints": acc.result(),
        "parameters": p,
    }
    return SimulationResult(
        customers=_customers_table(pop, st.churn_day, observe_days, first),
        health=_health_table(health_parts, pop, first),
        touches=_touches_table(touch_parts, pop, first),
        truth=truth,
    )


def customer_ids(n: int) -> np.ndarray:
    return np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7))


def _id_column(rows: np.ndarray, n: int) -> pd.Categorical:
    return pd.Categorical.from_codes(rows, categories=customer_ids(n))


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


def _health_table(parts, pop, first) -> pd.DataFrame:
    rows = np.concatenate([p[0] for p in parts])
    weeks = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int32) for p in parts])
    pillars = np.concatenate([p[2] for p in parts])
    score = np.concatenate([p[3] for p in parts])
    order = np.lexsort((weeks, rows))
    rows, weeks, pillars, score = rows[order], weeks[order], pillars[order], score[order]
    day = pop.start_day[rows] + WEEK_DAYS * weeks
    df = pd.DataFrame(
        {
            "customer_id": _id_column(rows, len(pop.tier)),
            "date": pd.to_datetime(first + day.astype("timedelta64[D]")),
            "score": np.round(score.astype(np.float64), 1),
        }
    )
    for j, name in enumerate(PILLARS):
        df[name] = np.round(pillars[:, j].astype(np.float64), 1)
    return df


def _touches_table(parts, pop, first) -> pd.DataFrame:
    rows = np.concatenate([p[0] for p in parts])
    k = np.concatenate([p[1] for p in parts])
    day = np.concatenate([p[2] for p in parts])
    order = np.lexsort((k, day, rows))
    rows, k, day = rows[order], k[order], day[order]
    return pd.DataFrame(
        {
            "customer_id": _id_column(rows, len(pop.tier)),
            "date": pd.to_datetime(first + (pop.start_day[rows] + day).astype("timedelta64[D]")),
            "touchpoint": pd.Categorical.from_codes(k, categories=list(TOUCHPOINTS)),
        }
    )
