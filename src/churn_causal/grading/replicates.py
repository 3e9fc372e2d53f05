"""Replications over seeds, one process per core, with their progress."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed

import pandas as pd
from threadpoolctl import threadpool_limits

from churn_causal.parallel import threads
from churn_causal.progress import advance, progress, quiet


def over_seeds(fn, replications: int, first_seed: int, args: tuple, workers: int | None):
    """``fn(seed, *args)`` rows for each seed, one process per core."""
    seeds = range(first_seed, first_seed + replications)
    workers = workers or min(os.cpu_count() or 1, replications)
    rows: dict[int, list] = {}
    with progress("replicates", replications):
        if workers == 1:
            for s in seeds:
                rows[s] = fn(s, *args)
                advance(f"seed {s}")
        else:
            share = max(1, threads() // workers)  # the cores shared among the processes
            with ProcessPoolExecutor(workers, initializer=_worker, initargs=(share,)) as pool:
                futures = {pool.submit(fn, s, *args): s for s in seeds}
                for future in as_completed(futures):
                    rows[futures[future]] = future.result()
                    advance(f"seed {futures[future]} done")
    return pd.DataFrame([r for s in seeds for r in rows[s]])


def _worker(n_threads: int) -> None:
    """A replicate process: quiet, on its share of the cores, OpenMP's (the gradient-boosted
    trees') included: processes whose threads outnumber the cores wait on each other."""
    for name in ("CHURN_CAUSAL_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(n_threads)
    threadpool_limits(n_threads, user_api="openmp")  # runtimes already loaded before the fork
    quiet()
