"""Progress of the long steps: a bar on a terminal, plain log lines without one (cron, CI).

A long step opens ``progress`` around its loop and reports each pass with ``advance``. Steps
nest (a grading's seeds, each seed's simulation): on a terminal each level is its own bar,
without one each level logs a line at most every ``LOG_EVERY_SECONDS`` on the
``churn_causal`` logger, which the command line shows at INFO and a notebook keeps quiet.
Worker processes of a grading stay silent (``quiet``). Nothing here imports the rest of the
package: every step may use it.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm import tqdm

log = logging.getLogger("churn_causal")
LOG_EVERY_SECONDS = 10.0
T = TypeVar("T")

_open: contextvars.ContextVar[tuple[_Progress, ...]] = contextvars.ContextVar(
    "churn_causal_progress", default=()
)
_silent = False


class _Progress:
    def __init__(self, desc: str, total: int | None, depth: int) -> None:
        self.desc, self.total, self.done = desc, total, 0
        self.bar = (
            tqdm(total=total, desc=desc, position=depth, leave=depth == 0)
            if sys.stderr.isatty()
            else None
        )
        self.started = time.perf_counter()
        self.logged = 0.0

    def advance(self, label: str, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(n)
            return
        now = time.perf_counter() - self.started
        if now - self.logged >= LOG_EVERY_SECONDS or self.done == self.total:
            of = f"/{self.total}" if self.total else ""
            said = f"{label} " if label else ""
            log.info("%s: %s(%d%s, %.0f s)", self.desc, said, self.done, of, now)
            self.logged = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.logged and self.total is None:  # a long step of no known length ends
            log.info("%s: done in %.0f s", self.desc, time.perf_counter() - self.started)


@contextmanager
def progress(desc: str, total: int | None = None) -> Iterator[None]:
    """Show the progress of the passes ``advance`` reports while the block runs."""
    if _silent:
        yield
        return
    opened = _open.get()
    p = _Progress(desc, total, len(opened))
    token = _open.set((*opened, p))
    try:
        yield
    finally:
        _open.reset(token)
        p.close()


def advance(label: str, n: int = 1) -> None:
    """``n`` more passes of the innermost step done (the latest: ``label``)."""
    opened = _open.get()
    if opened and not _silent:
        opened[-1].advance(label, n)


def show(verbose: bool = False) -> None:
    """Set a command's logging: its progress as plain lines without a terminal (cron, CI) or
    when ``verbose``; on a terminal the bars say it."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")
    chatty = verbose or not sys.stderr.isatty()
    log.setLevel(logging.INFO if chatty else logging.WARNING)


def quiet() -> None:
    """Show nothing from this process (a worker whose parent shows the progress)."""
    global _silent
    _silent = True


def tracked(items: Collection[T], desc: str) -> Iterator[T]:
    """Each of ``items`` in turn, as the passes of a step called ``desc``."""
    with progress(desc, len(items)):
        for item in items:
            yield item
            advance("")
