"""Check input tables against the contract and report every problem at once.

Three passes, each collecting instead of stopping: (1) structure and types: tables present and
not empty, required columns, values that do not parse as numbers or dates, missing values;
(2) values, declared as pandera schemas and validated lazily: ranges, uniqueness, allowed values,
churn after start; (3) consistency across tables: unknown customers, events after churn, a
configured touchpoint without events, no churners. Errors stop an analysis; warnings flag data
that is legal but suspicious. Each problem names the file, the column, a count and example rows
(row 1 = the first data row) and says what to do.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from churn_causal.data.contract import CONTRACT, RawTable
from churn_causal.data.problems import N_EXAMPLES, Problem, flagged, plain

# The tiers of the CS teams' reports, with the abbreviations and Japanese names they use.
KNOWN_TIERS = ("Enterprise", "Middle", "SMB", "EP", "MID", "エンタープライズ", "ミドル")
CONTRACT_TYPES = ("annual", "monthly")
RARE_TOUCHPOINT_EVENTS = 20


@dataclass
class ValidationReport:
    problems: list[Problem]
    tables: dict[str, pd.DataFrame]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


# ------------------------------------------------------------------- pass 1: structure, types
def _column(s: pd.Series, kind: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """One column typed as the contract says: (values, present, failed to parse).

    Text is stripped and blank counts as missing. Work is done on the distinct values and
    mapped back, so millions of rows with few distinct ids, dates or scores cost little.
    """
    n = len(s)
    if kind in ("integer", "number") and pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype(float), s.notna().to_numpy(), np.zeros(n, dtype=bool)
    if kind == "date" and pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.astype("datetime64[ns]"), s.notna().to_numpy(), np.zeros(n, dtype=bool)
    codes, uniques = pd.factorize(s)
    if len(uniques) == 0:  # every value missing
        codes, uniques = np.full(n, -1), np.array([""])
    text = pd.Index(uniques.astype(str)).str.strip()
    blank = np.asarray(text == "")
    if kind in ("integer", "number"):
        parsed = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    elif kind == "date":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # format inference chatter
            parsed = pd.to_datetime(text, errors="coerce").to_numpy(dtype="datetime64[ns]")
    else:
        t_codes, t_uniques = pd.factorize(text)
        t_codes[blank] = -1
        row_codes = np.where(codes >= 0, t_codes[np.maximum(codes, 0)], -1)
        values = pd.Categorical.from_codes(row_codes, categories=t_uniques)
        present = row_codes >= 0
        return pd.Series(values, index=s.index), present, np.zeros(n, dtype=bool)
    failed_u = ~blank & pd.isna(parsed)
    present = (codes >= 0) & ~blank[np.maximum(codes, 0)]
    failed = (codes >= 0) & failed_u[np.maximum(codes, 0)]
    values = parsed[np.maximum(codes, 0)]
    values[~present | failed] = np.datetime64("NaT") if kind == "date" else np.nan
    return pd.Series(values, index=s.index), present, failed


_PARSE_FAILURES = {
    "integer": (
        "not_a_number",
        "values are not numbers",
        "Use plain numbers (no units or thousands separators).",
    ),
    "number": (
        "not_a_number",
        "values are not numbers",
        "Use plain numbers (no units or thousands separators).",
    ),
    "date": ("unparseable_date", "values are not dates", "Write dates as YYYY-MM-DD."),
}


def _parse(raw: RawTable, problems: list[Problem]) -> pd.DataFrame | None:
    """Typed copy of the table; unparseable values become missing and are reported."""
    spec, df = CONTRACT[raw.name], raw.frame.reset_index(drop=True)
    if df.empty:
        problems.append(
            Problem(
                "error",
                "empty_table",
                raw.origin,
                None,
                f"the {raw.name} table has no rows",
                f"Export the {raw.name} table again; it must not be empty.",
            )
        )
        return None
    missing = [c for c in spec.names if c not in df.columns]
    for col in missing:
        problems.append(
            Problem(
                "error",
                "missing_column",
                raw.origin,
                col,
                f"required column is missing (found: {', '.join(map(str, df.columns))})",
                f"Add it, or map your column to '{col}' under data.columns.{raw.name} in "
                "the config.",
            )
        )
    out = {}
    for col in spec.columns:
        if col.name in missing:
            continue
        raw_values = df[col.name]
        values, present, failed = _column(raw_values, col.kind)
        if col.kind in _PARSE_FAILURES:
            code, message, hint = _PARSE_FAILURES[col.kind]
            _report(problems, code, raw, col.name, failed, raw_values, message, hint)
        if col.kind == "integer":
            fraction = values.notna() & (values % 1 != 0)
            _report(
                problems,
                "not_an_integer",
                raw,
                col.name,
                fraction.to_numpy(),
                raw_values,
                "values are not whole numbers",
                "Round them or fix the export.",
            )
            if not fraction.any():
                values = values.astype("Int64")
        if not col.nullable:
            _report(
                problems,
                "missing_value",
                raw,
                col.name,
                ~present,
                None,
                "values are missing",
                f"Every row needs a {col.name}; fill or drop those rows.",
            )
        out[col.name] = values
    return None if missing else pd.DataFrame(out)


def _report(
    problems, code, raw, column, mask, values, message, hint, level="error", params=None
) -> None:
    count, examples = flagged(mask, values)
    if count:
        problems.append(
            Problem(level, code, raw.origin, column, message, hint, count, examples, params or {})
        )


# ------------------------------------------------------------------------ pass 2: values
_NONNEG = pa.Check.ge(0, error="negative")
_SCORE = pa.Check.in_range(0, 100, error="outside 0-100")


def _schema(name: str) -> pa.DataFrameSchema:
    def col(*checks: pa.Check, unique: bool = False) -> pa.Column:
        return pa.Column(checks=list(checks), nullable=True, unique=unique, required=False)

    if name == "customers":
        return pa.DataFrameSchema(
            {
                "customer_id": col(unique=True),
                "contract_type": col(pa.Check.isin(CONTRACT_TYPES, error="not annual/monthly")),
                "seats": col(_NONNEG),
                "mrr": col(_NONNEG),
            },
            checks=[
                pa.Check(lambda d: ~(d["churn_date"] < d["start_date"]), error="churn before start")
            ],
        )
    if name == "health":
        return pa.DataFrameSchema({c: col(_SCORE) for c in CONTRACT["health"].names[2:]})
    return pa.DataFrameSchema({})


_VALUE_CODES = {
    "field_uniqueness": (
        "duplicate_id",
        "the same customer_id appears more than once",
        "Each customer needs exactly one row; merge or drop the duplicates.",
    ),
    "negative": ("negative_value", "values are negative", "They must be 0 or more."),
    "outside 0-100": (
        "out_of_range",
        "values lie outside 0-100",
        "Health scores and pillars run from 0 to 100; rescale or fix them.",
    ),
    "not annual/monthly": (
        "bad_value",
        "values are neither 'annual' nor 'monthly'",
        "Use annual or monthly (annual contracts churn only at renewal).",
    ),
    "churn before start": (
        "churn_before_start",
        "churn_date is before start_date",
        "Fix the dates: a customer cannot leave before it starts.",
    ),
}


def _values(name: str, origin: str, df: pd.DataFrame, problems: list[Problem]) -> None:
    try:
        _schema(name).validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()].copy()
        frame_level = cases["schema_context"] == "DataFrameSchema"
        cases.loc[frame_level, "column"] = "churn_date"  # the one frame-level check
        cases = cases.drop_duplicates(["column", "check", "index"])
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            code, message, hint = _VALUE_CODES[str(check)]
            where = group["index"].astype(int).to_numpy()
            values = group["failure_case"].to_numpy()
            if code == "churn_before_start":
                values = df["churn_date"].to_numpy()[where]
            problems.append(
                Problem(
                    "error",
                    code,
                    origin,
                    column,
                    message,
                    hint,
                    len(where),
                    [
                        (int(r), plain(v))
                        for r, v in list(zip(where, values, strict=True))[:N_EXAMPLES]
                    ],
                )
            )


# ------------------------------------------------------------------- pass 3: across tables
def _across(t: dict[str, pd.DataFrame], origins: dict[str, str], touchpoints, problems) -> None:
    c = t["customers"]
    ids = pd.Index(c["customer_id"].dropna().unique())
    churn = c.drop_duplicates("customer_id").set_index("customer_id")
    for name, df in t.items():
        if name == "customers":
            continue
        origin = origins[name]
        known = df["customer_id"].isin(ids) | df["customer_id"].isna()
        _report(
            problems,
            "unknown_customer",
            RawTable(name, origin, df),
            "customer_id",
            ~known,
            df["customer_id"],
            "rows belong to customers missing from the customers table",
            "Add those customers to the customers table or drop their rows.",
        )
        dates = df["date"]
        ref = churn.reindex(df["customer_id"])
        after = (dates > ref["churn_date"].to_numpy()) & known
        _report(
            problems,
            "after_churn",
            RawTable(name, origin, df),
            "date",
            after,
            dates,
            "dates lie after the customer's churn_date",
            "Check churn_date in the customers table, or drop events after churn.",
        )
        before = (dates < ref["start_date"].to_numpy()) & known
        _report(
            problems,
            "before_start",
            RawTable(name, origin, df),
            "date",
            before,
            dates,
            "dates lie before the customer's start_date (ignored by the analysis)",
            "Harmless if these are pre-sales records; otherwise check start_date.",
            level="warning",
        )
    h = t["health"]
    dup = pd.DataFrame({"id": h["customer_id"], "day": h["date"].dt.floor("D")}).duplicated()
    _report(
        problems,
        "duplicate_reading",
        RawTable("health", origins["health"], h),
        "date",
        dup,
        h["date"],
        "a customer has two readings on the same day",
        "The analysis uses the last one; deduplicate the export to be sure.",
        level="warning",
    )
    no_health = ~c["customer_id"].isin(h["customer_id"].dropna().unique())
    _report(
        problems,
        "no_health",
        RawTable("customers", origins["customers"], c),
        "customer_id",
        no_health,
        c["customer_id"],
        "customers without any health reading",
        "They cannot enter a trial; check the health export.",
        level="warning",
    )
    tiers = ~c["tier"].isin(KNOWN_TIERS) & c["tier"].notna()
    _report(
        problems,
        "unknown_tier",
        RawTable("customers", origins["customers"], c),
        "tier",
        tiers,
        c["tier"],
        f"tiers other than {', '.join(KNOWN_TIERS)}",
        "They are analysed as their own segment.",
        level="warning",
        params={"known": ", ".join(KNOWN_TIERS)},
    )
    if c["churn_date"].notna().sum() == 0:
        problems.append(
            Problem(
                "error",
                "no_churners",
                origins["customers"],
                "churn_date",
                "no customer has a churn_date: there is no outcome to analyse",
                "Export churned customers too, with their churn_date.",
            )
        )
    counts = t["touches"]["touchpoint"].value_counts()
    for tp in touchpoints or []:
        if counts.get(tp, 0) == 0:
            problems.append(
                Problem(
                    "error",
                    "touchpoint_without_events",
                    origins["touches"],
                    "touchpoint",
                    f"the configured touchpoint '{tp}' has no events (types found: "
                    f"{', '.join(counts.index.astype(str))})",
                    "Fix its name in the config or remove it from data.touchpoints.",
                )
            )
    for tp, n in counts.items():
        if n < RARE_TOUCHPOINT_EVENTS:
            problems.append(
                Problem(
                    "warning",
                    "rare_touchpoint",
                    origins["touches"],
                    "touchpoint",
                    f"touchpoint '{tp}' has only {n} events",
                    "Its effect cannot be estimated well.",
                    params={"touchpoint": str(tp), "events": int(n)},
                )
            )


def validate(raw: dict[str, RawTable], touchpoints: list[str] | None = None) -> ValidationReport:
    """Validate tables read by ``churn_causal.data.load.read_raw``; never raises on bad data."""
    problems: list[Problem] = []
    typed = {name: _parse(r, problems) for name, r in raw.items()}
    for name, df in typed.items():
        if df is not None:
            _values(name, raw[name].origin, df, problems)
    if all(df is not None for df in typed.values()):
        _across(typed, {n: r.origin for n, r in raw.items()}, touchpoints, problems)
    return ValidationReport(problems, {k: v for k, v in typed.items() if v is not None})
