"""Benchmarks (``make bench``): time and peak memory of each step at growing sizes.

Each measurement runs in a fresh process, so its peak resident memory is its own. The table
ends with the empirical growth exponent between sizes (1.0 = linear in customers).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time

STEPS = (
    "simulate",
    "load",
    "cohort",
    "analysis",
    "analysis_weekly",
    "dynamics",
    "dynamics_weekly",
    "match",
    "match_variants",
)
DEFAULT_SIZES = {
    "load": [10_000, 100_000],
    "simulate": [10_000, 100_000, 1_000_000],
    "cohort": [10_000, 100_000],
    "analysis": [10_000, 20_000, 100_000],
    "analysis_weekly": [10_000, 20_000, 100_000],
    "dynamics": [10_000, 20_000, 100_000],
    "dynamics_weekly": [10_000, 20_000, 100_000],
    "match": [1_000_000],
    "match_variants": [100_000, 1_000_000],
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
    their peak memory is the step's own (plus the loaded tables)."""
    from churn_causal.causal.dynamics import TouchpointDynamics
    from churn_causal.data.load import load
    from churn_causal.design.cohort import build_cohort
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
        out["rows"] = len(sim.health)
    elif step == "load":
        out["rows"] = len(load(data_dir).health)  # read Parquet, validate, type
        out["seconds"] = time.perf_counter() - t0
    else:
        data = load(data_dir)
        t0 = time.perf_counter()
        if step == "cohort":
            out["rows"] = len(build_cohort(data, "support"))
        elif step.startswith("dynamics"):
            dyn = TouchpointDynamics(ANALYSED[step], n_boot=200).fit(data)
            out["rows"] = dyn.event_study_["pairs"]
        else:
            out["rows"] = len(TouchpointAnalysis(ANALYSED[step], n_boot=200).fit(data).cohort_)
        out["seconds"] = time.perf_counter() - t0
    out["seconds"] = round(out["seconds"], 2)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return out


def _spawn(step: str, customers: int, data_dir: str) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "churn_causal.grading.bench",
            "--one",
            step,
            str(customers),
            data_dir,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", default=",".join(STEPS))
    p.add_argument("--sizes", help="comma-separated customer counts for every step")
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
    results: dict[str, list[dict]] = {s: [] for s in steps}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted({n for sizes in plan.values() for n in sizes}):
            data_dir = f"{tmp}/{n}"
            tables = ("simulate", "match", "match_variants")  # steps that make their own data
            needs_data = any(n in plan[s] for s in steps if s not in tables)
            for step in ("simulate", *[s for s in steps if s != "simulate"]):
                wanted = n in plan.get(step, [])
                if wanted or (step == "simulate" and needs_data):
                    r = _spawn(step, n, data_dir)
                    if step in plan and n in plan[step]:
                        results[step].append(r)
    print(f"{'step':<10} {'customers':>10} {'seconds':>9} {'peak MB':>8} {'rows':>11}  growth")
    for step in steps:
        for prev, r in zip([None, *results[step]], results[step], strict=False):
            growth = ""
            if prev:
                k = math.log(r["seconds"] / prev["seconds"]) / math.log(
                    r["customers"] / prev["customers"]
                )
                growth = f"time ~ n^{k:.2f}"
            extra = f"  (+{r['write_seconds']} s to write Parquet)" if "write_seconds" in r else ""
            if "dowhy_seconds" in r:
                extra = (
                    f"  ATT {r['ours_att']:+.4f}, {100 * r['matched_fraction']:.1f}% matched;"
                    f" DoWhy propensity_score_matching {r['dowhy_seconds']} s, ATT "
                    f"{r['dowhy_att']:+.4f}: {r['dowhy_seconds'] / r['ours_seconds']:.0f}x"
                    " slower"
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
