"""The simulated health readings, kept compactly and written to Parquet in chunks of customers.

At a million customers the health table has about 78M rows; as a float64 DataFrame (and again as
its Arrow copy) it would be most of the simulator's memory. ``HealthRecords`` keeps each week's
readings as the rows read (int32, ascending) and the score and pillars in int16 tenths of a point,
12 bytes a reading, and builds the table's frame for a range of customers only when asked.

The tenths are exact: the table rounds to one decimal with ``np.round(v, 1)``, which numpy
computes as ``rint(v * 10) / 10``, so ``tenths / 10`` is the same float64 bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn_causal.data.files import PARQUET_TIMESTAMPS
from churn_causal.design.trials import WEEK_DAYS
from churn_causal.sim.world import PILLARS

# Health rows written at a time by default: about one Parquet row group, some 50 MB of frame.
WRITE_CHUNK_ROWS = 1_000_000


def customer_ids(n: int) -> np.ndarray:
    return np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7))


class HealthRecords:
    """Each week's health readings: who was read, and score and pillars in tenths of a point."""

    def __init__(self, start_day: np.ndarray, first: np.datetime64) -> None:
        self.start_day = start_day  # tenure day 0 of each customer, in days after ``first``
        self.first = first
        self.ids = pd.Index(customer_ids(len(start_day)))
        self.weeks: list[int] = []
        self.rows: list[np.ndarray] = []  # ascending customer rows read in the week
        self.tenths: list[np.ndarray] = []  # (rows, 4): score, then PILLARS

    def add(self, week: int, rows: np.ndarray, score: np.ndarray, pillars: np.ndarray) -> None:
        """Record tenure week ``week`` of the customers ``rows`` (ascending).

        The table holds float32 readings rounded to one decimal: kept here as tenths of a point."""
        values = np.column_stack([score, pillars]).astype(np.float32).astype(np.float64)
        self.weeks.append(week)
        self.rows.append(rows.astype(np.int32))
        self.tenths.append(np.rint(values * 10).astype(np.int16))

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows)

    def frame(self, lo: int = 0, hi: int | None = None) -> pd.DataFrame:
        """The health table of customers ``[lo, hi)`` (all by default), by customer then date;
        ``customer_id`` is categorical over the ids of those customers."""
        hi = len(self.start_day) if hi is None else min(hi, len(self.start_day))
        cut = [np.searchsorted(r, [lo, hi]) for r in self.rows]
        rows = np.concatenate([r[a:b] for r, (a, b) in zip(self.rows, cut, strict=True)])
        weeks = np.concatenate(
            [np.full(b - a, w, dtype=np.int32) for w, (a, b) in zip(self.weeks, cut, strict=True)]
        )
        tenths = np.concatenate([t[a:b] for t, (a, b) in zip(self.tenths, cut, strict=True)])
        # Weeks are added in order, so a stable sort by customer puts each one's weeks in order.
        order = np.argsort(rows, kind="stable")
        rows, weeks, tenths = rows[order], weeks[order], tenths[order]
        day = self.start_day[rows] + WEEK_DAYS * weeks
        df = pd.DataFrame(
            {
                "customer_id": pd.Categorical.from_codes(rows - lo, categories=self.ids[lo:hi]),
                "date": pd.to_datetime(self.first + day.astype("timedelta64[D]")),
            }
        )
        for j, name in enumerate(("score", *PILLARS)):
            df[name] = tenths[:, j] / 10
        return df

    def write(self, path: str | Path, chunk_customers: int | None = None) -> None:
        """Write the table as Parquet, ``chunk_customers`` customers at a time (by default about
        ``WRITE_CHUNK_ROWS`` rows), so it is never held whole; it reads back as ``frame()`` would.

        Each chunk's ``customer_id`` holds the dictionary of its own customers' ids: pandas reads
        the chunks back as one categorical over every id, in order, as if written at once."""
        n = len(self.start_day)
        chunk_customers = chunk_customers or max(1, n * WRITE_CHUNK_ROWS // max(1, len(self)))
        whole = self.frame(0, 0)
        whole["customer_id"] = pd.Categorical([], categories=self.ids)
        schema = pa.Schema.from_pandas(whole, preserve_index=False)  # as if written at once
        with pq.ParquetWriter(path, schema, coerce_timestamps=PARQUET_TIMESTAMPS) as writer:
            for lo in range(0, n, chunk_customers):
                chunk = self.frame(lo, lo + chunk_customers)
                writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
