"""The report run's YAML configuration: sections, defaults, paths, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from churn_causal.design.trials import TrialDesign
from churn_causal.report.config import ConfigError, RunConfig

DEMO = Path(__file__).parents[1] / "notebooks" / "demo.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sub" / "run.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_the_demo_config_reads_and_points_into_the_project():
    cfg = RunConfig.from_file(DEMO)
    root = DEMO.parents[1]
    assert cfg.source == root / "data" / "demo"
    assert cfg.out_dir == root / "reports" and cfg.history_path == root / "reports/history.duckdb"
    assert cfg.touchpoints == ["support", "seminar", "community", "cs_touch"]
    assert cfg.business.currency == "EUR" and cfg.business.arpa == "mrr"
    assert cfg.designs(["cs_touch", "seminar"]) == {
        "cs_touch": TrialDesign.weekly(),
        "seminar": TrialDesign(),
    }


def test_every_section_is_read_relative_to_the_file(tmp_path):
    path = write(
        tmp_path,
        """
data: {source: ../acme, touchpoints: [seminar]}
design: {horizon_days: 180, window: 2}
analysis: {seed: 7, n_boot: 50, refute: false}
business: {currency: JPY, gross_margin: 0.6, arpa: {SMB: 9000}}
output: {dir: out, workers: 3}
""",
    )
    cfg = RunConfig.from_file(path)
    assert cfg.source == tmp_path / "acme" and cfg.out_dir == tmp_path / "sub" / "out"
    assert cfg.history_path == tmp_path / "sub" / "out" / "history.duckdb"
    assert (cfg.seed, cfg.n_boot, cfg.refute, cfg.worker_count) == (7, 50, False, 3)
    assert cfg.business.arpa == {"SMB": 9000} and cfg.business.gross_margin == 0.6
    assert cfg.designs(["seminar"])["seminar"] == TrialDesign(horizon_days=180, window=2)


def test_no_file_gives_the_defaults():
    cfg = RunConfig.from_file(None)
    assert cfg.source is None and cfg.n_boot == 200 and cfg.worker_count >= 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reports: {}", "unknown section(s) reports"),
        ("output: {folder: x}", "unknown key(s) output.folder"),
        ("design: {first: 0}", "1 <= first <= last"),
        ("design: {unit: day}", "unit must be one of"),
        ("business: {gross_margin: 2}", "gross_margin must be in (0, 1]"),
        ("analysis: {n_boot: 5}", "n_boot must be >= 20"),
        ("data: [a, b]", "'data' must be a mapping"),
        ("- just a list", "top level must be a mapping"),
        ("data: {columns: {orders: {}}}", "no such table"),
        ("design: {seminar: {weeks: 2}}", "unknown key(s) design.seminar.weeks"),
        ("design: {seminar: {unit: day}}", "unit must be one of"),
        ("scenarios: {a: 1}", "'scenarios' must be a list of mappings"),
        ("scenarios: [{name: a, touchpoint: seminar}]", "missing delta"),
        ("scenarios: [{name: a, touchpoint: seminar, delta: -1}]", "delta must be 0 or more"),
        ("scenarios: [{name: a, touchpoint: s, delta: 2, period: {year: x}}]", "invalid literal"),
        ("programme: {period: last_year}", "give first_year"),
        ("programme: {weeks: 3}", "unknown key(s) programme.weeks"),
        ("business: {costs: {seminar: {per_event: -5}}}", "cannot be negative"),
        ("business: {costs: {seminar: {hours_per_event: 2}}}", "hourly_cost"),
        (
            "scenarios: [{name: a, touchpoint: s, delta: 2}, {name: a, touchpoint: s, delta: 3}]",
            "same name",
        ),
        ("targeting: {budget: {cs_touch: lots}}", "give an amount (50000), hours (120h)"),
        ("targeting: {budget: 5000}", "targeting.budget maps a touchpoint"),
        ("targeting: {depth: 5}", "targeting.depth 1, 2 or 3"),
        ("targeting: {people: 3}", "unknown key(s) targeting.people"),
    ],
)
def test_malformed_configs_are_refused_with_the_place(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        RunConfig.from_file(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_each_touchpoint_may_have_its_own_design(tmp_path):
    """A touchpoint's design is data: the config gives any touchpoint weekly trials (or cs_touch
    monthly ones), over the defaults; options on the command line apply over both."""
    path = write(
        tmp_path, "design: {horizon_days: 180, セミナー: {unit: week}, cs_touch: {unit: month}}"
    )
    cfg = RunConfig.from_file(path)
    designs = cfg.designs(["セミナー", "cs_touch", "support"])
    assert designs["セミナー"] == TrialDesign.weekly(horizon_days=180)
    assert designs["cs_touch"] == designs["support"] == TrialDesign(horizon_days=180)
    cfg.design_overrides = {"window": 2}
    assert cfg.designs(["セミナー"])["セミナー"] == TrialDesign.weekly(horizon_days=180, window=2)


def test_programme_scenarios_and_costs_are_read(tmp_path):
    path = write(
        tmp_path,
        """
business:
  costs: {seminar: {per_event: 35}, cs_touch: {hours_per_event: 1.5, hourly_cost: 60}}
  longer_view: {lifetime_months: 48}
programme: {period: {year: 2024}, follow_up_months: 6}
scenarios:
  - {name: x2 in SMB, touchpoint: seminar, delta: 2, where: {tier: SMB}}
  - {name: halved, touchpoint: cs_touch, delta: 0.5, period: first_year}
""",
    )
    cfg = RunConfig.from_file(path)
    assert cfg.business.cost("cs_touch").per_event_amount == 90
    assert cfg.business.longer_view.lifetime_months == 48
    first, second = cfg.scenarios
    assert first.period.kind == "calendar" and first.follow_up_weeks == 26  # the programme's
    assert second.period.kind == "tenure" and second.where == ()
    assert cfg.scenarios_of("seminar") == [first.to_dict()]
    assert cfg.programme == {"period": first.period.to_config(), "follow_up_months": 6.0}
    cfg.check_scenarios(["seminar", "cs_touch"], ["customer_id", "tier"])
    with pytest.raises(ConfigError, match="not one of this run's"):
        cfg.check_scenarios(["seminar"], ["tier"])
    with pytest.raises(ConfigError, match="not a column of the customers table"):
        cfg.check_scenarios(["seminar", "cs_touch"], ["customer_id"])


def test_targeting_is_read_per_touchpoint(tmp_path):
    path = write(
        tmp_path,
        "targeting: {touchpoints: [cs_touch, community], budget: {cs_touch: 120h}, depth: 3}",
    )
    cfg = RunConfig.from_file(path)
    assert cfg.targeting_of("cs_touch") == {
        "budget": {"amount": None, "hours": 120.0, "touches": None},
        "depth": 3,
    }
    assert cfg.targeting_of("community") == {"budget": None, "depth": 3}
    assert cfg.targeting_of("seminar") == {}
    with pytest.raises(ConfigError, match="targeting: touchpoint 'community'"):
        cfg.check_scenarios(["cs_touch", "seminar"], ["tier"])
