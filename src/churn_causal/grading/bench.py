"""Benchmarks (``make bench``): time and peak memory of each step at growing sizes.

Each measurement runs in a fresh process, so its peak resident memory is its own. The table
ends with the empirical growth exponent between sizes (1.0 = linear in customers). One
touchpoint's analysis is also set against one propensity fit on its own cohort in the same
process (the floor of any analysis); ``report`` times the whole report suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from churn_causal.data.contract import TABLES
from churn_causal.parallel import threads
from churn_causal.progress import show, tracked

STEPS = (
    "simulate",
    "load",
    "cohort",
    "cohort_duckdb",
    "cohort_spark",
    "analysis",
    "analysis_weekly",
    "dynamics",
    "dynamics_weekly",
    "match",
    "match_variants",
    "scenarios",
    "targeting",
    "report",
)
DEFAULT_SIZES = {
    "load": [10_000, 100_000],
    "simulate": [10_000, 100_000, 1_000_000],
    "cohort": [10_000, 100_000, 1_000_000],
    "cohort_duckdb": [10_000, 100_000, 1_000_000],
    "cohort_spark": [10_000, 100_000, 1_000_000],
    "analysis": [20_000, 100_000],
    "analysis_weekly": [20_000, 100_000],
    "dynamics": [20_000, 100_000],
    "dynamics_weekly": [20_000, 100_000],
    "match": [1_000_000],
    "match_variants": [100_000, 1_000_000],
    "scenarios": [20_000, 100_000],
    "targeting": [20_000, 100_000],
    "report": [20_000, 100_000],
}
MATCH_VARIANTS = ((1, True), (5, True), (1, False), (5, False))  # (controls per treated, replace)
# One touchpoint's full report analysis (by tier, EconML CATE, DoWhy refutation, bootstrap):
# support in monthly trials, and cs_touch in its default weekly trials (4.4x the rows).
# The effects over time alone: seminar (monthly trials), and cs_touch (weekly) with its MSM.
ANALYSED = {
    "analysis": "support",
    "analysis_weekly": "cs_touch",
    "dynamics": "seminar",
    "dynamics_weekly": "cs_touch",
}


def _synthetic(rows: int, covariates: int = 10, seed: int = 0):
    """A confounded table: 10 covariates drive both treatment and a binary outcome."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, covariates))
    beta = np.linspace(0.6, -0.4, covariates)
    t = rng.random(rows) < 1 / (1 + np.exp(-(x @ beta - 1.0)))
    y = rng.random(rows) < 1 / (1 + np.exp(-(-1.5 - x @ beta + np.where(t, -0.5, 0.0))))
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(covariates)])
    df["t"], df["y"] = t, y.astype(int)
    return df


def _match_versus_dowhy(rows: int) -> dict:
    """Our propensity matching (caliper, O(n log n)) and DoWhy's on the same table."""
    import warnings

    import numpy as np

    from churn_causal.causal.matching import match_nearest
    from churn_causal.causal.propensity import fit_logit

    df = _synthetic(rows)
    covariates = [c for c in df.columns if c.startswith("x")]
    t0 = time.perf_counter()
    x = df[covariates].to_numpy()
    logit = fit_logit((x - x.mean(axis=0)) / x.std(axis=0), df["t"].to_numpy())
    treated, control = match_nearest(logit, df["t"].to_numpy(), np.zeros(rows))
    y = df["y"].to_numpy()
    ours = float(y[treated].mean() - y[control].mean())
    ours_s = time.perf_counter() - t0

    from dowhy import CausalModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        model = CausalModel(data=df, treatment="t", outcome="y", common_causes=covariates)
        estimand = model.identify_effect(proceed_when_unidentifiable=True)
        theirs = model.estimate_effect(
            estimand, method_name="backdoor.propensity_score_matching", target_units="att"
        ).value
        theirs_s = time.perf_counter() - t0
    return {
        "ours_seconds": round(ours_s, 2),
        "ours_att": round(ours, 4),
        "dowhy_seconds": round(theirs_s, 2),
        "dowhy_att": round(float(theirs), 4),
        "matched_fraction": round(len(treated) / df["t"].sum(), 4),
    }


