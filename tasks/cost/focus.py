"""Reading FOCUS billing exports as providers really write them.

Real exports differ from the spec in small ways that must not break a review: nulls spelled
`NULL`, timestamps with a space instead of `T` and no `Z`, `Usage-Based` and `Usage-based` in
one file, tags as a JSON string inside a CSV cell. The reader normalises all of that into one
frame with numeric costs, UTC timestamps and tags as dicts; it never drops a row, so anything
it cannot parse stays visible (as a null) for the gate to report.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
NUMBER_COLUMNS = (*COST_COLUMNS, "ConsumedQuantity", "PricingQuantity", "ListUnitPrice", "ContractedUnitPrice")
TIME_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
NULL_WORDS = ["NULL", "null", "Null", "None", ""]
# FOCUS 1.0 allowed values, keyed by their lower-case spelling.
CANONICAL = {
    "ChargeFrequency": {"one-time": "One-Time", "recurring": "Recurring", "usage-based": "Usage-Based"},
    "ChargeCategory": {
        "usage": "Usage",
        "purchase": "Purchase",
        "tax": "Tax",
        "credit": "Credit",
        "adjustment": "Adjustment",
    },
    "ChargeClass": {"correction": "Correction"},
}


class ExportError(Exception):
    """An export cannot be read at all (missing, unreadable, not CSV or Parquet)."""


def export_files(patterns: Iterable[str]) -> list[Path]:
    """The files the configured paths and globs name, sorted and without repeats."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        for match in matches:
            found[Path(match)] = None
    return list(found)


def read_export(path: Path) -> pd.DataFrame:
    """One export as a normalised frame (every row kept; unparseable cells become nulls)."""
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            raw = pd.read_parquet(path)
            raw = raw.astype({c: "object" for c in raw.columns if c not in NUMBER_COLUMNS})
            raw = raw.replace({word: None for word in NULL_WORDS})
        elif name.endswith((".csv", ".csv.gz", ".csv.gzip", ".gz")):
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=NULL_WORDS, compression="infer")
        else:
            raise ExportError(f"{path}: not a .csv, .csv.gz or .parquet file")
    except ExportError:
        raise
    except FileNotFoundError:
        raise ExportError(f"{path}: no such file") from None
    except Exception as error:
        raise ExportError(f"{path}: cannot read: {type(error).__name__}: {error}") from None
    return normalise(raw)


def normalise(raw: pd.DataFrame) -> pd.DataFrame:
    frame = raw.copy()
    for column in NUMBER_COLUMNS:
        if column in frame:
            numbers = pd.to_numeric(frame[column], errors="coerce").astype("float64")
            # `1e999`, `inf`: no real charge; a null is what the gate reports as not a valid number.
            frame[column] = numbers.where(np.isfinite(numbers))
    for column in TIME_COLUMNS:
        if column in frame:
            frame[column] = _timestamps(frame[column])
    for column, spellings in CANONICAL.items():
        if column in frame:
            frame[column] = frame[column].map(lambda v, s=spellings: _canonical(v, s))
    if "Tags" in frame:
        frame["Tags"] = frame["Tags"].map(parse_tags)
    return frame


def _timestamps(values: pd.Series) -> pd.Series:
    # ISO 8601 with or without `T`, with or without a zone; a zone-less time is UTC (as FOCUS says).
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.map(lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize("UTC")
    parsed = parsed.dt.tz_convert("UTC")
    # Year 1 or 9999 parses (in microseconds) but no nanosecond frame holds it: a null, as for any unreadable time.
    held = (parsed >= _EARLIEST) & (parsed <= _LATEST)
    return parsed.where(held).astype("datetime64[ns, UTC]")


_EARLIEST, _LATEST = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")


def _canonical(value: Any, spellings: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    return spellings.get(value.strip().lower(), value.strip())


def parse_tags(value: Any) -> dict[str, str]:
    """Tags from a JSON string, a dict, or Parquet's list of key/value pairs; {} when absent."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except (json.JSONDecodeError, RecursionError):  # `[[[[...` nests past what the decoder can follow
            return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        pairs = value.tolist() if hasattr(value, "tolist") else value
        try:
            return {str(k): "" if v is None else str(v) for k, v in pairs}
        except (TypeError, ValueError):
            return {}
    return {}


def convert_currency(frame: pd.DataFrame, currency: str, rates: dict[str, float]) -> tuple[pd.DataFrame, int]:
    """Costs in other billing currencies converted with the configured rates; returns rows converted.

    Rows in a currency without a rate are left alone, so the gate names that currency.
    """
    if "BillingCurrency" not in frame:
        return frame, 0
    frame = frame.copy()
    codes = frame["BillingCurrency"].astype("string").str.strip().str.upper()
    frame["BillingCurrency"] = codes.astype(object).where(codes.notna(), None)
    converted = 0
    for code, rate in rates.items():
        rows = (codes == code).fillna(False).to_numpy() & (code != currency)
        if rows.any():
            for column in COST_COLUMNS:
                if column in frame:
                    frame.loc[rows, column] = frame.loc[rows, column] * rate
            frame.loc[rows, "BillingCurrency"] = currency
            converted += int(rows.sum())
    return frame, converted
