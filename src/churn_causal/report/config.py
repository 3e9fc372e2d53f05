"""The YAML configuration of a report run (every command reads its ``data`` section).

```yaml
data:
  source: ../data/acme          # a folder of .csv/.parquet tables or a .duckdb file
  touchpoints: [support, seminar, community, cs_touch]   # default: every type in the data
  columns:                      # contract name: your column name, per table
    customers: {customer_id: account_id, start_date: contract_start}
    touches: {touchpoint: activity_type}
  encoding: auto                # of the CSV files: auto (UTF-8 or cp932), utf-8, cp932
  engine: memory                # where cohorts and person-weeks are built: memory, duckdb, spark
design:                         # the trial design: unit (month|week), first, last, window,
  horizon_days: 365             # horizon_days for every touchpoint, and per touchpoint:
  cs_touch: {unit: week}        # (the default: CS managers react to the week's health)
analysis: {seed: 0, n_boot: 200, refute: true,
           match_ratio: 1, match_replace: true,   # controls per treated, with replacement
           controls_per_treated: 10}              # untreated rows sampled per treated (0: all)
business:
  currency: EUR
  gross_margin: 0.75            # of existing contracts
  arpa: mrr                     # monthly ARPA per tier (the CS team's LTV formula): mean MRR
                                # of active customers, or {Enterprise: 3000, Middle: 600, ...}
  costs:                        # what one event of each touchpoint costs
    seminar: {per_event: 40}
    cs_touch: {hours_per_event: 1.5, hourly_cost: 60}
  longer_view: {lifetime_months: 36, discount_rate: 0.10}   # optional: value past the window
programme:                      # how programmes and scenarios are counted
  period: first_year            # or {year: 2025}, {tenure_weeks: [0, 52]}, {from: .., to: ..}
  follow_up_months: 12          # outcomes counted this long after the period
scenarios:                      # what-if: each week's odds of a touchpoint x delta
  - {name: "seminars x2 in SMB", touchpoint: seminar, delta: 2, where: {tier: SMB}}
targeting:                      # who to touch next, for these touchpoints
  touchpoints: [cs_touch, community]
  budget: {cs_touch: 120h, community: 5000}   # a month's: money, CS hours (120h) or
                                # "300 touches"; a touchpoint without one: today's spend
  depth: 2                      # of the rule a CS head applies by hand (1-3)
labels:                         # what readers see for names in the data, per language
  cs_touch: {en: CS-manager touches, ja: CSタッチ}   # (defaults: the standard touchpoints,
  Enterprise: {ja: エンタープライズ}                    # tiers and phases in Japanese)
output:
  language: en                  # of every page: en or ja (--language on the command line)
  dir: ../reports               # runs are published to <dir>/<run-id>/, <dir>/latest
  history: ../reports/history.duckdb   # every run's estimates, for the trend
  workers: 0                    # notebooks run at once; 0 = one per core
```

Paths are relative to the config file. Unknown keys are errors, never silently ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from churn_causal import i18n
from churn_causal.data.contract import CONTRACT
from churn_causal.data.readers import AUTO, check_encoding
from churn_causal.design.engines import MEMORY, check_engine
from churn_causal.design.sampling import CONTROLS_PER_TREATED
from churn_causal.design.scenarios import FOLLOW_UP_MONTHS, Period, Scenario
from churn_causal.design.trials import DESIGN_FIELDS, TrialDesign, resolve_design
from churn_causal.value.business import Business
from churn_causal.value.policy import RULE_DEPTH, Budget

SECTIONS = {
    "data": {"source", "touchpoints", "columns", "encoding", "engine"},
    "design": set(DESIGN_FIELDS),  # and per touchpoint, a mapping of the same fields
    "analysis": {
        "seed",
        "n_boot",
        "refute",
        "match_ratio",
        "match_replace",
        "controls_per_treated",
    },
    "business": {"currency", "gross_margin", "arpa", "costs", "longer_view"},
    "programme": {"period", "follow_up_months"},
    "targeting": {"touchpoints", "budget", "depth"},
    "output": {"dir", "history", "workers", "language"},
    "labels": None,  # any data name: a mapping of language to the name shown
}
LISTS = {"scenarios"}  # sections that are lists, not mappings


class ConfigError(ValueError):
    """The configuration file is malformed; the message says where."""


@dataclass
class RunConfig:
    """Everything a report run needs; ``from_file`` reads it from YAML."""

    source: Path | None = None
    touchpoints: list[str] | None = None
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    encoding: str = AUTO
    engine: str = MEMORY  # where cohorts and person-weeks are built: memory, duckdb or spark
    design: dict[str, Any] = field(default_factory=dict)  # the config's design section
    design_overrides: dict[str, Any] = field(default_factory=dict)  # the command line's
    seed: int = 0
    n_boot: int = 200
    refute: bool = True
    match_ratio: int = 1
    match_replace: bool = True
    controls_per_treated: float = CONTROLS_PER_TREATED  # 0: keep every untreated row
    business: Business = field(default_factory=Business)
    period: Period = field(default_factory=Period)  # of every programme and scenario
    follow_up_months: float = FOLLOW_UP_MONTHS
    scenarios: list[Scenario] = field(default_factory=list)
    targeting: list[str] = field(default_factory=list)  # touchpoints with a policy
    budgets: dict[str, Budget] = field(default_factory=dict)
    rule_depth: int = RULE_DEPTH
    out_dir: Path = Path("reports")
    history: Path | None = None  # default: <out_dir>/history.duckdb
    workers: int = 0
    language: str = i18n.DEFAULT
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def history_path(self) -> Path:
        return self.history or self.out_dir / "history.duckdb"

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def programme(self) -> dict[str, Any]:
        """The programme section as the notebooks take it."""
        return {"period": self.period.to_config(), "follow_up_months": self.follow_up_months}

    def scenarios_of(self, touchpoint: str) -> list[dict[str, Any]]:
        """The scenarios of ``touchpoint``, as the notebooks take them."""
        return [s.to_dict() for s in self.scenarios if s.touchpoint == touchpoint]

    def check_scenarios(self, touchpoints: list[str], customer_columns: list[str]) -> None:
        """Every scenario names a touchpoint of the run and customer columns the data has,
        and every targeting entry a touchpoint of the run (``ConfigError`` says which does
        not), before any notebook runs."""
        for sc in self.scenarios:
            if sc.touchpoint not in touchpoints:
                raise ConfigError(
                    f"scenario '{sc.name}': touchpoint '{sc.touchpoint}' is not one of this "
                    f"run's ({', '.join(touchpoints)})"
                )
            missing = set(sc.customer_where) - set(customer_columns)
            if missing:
                raise ConfigError(
                    f"scenario '{sc.name}': where names {', '.join(sorted(missing))}, not a "
                    f"column of the customers table ({', '.join(customer_columns)}) or phase"
                )
        for tp in [*self.targeting, *self.budgets]:
            if tp not in touchpoints:
                raise ConfigError(
                    f"targeting: touchpoint '{tp}' is not one of this run's "
                    f"({', '.join(touchpoints)})"
                )

    def targeting_of(self, touchpoint: str) -> dict[str, Any]:
        """The policy's parameters for ``touchpoint`` as the notebooks take them ({}: none)."""
        if touchpoint not in self.targeting:
            return {}
        budget = self.budgets.get(touchpoint)
        return {"budget": vars(budget) if budget else None, "depth": self.rule_depth}

    def designs(self, touchpoints: list[str]) -> dict[str, TrialDesign]:
        """Each touchpoint's design, resolved once for the run (``resolve_design``)."""
        return {tp: resolve_design(tp, self.design, self.design_overrides) for tp in touchpoints}

    @classmethod
    def from_file(cls, path: str | Path | None) -> RunConfig:
        return cls.from_dict(load_config(path), path)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any], path: str | Path | None = None) -> RunConfig:
        where = str(path or "config")
        data, out = cfg.get("data", {}), cfg.get("output", {})
        analysis, programme = cfg.get("analysis", {}), cfg.get("programme", {})
        try:
            business = Business.from_config(cfg.get("business", {}))
            period = Period.parse(programme.get("period"))
            months = float(programme.get("follow_up_months", FOLLOW_UP_MONTHS))
            scenarios = [Scenario.from_dict(d, period, months) for d in cfg.get("scenarios", [])]
            targeting = cfg.get("targeting") or {}
            budgets = targeting.get("budget") or {}
            if not isinstance(budgets, dict):
                raise ValueError("targeting.budget maps a touchpoint to a month's budget")
            named = [(sc.touchpoint, sc.name) for sc in scenarios]
            if len(set(named)) < len(named):
                raise ValueError("two scenarios of the same touchpoint have the same name")
            run = cls(
                source=Path(data["source"]) if "source" in data else None,
                touchpoints=data.get("touchpoints"),
                columns=data.get("columns") or {},
                encoding=check_encoding(str(data.get("encoding", AUTO))),
                engine=check_engine(str(data.get("engine", MEMORY))),
                design=cfg.get("design") or {},
                seed=int(analysis.get("seed", 0)),
                n_boot=int(analysis.get("n_boot", 200)),
                refute=bool(analysis.get("refute", True)),
                match_ratio=int(analysis.get("match_ratio", 1)),
                match_replace=bool(analysis.get("match_replace", True)),
                controls_per_treated=float(
                    analysis.get("controls_per_treated", CONTROLS_PER_TREATED)
                ),
                business=business,
                period=period,
                follow_up_months=months,
                scenarios=scenarios,
                targeting=[str(tp) for tp in targeting.get("touchpoints") or []],
                budgets={str(tp): Budget.parse(str(b)) for tp, b in budgets.items()},
                rule_depth=int(targeting.get("depth", RULE_DEPTH)),
                out_dir=Path(out.get("dir", "reports")),
                history=Path(out["history"]) if out.get("history") else None,
                workers=int(out.get("workers", 0)),
                language=str(out.get("language", i18n.DEFAULT)),
                labels={str(k): v for k, v in cfg.get("labels", {}).items()},
            )
            i18n.Reader(run.language, run.labels)  # a language and labels it can speak
            run.designs(["any", *[k for k, v in run.design.items() if isinstance(v, dict)]])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        if (
            run.n_boot < 20
            or run.workers < 0
            or run.match_ratio < 1
            or run.controls_per_treated < 0
            or run.rule_depth not in (1, 2, 3)
        ):
            raise ConfigError(
                f"{where}: analysis.n_boot must be >= 20, analysis.match_ratio >= 1, "
                "analysis.controls_per_treated >= 0, output.workers >= 0 and targeting.depth "
                "1, 2 or 3"
            )
        return run


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read and check a config file; ``None`` gives the empty configuration."""
    if path is None:
        return {"data": {}}
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it as YAML ({exc})") from exc
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    unknown = set(cfg) - set(SECTIONS) - LISTS
    if unknown:
        known = ", ".join([*SECTIONS, *sorted(LISTS)])
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(sorted(unknown))}; known: {known}"
        )
    for section in LISTS:
        items = cfg.setdefault(section, []) or []
        if not (isinstance(items, list) and all(isinstance(d, dict) for d in items)):
            raise ConfigError(f"{path}: '{section}' must be a list of mappings")
        cfg[section] = items
    for section, keys in SECTIONS.items():
        part = cfg.setdefault(section, {}) or {}
        if not isinstance(part, dict):
            raise ConfigError(f"{path}: '{section}' must be a mapping")
        cfg[section] = part
        if keys is None:  # names from the data: checked where they are used
            continue
        nested = {k: v for k, v in part.items() if section == "design" and isinstance(v, dict)}
        bad = set(part) - keys - set(nested)  # design.<touchpoint>: the same fields
        bad |= {f"{tp}.{k}" for tp, fields in nested.items() for k in set(fields) - keys}
        if bad:
            raise ConfigError(
                f"{path}: unknown key(s) {section}.{f', {section}.'.join(sorted(bad))}; "
                f"known: {', '.join(sorted(keys))}"
            )
    _check_data(path, cfg["data"])
    for section, key in (("data", "source"), ("output", "dir"), ("output", "history")):
        if cfg[section].get(key):
            cfg[section][key] = str((path.parent / cfg[section][key]).resolve())
    return cfg


def _check_data(path: Path, data: dict[str, Any]) -> None:
    for table, mapping in (data.get("columns") or {}).items():
        if table not in CONTRACT:
            raise ConfigError(
                f"{path}: data.columns.{table}: no such table; tables: {', '.join(CONTRACT)}"
            )
        bad = set(mapping or {}) - set(CONTRACT[table].names)
        if bad:
            raise ConfigError(
                f"{path}: data.columns.{table}: {', '.join(sorted(bad))} not in "
                f"the contract; columns: {', '.join(CONTRACT[table].names)}"
            )
    try:
        check_encoding(str(data.get("encoding", AUTO)))
    except ValueError as exc:
        raise ConfigError(f"{path}: data.encoding: {exc}") from exc
    tps = data.get("touchpoints")
    if tps is not None and not (isinstance(tps, list) and all(isinstance(t, str) for t in tps)):
        raise ConfigError(f"{path}: data.touchpoints must be a list of names")
