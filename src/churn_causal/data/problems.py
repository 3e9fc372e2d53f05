"""What is wrong with the input, said so that a user can fix it: file, column, rows, advice.

Reading, validation and the estimators' own checks all report through ``Problem``; whoever
finds problems collects them all and raises one ``DataError`` (the command line prints each
problem on a line of its own and exits 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

N_EXAMPLES = 3


@dataclass
class Problem:
    level: str  # "error" or "warning"
    code: str  # stable, for scripts and tests
    origin: str  # the file (or "<database>:<table>") the problem is in
    column: str | None
    message: str
    hint: str  # what to do about it
    count: int = 0
    examples: list[tuple[int, object]] = field(default_factory=list)  # (row, value), 0-based
    params: dict[str, object] = field(default_factory=dict)  # what a report's wording fills in

    def __str__(self) -> str:
        where = self.origin + (f", column '{self.column}'" if self.column else "")
        shown = ", ".join(
            f"row {r + 1}: {v!r}" if v is not None else f"row {r + 1}" for r, v in self.examples
        )
        rows = "row" if self.count == 1 else "rows"
        shown = f"; {shown}" if shown else ""
        count = f" ({self.count} {rows}{shown})" if self.count else ""
        return f"{self.level.upper()} [{self.code}] {where}: {self.message}{count}. {self.hint}"


def error(code: str, origin: str, message: str, hint: str, column: str | None = None) -> Problem:
    """A problem without row examples (a whole file or table)."""
    return Problem("error", code, origin, column, message, hint)


def flagged(mask, values: pd.Series | None = None) -> tuple[int, list]:
    """Count of True rows and the first few (position, value) pairs."""
    pos = np.flatnonzero(np.asarray(mask))
    vals = None if values is None else values.to_numpy()
    return len(pos), [(int(i), None if vals is None else plain(vals[i])) for i in pos[:N_EXAMPLES]]


def plain(value: object) -> object:
    """A value as a reader would write it (dates without a time, numpy scalars as Python)."""
    if isinstance(value, pd.Timestamp | np.datetime64):
        return str(pd.Timestamp(value).date())
    return value.item() if isinstance(value, np.generic) else value


class DataError(Exception):
    """The input cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
