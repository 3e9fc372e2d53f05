"""The ``churn-causal`` command line.

Exit codes: 0 success, 1 a report notebook failed, 2 bad input (with a message saying what to fix),
130 interrupted (Ctrl-C or SIGTERM; nothing is published).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from churn_causal.data.problems import DataError
from churn_causal.design.engines import ENGINES
from churn_causal.design.sampling import CONTROLS_PER_TREATED
from churn_causal.design.trials import PERIOD_DAYS, TrialDesign, resolve_design
from churn_causal.i18n import LANGUAGES
from churn_causal.parallel import threads
from churn_causal.progress import show

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


class BadInput(Exception):
    """An error in what the user gave us; reported in one line, exit code 2."""


def _print_problems(problems: list) -> None:
    for p in problems:
        print(p, file=sys.stderr)


def _data_source(args: argparse.Namespace) -> tuple[Path, dict]:
    """The data source and the config's data section, from --data, --encoding and --config."""
    from churn_causal.report.config import ConfigError, load_config

    try:
        data_cfg = load_config(args.config)["data"]
    except ConfigError as exc:
        raise BadInput(str(exc)) from exc
    data_cfg["encoding"] = _encoding(args) or data_cfg.get("encoding", "auto")
    return _checked_source(args.data or data_cfg.get("source")), data_cfg


def _encoding(args: argparse.Namespace) -> str | None:
    """--encoding, checked (None when not given)."""
    from churn_causal.data.readers import check_encoding

    if not getattr(args, "encoding", None):
        return None
    try:
        return check_encoding(args.encoding)
    except ValueError as exc:
        raise BadInput(f"--encoding: {exc}") from exc


def _checked_source(source: str | Path | None) -> Path:
    if source is None:
        raise BadInput("no data: give --data FOLDER|FILE.duckdb or data.source in --config")
    if not Path(source).exists():
        raise BadInput(
            f"{source}: no such folder or file; run 'churn-causal simulate' or point --data at "
            "a folder with customers, health and touches tables"
        )
    return Path(source)


