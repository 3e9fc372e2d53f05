"""Selection-corrected effects on any tidy table: configure, ``fit``, read the result.

>>> est = EffectEstimator("treated", ["score", "tier"], duration="duration_days",
...                       event="churned", horizon=365)               # doctest: +SKIP
>>> result = est.fit(cohort)                                          # doctest: +SKIP
>>> result.to_dict()["methods"]["iptw"]["risk_difference"]            # doctest: +SKIP

Methods (each on every scale the outcome allows):

* ``naive``: the plain contrast;
* ``match``: 1:1 nearest neighbour on the propensity logit with replacement, caliper, exact
  strata (ATT);
* ``iptw``: inverse probability of treatment weights (ATT or ATE), normalised within group,
  optionally trimmed;
* ``dr``: augmented IPW (doubly robust) on the risk or mean difference; a time-to-event outcome
  enters as "event by the horizon" with inverse-probability-of-censoring weights.

Scales: ``risk_difference`` and ``rmst_difference`` (days) for time-to-event outcomes, from
(weighted) Kaplan-Meier curves; ``risk_difference`` for binary and ``mean_difference`` for
continuous outcomes. Standard errors: a Poisson bootstrap clustered on ``cluster`` with the
propensity model held fixed (naive, match, iptw), and the cluster-robust influence function
(dr). Degenerate input fails with a clear message, or is reported in the result.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score

from churn_causal import i18n
from churn_causal.causal.balance import Balance
from churn_causal.causal.logit import Logit, float32_rows
from churn_causal.causal.matching import MatchedSets, match_nearest, neighbour_variance
from churn_causal.causal.propensity import fit_logit, spline_design
from churn_causal.causal.reliability import e_value, primary_method, primary_scale, verdict
from churn_causal.causal.resampling import ClusterSums, Draws
from churn_causal.causal.survival import SurvivalContrast, cox_binary
from churn_causal.data.problems import DataError, Problem, flagged
from churn_causal.progress import advance, progress

SCHEMA_VERSION = 1
METHODS = ("naive", "match", "iptw", "dr")
PROPENSITY_MODELS = ("linear", "spline")
CURVE_POINTS = 61  # survival curves in the result: the horizon in 60 steps
MIN_ARM_ROWS = 10  # fewer treated or untreated rows than this leave nothing to estimate with


class EstimationWarning(UserWarning):
    """The estimate exists but something about the input deserves attention."""


class AnalysisError(DataError, ValueError):
    """The analysis asked for is impossible on this table (found before any model is fitted);
    ``problems`` say what, in which column, for how many rows and what to do."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)

    def __str__(self) -> str:
        return " ".join(f"{p.column}: {p.message}. {p.hint}" for p in self.problems)

    def located(self, origin: str) -> AnalysisError:
        """The same problems, said to be in ``origin`` (the file or cohort analysed)."""
        for p in self.problems:
            p.origin = origin
        return self


@dataclass
class EffectResult:
    """Everything an effect estimate reports; ``to_dict`` gives the documented JSON schema."""

    treatment: str
    estimand: str
    outcome_type: str
    n: dict[str, int]
    methods: dict[str, dict[str, dict[str, float]]]
    diagnostics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    by: dict[str, dict[str, Any]] = field(default_factory=dict)  # per level of ``by``
    refutation: dict[str, Any] | None = None  # DoWhy's cross-check and refuters
    cate: dict[str, Any] | None = None  # EconML's effect per level of ``by``
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # survival curves
    outcome_label: str = "the outcome"  # what the outcome is, in words ("churn")
    design: dict[str, Any] | None = None  # the target-trial design of a cohort, if any

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema_version": SCHEMA_VERSION,
            "treatment": self.treatment,
            "estimand": self.estimand,
            "outcome_type": self.outcome_type,
            "outcome_label": self.outcome_label,
            "design": self.design,
            "n": self.n,
            "methods": self.methods,
            "diagnostics": self.diagnostics,
            "warnings": self.warnings,
        }
        if self.by:
            out["by"] = self.by
        if self.refutation is not None:
            out["refutation"] = self.refutation
        if self.cate is not None:
            out["cate"] = self.cate
        if self.curves:
            out["curves"] = self.curves
        primary = self.methods[primary_method(self.methods, self.estimand)]
        out["e_value"] = e_value(primary[primary_scale(primary)])
        out["verdict"] = verdict(out)
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> EffectResult:
        """The result back from its JSON (``to_dict``; the E-value and verdict are derived)."""
        if payload.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not a result of schema version {SCHEMA_VERSION}")
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{k: copy.deepcopy(v) for k, v in payload.items() if k in names})

    def summary(self) -> pd.DataFrame:
        """One row per method and scale."""
        rows = [
            {"method": m, "scale": s, **v}
            for m, scales in self.methods.items()
            for s, v in scales.items()
        ]
        return pd.DataFrame(rows).set_index(["method", "scale"])


@dataclass
class _Data:
    """The fitted inputs: encoded covariates, treatment, outcome and clusters."""

    x: np.ndarray
    t: np.ndarray
    cluster: np.ndarray
    shown: np.ndarray | None = None  # covariates as the balance tables show them (per category)
    shown_names: list[str] = field(default_factory=list)
    y: np.ndarray | None = None  # binary or continuous outcome
    duration: np.ndarray | None = None
    event: np.ndarray | None = None
    strata: np.ndarray | None = None  # survival curves per stratum, then standardised
    n_numeric: int = 0  # the first columns of x are the numeric covariates
    by_horizon: tuple[np.ndarray, np.ndarray] | None = None  # event by the horizon, IPC weights
    exact: np.ndarray | None = None  # one code per combination of the exact columns
    base: np.ndarray | None = None  # row weights (sampling weights), ones without

    @cached_property
    def balance(self) -> Balance:
        """Balance of the encoded covariates (the diagnostics' summaries)."""
        return Balance(self.x, self.t)

    @cached_property
    def km_order(self) -> np.ndarray:
        """The rows sorted by survival stratum and duration (stably): one sort for the
        Kaplan-Meier arms of every contrast on these rows."""
        strata = np.zeros(len(self.t), dtype=np.intp) if self.strata is None else self.strata
        return np.lexsort((self.duration, strata))

    @cached_property
    def shown_balance(self) -> Balance:
        """Balance of the covariates as the balance tables show them."""
        return Balance(self.shown, self.t)

    def subset(self, rows: np.ndarray) -> _Data:
        """The same inputs for the rows of the boolean mask ``rows``, without the balance
        tables' columns (a level shows no balance table)."""

        def part(v):
            return None if v is None else v[rows]

        return _Data(
            x=self.x[rows],
            t=self.t[rows],
            cluster=self.cluster[rows],
            y=part(self.y),
            duration=part(self.duration),
            event=part(self.event),
            strata=part(self.strata),
            n_numeric=self.n_numeric,
            by_horizon=None if self.by_horizon is None else tuple(v[rows] for v in self.by_horizon),
            exact=part(self.exact),
            base=part(self.base),
        )


