"""The target-trial cohort written once, as Ibis expressions, run where the data lives: DuckDB
(embedded, the default) or Apache Spark (local mode, or a cluster by configuration).

The definition is ``cohort.build_cohort``'s, clause for clause (its docstring has the design):
eligibility and time zero per customer and trial, treatment inside the window, baseline health
as of the window's first day (the latest reading within ``STALE_HEALTH_DAYS``), its change over
30 days and least-squares trend over 90, events of each touchpoint before the window and days
since the latest, the outcome and its censoring. The engine does the joins and aggregates; the
untreated rows are risk-set sampled between the two steps on the driver with the same draws as
``sampling.risk_set_sample``, so every engine keeps the same rows as the in-memory build.

The tables are read where they lie or handed over (``engines.tables``); as-of look-ups are
range joins reduced by an arg-max aggregate (``engines.as_of``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from churn_causal.data.contract import CSData
from churn_causal.design.cohort import (
    CUSTOMER_CATEGORICALS,
    HEALTH_COLUMNS,
    NO_CHURN,
    ONBOARDING_DAYS,
    RECENCY_CAP_DAYS,
    SCORE_UNITS,
    build_cohort,
    outcome,
    trend_slope,
)
from churn_causal.design.engines import (
    MEMORY,
    as_of,
    connect,
    day,
    facts,
    fetch,
    tables,
    tenure_days,
    touch_days,
)
from churn_causal.design.sampling import SAMPLING_WEIGHT, risk_set_sample
from churn_causal.design.trials import MONTH_DAYS, PERIOD_DAYS, TrialDesign

TREND_SUMS = ("trend_n", "trend_t", "trend_y", "trend_ty", "trend_tt")  # of trend_moments


def cohort_on(
    engine: str,
    data: CSData,
    touchpoint: str,
    design: TrialDesign | None = None,
    controls_per_treated: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """``build_cohort`` on ``engine``: in this process (``memory``), or on DuckDB or Spark,
    the same rows either way."""
    if engine == MEMORY:
        return build_cohort(data, touchpoint, design, None, controls_per_treated, seed)
    return PortableCohort(connect(engine), touchpoint, design).build(
        data, controls_per_treated, seed
    )


class PortableCohort:
    """``build_cohort`` for ``touchpoint`` under ``design`` on an Ibis backend ``con``:
    ``build`` returns the cohort as pandas."""

    def __init__(self, con: Any, touchpoint: str, design: TrialDesign | None = None) -> None:
        self.con, self.touchpoint = con, touchpoint
        self.design = design or TrialDesign()

    # ------------------------------------------------------------------ the cohort
    def build(
        self,
        source: CSData | str | Path,
        controls_per_treated: float | None = None,
        seed: int = 0,
    ) -> pd.DataFrame:
        """The cohort of ``build_cohort(data, touchpoint, design, None, controls_per_treated,
        seed)``, row for row, built on the engine from ``source`` (see ``tables``)."""
        t = tables(self.con, source)
        touchpoints, end = facts(self.con, t)
        if self.touchpoint not in touchpoints:
            raise ValueError(
                f"touchpoint '{self.touchpoint}' has no events; the data has {touchpoints}"
            )
        customers = self._customers(t["customers"], end)
        touches = touch_days(t["customers"], t["touches"], touchpoints)
        at_risk, counts = self._at_risk(customers, touches)
        eligible, churned_in_window = (
            int(v) if pd.notna(v) else 0 for v in self.con.execute(counts).iloc[0]
        )
        chosen, weight, sampling = at_risk, None, {}
        if controls_per_treated:
            # The driver holds three numbers per customer-trial for the draws, no more; the
            # chosen rows go back, and their windows and treatment are looked up again.
            keys = fetch(
                self.con, at_risk.select("row", "trial", "treated").order_by(["row", "trial"])
            )
            treated = keys["treated"].to_numpy(dtype=bool)
            if treated.any():
                keep, weight, summary = risk_set_sample(
                    keys["trial"].to_numpy(), treated, controls_per_treated, seed
                )
                kept = ibis.memtable(keys.loc[keep, ["row", "trial"]].reset_index(drop=True))
                chosen = self._treatment(self._windows(kept, customers), touches)
                sampling = {"sampling": summary}
        health = tenure_days(t["customers"], t["health"])
        out = fetch(
            self.con,
            self._covariates(chosen, customers, health, touches, touchpoints).order_by(
                ["row", "trial"]
            ),
        )
        return self._finish(out, weight, touchpoints, sampling, end, eligible, churned_in_window)

    def _customers(self, customers: ibis.Table, end: int) -> ibis.Table:
        """Tenure days of churn (far away when none) and of the end of data."""
        start = day(customers.start_date)
        churn = customers.churn_date.isnull().ifelse(  # noqa: PD003 (Ibis, not pandas)
            ibis.literal(NO_CHURN), day(customers.churn_date) - start
        )
        return customers.mutate(start_day=start, churn_day=churn, censor_day=end - start)

    def _trials(self) -> ibis.Table:
        d = self.design
        windows = [d.window_days(int(k)) for k in d.trials]
        frame = pd.DataFrame(
            {
                "trial": d.trials.astype(np.int64),
                "ws": [w[0] for w in windows],
                "we": [w[1] for w in windows],
            }
        )
        return ibis.memtable(frame)

    def _windows(self, keys: ibis.Table, customers: ibis.Table) -> ibis.Table:
        """Customer-trials ``keys`` (``row``, ``trial``) with the window's first and end day
        and the customer's tenure days of churn and censoring."""
        days = customers.select("row", "churn_day", "censor_day")
        return keys.join(self._trials(), "trial").join(days, "row")

    def _treatment(self, windows: ibis.Table, touches: ibis.Table) -> ibis.Table:
        """``windows`` with the day of the first event of the touchpoint inside the window
        (``event_day``, null when none) and ``treated``."""
        focal = touches.filter(touches.touchpoint == self.touchpoint)
        w = windows.select("row", "trial", "ws", "we")
        hits = w.join(focal, [w.row == focal.row, focal.day >= w.ws, focal.day < w.we])
        first = hits.group_by(["row", "trial"]).aggregate(event_day=hits.day.min())
        out = windows.left_join(first, ["row", "trial"])
        return out.mutate(treated=out.event_day.notnull())  # noqa: PD004 (Ibis)

    def _at_risk(self, customers: ibis.Table, touches: ibis.Table) -> tuple[ibis.Table, ibis.Table]:
        """Customer-trials at risk at time zero, treated or not; and the counts of eligible
        ones and of those lost inside the window. Risk-set draws need only their keys and
        whether treated: the chosen ones' windows and treatment are looked up again
        (``_treatment``), which no backend needs a stored table for."""
        grid = customers.select("row").cross_join(self._trials().select("trial"))
        grid = self._windows(grid, customers)
        eligible = grid.filter((grid.churn_day > grid.ws) & (grid.we <= grid.censor_day))
        lost = (eligible.churn_day <= eligible.we).cast("int64").sum()
        counts = eligible.aggregate(eligible=eligible.count(), lost=lost)
        at_risk = eligible.filter(eligible.churn_day > eligible.we)
        return self._treatment(at_risk, touches), counts

    def _covariates(
        self,
        rows: ibis.Table,
        customers: ibis.Table,
        health: ibis.Table,
        touches: ibis.Table,
        touchpoints: list[str],
    ) -> ibis.Table:
        """The baseline of each chosen customer-trial: health as of the window's first day,
        its change and trend, the profile, and the history of every touchpoint."""
        c = customers.select("row", "customer_id", "seats", "mrr", *CUSTOMER_CATEGORICALS)
        keys = ["row", "trial"]
        now = as_of(rows, keys, health, rows.ws, list(HEALTH_COLUMNS))
        before = as_of(rows, keys, health, ibis.greatest(rows.ws - 30, 0), ["score"])
        before = before.rename(score_30d_ago="score")
        out = rows.left_join(now, ["row", "trial"]).left_join(before, ["row", "trial"])
        out = out.left_join(self._trend(rows, health), ["row", "trial"])
        out = out.left_join(self._history(rows, touches, touchpoints), ["row", "trial"])
        out = out.left_join(c, "row")
        columns = {
            "score_change_30d": out.score - out.score_30d_ago,
            **{m: out[m].fill_null(0) for m in TREND_SUMS},
            "phase": (out.ws < ONBOARDING_DAYS).ifelse("onboarding", "adoption"),
        }
        for tp in touchpoints:
            columns[f"prior_{tp}"] = out[f"prior_{tp}"].fill_null(0)
            since = out.ws - out[f"last_{tp}"]
            columns[f"days_since_{tp}"] = ibis.least(since.fill_null(RECENCY_CAP_DAYS),
                                                     RECENCY_CAP_DAYS).cast("float64")  # fmt: skip
        keep = ["row", "trial", "customer_id", "treated", "event_day", "we", "churn_day",
                "censor_day", "seats", "mrr", *HEALTH_COLUMNS, *CUSTOMER_CATEGORICALS]  # fmt: skip
        return out.select(*keep, **columns)

    def _trend(self, rows: ibis.Table, health: ibis.Table) -> ibis.Table:
        """The exact sums of ``cohort.trend_moments`` over the readings of the 90 days before
        the window's first day, (ws - 90, ws]: the slope follows from them on the driver, to
        the last bit as in memory (a sum of floats would depend on the engine's order)."""
        r = rows.select("row", "trial", "ws")
        j = r.join(health, [r.row == health.row, health.day <= r.ws, health.day > r.ws - 90])
        t, y = j.day, (j.score * SCORE_UNITS + 0.5).floor().cast("int64")
        terms = (t.count(), t.sum(), y.sum(), (t * y).sum(), (t * t).sum())
        sums = {m: v.cast("int64") for m, v in zip(TREND_SUMS, terms, strict=True)}
        return j.group_by(["row", "trial"]).aggregate(**sums)

    def _history(self, rows: ibis.Table, touches: ibis.Table, touchpoints: list[str]):
        """Per customer-trial and touchpoint: events before the window and the latest's day."""
        r = rows.select("row", "trial", "ws")
        j = r.join(touches, [r.row == touches.row, touches.day < r.ws])
        return j.group_by(["row", "trial"]).aggregate(
            **{f"prior_{tp}": (j.touchpoint == tp).cast("int64").sum() for tp in touchpoints},
            **{f"last_{tp}": (j.touchpoint == tp).ifelse(j.day, None).max() for tp in touchpoints},
        )

    def _finish(
        self,
        out: pd.DataFrame,
        weight: np.ndarray | None,
        touchpoints: list[str],
        sampling: dict[str, Any],
        end: int,
        eligible: int,
        churned_in_window: int,
    ) -> pd.DataFrame:
        """The outcome, the column order and types of the in-memory build, and its attrs.
        Each column leaves ``out`` as it enters the cohort, so the rows are held about once."""
        d = self.design

        def take(column: str, dtype: Any = float) -> np.ndarray:
            return out.pop(column).to_numpy(dtype=dtype)

        days = [take(c, np.int64) for c in ("churn_day", "censor_day", "we")]
        columns = {
            "trial": take("trial", np.int64),
            "customer_id": take("customer_id", object),
            "treated": take("treated", bool),
            "event_day": take("event_day"),
        }
        for column in (*HEALTH_COLUMNS, "score_change_30d"):
            columns[column] = take(column)
        columns["score_slope_90d"] = trend_slope(*(take(m, np.int64) for m in TREND_SUMS))
        columns["tenure_months"] = (columns["trial"] - 1) * PERIOD_DAYS[d.unit] / MONTH_DAYS
        columns["phase"] = take("phase", object)
        for column in CUSTOMER_CATEGORICALS:
            columns[column] = take(column, object)
        columns["log_seats"] = np.log(take("seats"))
        columns["log_mrr"] = np.log1p(take("mrr"))
        for tp in touchpoints:
            columns[f"prior_{tp}"] = take(f"prior_{tp}", np.int64)
            columns[f"days_since_{tp}"] = take(f"days_since_{tp}")
        columns |= outcome(*days, d.horizon_days)
        del days
        cohort = pd.DataFrame(columns, copy=False)
        cohort[SAMPLING_WEIGHT] = weight if sampling else 1.0
        cohort.attrs.update(
            **sampling,
            touchpoint=self.touchpoint,
            design=d.to_dict(),
            data_end=str(pd.Timestamp(end, unit="D").date()),
            touchpoints=touchpoints,
            eligible=eligible,
            churned_in_window=churned_in_window,
        )
        return cohort
