"""The simulated customer-success world: customers, their weekly state, and its dynamics.

The same ``World.step`` drives the factual world and every counterfactual one; the mechanisms and
their sizes come from ``simulator.yaml`` (see docs/simulator.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.special import expit, ndtri

from churn_causal.design.trials import MONTH_DAYS, WEEK_DAYS
from churn_causal.sim.draws import customer_keys, stream_keys, uniforms

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
    """Per unit: remove events of touchpoint ``k`` dated in tenure days ``[lo, hi)`` (one
    window for every unit, or one per unit)."""

    k: np.ndarray
    lo: int | np.ndarray
    hi: int | np.ndarray


@dataclass
class WeekOutput:
    pillars: np.ndarray  # observed pillars at the week's start
    score: np.ndarray
    alive: np.ndarray  # alive at the week's start
    events: np.ndarray  # (n, 4) bool
    event_day: np.ndarray  # (n, 4) tenure day of each event
    p_churn: np.ndarray  # each unit's chance of churning in the week


# ----------------------------------------------------------------------------- engine
class World:
    """The weekly dynamics; the same ``step`` drives the factual and counterfactual worlds."""

    def __init__(self, params: dict, weeks: int) -> None:
        p = self.p = params
        self.weeks = weeks
        self.stream_keys = stream_keys(weeks, _N_STREAMS)
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

    def step(
        self,
        st: State,
        w: int,
        suppress: Suppression | None = None,
        uptake_shift: np.ndarray | None = None,
        churn: bool = True,
    ) -> WeekOutput:
        """Advance every unit in ``st`` through tenure week ``w`` (days 7w..7w+6) in place.

        ``uptake_shift`` (units x touchpoints) is added to the week's uptake log-odds: log(delta)
        where a scenario multiplies the odds by delta (-inf: no uptake at all, +inf: a sure
        event). With ``churn`` False nobody churns: the week's chance of churning is returned
        instead, for expected outcomes along one path of health (churn ends a path, it does not
        change it)."""
        p, hp, ch, ef = self.p, self.p["health"], self.p["churn"], self.p["effects"]
        n = len(st.cust)
        draws = uniforms(st.key, self.stream_keys[w])
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
        if uptake_shift is not None:
            logit += uptake_shift
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
        if churn:
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
        return WeekOutput(pillars, score, alive, events, event_day, np.broadcast_to(p_churn, (n,)))


def _renewal_in_week(w: int) -> bool:
    """Whether an annual renewal (tenure day 365.25 * k, k >= 1) falls in week w's days."""
    k = np.floor(WEEK_DAYS * (w + 1) / 365.25)
    return bool(k >= 1 and WEEK_DAYS * w < 365.25 * k <= WEEK_DAYS * (w + 1))