def _simulate(args: argparse.Namespace) -> int:
    from churn_causal.sim.simulate import (
        default_params,
        merge_params,
        parse_assignments,
        simulate,
        truth_scenarios,
    )
    from churn_causal.sim.world import TOUCHPOINTS

    if args.customers < 1:
        raise BadInput("--customers must be at least 1")
    try:
        overrides = parse_assignments(args.set or [])
        section = merge_params(default_params(), overrides)["truth"]
        individual = args.individual.split(",") if args.individual else []
        if args.scenarios:  # a run config's programme, scenarios and targeted touchpoints
            cfg = _run_config(args.scenarios)
            section = {**section, "programme": cfg.programme, "scenarios": []}
            scenarios = truth_scenarios(section, cfg.scenarios)
            individual += cfg.targeting
        else:
            scenarios = truth_scenarios(section)
        unknown = set(individual) - set(TOUCHPOINTS)
        if unknown:
            raise BadInput(
                f"--individual: {', '.join(sorted(unknown))} is not a simulated touchpoint "
                f"({', '.join(TOUCHPOINTS)})"
            )
        t0 = time.perf_counter()
        result = simulate(
            args.customers, args.seed, overrides, scenarios, tuple(dict.fromkeys(individual))
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"simulator parameters: {exc}") from exc
    out = result.write(args.out)
    seconds = time.perf_counter() - t0
    print(f"simulated {args.customers} customers (seed {args.seed}) in {seconds:.1f} s -> {out}")
    print(
        f"{'touchpoint':<11} {'trials':<7} {'treated':>8} {'true ATT':>9} {'naive':>8}"
        "  (churn by horizon, pp)"
    )
    for tp in TOUCHPOINTS:
        for name, entry in result.truth["designs"].items():
            t = entry["touchpoints"][tp]
            print(
                f"{tp:<11} {name:<7} {t['n_treated']:>8} {100 * t['att_risk_difference']:>+9.2f} "
                f"{100 * t['naive_risk_difference']:>+8.2f}"
            )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from churn_causal.data.load import validated

    source, cfg = _data_source(args)
    report = validated(source, cfg.get("columns"), cfg.get("touchpoints"), cfg["encoding"])
    _print_problems(report.problems)
    if report.errors:
        print(
            f"{source}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    rows = ", ".join(f"{len(t)} {n}" for n, t in report.tables.items())
    print(f"{source}: valid ({rows} rows; {len(report.warnings)} warning(s))")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from churn_causal.data.store import ingest

    source, cfg = _data_source(args)
    try:
        report = ingest(
            source, args.to, cfg.get("columns"), cfg.get("touchpoints"), cfg["encoding"]
        )
    except DataError as exc:
        _print_problems(exc.problems)
        print(f"{source}: not ingested; {args.to} is left as it was", file=sys.stderr)
        return EXIT_BAD_INPUT
    _print_problems(report.warnings)
    print(f"ingested {source} -> {args.to}")
    return 0


def _run_config(path: str | None):
    """The run config at ``path`` (an empty one for None); a bad one is bad input."""
    from churn_causal.report.config import ConfigError, RunConfig

    try:
        return RunConfig.from_file(path)
    except ConfigError as exc:
        raise BadInput(str(exc)) from exc


def _report(args: argparse.Namespace) -> int:
    from churn_causal.report.config import ConfigError
    from churn_causal.report.runner import run_report

    cfg = _run_config(args.config)
    # Command-line options override the config file.
    cfg.source = _checked_source(args.data or cfg.source)
    cfg.encoding = _encoding(args) or cfg.encoding
    if args.ratio is not None:
        cfg.match_ratio = args.ratio
    if args.without_replacement:
        cfg.match_replace = False
    if args.controls_per_treated is not None:
        cfg.controls_per_treated = args.controls_per_treated
    if args.touchpoints:
        cfg.touchpoints = args.touchpoints.split(",")
    cfg.design_overrides = _design_overrides(args)
    for option, attr in (("out", "out_dir"), ("history", "history")):
        if getattr(args, option):
            setattr(cfg, attr, Path(getattr(args, option)))
    for option in ("seed", "n_boot", "workers", "language", "engine"):
        if getattr(args, option) is not None:
            setattr(cfg, option, getattr(args, option))
    try:
        cfg.designs(cfg.touchpoints or ["any"])  # an impossible design: before any work
    except ValueError as exc:
        raise BadInput(f"trial design: {exc}") from exc
    try:
        result = run_report(cfg, args.run_id)
    except ConfigError as exc:
        raise BadInput(str(exc)) from exc
    except DataError as exc:
        _print_problems(exc.problems)
        print("no report was run; earlier reports are untouched", file=sys.stderr)
        return EXIT_BAD_INPUT
    for r in result.runs:
        error = f"  ({r.error})" if r.error else ""
        print(f"{r.status:>6}  {r.seconds:6.1f} s  {r.name}{error}")
    print(f"published {result.path / 'index.html'}")
    return 0 if result.ok else EXIT_FAILED


def _estimate(args: argparse.Namespace) -> int:
    from churn_causal.causal.cohort import cohort_estimator
    from churn_causal.causal.estimate import METHODS, AnalysisError, EffectEstimator
    from churn_causal.data.files import write_json

    default = METHODS if args.estimand == "ATT" else tuple(m for m in METHODS if m != "match")
    options = {
        "estimand": args.estimand,
        "methods": tuple(args.methods.split(",")) if args.methods else default,
        "n_boot": args.n_boot,
        "seed": args.seed,
        "refute": args.refute,
        "ratio": args.ratio or 1,
        "replace": not args.without_replacement,
    }
    if args.propensity:
        options["propensity"] = args.propensity
    design = None
    try:
        if args.table:
            from churn_causal.data.readers import read_table

            origin = Path(args.table).name
            df = read_table(Path(args.table), _encoding(args) or "auto")
            estimator = EffectEstimator(**_table_spec(args), by=args.by, **options)
        else:
            from churn_causal.design.cohort import build_cohort

            if not args.touchpoint:
                raise BadInput("with --data, give --touchpoint NAME")
            data = _load_cs(args)
            design = _design(args, args.touchpoint)
            origin = f"the cohort of {args.touchpoint} ({design.describe()})"
            sampled = args.controls_per_treated if args.estimand == "ATT" else None  # ATE: all
            df = build_cohort(data, args.touchpoint, design, None, sampled, args.seed)
            estimator = cohort_estimator(
                data.touchpoints, design.horizon_days, by=args.by or "tier", **options
            )
        result = estimator.fit(df)
    except AnalysisError as exc:
        raise exc.located(origin) from None
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    if design is not None:
        result.design = design.to_dict()
    payload = result.to_dict()
    if args.figures:
        from churn_causal.report.plots import write_figures

        figures = write_figures(payload, args.figures)
    write_json(args.out, payload)
    print(result.summary().round(4).to_string())
    print(f"verdict: {payload['verdict']['level']} ({'; '.join(payload['verdict']['reasons'])})")
    if args.figures:
        print(f"figures: {', '.join(str(f) for f in figures)}")
    print(f"wrote {args.out}")
    return 0


def _dynamics(args: argparse.Namespace) -> int:
    from churn_causal.causal.dynamics import TouchpointDynamics
    from churn_causal.causal.estimate import AnalysisError

    data = _load_cs(args)
    design = _design(args, args.touchpoint)
    try:
        dyn = TouchpointDynamics(args.touchpoint, design, n_boot=args.n_boot, seed=args.seed)
        dyn.fit(data)
    except AnalysisError as exc:
        raise exc.located(f"the cohort of {args.touchpoint} ({design.describe()})") from None
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    dyn.save(args.out)
    r = dyn.to_dict()
    hl, es = r["half_life_days"], r["event_study"]
    print(
        f"half-life of the effect on health: {hl['estimate']:.0f} days"
        if hl.get("estimable")
        else f"half-life: not estimable ({hl['reason']})"
    )
    print(
        f"event study: level jump {es['level_jump']['estimate']:+.2f} points, slope change "
        f"{es['slope_change']['estimate']:+.3f} points/week: {es['mechanism']}"
    )
    if r["msm"]:
        m = r["msm"]["msm"]
        print(
            f"MSM: {100 * m['estimate']:+.2f} pp first-year churn with the touches as they happen "
            f"vs none (95% CI {100 * m['ci_low']:+.2f} to {100 * m['ci_high']:+.2f})"
        )
    print(f"wrote {args.out}")
    return 0


def _whatif(args: argparse.Namespace) -> int:
    from churn_causal.data.files import write_json
    from churn_causal.data.load import load
    from churn_causal.report.config import ConfigError
    from churn_causal.report.whatif import programme_and_scenarios, whatif_table

    cfg = _run_config(args.config)
    source = _checked_source(args.data or cfg.source)
    touchpoints = args.touchpoints.split(",") if args.touchpoints else cfg.touchpoints
    data = load(source, cfg.columns, touchpoints, _encoding(args) or cfg.encoding)
    chosen = touchpoints or data.touchpoints
    try:
        cfg.check_scenarios(chosen, list(data.customers.columns))
    except ConfigError as exc:
        raise BadInput(str(exc)) from exc
    try:
        results = programme_and_scenarios(data, cfg, chosen, args.n_boot or cfg.n_boot)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    table = whatif_table(results, cfg.business.currency)
    print(table.to_string())
    if args.out:
        write_json(args.out, {"currency": cfg.business.currency, "touchpoints": results})
        print(f"wrote {args.out}")
    return 0


def _target(args: argparse.Namespace) -> int:
    from churn_causal.data.files import write_json
    from churn_causal.data.load import load
    from churn_causal.report.names import file_stem
    from churn_causal.report.targeting import rule_table, value_table
    from churn_causal.value.policy import Budget, TargetingAnalysis

    cfg = _run_config(args.config)
    source = _checked_source(args.data or cfg.source)
    data = load(source, cfg.columns, cfg.touchpoints, _encoding(args) or cfg.encoding)
    if args.touchpoint not in data.touchpoints:
        raise BadInput(
            f"--touchpoint {args.touchpoint}: the data has {', '.join(data.touchpoints)}"
        )
    try:
        budget = Budget.parse(args.budget) if args.budget else cfg.budgets.get(args.touchpoint)
        analysis = TargetingAnalysis(
            args.touchpoint,
            cfg.designs([args.touchpoint])[args.touchpoint],
            cfg.business,
            budget,
            args.depth or cfg.rule_depth,
            controls_per_treated=cfg.controls_per_treated or None,
            seed=cfg.seed,
        ).fit(data)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    r, currency = analysis.result_, cfg.business.currency
    print(
        f"{args.touchpoint}: {r['budget_text']}, {r['touches_per_period']:,.0f} touches a "
        f"{r['period']} among {r['customers_now']:,} active customers; {r['cost_text']}"
    )
    print(value_table(r, currency).to_string())
    print(rule_table(r, currency).to_string())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = file_stem(args.touchpoint)  # a touchpoint's name is data: it never picks a path
    policy = write_json(out / f"policy-{stem}.json", r)
    customers = out / f"customers-{stem}.csv"
    analysis.customers_.to_csv(customers, index=False)
    print(f"wrote {policy} (the policy, no customer ids) and {customers} (for the CS team)")
    return 0


def _validate_targeting(args: argparse.Namespace) -> int:
    from churn_causal.grading.targeting import grade_targeting

    _check_grading(args)
    return _graded(
        args, lambda: grade_targeting(args.replications, args.customers, args.first_seed)
    )


def _validate_whatif(args: argparse.Namespace) -> int:
    from churn_causal.grading.whatif import grade_whatif

    _check_grading(args)
    return _graded(
        args, lambda: grade_whatif(args.replications, args.customers, args.first_seed, args.n_boot)
    )


def _load_cs(args: argparse.Namespace):
    """The CS data of --data/--config for --touchpoint (``DataError`` lists every problem)."""
    from churn_causal.data.load import load

    source, cfg = _data_source(args)
    return load(source, cfg.get("columns"), [args.touchpoint], cfg["encoding"])


def _table_spec(args: argparse.Namespace) -> dict:
    if not args.treatment or not args.covariates:
        raise BadInput("with --table, give --treatment COL and --covariates a,b,c")
    if bool(args.outcome) == bool(args.duration):
        raise BadInput("give either --outcome COL or --duration COL --event COL --horizon H")
    return {
        "treatment": args.treatment,
        "covariates": args.covariates.split(","),
        "outcome": args.outcome,
        "duration": args.duration,
        "event": args.event,
        "horizon": args.horizon,
        "cluster": args.cluster,
        "km_strata": args.strata,
    }


def _design_overrides(args: argparse.Namespace) -> dict:
    """The design options given on the command line (the rest stay the touchpoint's default)."""
    given = {
        "unit": args.trial_unit,
        "first": args.first_trial,
        "last": args.last_trial,
        "window": args.window,
        "horizon_days": args.horizon_days,
    }
    return {k: v for k, v in given.items() if v is not None}


def _design(args: argparse.Namespace, touchpoint: str) -> TrialDesign:
    """The touchpoint's design: its default, then --config's design section, then the command
    line's design options (``resolve_design``); an impossible one is refused before any work."""
    from churn_causal.report.config import ConfigError, load_config

    try:
        section = load_config(args.config).get("design", {})
        return resolve_design(touchpoint, section, _design_overrides(args))
    except ConfigError as exc:
        raise BadInput(str(exc)) from exc
    except ValueError as exc:
        raise BadInput(f"trial design: {exc}") from exc


def _check_grading(args: argparse.Namespace) -> None:
    if args.replications < 1 or args.customers < 100:
        raise BadInput("--replications must be at least 1 and --customers at least 100")


def _graded(args: argparse.Namespace, grade, transpose: bool = False) -> int:
    """Run a grading, write its estimates to ``--out`` and print its summary and time."""
    t0 = time.perf_counter()
    estimates, summary = grade()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        estimates.to_csv(args.out, index=False)
    print((summary.T if transpose else summary).to_string())
    print(
        f"{args.replications} replications of {args.customers} customers in "
        f"{time.perf_counter() - t0:.0f} s" + (f"; estimates in {args.out}" if args.out else "")
    )
    return 0


def _validate_methods(args: argparse.Namespace) -> int:
    from churn_causal.causal.estimate import METHODS
    from churn_causal.grading.methods import grade
    from churn_causal.sim.world import TOUCHPOINTS

    _check_grading(args)
    touchpoints = tuple(args.touchpoints.split(",")) if args.touchpoints else TOUCHPOINTS
    methods = tuple(args.methods.split(",")) if args.methods else METHODS
    return _graded(
        args,
        lambda: grade(
            args.replications, args.customers, args.first_seed, touchpoints, methods, args.n_boot
        ),
    )


def _validate_dynamics(args: argparse.Namespace) -> int:
    from churn_causal.grading.dynamics import grade_dynamics

    _check_grading(args)
    return _graded(
        args,
        lambda: grade_dynamics(args.replications, args.customers, args.first_seed, args.n_boot),
        transpose=True,
    )


def _data_options(p: argparse.ArgumentParser, flag: str = "--data") -> None:
    p.add_argument(flag, dest="data", help="folder of .csv/.parquet tables, or a .duckdb file")
    p.add_argument(
        "--config", help="YAML config with a data section (source, column mapping, touchpoints)"
    )
    p.add_argument(
        "--encoding",
        help="of the CSV files: auto (default: UTF-8 or cp932, recognised per file), utf-8, "
        "cp932 (Shift-JIS, what Excel saves in Japan)",
    )


def _sampling_option(p: argparse.ArgumentParser, default: float | None) -> None:
    p.add_argument(
        "--controls-per-treated",
        type=float,
        default=default,
        help="risk-set sampling: untreated customer-trials kept per treated one in each trial, "
        f"weighted (default {CONTROLS_PER_TREATED:g}; 0 keeps all)",
    )


def _matching_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ratio", type=int, help="controls matched to each treated row (1:k; default 1)"
    )
    p.add_argument(
        "--without-replacement",
        action="store_true",
        default=None,
        help="use each control once (greedy, closest pairs first); default: with replacement",
    )


