"""Replications over seeds, one process per core."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pandas as pd


def over_seeds(fn, replications: int, first_seed: int, args: tuple, workers: int | None):
    """``fn(seed, *args)`` rows for each seed, one process per core."""
    seeds = range(first_seed, first_seed + replications)
    workers = workers or min(os.cpu_count() or 1, replications)
    if workers == 1:
        return pd.DataFrame([r for s in seeds for r in fn(s, *args)])
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(fn, s, *args) for s in seeds]
        return pd.DataFrame([r for f in futures for r in f.result()])