@dataclass
class Prepared:
    """A table made ready for estimation, once: the rows kept, their encoded arrays and what
    was noted on the way. Estimators with the same columns can share it."""

    data: _Data
    df: pd.DataFrame
    notes: list[str]
    columns: tuple  # what it was prepared for (treatment, covariates, outcome, ...)


@dataclass
class _Fitted:
    """What every estimate of one fit shares: the prepared table, its propensity and the
    bootstrap's draws."""

    prepared: Prepared
    logit: np.ndarray
    outcome_type: str
    draws: Draws  # every customer's bootstrap weights, for every estimate of the fit
    outcome_models: tuple[np.ndarray, np.ndarray] | None = None  # DR's predictions, treated/not

    @property
    def p(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit))


class EffectEstimator:
    """Estimate the effect of a binary ``treatment`` on an outcome, adjusting for ``covariates``.

    Give either ``outcome`` (binary 0/1 or continuous) or ``duration`` and ``event`` with a
    ``horizon`` (time to event). ``cluster`` names the column of the unit that repeats across
    rows (a customer in stacked trials); the bootstrap and the robust variance resample it.
    ``exact`` columns must match exactly in ``match``, which takes the ``ratio`` nearest
    controls of each treated row (1:k), with or without ``replace``-ment. ``missing`` is "drop"
    (rows with a missing value in a column of the analysis are dropped and counted) or "error".
    ``km_strata`` names a column (the trial of stacked trials) within whose levels the survival
    curves and censoring weights are computed before they are averaged. ``propensity`` is
    "linear" (logistic regression on the encoded covariates) or "spline" (plus cubic B-spline
    terms of the numeric ones). ``outcome_label`` names the outcome in the verdict's words.
    ``weight`` names a column of row weights that every method carries (the sampling weights
    of a cohort whose untreated rows were sampled, ``design.sampling``): a row stands for that
    many rows of the table it was drawn from.

    An impossible analysis (a column that is absent or empty, a horizon past the follow-up, an
    outcome without contrast, fewer than ``min_arm_rows`` treated or untreated rows) raises
    ``AnalysisError`` with every problem, before any model is fitted.
    """

    def __init__(
        self,
        treatment: str,
        covariates: list[str],
        outcome: str | None = None,
        duration: str | None = None,
        event: str | None = None,
        horizon: float | None = None,
        estimand: str = "ATT",
        methods: tuple[str, ...] = METHODS,
        cluster: str | None = None,
        exact: tuple[str, ...] = (),
        caliper_sd: float = 0.2,
        ratio: int = 1,
        replace: bool = True,
        trim: float | None = None,
        missing: str = "drop",
        by: str | None = None,
        km_strata: str | None = None,
        propensity: str = "linear",
        refute: bool = False,
        n_boot: int = 200,
        seed: int = 0,
        min_arm_rows: int = MIN_ARM_ROWS,
        outcome_label: str | None = None,
        weight: str | None = None,
    ) -> None:
        if (outcome is None) == (duration is None):
            raise ValueError("give either outcome= or duration= (with event= and horizon=)")
        if duration is not None and (event is None or horizon is None):
            raise ValueError("a time-to-event outcome needs event= and horizon=")
        if estimand not in ("ATT", "ATE"):
            raise ValueError(f"estimand must be ATT or ATE, not {estimand!r}")
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown method(s) {sorted(unknown)}; known: {list(METHODS)}")
        if propensity not in PROPENSITY_MODELS:
            raise ValueError(f"propensity must be one of {list(PROPENSITY_MODELS)}")
        if missing not in ("drop", "error"):
            raise ValueError("missing must be 'drop' or 'error'")
        if int(ratio) != ratio or ratio < 1:
            raise ValueError(f"ratio must be a whole number of controls, 1 or more, not {ratio}")
        self.treatment, self.covariates = treatment, list(covariates)
        self.outcome, self.duration, self.event, self.horizon = outcome, duration, event, horizon
        self.estimand, self.methods, self.cluster = estimand, tuple(methods), cluster
        self.exact, self.caliper_sd, self.trim = tuple(exact), caliper_sd, trim
        self.missing, self.by, self.n_boot, self.seed = missing, by, n_boot, seed
        self.refute, self.km_strata, self.propensity = refute, km_strata, propensity
        self.ratio, self.replace, self.min_arm_rows = int(ratio), bool(replace), min_arm_rows
        self.outcome_label = outcome_label or outcome or event
        self.weight = weight

    # ----------------------------------------------------------------------- preparation
    @property
    def _outcome_columns(self) -> list[str]:
        return [c for c in (self.outcome, self.duration, self.event) if c]

    @property
    def _checked_columns(self) -> list[str]:
        """The columns ``_check_values`` reads."""
        named = [self.treatment, *self._outcome_columns, self.weight]
        return list(dict.fromkeys(c for c in named if c))

    @property
    def _columns(self) -> tuple:
        return (
            self.treatment,
            tuple(self.covariates),
            *self._outcome_columns,
            self.horizon,
            self.cluster,
            self.km_strata,
            tuple(self.exact),
            self.missing,
            self.weight,
        )

    def prepare(self, df: pd.DataFrame | Prepared) -> Prepared:
        """Check, clean and encode ``df`` once (a ``Prepared`` made for the same columns is
        returned as it is, so that several estimators can share one)."""
        if isinstance(df, Prepared):
            if df.columns != self._columns:
                raise ValueError("this table was prepared for other columns")
            return df
        notes: list[str] = []
        data, kept = self._prepare(df, notes)
        return Prepared(data, kept, notes, self._columns)

    def _prepare(self, df: pd.DataFrame, notes: list[str]) -> tuple[_Data, pd.DataFrame]:
        self._check_columns(df)
        incomplete = df[self.covariates].isna().any(axis=1)
        lacking = df[[self.treatment, *self._outcome_columns]].isna().any(axis=1)
        for mask, what in ((incomplete, "covariates"), (lacking, "a treatment or outcome")):
            if not mask.any():
                continue
            if self.missing == "error":
                rows_ = np.flatnonzero(mask.to_numpy())[:5] + 1
                raise ValueError(
                    f"{int(mask.sum())} rows have missing {what} (e.g. rows "
                    f"{', '.join(map(str, rows_))}); fill them or use missing='drop'"
                )
            notes.append(f"dropped {int(mask.sum())} rows with missing {what}")
        dropped = incomplete | lacking
        if dropped.any():
            df = df[~dropped]  # a copy only where rows go, and only one (no reset_index copy)
        if not df.index.equals(pd.RangeIndex(len(df))):
            df = df.set_axis(pd.RangeIndex(len(df)), axis=0, copy=False)
        self._check_values(df)
        t = df[self.treatment].to_numpy().astype(bool)
        x, n_numeric = self._encode(df, notes)
        # Clusters as integers in the ids' sorted order: the same bootstrap draws per customer,
        # without sorting text ids in every resampled contrast.
        cluster = (
            pd.factorize(df[self.cluster], sort=True)[0] if self.cluster else np.arange(len(df))
        )
        data = _Data(
            x=x,
            t=t,
            cluster=cluster,
            n_numeric=n_numeric,
            exact=self._strata(df),
            base=df[self.weight].to_numpy(dtype=float) if self.weight else np.ones(len(df)),
        )
        if self.km_strata:  # rows without a stratum make one of their own
            data.strata = pd.factorize(df[self.km_strata], use_na_sentinel=False)[0]
        if self.outcome:
            data.y = df[self.outcome].to_numpy(dtype=float)
        else:
            data.duration = df[self.duration].to_numpy(dtype=float)
            data.event = df[self.event].to_numpy().astype(bool)
            data.by_horizon = _ipcw_outcome(
                data.duration, data.event, self.horizon, data.strata, data.base
            )
        return data, df

    def _show(self, prepared: Prepared) -> None:
        """The covariates as the balance tables show them (numbers, then every level), added
        to ``prepared`` once. Made after the propensity fit, not with the rest of ``prepare``:
        the spline propensity's design is the largest array of a fit, and the two need not
        share memory."""
        data, df = prepared.data, prepared.df
        if data.shown is not None:
            return
        numeric, categorical = self._kinds(df)
        parts, data.shown_names = [df[numeric].to_numpy(dtype=np.float32)], list(numeric)
        if categorical:
            levels = pd.get_dummies(df[categorical], dtype=np.float32)
            parts.append(levels.to_numpy(dtype=np.float32))
            data.shown_names += list(levels.columns)
        data.shown = np.hstack(parts)

    def _check_columns(self, df: pd.DataFrame) -> None:
        """Every column of the analysis is in the table and has values."""
        needed = [self.treatment, *self._outcome_columns, *self.covariates, *self.exact]
        needed += [c for c in (self.cluster, self.km_strata, self.weight) if c]
        needed = list(dict.fromkeys(needed))
        problems = [
            _problem(
                "missing_column",
                c,
                f"no such column (the table has {', '.join(map(str, df.columns))})",
                "Check the column's name.",
            )
            for c in needed
            if c not in df.columns
        ]
        if not problems and len(df) == 0:
            problems.append(
                _problem("empty_table", None, "the table has no rows", "Give a table with rows.")
            )
        for c in needed:
            if c in df.columns and len(df) and df[c].isna().all():
                fix = (
                    "Fill it, or leave it out of the covariates."
                    if c in self.covariates
                    else "Choose a column that has values."
                )
                problems.append(
                    _problem("all_missing", c, "every value is missing", fix, count=len(df))
                )
        if problems:
            raise AnalysisError(problems)

    def _check_values(self, df: pd.DataFrame) -> None:
        """What makes the analysis impossible on the usable rows, all at once."""
        binary = [(self.treatment, "treatment", "1 (treated) or 0 (untreated)")]
        if self.event:
            binary.append((self.event, "event", "1 (it happened) or 0 (censored)"))
        problems: list[Problem] = []
        for column, what, codes in binary:
            bad = ~df[column].isin([0, 1, True, False])
            if bad.any():
                problems.append(
                    _problem(
                        "bad_value",
                        column,
                        f"{what} values are not 0/1 or true/false",
                        f"Code the {what} as {codes}.",
                        *flagged(bad, df[column]),
                    )
                )
        if self.weight:
            w = pd.to_numeric(df[self.weight], errors="coerce")
            bad = ~(w > 0)
            if bad.any():
                problems.append(
                    _problem(
                        "bad_value",
                        self.weight,
                        "weights are not positive numbers",
                        "Every row needs a weight above 0.",
                        *flagged(bad, df[self.weight]),
                    )
                )
        number = self.outcome or self.duration
        values = pd.to_numeric(df[number], errors="coerce")
        if values.isna().any():
            problems.append(
                _problem(
                    "not_a_number",
                    number,
                    "values are not numbers",
                    "The outcome must be a number (0/1 for a binary outcome).",
                    *flagged(values.isna(), df[number]),
                )
            )
        if problems:  # the checks below need numbers
            raise AnalysisError(problems)
        t = df[self.treatment].to_numpy().astype(bool)
        problems += self._check_arms(t)
        if self.duration:
            problems += self._check_follow_up(df, t)
        else:
            problems += self._check_contrast(df)
        if problems:
            raise AnalysisError(problems)

    def _check_arms(self, t: np.ndarray) -> list[Problem]:
        n1, n0 = int(t.sum()), int((~t).sum())
        have = f"the usable rows have {n1} treated and {n0} untreated"
        if n1 == 0 or n0 == 0:
            return [
                _problem(
                    "no_contrast",
                    self.treatment,
                    f"the analysis needs treated and untreated rows; {have}",
                    "Check the treatment column (1 = treated, 0 = untreated) and which rows "
                    "have missing values.",
                    count=len(t),
                )
            ]
        if min(n1, n0) < self.min_arm_rows:
            return [
                _problem(
                    "too_few_rows",
                    self.treatment,
                    f"too few rows to compare: {have}; each needs at least {self.min_arm_rows}",
                    "Use more data (more customers or trials), pool small segments, or fill "
                    "missing values instead of dropping their rows.",
                    count=len(t),
                )
            ]
        return []

    def _check_follow_up(self, df: pd.DataFrame, t: np.ndarray) -> list[Problem]:
        d = df[self.duration].to_numpy(dtype=float)
        e = df[self.event].to_numpy().astype(bool)
        problems = []
        if (d < 0).any():
            problems.append(
                _problem(
                    "negative_duration",
                    self.duration,
                    "durations are negative",
                    "A duration counts from time zero to the event or censoring, so it is 0 or "
                    "more; check how it was computed.",
                    *flagged(d < 0, df[self.duration]),
                )
            )
        for arm, label in ((t, "treated"), (~t, "untreated")):
            if arm.any() and d[arm].max() < self.horizon:
                longest = d[arm].max()
                problems.append(
                    _problem(
                        "horizon_past_follow_up",
                        self.duration,
                        f"the horizon ({self.horizon:g}) is past the longest follow-up of the "
                        f"{label} rows ({longest:g}): nobody is observed up to it",
                        f"Shorten the horizon to at most {longest:g}, or use data with longer "
                        "follow-up.",
                        count=int(arm.sum()),
                    )
                )
        if not (e & (d <= self.horizon)).any():
            problems.append(
                _problem(
                    "one_class_outcome",
                    self.event,
                    f"no row has the event within the horizon ({self.horizon:g}): there is no "
                    "outcome to compare",
                    "Lengthen the horizon, or check the event column (1 = it happened).",
                    count=len(d),
                )
            )
        return problems

    def _check_contrast(self, df: pd.DataFrame) -> list[Problem]:
        y = df[self.outcome].to_numpy(dtype=float)
        if len(np.unique(y)) > 1:
            return []
        return [
            _problem(
                "one_class_outcome",
                self.outcome,
                f"every usable row has the same outcome ({y[0]:g}): there is nothing to compare",
                "Check the outcome column, or use rows where it varies.",
                count=len(y),
            )
        ]

    def _kinds(self, df: pd.DataFrame) -> tuple[list[str], list[str]]:
        """The covariates that are numbers (or booleans), and the others (text, categories)."""
        numeric = [c for c in self.covariates if pd.api.types.is_numeric_dtype(df[c])]
        return numeric, [c for c in self.covariates if c not in numeric]

    def _encode(self, df: pd.DataFrame, notes: list[str]) -> tuple[np.ndarray, int]:
        """Numeric and boolean columns standardised, then text and categorical ones one-hot;
        also how many numeric columns lead."""
        numeric, categorical = self._kinds(df)
        parts = [df[numeric].to_numpy(dtype=float)]  # straight from the table: no copies of it
        if categorical:
            parts.append(
                pd.get_dummies(df[categorical].astype(str), drop_first=True, dtype=float).to_numpy()
            )
        x = np.hstack(parts)
        sd = x.std(axis=0)
        constant = sd == 0
        if constant[: len(numeric)].any():
            dropped = [c for c, k in zip(numeric, constant[: len(numeric)], strict=True) if k]
            notes.append(f"constant covariates left out: {dropped}")
        if constant.any():
            x, sd = x[:, ~constant], sd[~constant]
        x -= x.mean(axis=0)  # in place: the design is the largest array of a fit
        x /= sd
        return x, int((~constant[: len(numeric)]).sum())

    # ------------------------------------------------------------------------- estimation
    def fit(self, df: pd.DataFrame | Prepared) -> EffectResult:
        """Estimate on ``df`` (or a table prepared once for several estimators); the fit is
        kept (``fitted_``) so that ``levels`` can estimate within groups without refitting."""
        with progress(f"estimating the effect of {self.treatment}"):
            return self._fit(df)

    def _fit(self, df: pd.DataFrame | Prepared) -> EffectResult:
        prepared = self.prepare(df)
        notes = list(prepared.notes)
        data = prepared.data
        outcome_type = (
            "time_to_event"
            if self.duration
            else ("binary" if np.isin(data.y, [0, 1]).all() else "continuous")
        )
        self.fitted_ = _Fitted(
            prepared,
            self._propensity(data),
            outcome_type,
            Draws(data.cluster, self.n_boot, self.seed),
        )
        self._show(prepared)
        advance("propensity fitted")
        if "dr" in self.methods:  # fitted once: they serve every level too
            self.fitted_.outcome_models = self._outcome_models(data, notes)
        methods, diagnostics, curves, chosen = self._estimate(
            data, self.fitted_.logit, notes, outcome_models=self.fitted_.outcome_models
        )
        for message in notes:
            warnings.warn(message, EstimationWarning, stacklevel=2)
        df = prepared.df
        return EffectResult(
            treatment=self.treatment,
            estimand=self.estimand,
            outcome_type=outcome_type,
            n={"treated": int(data.t.sum()), "control": int((~data.t).sum())},
            methods=methods,
            diagnostics=diagnostics,
            warnings=notes,
            curves=curves,
            by=self.levels(self.by) if self.by else {},
            cate=self._cate(df, data, outcome_type) if self.by and len(chosen) > 1 else None,
            refutation=(
                self._refute(df, data, outcome_type, methods["iptw"])
                if self.refute and "iptw" in methods
                else None
            ),
            outcome_label=self.outcome_label,
        )

    def _estimate(
        self,
        data: _Data,
        logit: np.ndarray,
        notes: list[str],
        methods: tuple[str, ...] | None = None,
        outcome_models: tuple[np.ndarray, np.ndarray] | None = None,
        brief: bool = False,
    ) -> tuple[dict, dict, dict, tuple]:
        """Every method's estimate on ``data`` with the propensity ``logit`` (and for DR the
        ``outcome_models``' predictions, fitted here if not given): the methods, the
        diagnostics, the survival curves and the methods that could be run. ``brief``: only
        the diagnostics a verdict reads (a level's), not the tables and figures' ones."""
        outcome_type = self.fitted_.outcome_type
        p = 1.0 / (1.0 + np.exp(-logit))
        diagnostics = self._overlap(data, logit, p, brief)
        diagnostics["propensity_model"] = self.propensity
        diagnostics["survival_strata"] = self.km_strata
        results: dict[str, dict[str, dict[str, float]]] = {}
        balance: dict[str, np.ndarray] = {}
        curves: dict[str, dict[str, list[float]]] = {}
        if diagnostics["overlap"]["share_treated_in_common_support"] < 0.5:
            notes.append(
                "no overlap: fewer than half the treated have comparable untreated "
                "rows; only the naive contrast is reported"
            )
            chosen: tuple[str, ...] = ("naive",)
        else:
            chosen = methods or self.methods
        for method in chosen:
            weights, sets = self._weights(method, data, logit, p, diagnostics)
            if method == "dr":
                models = outcome_models or self._outcome_models(data, notes)
                results[method] = self._aipw(data, p, outcome_type, models)
            elif method == "match":
                results[method] = self._matched_contrast(data, sets, logit, outcome_type)
                diagnostics["matching"]["variance"] = self._match_variance(outcome_type)
            else:
                results[method] = self._weighted_contrast(data, weights, outcome_type)
            advance(f"{method} estimated")
            if method == "iptw":
                diagnostics.update(data.balance.summary(weights, "iptw_{}"))
            if method != "dr" and not brief:
                balance[method] = data.shown_balance.smd(weights)
            curve = results[method].pop("survival_curve", None)
            if curve:
                curves[method] = curve
        if not brief:
            diagnostics["balance"] = {
                "covariates": data.shown_names,
                **{m: list(map(float, v)) for m, v in balance.items()},
            }
        if outcome_type == "continuous":  # the E-value's standardised difference needs it
            sd = _pooled_sd(data.y, data.t, data.base)
            for scales in results.values():
                scales["mean_difference"]["outcome_sd"] = sd
        primary = primary_method(results, self.estimand)
        for key in ("max_abs_smd", "variance_ratio_furthest"):
            after = diagnostics.get(f"{primary}_{key}")
            if after is not None:
                diagnostics[f"{key}_after"] = after
        return results, diagnostics, curves, chosen

    def levels(
        self, column: str, methods: tuple[str, ...] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The estimate within each level of ``column`` of the fitted table (e.g. per tier),
        from the same fit: its propensity, matched within each level, weights and outcome
        models per level. ``{level: {n, methods, e_value, verdict}}``, or ``{level: {error}}``
        where a level cannot be estimated (e.g. no treated rows in it)."""
        fitted = self.fitted_
        df, data = fitted.prepared.df, fitted.prepared.data
        if column not in df.columns:
            raise ValueError(f"by='{column}' is not a column of the table")
        codes, names = pd.factorize(df[column], sort=True)

        def level(code: int) -> dict[str, Any]:
            rows = codes == code
            try:
                self._check_values(df.loc[rows, self._checked_columns])
                part = data.subset(rows)
                if part.t.all() or not part.t.any():  # nothing to compare with
                    raise ValueError(i18n.t("estimate.one_arm"))
                models = fitted.outcome_models
                if models is not None:
                    models = (models[0][rows], models[1][rows])
                results, diagnostics, _, _ = self._estimate(
                    part, fitted.logit[rows], [], methods, models, brief=True
                )
            except ValueError as exc:  # e.g. no treated in this level
                return {"error": str(exc)}
            n = {"treated": int(part.t.sum()), "control": int((~part.t).sum())}
            r = EffectResult(
                self.treatment,
                self.estimand,
                fitted.outcome_type,
                n,
                results,
                diagnostics,
                outcome_label=self.outcome_label,
            ).to_dict()
            return {k: r[k] for k in ("n", "methods", "e_value", "verdict")}

        # One level at a time: two at once (on threads of their own) held both levels' copies
        # of the rows and took the weekly analysis of 100k customers over 4 GB.
        return {str(name): level(code) for code, name in enumerate(names)}

    def _cate(self, df: pd.DataFrame, data: _Data, outcome_type: str) -> dict[str, Any]:
        """EconML's conditional effect per level of ``by``, beside the stratified estimates."""
        from churn_causal.causal.heterogeneity import cate_by_level

        advance("EconML's effect per level")
        y, c = self._event(data)
        known = c > 0
        binary = outcome_type != "continuous"
        # The logistic nuisances take their design in float32: copied out as such, EconML's
        # folds of millions of rows copy half as much. A continuous outcome's regression
        # takes float64.
        controls = np.empty((int(known.sum()), data.x.shape[1]), np.float32 if binary else float)
        for j in range(data.x.shape[1]):  # a column at a time: no float64 copy of all rows
            controls[:, j] = data.x[known, j]
        return cate_by_level(
            df[self.by][known],
            controls,
            data.t[known],
            y[known],
            (c * data.base)[known],
            binary=binary,
            seed=self.seed,
        )

    def _refute(
        self, df: pd.DataFrame, data: _Data, outcome_type: str, iptw: dict
    ) -> dict[str, Any]:
        """DoWhy's estimate and refuters on the outcome (a time-to-event outcome as the event
        by the horizon, where known), judged against the IPTW estimate's standard error."""
        from churn_causal.causal.refute import dowhy_check

        advance("DoWhy's refutation")
        if self.outcome:
            outcome = self.outcome
        else:
            y, c = data.by_horizon
            outcome = pd.Series(np.where(c > 0, y, np.nan), index=df.index)
        return dowhy_check(
            df,
            self.treatment,
            self.covariates,
            outcome,
            self.estimand,
            seed=self.seed,
            se=iptw[primary_scale(iptw)]["se"],
            risk=outcome_type != "continuous",
            weights=self.weight,
        )

    def fit_by(self, df: pd.DataFrame | Prepared, column: str | None = None) -> dict:
        """Fit on ``df`` and estimate within each level of ``column`` (default ``by``)."""
        column = column or self.by
        sub = copy.copy(self)
        sub.by, sub.refute = None, False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            sub.fit(df)
        return sub.levels(column)

    def _propensity(self, data: _Data) -> np.ndarray:
        x = spline_design(data.x, data.n_numeric) if self.propensity == "spline" else data.x
        return fit_logit(x, data.t, None if self.weight is None else data.base)

    def _overlap(
        self, data: _Data, logit: np.ndarray, p: np.ndarray, brief: bool = False
    ) -> dict[str, Any]:
        """Common support, and unless ``brief`` the propensity's AUC, quantiles, histogram
        and the balance before adjustment."""
        lo, hi = logit[~data.t].min(), logit[~data.t].max()
        inside = (logit[data.t] >= lo) & (logit[data.t] <= hi)
        b, edges = data.base, np.linspace(0, 1, 41)
        share = float(np.average(inside, weights=b[data.t]))
        if brief:
            return {"overlap": {"share_treated_in_common_support": share}}
        return {
            "propensity_auc": float(roc_auc_score(data.t, p, sample_weight=b)),
            **data.balance.summary(b, "{}_before"),
            "overlap": {
                "share_treated_in_common_support": share,
                "propensity_quantiles_treated": _quantiles(p[data.t], b[data.t]),
                "propensity_quantiles_control": _quantiles(p[~data.t], b[~data.t]),
                "histogram": {
                    "edges": edges.tolist(),
                    **{
                        group: np.histogram(p[rows], edges, weights=b[rows], density=True)[
                            0
                        ].tolist()
                        for group, rows in (("treated", data.t), ("control", ~data.t))
                    },
                },
            },
        }

    def _weights(self, method, data, logit, p, diagnostics) -> tuple[np.ndarray, Any]:
        """Row weights (treated and controls) that make the contrast estimate the estimand, and
        for matching its matched sets (None for the other methods)."""
        t = data.t
        if method in ("naive", "dr"):
            return data.base.copy(), None
        if method == "match":
            if self.estimand != "ATT":
                raise ValueError("match estimates the ATT; use iptw or dr for the ATE")
            sets = MatchedSets(*self._pairs(data, logit), len(t), data.base)
            w = sets.weights
            diagnostics["matched_fraction"] = float((sets.per_treated[t] > 0).mean())
            diagnostics.update(data.balance.summary(w, "match_{}"))
            diagnostics["matched_controls"] = int((w[~t] > 0).sum())
            diagnostics["matching"] = {
                "ratio": self.ratio,
                "replace": self.replace,
                "caliper_sd": self.caliper_sd,
                "controls_per_matched_treated": float(sets.per_treated[sets.matched_treated].mean())
                if len(sets.matched_treated)
                else 0.0,
            }
            return w, sets
        if self.estimand == "ATT":
            w = np.where(t, 1.0, p / (1 - p)) * data.base
        else:
            w = np.where(t, 1 / p, 1 / (1 - p)) * data.base
        if self.trim:
            cap = np.quantile(w, 1 - self.trim)
            w = np.minimum(w, cap)
        for group in (t, ~t):  # stabilised: each group's weights sum to its size
            w[group] *= group.sum() / w[group].sum()
        diagnostics["ess"] = {"treated": _ess(w[t]), "control": _ess(w[~t])}
        diagnostics["max_weight"] = float(w.max())
        return w, None

    def _strata(self, df: pd.DataFrame) -> np.ndarray:
        """One integer per combination of the ``exact`` columns (vectorised)."""
        if not self.exact:
            return np.zeros(len(df))
        groups = df.groupby(list(self.exact), sort=False, observed=True, dropna=False)
        return groups.ngroup().to_numpy()

    def _pairs(self, data: _Data, logit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Matched (treated row, control row) pairs, exact on the ``exact`` columns."""
        return match_nearest(logit, data.t, data.exact, self.caliper_sd, self.ratio, self.replace)

    def _match_variance(self, outcome_type: str) -> str:
        """How the matched estimate's standard error is computed, in words."""
        if not self.replace:
            return "matched-set bootstrap (treated rows resampled with their controls)"
        if outcome_type == "time_to_event":
            return "cluster bootstrap of rows with the match weights fixed"
        return "matched-set bootstrap plus the variance of reused controls (Abadie-Imbens)"

    def _matched_contrast(self, data, sets, logit, outcome_type) -> dict[str, dict]:
        """The matched contrast with the standard error ``_match_variance`` describes."""
        if self.replace and outcome_type == "time_to_event":
            # Graded on the simulator (coverage 0.90-1.00): survival curves have no per-row
            # residual to carry the reused controls' variance.
            return self._weighted_contrast(data, sets.weights, outcome_type)
        out = self._weighted_contrast(data, sets.weights, outcome_type, sets)
        if self.replace:
            noise = neighbour_variance(data.y, logit, data.exact, ~data.t)
            extra = sets.reuse_variance(noise)
            for v in out.values():
                v["se"] = float(np.sqrt(v["se"] ** 2 + extra))
                v["ci_low"], v["ci_high"] = (
                    v["estimate"] - 1.96 * v["se"],
                    v["estimate"] + 1.96 * v["se"],
                )
        return out

    def matched_pairs(
        self, df: pd.DataFrame | Prepared
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The rows kept and the matched pairs as (treated row, control row) positions in
        them, for contrasts aligned on each treated row's own time of treatment (a treated
        row appears once per matched control)."""
        prepared = self.prepare(df)
        treated, control = self._pairs(prepared.data, self._propensity(prepared.data))
        return prepared.df, treated, control

    def _weighted_contrast(
        self, data, weights, outcome_type, sets: MatchedSets | None = None
    ) -> dict[str, dict[str, float]]:
        """The weighted contrast on every scale, with bootstrap intervals: customers (clusters)
        get Poisson weights, and a row takes its own customer's or, with matched ``sets``, a
        control takes its treated rows' (matched sets are resampled whole). Every replicate
        comes from one aggregation of the rows (``resampling.ClusterSums``)."""
        t, keep = data.t, weights > 0
        treat, ctrl = t & keep, ~t & keep
        target = treat if self.estimand == "ATT" else treat | ctrl
        if data.strata is not None:  # only strata with both arms can be compared
            both = np.intersect1d(data.strata[treat], data.strata[ctrl])
            target = target & np.isin(data.strata, both)
        sums = ClusterSums(data.cluster)
        if sets is not None:
            sums = ClusterSums(
                data.cluster, sets.mixing(sums.codes_of(data.cluster), len(sums.clusters))
            )
        if outcome_type == "time_to_event":
            contrast = SurvivalContrast(
                data.duration,
                data.event,
                data.strata,
                treat,
                ctrl,
                target,
                self.horizon,
                data.km_order,
            )
            cells = contrast.cells(weights)

            def stats(v: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
                r = contrast.statistics(v)
                return {
                    "risk_difference": r["risk_treated"] - r["risk_control"],
                    "rmst_difference": r["rmst_treated"] - r["rmst_control"],
                }, r["risk_control"]

        else:
            arms = np.where(treat, 0, np.where(ctrl, 2, -1))
            rows = np.flatnonzero(arms >= 0)
            cells = sparse.csr_matrix(
                (
                    np.concatenate([weights[rows] * data.y[rows], weights[rows]]),
                    (np.concatenate([rows, rows]), np.concatenate([arms[rows], arms[rows] + 1])),
                ),
                shape=(len(weights), 4),
            )
            scale = "risk_difference" if outcome_type == "binary" else "mean_difference"

            def stats(v: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
                y1, y0 = v[:, 0] / v[:, 1], v[:, 2] / v[:, 3]
                return {scale: y1 - y0}, y0

        point_sums = np.asarray(cells.sum(axis=0))
        point, control = stats(point_sums)
        boot = np.vstack(
            [
                np.column_stack(list(stats(v)[0].values()))
                for v in sums.replicates(cells, self.fitted_.draws.of(sums.clusters))
            ]
        )
        out = {
            scale: _interval(float(v[0]), boot[:, i], int(treat.sum()), int(ctrl.sum()))
            for i, (scale, v) in enumerate(point.items())
        }
        if "risk_difference" in out:
            out["risk_difference"]["risk_control"] = float(control[0])
        else:
            out["mean_difference"]["mean_control"] = float(control[0])
        if outcome_type == "time_to_event":
            # The hazard ratio's robust variance clusters a control with its treated row when
            # each control serves one matched set.
            cluster = data.cluster if sets is None or self.replace else data.cluster[sets.follow()]
            out["hazard_ratio"] = self._hazard_ratio(data, weights, treat | ctrl, cluster)
            grid = np.linspace(0, self.horizon, CURVE_POINTS)
            curves = contrast.curves(point_sums, grid)
            out["survival_curve"] = {
                "days": grid.tolist(),
                **{arm: curves[arm][0].tolist() for arm in ("treated", "control")},
            }
        return out

    def _hazard_ratio(
        self, data: _Data, weights: np.ndarray, keep: np.ndarray, cluster: np.ndarray
    ) -> dict:
        """Weighted Cox hazard ratio (reported, not leaned on) with cluster-robust CI."""
        beta, se = cox_binary(
            data.duration[keep], data.event[keep], data.t[keep], weights[keep], cluster[keep]
        )
        return {
            "estimate": float(np.exp(beta)),
            "se": se,
            "ci_low": float(np.exp(beta - 1.96 * se)),
            "ci_high": float(np.exp(beta + 1.96 * se)),
            "n_treated": int(data.t[keep].sum()),
            "n_control": int((~data.t[keep]).sum()),
            "se_scale": "log hazard ratio",
        }

    def _event(self, data: _Data) -> tuple[np.ndarray, np.ndarray]:
        """The outcome DR and CATE model, and each row's weight in it: the event by the
        horizon with its censoring weight (0 where unknown), or the outcome itself."""
        if self.duration:
            return data.by_horizon
        return data.y, np.ones(len(data.t))

    def _outcome_models(self, data: _Data, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """DR's outcome models: each arm's expected outcome for every row (treated, untreated),
        logistic for a risk (a constant where an arm has one outcome) or linear."""
        t, (y, c), b = data.t, self._event(data), data.base
        known = c > 0
        m = {}
        for arm in (True, False):
            part = known & (t == arm)
            if self.fitted_.outcome_type == "continuous":
                model = LinearRegression().fit(data.x[part], y[part], sample_weight=(c * b)[part])
                m[arm] = model.predict(data.x)
            elif len(np.unique(y[part])) < 2:  # a logistic model needs both outcomes
                m[arm] = np.full(len(t), float(y[part][0]))
                arm_name = "treated" if arm else "untreated"
                notes.append(
                    f"every {arm_name} row has the same outcome ({y[part][0]:g}): the doubly "
                    "robust estimate predicts it as a constant"
                )
            else:
                model = Logit(C=1e4)  # which fits in float32: the arm's rows copied as such
                model.fit(
                    float32_rows(data.x, part), y[part].astype(int), sample_weight=(c * b)[part]
                )
                m[arm] = model.predict_proba(data.x)[:, 1]
        return m[True], m[False]

    def _aipw(
        self, data: _Data, p: np.ndarray, outcome_type: str, models: tuple
    ) -> dict[str, dict[str, float]]:
        """Augmented IPW with a cluster-robust influence-function standard error."""
        t, (y, c), b = data.t, self._event(data), data.base
        scale = "mean_difference" if outcome_type == "continuous" else "risk_difference"
        known = c > 0
        m = {True: models[0], False: models[1]}
        y0 = np.where(known, y, 0.0)
        # Every row counts b times (its sampling weight): means below are b-weighted, and the
        # influence function of a row is b times its term.
        scale_b = b / b.mean()
        if self.estimand == "ATT":
            share = np.average(t, weights=b)
            odds = p / (1 - p)
            psi = (t * c * (y0 - m[False]) - (~t) * odds * c * (y0 - m[False])) / share
            # tau solves mean(b (psi - t * tau / share)) = 0
            tau = np.average(psi, weights=b)
            phi = scale_b * (psi - t * tau / share)
            control = (b * t * c * y0).sum() / (b * t * c).sum() - tau  # treated risk - effect
        else:
            psi = (
                m[True]
                - m[False]
                + t * c * (y0 - m[True]) / p
                - (~t) * c * (y0 - m[False]) / (1 - p)
            )
            tau = np.average(psi, weights=b)
            phi = scale_b * (psi - tau)
            control = np.average(m[False] + (~t) * c * (y0 - m[False]) / (1 - p), weights=b)
        se = cluster_se(phi, data.cluster)
        out = {
            "estimate": float(tau),
            "se": se,
            "ci_low": float(tau - 1.96 * se),
            "ci_high": float(tau + 1.96 * se),
            "n_treated": int(t.sum()),
            "n_control": int((~t).sum()),
        }
        out["risk_control" if scale == "risk_difference" else "mean_control"] = float(control)
        return {scale: out}


# ---------------------------------------------------------------------------- helpers
def _ipcw_outcome(
    duration, event, horizon, strata=None, weights=None
) -> tuple[np.ndarray, np.ndarray]:
    """Churned by the horizon, and inverse-probability-of-censoring weights (0 where the
    status at the horizon is unknown), with censoring survival from the (``weights``-weighted)
    Kaplan-Meier (within each stratum, when given: censoring depends on the trial in stacked
    trials)."""
    weights = np.ones(len(duration)) if weights is None else weights
    if strata is not None:
        y, c = np.zeros(len(duration)), np.zeros(len(duration))
        for s in np.unique(strata):
            rows = strata == s
            y[rows], c[rows] = _ipcw_outcome(
                duration[rows], event[rows], horizon, weights=weights[rows]
            )
        return y, c
    known = (event & (duration <= horizon)) | (duration >= horizon)
    y = (event & (duration <= horizon)).astype(float)
    at = np.minimum(duration, horizon)
    # Censoring "events" are the censored rows; evaluate G just before each row's time.
    order = np.argsort(duration, kind="stable")
    d, cens, w = duration[order], ~event[order], weights[order]
    times = np.unique(d[cens])
    after = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])  # weight at or after each row
    n_at = after[np.searchsorted(d, times, side="left")]
    cens_w = np.concatenate([[0.0], np.cumsum(w * cens)])
    n_cens = (
        cens_w[np.searchsorted(d, times, side="right")]
        - cens_w[np.searchsorted(d, times, side="left")]
    )
    g = np.cumprod(1 - n_cens / n_at)
    idx = np.searchsorted(times, at, side="left") - 1  # strictly before the row's time
    g_at = np.where(idx >= 0, g[np.maximum(idx, 0)], 1.0)
    c = np.where(known, 1.0 / np.maximum(g_at, 1e-6), 0.0)
    return y, c


def cluster_se(phi: np.ndarray, cluster: np.ndarray) -> float:
    """Cluster-robust standard error of a mean from each row's influence ``phi`` (clusters
    that are already small non-negative integer codes are summed without a sort)."""
    if (
        np.issubdtype(cluster.dtype, np.integer)
        and cluster.min() >= 0
        and cluster.max() < 2 * len(cluster)
    ):
        codes = cluster
    else:
        codes = np.unique(cluster, return_inverse=True)[1]
    sums = np.bincount(codes, weights=phi)
    n = len(phi)
    return float(np.sqrt((sums**2).sum()) / n)


def _interval(point: float, boot: np.ndarray, n_t: int, n_c: int) -> dict[str, float]:
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {
        "estimate": point,
        "se": float(boot.std(ddof=1)),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n_treated": n_t,
        "n_control": n_c,
    }


def _pooled_sd(y: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    """The outcome's standard deviation within the arms, pooled (rows weighted by ``w``)."""
    ss = sum((w[arm] * (y[arm] - np.average(y[arm], weights=w[arm])) ** 2).sum() for arm in (t, ~t))
    return float(np.sqrt(ss / max(w.sum() - 2, 1)))


def _problem(code, column, message, hint, count=0, examples=None) -> Problem:
    """A problem of the analysed table (``AnalysisError.located`` names the file)."""
    return Problem("error", code, "table", column, message, hint, count, examples or [])


def _ess(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w**2).sum())


def _quantiles(p: np.ndarray, w: np.ndarray) -> dict[str, float]:
    levels = [0.01, 0.25, 0.5, 0.75, 0.99]
    q = (
        np.quantile(p, levels)
        if np.all(w == w[0])
        else np.quantile(p, levels, weights=w, method="inverted_cdf")
    )
    return dict(zip(["p01", "p25", "p50", "p75", "p99"], map(float, q), strict=True))
