"""Property-based tests for the FOCUS export reader: whatever the CSV holds, every row comes back, typed.

Invariants, over arbitrary bytes and over CSV files whose cells are what real exports hold
(NULL spellings, space-separated and zone-less times, impossible dates, JSON tags that are not
objects, quotes, commas and newlines inside cells):
- nothing but ExportError escapes `read_export`;
- a row for every row written (the reader never drops one), in the order written;
- costs and quantities are finite numbers or null (an unparseable cell is a null the gate
  reports, never text, `inf` or an exception), times are UTC, tags are a dict of strings;
- a well-formed row reads back to the values it was written from.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsbook.tasks.cost.focus import CANONICAL, NUMBER_COLUMNS, TIME_COLUMNS, ExportError, read_export
from tests.focus_builder import COLUMNS
from tests.property_settings import PROPERTY

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def export() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "export.csv"


def _check_types(frame: pd.DataFrame) -> None:
    for column in NUMBER_COLUMNS:
        if column in frame:
            assert frame[column].dtype == "float64", column
            values = frame[column].dropna()
            assert values.map(math.isfinite).all(), (column, values.tolist())
    for column in TIME_COLUMNS:
        if column in frame:
            assert str(frame[column].dt.tz) == "UTC", column
    if "Tags" in frame:
        for tags in frame["Tags"]:
            assert isinstance(tags, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())


def _read(path: Path) -> pd.DataFrame | None:
    try:
        frame = read_export(path)
    except ExportError as error:
        assert str(error).startswith(str(path)), error
        return None
    _check_types(frame)
    return frame


@PROPERTY
@given(data=st.binary(max_size=2000))
def test_any_bytes_are_an_export_or_an_export_error(export: Path, data: bytes) -> None:
    export.write_bytes(data)
    _read(export)


_CELL = st.sampled_from(
    [
        "NULL",
        "null",
        "None",
        "",
        "1.5",
        "-0.25",
        "1e999",
        "-inf",
        "nan",
        "1,5",
        "abc",
        "2026-01-31 00:00:00",
        "2026-01-31T00:00:00Z",
        "2026-02-30 00:00:00",
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59+14:00",
        "usage-based",
        " Usage ",
        "CREDIT",
        '{"env": "prod", "n": 1, "x": null}',
        "[1, 2]",
        '[["k", "v"]]',
        '"text"',
        "{",
        "[" * 5000,  # json's recursion limit
        'a "quoted" cell',
        "line\nbreak",
        "\ufeff",
    ]
) | st.text(max_size=8)
_ROWS = st.lists(st.lists(_CELL, min_size=len(COLUMNS), max_size=len(COLUMNS)), max_size=8)
# Two columns at least: a one-column row of blanks is a blank line, which CSV readers skip (an export
# has a dozen columns, so a row of it always holds its commas).
_HEADER = st.lists(st.sampled_from(COLUMNS), min_size=2, max_size=len(COLUMNS), unique=True)


@PROPERTY
@given(header=_HEADER, rows=_ROWS)
# Tags nested past json's recursion limit raised RecursionError; `1e999` was an infinite cost.
@example(header=["Tags", "ServiceName"], rows=[["[" * 5000] + [""] * (len(COLUMNS) - 1)])
@example(header=["BilledCost", "ServiceName"], rows=[["1e999"] + [""] * (len(COLUMNS) - 1)])
# Year 1 parsed (in microseconds) and then broke the cast to nanoseconds: OutOfBoundsDatetime escaped.
@example(
    header=["BillingPeriodStart", "ServiceName"], rows=[["NULL"] * len(COLUMNS), ["0001-01-01T00:00:00"] * len(COLUMNS)]
)
def test_every_row_written_is_read_back_typed(export: Path, header: list[str], rows: list[list[str]]) -> None:
    with export.open("w", newline="", encoding="utf-8", errors="surrogatepass") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(row[: len(header)] for row in rows)
    frame = _read(export)
    assert frame is not None, "a CSV the csv module wrote is readable"
    assert len(frame) == len(rows)
    assert list(frame.columns) == header
    for column, spellings in CANONICAL.items():
        if column in frame:
            written = [row[header.index(column)].strip().lower() for row in rows]
            for cell, value in zip(written, frame[column], strict=True):
                if cell in spellings:
                    assert value == spellings[cell]


_MONEY = st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False)
_WHEN = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)
_TIME_FORMATS = ["{:%Y-%m-%d %H:%M:%S}", "{:%Y-%m-%dT%H:%M:%SZ}", "{:%Y-%m-%dT%H:%M:%S+00:00}"]
_TAGS = st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=6) | st.none(), max_size=3)


@PROPERTY
@given(
    rows=st.lists(st.tuples(_MONEY, _WHEN, st.sampled_from(_TIME_FORMATS), _TAGS), min_size=1, max_size=6),
)
def test_a_well_formed_row_reads_back_to_its_values(
    export: Path, rows: list[tuple[Decimal, datetime, str, dict[str, str | None]]]
) -> None:
    with export.open("w", newline="", encoding="utf-8", errors="surrogatepass") as handle:
        writer = csv.writer(handle)
        writer.writerow(["BilledCost", "ChargePeriodStart", "Tags"])
        for cost, when, spelling, tags in rows:
            writer.writerow([str(cost), spelling.format(when), json.dumps(tags)])
    frame = read_export(export)
    assert frame["BilledCost"].tolist() == [float(cost) for cost, *_ in rows]
    assert frame["ChargePeriodStart"].tolist() == [pd.Timestamp(when, tz=UTC) for _, when, _, _ in rows]
    assert frame["Tags"].tolist() == [{k: "" if v is None else v for k, v in tags.items()} for *_, tags in rows]
