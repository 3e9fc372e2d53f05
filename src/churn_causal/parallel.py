"""Blocks of rows and independent tasks on every core: threads for numpy work that releases
the GIL.

The analysis is one Python process, and most of its time is numpy and BLAS on millions of
rows, one core at a time (the BLAS products of a logistic fit are too small to split well:
two BLAS threads made them slower). Cut into blocks of rows (``map_blocks``), or into tasks
that share nothing (``map_tasks``: the estimates within each tier), and run on a thread per
core, they take about half the time on two cores. Each block or task is computed exactly as
it would be alone, and the callers combine the results in their order, so the numbers are
the same to the bit whatever the number of threads.

Blocks and tasks have thread pools of their own, so that a task can cut its work into blocks;
a task started inside a task, or a block inside a block, runs in the calling thread.

``CHURN_CAUSAL_THREADS`` sets the number of threads per pool (default: the cores this process
may use); 1 runs everything in the calling thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

A = TypeVar("A")
M_ARENA_MAX = -8  # glibc's mallopt parameter
T = TypeVar("T")


def threads() -> int:
    """The threads to use: ``CHURN_CAUSAL_THREADS``, or the cores this process may run on."""
    setting = os.environ.get("CHURN_CAUSAL_THREADS", "").strip()
    if setting:
        try:
            return max(1, int(setting))
        except ValueError:
            raise ValueError(
                f"CHURN_CAUSAL_THREADS={setting!r} is not a whole number of threads; "
                "set it to e.g. 2, or leave it unset to use every core"
            ) from None
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@cache
def _pool(kind: str, n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(n, thread_name_prefix=f"churn-causal-{kind}")


_inside = threading.local()  # the pools whose worker the current thread is
# A forked child (the gradings' process pool) has none of its parent's worker threads: it
# makes pools of its own instead of waiting forever on the parent's. (Windows does not fork.)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.cache_clear)


def _one_malloc_arena() -> None:
    """Let every thread allocate from the process's one malloc arena (glibc; set on import,
    before any thread of ours or of the readers allocates): by default each thread gets an
    arena of its own, whose freed blocks no other thread reuses, and the weekly analysis of 20k
    customers peaked 84 MB higher on two threads than on one (with one arena, as on one
    thread; measured). Elsewhere (no glibc) nothing is changed."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):
        pass


def _map(kind: str, function: Callable[[A], T], items: Iterable[A]) -> list[T]:
    """``function`` of each item, in the items' order, on the ``kind`` pool's threads."""
    items = list(items)
    n = threads()
    if n <= 1 or len(items) <= 1 or getattr(_inside, kind, False):
        return [function(item) for item in items]

    def run(item: A) -> T:
        setattr(_inside, kind, True)  # this thread is the pool's for good
        return function(item)

    return list(_pool(kind, n).map(run, items))


def map_tasks(function: Callable[[A], T], items: Iterable[A]) -> list[T]:
    """``function`` of each item (tasks that share nothing they change), in the items' order."""
    return _map("tasks", function, items)


def map_blocks(function: Callable[[slice], T], n_rows: int, block_rows: int) -> list[T]:
    """``function`` of each block of ``block_rows`` rows of ``n_rows``, in the blocks' order."""
    blocks = [slice(s, s + block_rows) for s in range(0, n_rows, block_rows)]
    return _map("blocks", function, blocks)


_one_malloc_arena()