def _design_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "trial design",
        "given here, they apply to every touchpoint, over the config's design section and the "
        "defaults (monthly trials for months 1-18 of tenure, one-month window, 365-day "
        "horizon; weekly trials for weeks 1-78 for cs_touch)",
    )
    g.add_argument("--trial-unit", choices=sorted(PERIOD_DAYS), help="monthly or weekly trials")
    g.add_argument("--first-trial", type=int, help="first month (or week) of tenure with a trial")
    g.add_argument("--last-trial", type=int, help="last month (or week) of tenure with a trial")
    g.add_argument("--window", type=int, help="treatment window in months (or weeks)")
    g.add_argument("--horizon-days", type=int, help="follow-up after time zero, in days")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="churn-causal", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="make a CS data set with known true effects")
    s.add_argument("--customers", type=int, default=20_000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="folder for the tables and truth.json")
    s.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a simulator parameter, e.g. confounder.strength=0.5",
    )
    s.add_argument(
        "--scenarios",
        metavar="CONFIG",
        help="a run config: the exact truth of its scenarios and of every programme over its "
        "programme period goes into truth.json (default: the simulator's own programme period), "
        "and its targeted touchpoints get individual effects (as --individual)",
    )
    s.add_argument(
        "--individual",
        metavar="TOUCHPOINTS",
        help="comma-separated: each sampled customer-trial's exact effect of a touch, written "
        "to individual_truth_<touchpoint>.parquet (grades who-to-touch policies)",
    )
    s.set_defaults(func=_simulate)

    v = sub.add_parser("validate", help="check input tables; exit 2 on errors, write nothing")
    _data_options(v)
    v.set_defaults(func=_validate)

    i = sub.add_parser("ingest", help="validate input tables and store them in a DuckDB file")
    _data_options(i, "--from")
    i.add_argument("--to", required=True, help="the DuckDB file to write")
    i.set_defaults(func=_ingest)

    e = sub.add_parser("estimate", help="estimate one effect and write it as JSON")
    e.add_argument("--out", required=True, help="the result's JSON file")
    e.add_argument("--estimand", choices=("ATT", "ATE"), default="ATT")
    e.add_argument("--methods", help="comma-separated from naive,match,iptw,dr (default: all)")
    e.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--by", help="also estimate within each level of this column (CS data: tier)")
    e.add_argument(
        "--propensity",
        help="propensity model: 'linear' logit, or 'spline' (with spline terms of the numeric "
        "covariates); default: spline for CS data, linear for a table",
    )
    e.add_argument(
        "--refute",
        action="store_true",
        help="add DoWhy's cross-check and refuters (placebo, random cause, subsets)",
    )
    _matching_options(e)
    _sampling_option(e, CONTROLS_PER_TREATED)
    e.add_argument("--figures", help="folder to write the result's figures to (PNG)")
    cs = e.add_argument_group("CS data (a cohort of target trials)")
    _data_options(cs)
    cs.add_argument("--touchpoint", help="the touchpoint whose effect to estimate")
    _design_options(e)
    tab = e.add_argument_group("any table")
    tab.add_argument("--table", help="a .csv or .parquet file (CSV: UTF-8 or cp932)")
    tab.add_argument("--treatment", help="0/1 or boolean column")
    tab.add_argument("--covariates", help="comma-separated columns to adjust for")
    tab.add_argument("--outcome", help="binary or continuous outcome column")
    tab.add_argument("--duration", help="time-to-event: duration column ...")
    tab.add_argument("--event", help="... event column (1 = event, 0 = censored) ...")
    tab.add_argument("--horizon", type=float, help="... and the horizon, in duration units")
    tab.add_argument("--cluster", help="column of the unit rows are clustered in")
    tab.add_argument(
        "--strata",
        help="column (e.g. the trial of stacked trials) within which survival curves and "
        "censoring weights are computed before they are averaged",
    )
    e.set_defaults(func=_estimate)

    dy = sub.add_parser(
        "dynamics", help="effects over time: decay, event study, MSM (cs_touch); write JSON"
    )
    _data_options(dy)
    dy.add_argument("--touchpoint", required=True)
    dy.add_argument("--out", required=True, help="the dynamics JSON file")
    dy.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates")
    dy.add_argument("--seed", type=int, default=0)
    _design_options(dy)
    dy.set_defaults(func=_dynamics)

    g = sub.add_parser(
        "validate-methods", help="grade every estimator against the simulator's truth"
    )
    g.add_argument("--replications", type=int, default=20)
    g.add_argument("--customers", type=int, default=20_000)
    g.add_argument("--first-seed", type=int, default=1000)
    g.add_argument("--touchpoints", help="comma-separated (default: all four)")
    g.add_argument("--methods", help="comma-separated (default: all)")
    g.add_argument("--n-boot", type=int, default=200)
    g.add_argument("--out", help="CSV of every estimate")
    g.set_defaults(func=_validate_methods)

    vd = sub.add_parser(
        "validate-dynamics",
        help="grade half-life, event study and MSM against the simulator over many data sets",
    )
    vd.add_argument("--replications", type=int, default=20)
    vd.add_argument("--customers", type=int, default=20_000)
    vd.add_argument("--first-seed", type=int, default=1)
    vd.add_argument("--n-boot", type=int, default=200)
    vd.add_argument("--out", help="CSV of every estimate")
    vd.set_defaults(func=_validate_dynamics)

    w = sub.add_parser(
        "whatif",
        help="what each programme is worth and what the config's scenarios would change, in "
        "money; print it and write JSON",
    )
    _data_options(w)
    w.add_argument("--touchpoints", help="comma-separated; default: the config's, or all")
    w.add_argument("--n-boot", type=int, help="bootstrap replicates (default: the config's)")
    w.add_argument("--out", help="the JSON file to write")
    w.set_defaults(func=_whatif)

    t = sub.add_parser(
        "target",
        help="who to touch next under a budget: the policy (JSON, no customer ids) and the "
        "customer list for the CS team (CSV)",
    )
    _data_options(t)
    t.add_argument("--touchpoint", required=True)
    t.add_argument(
        "--budget",
        help="a month's budget: an amount (50000), CS hours (120h) or touches ('300 touches'); "
        "default: the config's, else what today's practice spends",
    )
    t.add_argument("--depth", type=int, choices=(1, 2, 3), help="the rule's depth (default 2)")
    t.add_argument("--out", default="targeting", help="folder for the two files")
    t.set_defaults(func=_target)

    vt = sub.add_parser(
        "validate-targeting",
        help="grade who-to-touch policies against the simulator's individual effects",
    )
    vt.add_argument("--replications", type=int, default=10)
    vt.add_argument("--customers", type=int, default=20_000)
    vt.add_argument("--first-seed", type=int, default=1)
    vt.add_argument("--out", help="CSV of every replication's grades")
    vt.set_defaults(func=_validate_targeting)

    vw = sub.add_parser(
        "validate-whatif",
        help="grade what-if scenarios against the simulator's exact truth over many data sets",
    )
    vw.add_argument("--replications", type=int, default=20)
    vw.add_argument("--customers", type=int, default=20_000)
    vw.add_argument("--first-seed", type=int, default=1)
    vw.add_argument("--n-boot", type=int, default=200)
    vw.add_argument("--out", help="CSV of every estimate")
    vw.set_defaults(func=_validate_whatif)

    r = sub.add_parser("report", help="run the report notebooks into HTML")
    _data_options(r)
    r.add_argument("--out", help="where runs are published (default: output.dir, or reports)")
    r.add_argument("--history", help="DuckDB file of every run's estimates")
    r.add_argument("--touchpoints", help="comma-separated; default: all in the data")
    r.add_argument("--seed", type=int, help="default: analysis.seed, or 0")
    r.add_argument("--n-boot", type=int, help="bootstrap replicates (default 200)")
    r.add_argument("--workers", type=int, help="notebooks at once (default: one per core)")
    r.add_argument(
        "--language", choices=LANGUAGES, help="of every page (default: output.language, or en)"
    )
    r.add_argument(
        "--engine",
        choices=ENGINES,
        help="where cohorts and person-weeks are built (default: data.engine, memory)",
    )
    r.add_argument("--run-id", help="default: the UTC time")
    _matching_options(r)
    _sampling_option(r, None)
    _design_options(r)
    r.set_defaults(func=_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    show(args.verbose)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's stop is an interrupt
    try:
        _check_threads()
        return args.func(args)
    except DataError as exc:
        _print_problems(exc.problems)
        print(f"churn-causal {args.command}: nothing was written", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (BadInput, FileNotFoundError, FileExistsError) as exc:
        print(f"churn-causal {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"churn-causal {args.command}: interrupted; nothing was published", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_threads() -> None:
    """A bad ``CHURN_CAUSAL_THREADS`` is said before any work starts, not in its middle."""
    try:
        threads()
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
