"""Series for the analytics tests: the real NAB CloudWatch CPU series and synthetic growth."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsbook.store import HistoryStore, Sample

# Beside the repository's clone; OPSBOOK_SHARED_DATA points elsewhere (e.g. from a git worktree).
SHARED_DATA = Path(os.environ.get("OPSBOOK_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
NAB = SHARED_DATA / "nab"
NAB_SERIES = "ec2_cpu_utilization_53ea38.csv"
DAYS_PER_MONTH = 365.25 / 12


def nab_frame() -> pd.DataFrame:
    """The real series (5-minute CPU %), or a skip saying where it was looked for."""
    path = NAB / NAB_SERIES
    if not path.exists():
        pytest.skip(f"NAB data not found at {path} (it lives beside the repo in shared/data)")
    frame = pd.read_csv(path)
    frame["ts"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame[["ts", "value"]]


def nab_windows() -> list[tuple[datetime, datetime]]:
    """The labelled anomaly windows of the series (UTC)."""
    labels = json.loads((NAB / "combined_windows_subset.TRANSCRIBED.json").read_text())
    return [
        (pd.Timestamp(a, tz="UTC").to_pydatetime(), pd.Timestamp(b, tz="UTC").to_pydatetime())
        for a, b in labels[f"realAWSCloudwatch/{NAB_SERIES}"]
    ]


def load(
    store: HistoryStore, frame: pd.DataFrame, metric: str, unit: str = "%", labels: dict[str, str] | None = None
) -> int:
    return store.add_samples(
        Sample(metric=metric, value=float(v), ts=t.to_pydatetime(), unit=unit, source="test", labels=labels or {})
        for t, v in zip(frame["ts"], frame["value"], strict=True)
    )


def growing(
    now: datetime,
    days: int = 30,
    pct_per_month: float = 10.0,
    start: float = 40.0,
    every: timedelta = timedelta(minutes=10),
    noise: float = 0.02,
    seed: int = 7,
) -> pd.DataFrame:
    """Compound growth with multiplicative noise, ending just before `now`."""
    ts = pd.date_range(now - timedelta(days=days), now, freq=every, inclusive="left", tz=UTC)
    elapsed = (ts - ts[0]).total_seconds().to_numpy() / 86400
    rng = np.random.default_rng(seed)
    values = start * (1 + pct_per_month / 100) ** (elapsed / DAYS_PER_MONTH) * (1 + rng.normal(0, noise, len(ts)))
    return pd.DataFrame({"ts": ts, "value": values})


def truth(
    now: datetime, frame: pd.DataFrame, ahead_days: float, pct_per_month: float = 10.0, start: float = 40.0
) -> float:
    """The true value of `growing` at `ahead_days` after its last point."""
    elapsed = (frame["ts"].iloc[-1] - frame["ts"].iloc[0]).total_seconds() / 86400 + ahead_days
    return start * (1 + pct_per_month / 100) ** (elapsed / DAYS_PER_MONTH)
