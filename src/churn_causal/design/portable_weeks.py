"""The person-weeks of the time-varying analyses (programme value, what-if scenarios, the MSM)
written once as Ibis expressions, run on DuckDB or Spark: ``person_weeks``'s rows, row for row.

Which weeks each customer contributes is per-customer arithmetic (``WeekSpans``), done on the
driver for any number of customers; the engine makes the weeks, looks up the score at each
week's start and ``FALL_WEEKS`` before it (``engines.as_of``), marks the touched weeks, and
finds the latest touched week before each week with a running maximum over the customer's
weeks and touches in one ordered window (no join of every week with every earlier touch).
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

from churn_causal.data.contract import CSData
from churn_causal.design.engines import (
    MEMORY,
    as_of,
    connect,
    fetch,
    tables,
    tenure_days,
    touch_days,
)
from churn_causal.design.person_weeks import (
    FALL_WEEKS,
    MAX_WEEK,
    PersonWeeks,
    WeekSpans,
    exposure_codes,
    person_weeks,
)
from churn_causal.design.trials import WEEK_DAYS


def person_weeks_on(
    engine: str, data: CSData, touchpoint: str, weeks: int | None = None
) -> PersonWeeks:
    """``person_weeks`` on ``engine``: in this process (``memory``), or on DuckDB or Spark,
    the same rows either way."""
    if engine == MEMORY:
        return person_weeks(data, touchpoint, weeks)
    return PortablePersonWeeks(connect(engine), touchpoint).build(data, weeks)


class PortablePersonWeeks:
    """``person_weeks`` for ``touchpoint`` on an Ibis backend ``con``: ``build`` returns them
    as ``PersonWeeks``. The data's customers must be in key order (as ``data.load`` gives
    them) when the engine reads its files in place."""

    def __init__(self, con: Any, touchpoint: str) -> None:
        self.con, self.touchpoint = con, touchpoint

    def build(self, data: CSData, weeks: int | None = None) -> PersonWeeks:
        """The person-weeks of ``person_weeks(data, touchpoint, weeks)``, built on the
        engine from ``data``'s files (or its tables, handed over)."""
        spans = WeekSpans.of(data, weeks)
        t = tables(self.con, data)
        grid = self._grid(spans)
        health = tenure_days(t["customers"], t["health"])
        keys = ["row", "week"]
        score = as_of(grid, keys, health, grid.at, ["score"])
        past = as_of(grid, keys, health, ibis.greatest(grid.at - FALL_WEEKS * WEEK_DAYS, 0),
                     ["score"]).rename(past="score")  # fmt: skip
        touched = self._touched(t)
        out = grid.left_join(score, keys).left_join(past, keys)
        out = out.left_join(touched.select(*keys, hit=ibis.literal(1, "int64")), keys)
        out = out.left_join(self._latest_touch(grid, touched), keys)
        out = out.select(*keys, "score", "past", "latest", touched=out.hit.notnull())  # noqa: PD004 (Ibis)
        rows = fetch(self.con, out.order_by(keys))
        week = rows["week"].to_numpy(dtype=np.int64)
        latest = rows["latest"].to_numpy(dtype=float)
        since = np.where(np.isnan(latest), 0, week - np.nan_to_num(latest)).astype(np.int64)
        counts = self.con.execute(touched.aggregate(keys=touched.count(), events=touched.n.sum()))
        n_keys, n_events = (int(v) if pd.notna(v) else 0 for v in counts.iloc[0])
        return spans.person_weeks(
            self.touchpoint,
            rows["row"].to_numpy(dtype=np.int32),
            week.astype(np.int32),
            rows["score"].to_numpy(dtype=float),
            rows["past"].to_numpy(dtype=float),
            rows["touched"].to_numpy(dtype=bool),
            exposure_codes(since),
            n_events / n_keys if n_keys else 1.0,
        )

    def _grid(self, spans: WeekSpans) -> ibis.Table:
        """Every person-week (``row``, ``week``) with its start in tenure days (``at``): the
        customers' spans handed over, the weeks made by the engine."""
        frame = pd.DataFrame(
            {"row": np.arange(len(spans.first)), "first": spans.first, "last": spans.last}
        )
        s = ibis.memtable(frame.astype(np.int64))
        w = ibis.memtable(pd.DataFrame({"week": np.arange(int(spans.last.max(initial=0)))}))
        grid = s.join(w, [w.week >= s["first"], w.week < s["last"]])
        return grid.select("row", "week", at=grid.week * WEEK_DAYS)

    def _touched(self, t: dict[str, ibis.Table]) -> ibis.Table:
        """The touched (``row``, ``week``) of the touchpoint, each with its number of events
        ``n`` (a week outside ``[0, MAX_WEEK]`` left out, as in memory)."""
        events = touch_days(t["customers"], t["touches"], [self.touchpoint])
        events = events.mutate(week=events.day // WEEK_DAYS).filter(_.week <= MAX_WEEK)
        return events.group_by(["row", "week"]).aggregate(n=events.count())

    def _latest_touch(self, grid: ibis.Table, touched: ibis.Table) -> ibis.Table:
        """Per person-week, the latest touched week strictly before it (null when none): a
        running maximum over the customer's weeks and touched weeks, a touch ordered after
        the week it falls in."""
        weeks = grid.select("row", "week", touch=ibis.literal(0, "int64"))
        touches = touched.select("row", "week", touch=ibis.literal(1, "int64"))
        both = weeks.union(touches, distinct=False)
        window = ibis.cumulative_window(group_by=both.row, order_by=[both.week, both.touch])
        latest = (both.touch == 1).ifelse(both.week, None).max().over(window)
        ranked = both.mutate(latest=latest)
        return ranked.filter(ranked.touch == 0).select("row", "week", "latest")
