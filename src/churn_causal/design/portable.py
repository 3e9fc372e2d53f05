"""The target-trial cohort written once, as Ibis expressions, run where the data lives: DuckDB
(embedded, the default) or Apache Spark (local mode, or a cluster by configuration).

The definition is ``cohort.build_cohort``'s, clause for clause (its docstring has the design):
eligibility and time zero per customer and trial, treatment inside the window, baseline health
as of the window's first day (the latest reading within ``STALE_HEALTH_DAYS``), its change over
30 days and least-squares trend over 90, events of each touchpoint before the window and days
since the latest, the outcome and its censoring. The engine does the joins and aggregates; the
untreated rows are risk-set sampled between the two steps on the driver with the same draws as
``sampling.risk_set_sample``, so every engine keeps the same rows as the in-memory build.

As-of look-ups are range joins ranked by a window function, which every backend of Ibis runs
(an as-of join is not one of them).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

from churn_causal import parallel
from churn_causal.data.contract import CSData
from churn_causal.design.cohort import (
    CUSTOMER_CATEGORICALS,
    HEALTH_COLUMNS,
    NO_CHURN,
    ONBOARDING_DAYS,
    RECENCY_CAP_DAYS,
    STALE_HEALTH_DAYS,
    build_cohort,
    outcome,
)
from churn_causal.design.sampling import SAMPLING_WEIGHT, risk_set_sample
from churn_causal.design.trials import MONTH_DAYS, PERIOD_DAYS, TrialDesign

MEMORY = "memory"  # numpy and pandas in this process (``cohort.build_cohort``)
ENGINES = (MEMORY, "duckdb", "spark")
SECONDS_A_DAY = 86_400
SPARK_MEMORY = "6g"  # the local driver's heap, unless SPARK_DRIVER_MEMORY says otherwise


@cache
def connect(engine: str) -> Any:
    """The Ibis backend of ``engine``, one per process: DuckDB in memory, or Spark in local
    mode on this process's share of the cores (``SPARK_REMOTE`` or ``spark.master`` in
    Spark's own configuration point it at a cluster instead)."""
    if engine == "duckdb":
        return ibis.duckdb.connect(threads=parallel.threads())
    if engine == "spark":
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master(f"local[{parallel.threads()}]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # local mode runs in the driver's JVM: its heap (Spark's 1 GB default is too small
            # for 20,000 customers' health readings); SPARK_DRIVER_MEMORY sets another
            .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", SPARK_MEMORY))
            # tables handed over from pandas go by Arrow, not row by row through Python
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        return ibis.pyspark.connect(spark)
    check_engine(engine)  # an unknown engine says which there are
    raise ValueError("the memory engine builds cohorts in this process: nothing to connect to")


def check_engine(engine: str) -> str:
    """``engine`` if it is one this product builds cohorts on."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine


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


def _day(column: ibis.Value) -> ibis.Value:
    """Whole days since the epoch of a date or timestamp."""
    return (column.cast("timestamp").epoch_seconds() // SECONDS_A_DAY).cast("int64")


class PortableCohort:
    """``build_cohort`` for ``touchpoint`` under ``design`` on an Ibis backend ``con``:
    ``tables`` puts a data set's tables on it, ``build`` returns the cohort as pandas."""

    def __init__(self, con: Any, touchpoint: str, design: TrialDesign | None = None) -> None:
        self.con, self.touchpoint = con, touchpoint
        self.design = design or TrialDesign()

    # ------------------------------------------------------------------ the data on the engine
    def tables(self, data: CSData) -> dict[str, ibis.Table]:
        """The customers (with their row, the in-memory build's order), health readings (with
        theirs: the last of two on a day wins) and touches, as tables of the engine."""
        cust = data.customers.reset_index(drop=True)
        customers = cust[["customer_id", "start_date", "churn_date", *CUSTOMER_CATEGORICALS]]
        customers = customers.assign(
            row=np.arange(len(cust)),
            seats=cust["seats"].astype(float),
            mrr=cust["mrr"].astype(float),
            tier=cust["tier"].astype(str),
            contract_type=cust["contract_type"].astype(str),
            customer_id=cust["customer_id"].astype(str),
        )
        health = data.health[["customer_id", "date", *HEALTH_COLUMNS]].reset_index(drop=True)
        health = health.assign(
            customer_id=health["customer_id"].astype(str),
            reading=np.arange(len(health)),
            **{c: health[c].astype(float) for c in HEALTH_COLUMNS},
        )
        touches = data.touches[["customer_id", "date", "touchpoint"]].assign(
            customer_id=lambda d: d["customer_id"].astype(str),
            touchpoint=lambda d: d["touchpoint"].astype(str),
        )
        return {
            name: ibis.memtable(frame)
            for name, frame in (("customers", customers), ("health", health), ("touches", touches))
        }

    # ------------------------------------------------------------------ the cohort
    def build(
        self,
        data: CSData,
        controls_per_treated: float | None = None,
        seed: int = 0,
    ) -> pd.DataFrame:
        """The cohort of ``build_cohort(data, touchpoint, design, None, controls_per_treated,
        seed)``, row for row, built on the engine."""
        touchpoints = sorted(data.touches["touchpoint"].astype(str).unique())
        if self.touchpoint not in touchpoints:
            raise ValueError(
                f"touchpoint '{self.touchpoint}' has no events; the data has {touchpoints}"
            )
        t = self.tables(data)
        end = int(pd.Timestamp(data.data_end).to_datetime64().astype("datetime64[D]").astype(int))
        customers = self._customers(t["customers"], end)
        touches = self._touches(t["touches"], customers, touchpoints)
        keys = self._at_risk(customers, touches)
        rows = self.con.to_pandas(keys.order_by(["row", "trial"]))
        eligible = int(rows.pop("eligible_count").iloc[0]) if len(rows) else 0
        churned_in_window = int(rows.pop("in_window_count").iloc[0]) if len(rows) else 0
        sampling: dict[str, Any] = {}
        weight = np.ones(len(rows))
        treated = rows["treated"].to_numpy(dtype=bool)
        if controls_per_treated and treated.any():
            keep, weight, summary = risk_set_sample(
                rows["trial"].to_numpy(), treated, controls_per_treated, seed
            )
            rows, sampling = rows[keep].reset_index(drop=True), {"sampling": summary}
        chosen = ibis.memtable(rows[["row", "trial", "ws"]])
        covariates = self.con.to_pandas(
            self._covariates(chosen, customers, t["health"], touches, touchpoints)
        )
        out = rows.merge(covariates, on=["row", "trial"], how="left", validate="one_to_one")
        return self._finish(out, weight, touchpoints, sampling, end, eligible, churned_in_window)

    def _customers(self, customers: ibis.Table, end: int) -> ibis.Table:
        """Tenure days of churn (far away when none) and of the end of data."""
        start = _day(customers.start_date)
        churn = customers.churn_date.isnull().ifelse(  # noqa: PD003 (Ibis, not pandas)
            ibis.literal(NO_CHURN), _day(customers.churn_date) - start
        )
        return customers.mutate(start_day=start, churn_day=churn, censor_day=end - start)

    def _touches(
        self, touches: ibis.Table, customers: ibis.Table, touchpoints: list[str]
    ) -> ibis.Table:
        """Each touch of a known customer from the contract's start on, at its tenure day."""
        c = customers.select("customer_id", "row", "start_day")
        joined = touches.join(c, "customer_id")
        joined = joined.mutate(day=_day(joined.date) - joined.start_day)
        return joined.filter(joined.day >= 0, joined.touchpoint.isin(touchpoints)).select(
            "row", "day", "touchpoint"
        )

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

    def _at_risk(self, customers: ibis.Table, touches: ibis.Table) -> ibis.Table:
        """Customer-trials at risk at time zero, treated or not, with their outcome, and the
        counts of eligible ones and of those lost inside the window."""
        c = customers.select("row", "customer_id", "churn_day", "censor_day")
        grid = c.cross_join(self._trials())
        eligible = grid.filter((grid.churn_day > grid.ws) & (grid.we <= grid.censor_day))
        focal = touches.filter(touches.touchpoint == self.touchpoint)
        windows = eligible.select("row", "trial", "ws", "we")
        hits = windows.join(
            focal, [windows.row == focal.row, focal.day >= windows.ws, focal.day < windows.we]
        )
        first = hits.group_by(["row", "trial"]).aggregate(event_day=hits.day.min())
        at_risk = eligible.mutate(
            eligible_count=_.row.count().over(ibis.window()),
            in_window_count=(_.churn_day <= _.we).cast("int64").sum().over(ibis.window()),
        ).filter(_.churn_day > _.we)
        rows = at_risk.left_join(first, ["row", "trial"]).select(
            "row", "trial", "customer_id", "ws", "we", "churn_day", "censor_day", "event_day",
            "eligible_count", "in_window_count",
        )  # fmt: skip
        return rows.mutate(treated=rows.event_day.notnull())  # noqa: PD004 (Ibis)

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
        c = customers.select("row", "customer_id", "start_day", "seats", "mrr",
                             *CUSTOMER_CATEGORICALS)  # fmt: skip
        h = health.join(c.select("customer_id", "row", "start_day"), "customer_id")
        h = h.mutate(day=_day(h.date) - h.start_day).select(
            "row", "day", "reading", *HEALTH_COLUMNS
        )
        now = self._as_of(rows, h, rows.ws, list(HEALTH_COLUMNS))
        before = self._as_of(rows, h, ibis.greatest(rows.ws - 30, 0), ["score"]).rename(
            score_30d_ago="score"
        )
        out = rows.left_join(now, ["row", "trial"]).left_join(before, ["row", "trial"])
        out = out.left_join(self._trend(rows, h), ["row", "trial"])
        out = out.left_join(self._history(rows, touches, touchpoints), ["row", "trial"])
        out = out.left_join(c, "row")
        period = PERIOD_DAYS[self.design.unit]
        columns = {
            "score_change_30d": out.score - out.score_30d_ago,
            "score_slope_90d": out.score_slope_90d.fill_null(0.0),
            "tenure_months": (out.trial - 1).cast("float64") * (period / MONTH_DAYS),
            "phase": (out.ws < ONBOARDING_DAYS).ifelse("onboarding", "adoption"),
            "log_seats": out.seats.ln(),
            "log_mrr": (out.mrr + 1.0).ln(),
        }
        for tp in touchpoints:
            columns[f"prior_{tp}"] = out[f"prior_{tp}"].fill_null(0)
            since = out.ws - out[f"last_{tp}"]
            columns[f"days_since_{tp}"] = ibis.least(since.fill_null(RECENCY_CAP_DAYS),
                                                     RECENCY_CAP_DAYS).cast("float64")  # fmt: skip
        keep = ["row", "trial", *HEALTH_COLUMNS, *CUSTOMER_CATEGORICALS]
        return out.select(*keep, **columns)

    def _as_of(
        self, rows: ibis.Table, health: ibis.Table, day: ibis.Value, columns: list[str]
    ) -> ibis.Table:
        """The latest reading on or before ``day`` and at most ``STALE_HEALTH_DAYS`` before it
        (the last of a day's readings), per customer-trial."""
        r = rows.mutate(at=day).select("row", "trial", "at")
        j = r.join(
            health,
            [r.row == health.row, health.day <= r.at, health.day >= r.at - STALE_HEALTH_DAYS],
        )
        order = [ibis.desc(j.day), ibis.desc(j.reading)]
        ranked = j.mutate(rank=ibis.row_number().over(group_by=[j.row, j.trial], order_by=order))
        return ranked.filter(ranked["rank"] == 0).select("row", "trial", *columns)

    def _trend(self, rows: ibis.Table, health: ibis.Table) -> ibis.Table:
        """Least-squares slope of the score per 30 days over the readings of the 90 days
        before the window's first day, (ws - 90, ws]; 0 with fewer than two."""
        r = rows.select("row", "trial", "ws")
        j = r.join(health, [r.row == health.row, health.day <= r.ws, health.day > r.ws - 90])
        t, y = j.day.cast("float64"), j.score
        m = j.group_by(["row", "trial"]).aggregate(
            n=j.count().cast("float64"), st=t.sum(), sy=y.sum(), sty=(t * y).sum(),
            stt=(t * t).sum(),
        )  # fmt: skip
        denom = m.n * m.stt - m.st * m.st
        ok = (m.n >= 2) & (denom > 0)
        slope = ok.ifelse(30.0 * (m.n * m.sty - m.st * m.sy) / denom, 0.0)
        return m.select("row", "trial", score_slope_90d=slope)

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
        weight: np.ndarray,
        touchpoints: list[str],
        sampling: dict[str, Any],
        end: int,
        eligible: int,
        churned_in_window: int,
    ) -> pd.DataFrame:
        """The outcome, the column order and types of the in-memory build, and its attrs."""
        d = self.design
        cohort = pd.DataFrame(
            {
                "trial": out["trial"].to_numpy(),
                "customer_id": out["customer_id"].to_numpy(),
                "treated": out["treated"].to_numpy(dtype=bool),
                "event_day": out["event_day"].astype(float).to_numpy(),
            }
        )
        for column in (*HEALTH_COLUMNS, "score_change_30d", "score_slope_90d", "tenure_months"):
            cohort[column] = out[column].astype(float).to_numpy()
        cohort["phase"] = out["phase"].to_numpy(dtype=object)
        for column in CUSTOMER_CATEGORICALS:
            cohort[column] = out[column].to_numpy(dtype=object)
        for column in ("log_seats", "log_mrr"):
            cohort[column] = out[column].astype(float).to_numpy()
        for tp in touchpoints:
            cohort[f"prior_{tp}"] = out[f"prior_{tp}"].astype(np.int64).to_numpy()
            cohort[f"days_since_{tp}"] = out[f"days_since_{tp}"].astype(float).to_numpy()
        days = (out[c].to_numpy(dtype=np.int64) for c in ("churn_day", "censor_day", "we"))
        for column, values in outcome(*days, d.horizon_days).items():
            cohort[column] = values
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
