"""Builds FOCUS exports for tests, written the way real providers write them."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

COLUMNS = [
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeFrequency",
    "ProviderName",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "ResourceId",
    "Tags",
]


def month_rows(
    year: int,
    month: int,
    daily: dict[str, float],
    *,
    overrides: dict[tuple[int, str], float] | None = None,
    resources: dict[str, str] | None = None,
    currency: str = "USD",
) -> list[dict[str, object]]:
    """One row per service per day of a month; `overrides[(day, service)]` replaces a day's cost."""
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    rows = []
    day = start
    while day < end:
        for index, (service, cost) in enumerate(daily.items()):
            cost = (overrides or {}).get((day.day, service), cost)
            rows.append(
                {
                    "BilledCost": f"{cost:.10f}",
                    "EffectiveCost": f"{cost * 0.9:.10f}",
                    "BillingCurrency": currency,
                    "BillingPeriodStart": f"{start} 00:00:00",
                    "BillingPeriodEnd": f"{end} 00:00:00",
                    # Real exports: a space instead of T, no Z, NULL for nothing, two spellings of Usage-Based.
                    "ChargePeriodStart": f"{day} 00:00:00",
                    "ChargePeriodEnd": f"{day + timedelta(days=1)} 00:00:00",
                    "ChargeCategory": "Usage",
                    "ChargeClass": "NULL",
                    "ChargeFrequency": "Usage-Based" if day.day % 2 else "Usage-based",
                    "ProviderName": "AWS" if index == 0 else "Microsoft",
                    "ServiceName": service,
                    "SubAccountId": f"acct-{index}",
                    "SubAccountName": f"Team {index}",
                    "RegionId": "us-east-1" if index == 0 else "NULL",
                    "ResourceId": (resources or {}).get(service, "NULL"),
                    "Tags": json.dumps({"environment": "prod" if index == 0 else "dev", "application": f"app-{index}"}),
                }
            )
        day += timedelta(days=1)
    return rows


def write_export(path: Path, rows: list[dict[str, object]], drop: tuple[str, ...] = ()) -> Path:
    """Write rows as CSV, CSV.gz or Parquet (by the file's suffix), every cell as text."""
    frame = pd.DataFrame(rows, columns=COLUMNS).drop(columns=list(drop))
    if path.name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, compression="infer")
    return path
