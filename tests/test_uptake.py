"""Incremental propensity interventions on uptake: the weights by hand, and every scenario of
the shared 20k world against the simulator's exact truth."""

from __future__ import annotations

import numpy as np
import pytest

from churn_causal.causal.uptake import OUTCOMES, UptakeScenarios, intervention_weights
from churn_causal.design.scenarios import HALF, NONE, programme_scenarios
from churn_causal.design.trials import MONTH_DAYS


def test_weights_are_products_of_the_earlier_weeks_factors():
    """Two customers of three weeks; the intervention applies in all but the last week."""
    touched = np.array([True, False, False, False, True, False])
    p = np.array([0.2, 0.5, 0.5, 0.1, 0.4, 0.4])
    applies = np.array([True, True, False, True, True, False])
    first = np.array([0, 0, 0, 3, 3, 3])
    before, with_ = intervention_weights(0.5, touched, p, applies, first)

    def factor(a, p, d=0.5):
        return (d * a + 1 - a) / (d * p + 1 - p)

    f = [factor(1, 0.2), factor(0, 0.5), 1.0, factor(0, 0.1), factor(1, 0.4), 1.0]
    assert before == pytest.approx([1, f[0], f[0] * f[1], 1, f[3], f[3] * f[4]])
    assert with_ == pytest.approx(before * np.array(f))
    # no touchpoint at all: a touched week makes the customer's later weights 0
    before0, with0 = intervention_weights(0.0, touched, p, applies, first)
    assert before0[1] == 0 and with0[0] == 0 and before0[4] == pytest.approx(1 / 0.9)
    assert before0[5] == 0


@pytest.fixture(scope="module")
def fits(world_data, world_scenarios):
    """Each touchpoint's scenarios of the world, and cs_touch's programme contrasts too."""
    out = {}
    for tp in dict.fromkeys(s.touchpoint for s in world_scenarios):
        mine = [s for s in world_scenarios if s.touchpoint == tp]
        extra = programme_scenarios(tp)[:2] if tp == "cs_touch" else []
        out[tp] = UptakeScenarios([*mine, *extra], n_boot=100, seed=3).fit(world_data)
    return out


def _truth(world, s, group):
    t = world.truth["scenarios"][s.touchpoint][s.name]
    nat, chg = t["natural"][group], t["changed"][group]
    d = {k: chg[k] - nat[k] for k in nat}
    d["risk"] = chg["churned"] / chg["customers"] - nat["churned"] / nat["customers"]
    return d


def test_every_scenario_recovers_the_truth(fits, world, world_scenarios):
    """Churn risk, customer-months, revenue and touches within 3 bootstrap SE of the exact
    truth, in the scenario's segment and in total; and the scenario's weights usable."""
    for s in world_scenarios:
        r = fits[s.touchpoint].result_["scenarios"][s.name]
        assert r["reliable"], s.name
        for group in {"segment" if s.customer_where else "all", "all"}:
            est, true = r["groups"][group]["difference"], _truth(world, s, group)
            for k in ("risk", "customer_months", "revenue", "events"):
                assert abs(est[k]["estimate"] - true[k]) <= 3 * est[k]["se"], (s.name, group, k)
        assert 0.95 < r["mean_weight_range"][0] <= r["mean_weight_range"][1] < 1.05


def test_the_natural_course_is_the_data(fits, world, world_scenarios):
    """Without intervention the recursion gives back the data: in a calendar window (no
    censoring) the customer-weeks exactly; over the first two years of tenure, where late
    starters are censored, the truth's within 3 SE."""
    cal = next(s for s in world_scenarios if s.period.kind == "calendar")
    fit = fits[cal.touchpoint]
    nat = fit.totals(cal.name, "all")[0]
    pw = fit.pw_
    rows = pw.rows
    counted = cal.counted(rows["week"].to_numpy(), rows["day"].to_numpy(), pw.data_end_day)
    months = OUTCOMES.index("customer_months")
    assert nat[months] == pytest.approx(counted.sum() * 7 / MONTH_DAYS, rel=1e-9)
    tenure = next(s for s in world_scenarios if s.name == "support halved")
    nat, nat_b, _, _ = fits["support"].totals(tenure.name, "all")
    truth = world.truth["scenarios"]["support"][tenure.name]["natural"]["all"]
    risk = nat[OUTCOMES.index("churned")] / nat[0]
    boot = nat_b[:, OUTCOMES.index("churned")] / nat_b[:, 0]
    assert abs(risk - truth["churned"] / truth["customers"]) <= 3 * boot.std()


def test_tiers_add_up_to_the_total_in_every_replicate(fits, world_scenarios):
    s = world_scenarios[0]
    fit = fits[s.touchpoint]
    total = fit.totals(s.name, "all")
    tiers = [fit.totals(s.name, t) for t in ("Enterprise", "Middle", "SMB")]
    for i in range(4):
        assert total[i] == pytest.approx(sum(t[i] for t in tiers), rel=1e-9)


def test_no_cs_touches_is_beyond_this_data(fits):
    """Nearly every Enterprise customer gets a CS call in the first year: "none" leaves too
    small an effective sample there to give a number; Middle and SMB have one."""
    fit = fits["cs_touch"]
    assert not fit.result_["scenarios"][NONE]["reliable"]
    assert not fit.reliable(NONE, "Enterprise")[0]
    assert fit.reliable(HALF, "SMB")[0]
    assert "effective sample" in fit.reliable(NONE, "all")[1]