def _match_variants(rows: int) -> dict:
    """Seconds of matching alone (the propensity fitted once) for 1:1 and 1:5, with and
    without replacement, on the benchmark's confounded table."""
    import numpy as np

    from churn_causal.causal.matching import match_nearest
    from churn_causal.causal.propensity import fit_logit

    df = _synthetic(rows)
    x = df[[c for c in df.columns if c.startswith("x")]].to_numpy()
    t = df["t"].to_numpy()
    logit = fit_logit((x - x.mean(axis=0)) / x.std(axis=0), t)
    strata = np.zeros(rows)
    out = {}
    for ratio, replace in MATCH_VARIANTS:
        t0 = time.perf_counter()
        pairs, _ = match_nearest(logit, t, strata, ratio=ratio, replace=replace)
        name = f"1:{ratio} {'with' if replace else 'without'} replacement"
        out[name] = {"seconds": round(time.perf_counter() - t0, 2), "pairs": len(pairs)}
    return out


def _measure(step: str, customers: int, data_dir: str) -> dict:
    """Run one step in this process and return its time and peak memory.

    ``simulate`` writes the data set into ``data_dir``; the other steps load it from there, so
    their peak memory is the step's own (plus the loaded tables), except the engines' cohorts,
    which read its files in place."""
    from churn_causal.causal.dynamics import TouchpointDynamics
    from churn_causal.data.load import load
    from churn_causal.design.cohort import build_cohort
    from churn_causal.design.engines import connect
    from churn_causal.design.portable import PortableCohort
    from churn_causal.report.touchpoint import TouchpointAnalysis
    from churn_causal.sim.simulate import simulate

    out: dict = {"step": step, "customers": customers}
    t0 = time.perf_counter()
    if step == "match":
        out.update(_match_versus_dowhy(customers), rows=customers)
        out["seconds"] = out["ours_seconds"]
    elif step == "match_variants":
        out.update(variants=_match_variants(customers), rows=customers)
        out["seconds"] = sum(v["seconds"] for v in out["variants"].values())
    elif step == "simulate":
        sim = simulate(customers, seed=1)
        out["seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        sim.write(data_dir)
        out["write_seconds"] = round(time.perf_counter() - t1, 2)
        out["rows"] = len(sim.health_records)
    elif step == "report":
        out["rows"] = _report(data_dir)
        out["seconds"] = time.perf_counter() - t0
    elif step == "scenarios":
        data = load(data_dir)
        out["touchpoints"] = _scenarios(data)
        out["seconds"] = max(out["touchpoints"].values())
        out["rows"] = len(data.customers)
    elif step == "targeting":
        data = load(data_dir)
        out["touchpoints"] = _targeting(data)
        out["seconds"] = max(out["touchpoints"].values())
        out["rows"] = len(data.customers)
    elif step == "load":
        out["rows"] = len(load(data_dir).health)  # read Parquet, validate, type
        out["seconds"] = time.perf_counter() - t0
    elif step.startswith("cohort_"):  # the same cohort on an engine, which reads the files
        engine = step.removeprefix("cohort_")  # where they lie; its start included
        out["rows"] = len(PortableCohort(connect(engine), "support").build(data_dir))
        out["seconds"] = time.perf_counter() - t0
    else:
        if step.startswith("analysis"):
            out["import_seconds"] = _import_libraries()
        data = load(data_dir)
        t0 = time.perf_counter()
        if step == "cohort":
            out["rows"] = len(build_cohort(data, "support"))
        elif step.startswith("dynamics"):
            dyn = TouchpointDynamics(ANALYSED[step], n_boot=200).fit(data)
            out["rows"] = dyn.event_study_["pairs"]
        else:
            analysis = TouchpointAnalysis(ANALYSED[step], n_boot=200).fit(data)
            out["seconds"] = time.perf_counter() - t0
            out["rows"] = len(analysis.cohort_)
            # The analysis' own peak: the floor's second preparation and fit below are the
            # benchmark's, made while the analysis' cohort is still held.
            out["peak_mb"] = _peak_mb(step)
            out["propensity_seconds"] = _one_propensity_fit(analysis)
        out.setdefault("seconds", time.perf_counter() - t0)
    out["seconds"] = round(out["seconds"], 2)
    out.setdefault("peak_mb", _peak_mb(step))
    return out


def _peak_mb(step: str) -> int:
    """Peak resident memory so far, MB; a report's notebooks run in kernels of their own, so
    its peak is its largest process's; Spark's is this process's and its JVM's together."""
    who = [resource.RUSAGE_SELF, *([resource.RUSAGE_CHILDREN] if step == "report" else [])]
    own = max(resource.getrusage(w).ru_maxrss for w in who) // 1024
    return own + (_children_peak_mb() if step == "cohort_spark" else 0)


def _children_peak_mb() -> int:
    """The peak resident memory of this process's running children (Spark's JVM), MB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except OSError:  # a process that ended meanwhile
            continue
        if int(fields.get("PPid", "0")) == os.getpid() and "VmHWM" in fields:
            total += int(fields["VmHWM"].split()[0]) // 1024
    return total


def _import_libraries() -> float:
    """Seconds to import EconML and DoWhy, timed apart from the analysis: a process pays them
    once (a kernel that reruns an analysis already has them)."""
    t0 = time.perf_counter()
    import dowhy  # noqa: F401
    import econml.dml  # noqa: F401

    return round(time.perf_counter() - t0, 2)


def _one_propensity_fit(analysis) -> float:
    """Seconds of one propensity fit on the analysis' own cohort (prepared as it was)."""
    from churn_causal.causal.cohort import cohort_estimator

    estimator = cohort_estimator(analysis.cohort_.attrs["touchpoints"], 365)
    prepared = estimator.prepare(analysis.cohort_)
    t0 = time.perf_counter()
    estimator._propensity(prepared.data)
    return round(time.perf_counter() - t0, 2)


def _scenarios(data) -> dict[str, float]:
    """Seconds of each touchpoint's programme value and the demo's scenarios of it, as its
    report computes them (the person-weeks, the uptake model, every scenario's weights and
    bootstrap, the money)."""
    from churn_causal.report.config import RunConfig
    from churn_causal.report.whatif import programme_value_of

    cfg = RunConfig.from_file("notebooks/demo.yaml")
    seconds = {}
    for tp in data.touchpoints:
        t0 = time.perf_counter()
        programme_value_of(
            data, tp, cfg.business, cfg.period, cfg.follow_up_months, cfg.scenarios, 200
        )
        seconds[tp] = round(time.perf_counter() - t0, 2)
    return seconds


def _targeting(data) -> dict[str, float]:
    """Seconds of the demo's who-to-touch policies (cs_touch on weekly trials, community on
    monthly ones), each with its cohort: learner, policy, gain curve, rule, customer list."""
    from churn_causal.report.config import RunConfig
    from churn_causal.value.policy import TargetingAnalysis

    cfg = RunConfig.from_file("notebooks/demo.yaml")
    seconds = {}
    for tp in cfg.targeting:
        t0 = time.perf_counter()
        TargetingAnalysis(tp, business=cfg.business, budget=cfg.budgets.get(tp)).fit(data)
        seconds[tp] = round(time.perf_counter() - t0, 2)
    return seconds


def _report(data_dir: str) -> int:
    """The demo's report suite (every touchpoint, notebooks in parallel) on ``data_dir``; the
    number of notebooks run."""
    from churn_causal.report.config import RunConfig
    from churn_causal.report.runner import run_report

    cfg = RunConfig.from_file("notebooks/demo.yaml")
    with tempfile.TemporaryDirectory() as out:
        cfg.source, cfg.out_dir, cfg.history = (
            Path(data_dir),
            Path(out),
            Path(out) / "history.duckdb",
        )
        result = run_report(cfg)
    if not result.ok:
        raise RuntimeError(f"the report suite failed: {[r.error for r in result.runs]}")
    return len(result.runs)


def is_data(folder: Path) -> bool:
    """Whether ``folder`` holds a simulated data set (its three tables)."""
    return all((folder / f"{name}.parquet").is_file() for name in TABLES)


def _spawn(step: str, customers: int, data_dir: str) -> dict:
    """One measurement in a process of its own; one that fails (out of memory, say) is
    reported with why, and the benchmark goes on: where a step breaks is a finding too."""
    command = [sys.executable, "-m", "churn_causal.grading.bench", "--one", step]
    done = subprocess.run(
        [*command, str(customers), data_dir], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    if done.returncode < 0:
        why = f"killed by {signal.Signals(-done.returncode).name}"
        why += " (out of memory)" if done.returncode == -signal.SIGKILL else ""
    else:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return {"step": step, "customers": customers, "failed": why}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", default=",".join(STEPS))
    p.add_argument("--sizes", help="comma-separated customer counts for every step")
    p.add_argument(
        "--data",
        help="folder to keep each size's simulated data in (DIR/<customers>), and to reuse it "
        "from when it is there (default: a temporary folder)",
    )
    p.add_argument("--one", nargs=3, metavar=("STEP", "N", "DIR"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(_measure(args.one[0], int(args.one[1]), args.one[2])))
        return 0
    steps = args.steps.split(",")
    plan = {
        s: [int(n) for n in args.sizes.split(",")] if args.sizes else DEFAULT_SIZES[s]
        for s in steps
    }
    show()
    tables = ("simulate", "match", "match_variants")  # steps that make their own data
    runs = []  # (step, customers), each size's data simulated before the steps that read it
    for n in sorted({n for sizes in plan.values() for n in sizes}):
        needs_data = any(n in plan[s] for s in steps if s not in tables)
        for step in ("simulate", *[s for s in steps if s != "simulate"]):
            if n in plan.get(step, []) or (step == "simulate" and needs_data):
                runs.append((step, n))
    results: dict[str, list[dict]] = {s: [] for s in steps}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data or tmp)
        for step, n in tracked(runs, "benchmarks"):
            kept = is_data(root / str(n)) and n not in plan.get("simulate", [])
            if step == "simulate" and kept:
                continue  # a kept data set of this size, not asked to be timed again
            r = _spawn(step, n, str(root / str(n)))
            print(json.dumps(r), file=sys.stderr, flush=True)  # kept if a later step fails
            if n in plan.get(step, []):
                results[step].append(r)
    print(f"{threads()} threads (CHURN_CAUSAL_THREADS), on {os.cpu_count()} cores")
    print(f"{'step':<10} {'customers':>10} {'seconds':>9} {'peak MB':>8} {'rows':>11}  growth")
    for step in steps:
        for prev, r in zip([None, *results[step]], results[step], strict=False):
            if "failed" in r:
                print(f"{step:<10} {r['customers']:>10}  failed: {r['failed']}")
                continue
            growth = ""
            if prev and "failed" not in prev:
                k = math.log(r["seconds"] / prev["seconds"]) / math.log(
                    r["customers"] / prev["customers"]
                )
                growth = f"time ~ n^{k:.2f}"
            extra = f"  (+{r['write_seconds']} s to write Parquet)" if "write_seconds" in r else ""
            if "propensity_seconds" in r:
                extra = (
                    f"  one propensity fit {r['propensity_seconds']} s: the analysis is "
                    f"{r['seconds'] / r['propensity_seconds']:.1f} of them; importing "
                    f"EconML and DoWhy {r['import_seconds']} s before it"
                )
            if "dowhy_seconds" in r:
                extra = (
                    f"  ATT {r['ours_att']:+.4f}, {100 * r['matched_fraction']:.1f}% matched;"
                    f" DoWhy propensity_score_matching {r['dowhy_seconds']} s, ATT "
                    f"{r['dowhy_att']:+.4f}: {r['dowhy_seconds'] / r['ours_seconds']:.0f}x"
                    " slower"
                )
            if "touchpoints" in r:
                extra = "  (seconds: the slowest touchpoint) " + "; ".join(
                    f"{tp} {v} s" for tp, v in r["touchpoints"].items()
                )
            if "variants" in r:
                extra = "; ".join(
                    f"{name} {v['seconds']} s ({v['pairs']:,} pairs)"
                    for name, v in r["variants"].items()
                )
                extra = f"  (rows: table rows) {extra}"
            print(
                f"{step:<10} {r['customers']:>10} {r['seconds']:>9.1f} {r['peak_mb']:>8} "
                f"{r['rows']:>11}  {growth}{extra}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
