"""Monitoring of the monitor: the dead-man's switch and the Prefect server check."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect.settings import PREFECT_API_URL, temporary_settings

from opsbook.config import HttpSettings
from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore
from opsbook.tasks.monitoring import check_deadman, check_prefect_server
from tests.conftest import free_port

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def store_with_daily_run(tmp_path: Path, finished: datetime | None) -> HistoryStore:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    if finished is not None:
        store.record_run(
            run_id="d1",
            flow="daily-checklist",
            estate="e",
            started_at=finished - timedelta(minutes=1),
            finished_at=finished,
            results=[CheckResult(check="c", target="t", component="x", status=Status.OK, started_at=finished)],
        )
    return store


def test_deadman_is_ok_within_26_hours_and_fails_after(tmp_path: Path) -> None:
    store = store_with_daily_run(tmp_path, NOW - timedelta(hours=25))
    assert check_deadman(store, "daily-checklist", 26, now=NOW).status is Status.OK
    late = check_deadman(store, "daily-checklist", 26, now=NOW + timedelta(hours=2))
    assert late.status is Status.FAIL and late.value == 27.0
    assert "has not completed for 27.0 h" in late.message


def test_deadman_fails_when_the_checklist_never_ran(tmp_path: Path) -> None:
    result = check_deadman(store_with_daily_run(tmp_path, None), "daily-checklist", 26, now=NOW)
    assert result.status is Status.FAIL and "never completed" in result.message


def test_prefect_server_down_is_a_failure() -> None:
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        result = asyncio.run(check_prefect_server(HttpSettings(retries=0, timeout_s=2)))
    assert result.status is Status.FAIL and "Prefect server down" in result.message
