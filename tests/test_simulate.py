"""The simulator: reproducible, exact truth by common random numbers, the facts CS teams report."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from churn_causal.data.files import write_parquet
from churn_causal.design.trials import WEEK_DAYS, TrialDesign
from churn_causal.sim.records import HealthRecords
from churn_causal.sim.simulate import default_params, merge_params, parse_assignments, simulate
from churn_causal.sim.truth import counterfactual_churn, run_factual, truth_for
from churn_causal.sim.world import TOUCHPOINTS, State, Suppression, World, make_population


def test_same_seed_gives_identical_data_and_truth():
    a, b = simulate(2_000, seed=3), simulate(2_000, seed=3)
    for name in ("customers", "health", "touches"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.truth == b.truth
    c = simulate(2_000, seed=4)
    assert not a.customers.equals(c.customers)


def test_tables_follow_the_output_contract(world):
    c, h, t = world.customers, world.health, world.touches
    assert list(c.columns) == [
        "customer_id",
        "tier",
        "contract_type",
        "seats",
        "mrr",
        "start_date",
        "churn_date",
    ]
    assert list(h.columns) == [
        "customer_id",
        "date",
        "score",
        "action",
        "utilization",
        "penetration",
    ]
    assert list(t.columns) == ["customer_id", "date", "touchpoint"]
    assert c["customer_id"].is_unique
    assert set(t["touchpoint"].unique()) == set(TOUCHPOINTS)
    values = h[["score", "action", "utilization", "penetration"]].to_numpy()
    assert values.min() >= 0 and values.max() <= 100
    end = pd.Timestamp(world.truth["data_end"])
    assert h["date"].max() <= end and t["date"].max() <= end and c["churn_date"].max() <= end
    span = (c["start_date"].max() - c["start_date"].min()).days
    assert 700 <= span <= 730  # contract starts spread over about two years
    # Nothing is recorded after a customer's churn.
    last = pd.concat([h[["customer_id", "date"]], t[["customer_id", "date"]]])
    last = last.groupby("customer_id", observed=True)["date"].max()
    churn = c.set_index("customer_id")["churn_date"].reindex(last.index)
    assert (last[churn.notna()] < churn[churn.notna()]).all()


def test_annual_contracts_churn_only_at_renewal(world):
    c = world.customers
    tenure = (c["churn_date"] - c["start_date"]).dt.days
    annual = tenure[(c["contract_type"] == "annual") & tenure.notna()]
    assert len(annual) > 100
    # Churn takes effect at the end of the week holding an anniversary (365.25 k days).
    k = np.round(annual / 365.25)
    assert ((annual - 365.25 * k).abs() <= WEEK_DAYS).all()
    monthly = tenure[(c["contract_type"] == "monthly") & tenure.notna()]
    assert (monthly < 300).sum() > 100  # monthly contracts leave in any month


def test_outcomes_are_identical_in_both_worlds_unless_an_event_is_removed():
    """Common random numbers: removing no event must reproduce the factual path exactly.

    Each trial's treated units are simulated again from the start (alone, on the same draws) to
    the window's start, then with another touchpoint's window events removed: units that had
    none of those keep their factual churn day; removing real events changes some."""
    p = default_params()
    design = TrialDesign(first=1, last=12, window=1, horizon_days=365)
    pop = make_population(6_000, seed=7, p=p)
    world = World(p, weeks=design.last_day_needed // WEEK_DAYS + 1)
    health = HealthRecords(pop.start_day, np.datetime64(p["calendar"]["first_start"], "D"))
    state, trials, _ = run_factual(world, pop, p, {"month": design}, np.full(6_000, 10**6), health)
    compared = changed = 0
    for trial in trials:
        end = trial.hi + design.horizon_days + 1  # simulated up to the end of the horizon
        factual = np.minimum(state.churn_day[trial.unit_rows], end)
        start = State.initial(pop, p).take(trial.unit_rows)
        for w in range(trial.first_week):
            world.step(start, w)
        own = Suppression(k=trial.unit_k, lo=trial.lo, hi=trial.hi)
        cf = counterfactual_churn(world, start.take(slice(None)), own, design.horizon_days)
        assert np.array_equal(cf, trial.cf_churn_day)  # as run when the trial closed
        treated = np.zeros((len(pop.tier), 4), dtype=bool)
        treated[trial.unit_rows, trial.unit_k] = True
        other_k = (trial.unit_k + 1) % 4
        other = dataclasses.replace(own, k=other_k)
        cf_other = np.minimum(counterfactual_churn(world, start, other, design.horizon_days), end)
        had_other = treated[trial.unit_rows, other_k]
        assert np.array_equal(cf_other[~had_other], factual[~had_other])
        compared += int((~had_other).sum())
        changed += int((np.minimum(cf, end) != factual).sum())
    assert compared > 20_000
    assert changed > 0


def test_streamed_health_parquet_reads_back_as_the_frame(tmp_path):
    """``write`` streams the health table from its records in chunks of customers: the file
    must read back exactly as the whole in-memory table written at once, the same way."""
    sim = simulate(1_500, seed=8)
    assert len(sim.health_records) == len(sim.health)
    write_parquet(sim.health, tmp_path / "whole.parquet")
    sim.write(tmp_path / "data")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "data" / "health.parquet"),
        pd.read_parquet(tmp_path / "whole.parquet"),
        check_exact=True,
    )


def test_health_parquet_does_not_depend_on_the_chunk_size(tmp_path):
    records = simulate(1_500, seed=8).health_records
    tables = []
    for chunk in (1, 333, 10_000):
        records.write(tmp_path / f"{chunk}.parquet", chunk_customers=chunk)
        tables.append(pd.read_parquet(tmp_path / f"{chunk}.parquet"))
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0], check_exact=True)
    assert tables[0]["customer_id"].is_monotonic_increasing


def test_weekly_and_monthly_truths_are_both_written(world):
    t = world.truth["designs"]
    assert t["month"]["design"]["unit"] == "month" and t["week"]["design"]["unit"] == "week"
    for tp in TOUCHPOINTS:
        # Weekly windows hold fewer events than monthly ones, but over 4x as many trials.
        assert (
            t["week"]["touchpoints"][tp]["n_treated"] > t["month"]["touchpoints"][tp]["n_treated"]
        )
    assert truth_for(world.truth, TrialDesign.weekly()) is t["week"]["touchpoints"]
    assert truth_for(world.truth, TrialDesign()) is t["month"]["touchpoints"]
    assert truth_for(world.truth, TrialDesign(last=9)) is None


def test_truth_json_has_the_documented_keys(world):
    t = world.truth
    assert t["schema_version"] == 1 and t["seed"] == 11 and t["customers"] == 20_000
    month = t["designs"]["month"]
    assert month["design"]["horizon_days"] == 365 and month["design"]["first"] == 1
    for tp in TOUCHPOINTS:
        row = month["touchpoints"][tp]
        for key in (
            "n_treated",
            "att_risk_difference",
            "att_rmst_difference_days",
            "naive_risk_difference",
            "in_window",
            "by_tier",
            "all_trials",
        ):
            assert key in row, (tp, key)
        assert row["n_treated"] > 1_000
        # The data end cuts late joiners' later trials off: the data hold fewer treated
        # customer-trials than the world, and the ATT is computed over the data's.
        assert row["n_treated"] < row["all_trials"]["n_treated"] < 1.5 * row["n_treated"]
    assert t["parameters"] == merge_params(default_params(), None)


def test_default_selection_biases_the_naive_contrast(world):
    """As CS teams report: support, seminar and community look better than they are;
    cs_touch looks worse."""
    tp = world.truth["designs"]["month"]["touchpoints"]
    for name in ("support", "seminar", "community"):
        assert tp[name]["att_risk_difference"] < 0  # they do prevent churn ...
        # ... but the naive contrast overstates it by several percentage points
        assert tp[name]["naive_risk_difference"] - tp[name]["att_risk_difference"] < -0.03
    cs = tp["cs_touch"]
    assert cs["att_risk_difference"] < 0
    assert cs["naive_risk_difference"] - cs["att_risk_difference"] > 0.03
    assert cs["naive_risk_difference"] > 0  # the plain comparison even gets the sign wrong


def test_cs_touch_effect_differs_by_tier(world):
    by_tier = world.truth["designs"]["week"]["touchpoints"]["cs_touch"]["by_tier"]
    effects = [by_tier[t]["att_risk_difference"] for t in ("Enterprise", "Middle", "SMB")]
    assert all(e < 0 for e in effects)
    assert max(effects) - min(effects) > 0.005


def test_early_health_separates_later_churners(world):
    """As CS teams report: in months 1-6, customers who churn before month 12 score lower than
    those retained a year or more."""
    c, h = world.customers, world.health
    tenure = (c["churn_date"] - c["start_date"]).dt.days
    observed = (pd.Timestamp(world.truth["data_end"]) - c["start_date"]).dt.days
    group = pd.Series(
        np.select(
            [tenure < 365, (tenure.isna() | (tenure >= 365)) & (observed >= 365)],
            ["churned", "retained"],
            "other",
        ),
        index=c["customer_id"],
    )
    h = h.merge(c[["customer_id", "start_date"]], on="customer_id")
    early = h[(h["date"] - h["start_date"]).dt.days < 182]
    mean = early.groupby("customer_id", observed=True)["score"].mean()
    stats = mean.groupby(group.reindex(mean.index).to_numpy()).agg(["mean", "var", "count"])
    diff = stats.loc["retained", "mean"] - stats.loc["churned", "mean"]
    se = np.sqrt((stats["var"] / stats["count"])[["retained", "churned"]].sum())
    assert diff > 5  # points of health
    assert diff / se > 10


def test_unobserved_confounder_strength_is_a_parameter():
    base = simulate(2_000, seed=2)
    conf = simulate(2_000, seed=2, params={"confounder": {"strength": 1.0}})
    assert conf.truth["parameters"]["confounder"]["strength"] == 1.0
    assert not base.touches.equals(conf.touches)


def test_parameters_are_checked_and_parsed():
    with pytest.raises(
        KeyError, match=re.escape("unknown simulator parameter 'effects.seminar.nope'")
    ):
        merge_params(default_params(), {"effects": {"seminar": {"nope": 1}}})
    with pytest.raises(TypeError):
        merge_params(default_params(), {"effects": 3})
    assert parse_assignments(["effects.seminar.boost_points=5", "confounder.strength=0.5"]) == {
        "effects": {"seminar": {"boost_points": 5}},
        "confounder": {"strength": 0.5},
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_assignments(["confounder.strength"])
