"""FOCUS exports: the tolerant reader, the Great Expectations gate, and exact totals on real data."""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from opsbook.tasks.cost import analysis
from opsbook.tasks.cost.expectations import credits_and_refunds, gate_export
from opsbook.tasks.cost.focus import convert_currency, export_files, read_export
from tests.focus_builder import month_rows, write_export

# Beside the checkout, as CI lays it out; OPSBOOK_SHARED_DATA points elsewhere (e.g. from a worktree).
SHARED = Path(os.environ.get("OPSBOOK_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
SAMPLE = SHARED / "focus" / "focus_sample.csv"
needs_sample = pytest.mark.skipif(
    not SAMPLE.exists(),
    reason=f"real FOCUS sample not found at {SAMPLE} (the shared data folder sits beside the repository checkout)",
)


def independent_sums(key: str, month: str) -> dict[str, Decimal]:
    """Billed cost per `key` for rows billed in `month`, summed with csv + Decimal (no opsbook code)."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    with SAMPLE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["BillingPeriodStart"].startswith(month):
                sums[row[key]] += Decimal(row["BilledCost"])
    return dict(sums)


def cents(value: float) -> Decimal:
    return round(Decimal(str(float(value))), 2)


@needs_sample
@pytest.mark.parametrize(("dimension", "column"), [("provider", "ProviderName"), ("service", "ServiceName")])
def test_real_sample_totals_equal_an_independent_sum_to_the_cent(dimension: str, column: str) -> None:
    frame = analysis.with_dimensions(read_export(SAMPLE), "environment", "application")
    month = analysis.latest_month(frame)
    assert month == "2024-09"  # one Oracle row is billed in October but charged on 30 September
    table = analysis.breakdown(frame, month, dimension).set_index(dimension)["billed"]
    expected = independent_sums(column, month)
    assert set(table.index) == set(expected)
    for key, total in expected.items():
        assert cents(table[key]) == round(total, 2), key
    assert cents(analysis.month_totals(frame, month, None).billed) == round(sum(expected.values()), 2)


@needs_sample
def test_real_sample_fails_the_gate_on_named_row_level_findings_and_stays_usable() -> None:
    frame = read_export(SAMPLE)
    gate = gate_export(SAMPLE.name, frame, "USD")
    # Twelve Microsoft usage rows carry small negative costs without being credits or corrections,
    # and one Oracle row is charged on 30 September inside an October billing period.
    assert not gate.passed and gate.usable
    assert gate.reasons == [
        "BilledCost is negative on rows that are not credits or refunds (12 row(s))",
        "EffectiveCost is negative on rows that are not credits or refunds (12 row(s))",
        "ChargePeriodStart is before its BillingPeriodStart (1 row(s))",
    ]
    refunds = credits_and_refunds(frame)
    assert len(refunds) == 1 and refunds["BilledCost"].iloc[0] == pytest.approx(-2.6137)


@needs_sample
def test_real_sample_quirks_are_normalised() -> None:
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    assert {"Usage-Based", "Usage-based"} <= set(raw["ChargeFrequency"]) and (raw == "NULL").any().any()
    frame = read_export(SAMPLE)
    assert set(frame["ChargeFrequency"]) == {"Usage-Based", "One-Time"}
    assert str(frame["ChargePeriodStart"].dtype) == "datetime64[ns, UTC]" and frame["ChargePeriodStart"].notna().all()
    assert frame["AvailabilityZone"].isna().sum() == (raw["AvailabilityZone"] == "NULL").sum()
    expected_tags = raw["Tags"].map(lambda t: {} if t == "NULL" else json.loads(t))
    assert frame["Tags"].tolist() == expected_tags.tolist()
    assert frame["Tags"].map(bool).sum() == 711


@pytest.mark.parametrize("name", ["sep.csv", "sep.csv.gz", "sep.parquet"])
def test_csv_gzip_and_parquet_read_the_same(tmp_path: Path, name: str) -> None:
    rows = month_rows(2025, 9, {"Compute": 10.0, "Storage": 2.5})
    frame = read_export(write_export(tmp_path / name, rows))
    assert len(frame) == 60 and frame["BilledCost"].sum() == pytest.approx(375.0)
    assert frame["RegionId"].isna().sum() == 30  # the NULL literal
    assert frame["Tags"].iloc[0] == {"environment": "prod", "application": "app-0"}
    assert frame["ChargePeriodStart"].min() == pd.Timestamp("2025-09-01", tz="UTC")
    gate = gate_export(name, frame, "USD")
    assert gate.passed, gate.reasons


def test_missing_required_column_fails_the_gate_naming_it(tmp_path: Path) -> None:
    path = write_export(tmp_path / "broken.csv", month_rows(2025, 9, {"Compute": 1.0}), drop=("EffectiveCost",))
    gate = gate_export(path.name, read_export(path), "USD")
    assert not gate.usable
    assert [f.reason for f in gate.findings if f.blocking] == ["required column EffectiveCost is missing"]


def test_unparseable_cost_and_foreign_currency_block_the_export(tmp_path: Path) -> None:
    rows = month_rows(2025, 9, {"Compute": 1.0})
    rows[0]["BilledCost"] = "twelve"
    rows[1]["BillingCurrency"] = "EUR"
    frame = read_export(write_export(tmp_path / "odd.csv", rows))
    gate = gate_export("odd.csv", frame, "USD")
    assert not gate.usable
    assert "BilledCost is empty or not a valid number (1 row(s))" in gate.reasons
    assert "BillingCurrency is not USD and no exchange rate converts it (1 row(s))" in gate.reasons

    converted, count = convert_currency(frame, "USD", {"EUR": 1.25})
    assert count == 1 and converted.loc[1, "BilledCost"] == pytest.approx(1.25)
    assert not any("BillingCurrency" in r for r in gate_export("odd.csv", converted, "USD").reasons)


def test_credits_are_flagged_but_negative_usage_is_a_finding(tmp_path: Path) -> None:
    rows = month_rows(2025, 9, {"Compute": 1.0})
    rows[0].update(BilledCost="-5", EffectiveCost="-5", ChargeCategory="Credit")
    rows[1].update(BilledCost="-1", EffectiveCost="-1", ChargeClass="Correction")  # a refund
    rows[2].update(BilledCost="-0.5", EffectiveCost="0")  # negative usage: not allowed
    frame = read_export(write_export(tmp_path / "credits.csv", rows))
    gate = gate_export("credits.csv", frame, "USD")
    assert gate.usable and gate.reasons == ["BilledCost is negative on rows that are not credits or refunds (1 row(s))"]
    assert len(credits_and_refunds(frame)) == 2


def test_export_globs_expand_sorted_without_repeats(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv.gz", "c.parquet"):
        (tmp_path / name).write_text("")
    found = export_files([str(tmp_path / "*.csv*"), str(tmp_path / "a.csv.gz"), str(tmp_path / "*.parquet")])
    assert [p.name for p in found] == ["a.csv.gz", "b.csv", "c.parquet"]


def test_bad_costs_config_names_the_key_path(tmp_path: Path) -> None:
    from opsbook.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "costs": {
                    "currency": "usd",
                    "anomaly": {"factor": 0.5},
                    "exchange_rates": {"EUR": -1},
                    "budget_use_pct": {"warn": 110, "fail": 100},
                }
            },
            base_dir=tmp_path,
        )
    keys = {problem.split(":")[0] for problem in caught.value.problems}
    assert keys == {"costs.currency", "costs.anomaly.factor", "costs.exchange_rates", "costs.budget_use_pct"}
    config = parse_config({"costs": {"exports": ["billing/*.csv.gz"]}}, base_dir=tmp_path)
    assert config.costs.exports == [str(tmp_path / "billing/*.csv.gz")]


def test_typed_parquet_with_native_timestamps_and_map_tags(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "BilledCost": pa.array([1.5, 2.25], pa.float64()),
            "EffectiveCost": pa.array([1.0, None], pa.float64()),
            "BillingCurrency": ["USD", "USD"],
            "BillingPeriodStart": pa.array([datetime(2025, 9, 1)] * 2, pa.timestamp("ms", tz="UTC")),
            "BillingPeriodEnd": pa.array([datetime(2025, 10, 1)] * 2, pa.timestamp("ms", tz="UTC")),
            "ChargePeriodStart": pa.array([datetime(2025, 9, 2), datetime(2025, 9, 3)], pa.timestamp("us")),
            "ChargePeriodEnd": pa.array([datetime(2025, 9, 3), datetime(2025, 9, 4)], pa.timestamp("us")),
            "ChargeCategory": ["usage", "Usage"],
            "ProviderName": ["AWS", "AWS"],
            "ServiceName": ["EC2", "S3"],
            "Tags": pa.array([[("environment", "prod")], None], pa.map_(pa.string(), pa.string())),
        }
    )
    pq.write_table(table, tmp_path / "typed.parquet")
    frame = read_export(tmp_path / "typed.parquet")
    assert frame["BilledCost"].sum() == pytest.approx(3.75)
    assert frame["ChargePeriodStart"].tolist() == [
        pd.Timestamp("2025-09-02", tz="UTC"),
        pd.Timestamp("2025-09-03", tz="UTC"),
    ]
    assert frame["Tags"].tolist() == [{"environment": "prod"}, {}]
    assert frame["ChargeCategory"].tolist() == ["Usage", "Usage"]
    assert gate_export("typed.parquet", frame, "USD").reasons == [
        "EffectiveCost is empty or not a valid number (1 row(s))"
    ]
