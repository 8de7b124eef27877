"""The history store on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore, Sample, StoreError

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def results() -> list[CheckResult]:
    return [
        CheckResult(
            check="platform.health",
            target="fly",
            component="platforms",
            status=Status.OK,
            value=41.5,
            unit="ms",
            threshold=1000,
            message="healthy",
            details={"status_code": 200},
            started_at=T0,
            duration_ms=41.5,
            attempts=1,
        ),
        CheckResult(
            check="platform.health",
            target="render",
            component="platforms",
            status=Status.FAIL,
            message="down: HTTP 503",
            details={"status_code": 503},
            started_at=T0,
            attempts=3,
        ),
    ]


def test_upgrade_creates_the_schema_and_is_repeatable(history_url: str) -> None:
    store = HistoryStore(history_url)
    first = store.upgrade()
    assert set(first.split(",")) == store.head_revisions()
    assert store.upgrade() == first
    tables = set(inspect(store.engine).get_table_names())
    assert {"check_runs", "check_results", "metric_samples", "alembic_version"} <= tables
    store.dispose()


def test_run_and_results_read_back_exactly(history_url: str) -> None:
    store = HistoryStore(history_url)
    store.record_run(
        run_id="run-1",
        flow="daily-checklist",
        estate="demo",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        results=results(),
        report_path="/r/daily.html",
    )
    run = store.get_run("run-1")
    assert run is not None
    assert run.verdict == "red"
    assert run.counts["ok"] == 1 and run.counts["fail"] == 1
    assert run.report_path == "/r/daily.html"
    assert run.started_at == T0 and run.started_at.tzinfo is not None
    assert [r.model_dump() for r in run.results] == [r.model_dump() for r in results()]
    store.dispose()


def test_writing_a_run_again_replaces_it(history_url: str) -> None:
    store = HistoryStore(history_url)
    for _ in range(3):  # e.g. a flow retried by Prefect writes the same run id again
        store.record_run(
            run_id="run-2",
            flow="daily-checklist",
            estate="demo",
            started_at=T0,
            finished_at=T0,
            results=results() + results(),
        )
    assert len(store.get_run("run-2").results) == 2
    assert len(store.latest_runs("daily-checklist")) == 1
    store.dispose()


def test_samples_are_never_duplicated(history_url: str) -> None:
    store = HistoryStore(history_url)
    series = [
        Sample(
            "cpu_pct",
            10.0 + i,
            T0 + timedelta(minutes=5 * i),
            source="prometheus",
            labels={"instance": "web-1"},
            unit="%",
        )
        for i in range(12)
    ]
    assert store.add_samples(series) == 12
    assert (
        store.add_samples(
            series[6:]
            + [Sample("cpu_pct", 99.0, T0 + timedelta(hours=1), source="prometheus", labels={"instance": "web-1"})]
        )
        == 1
    )
    stored = store.samples("cpu_pct", labels={"instance": "web-1"})
    assert [s.value for s in stored] == [10.0 + i for i in range(12)] + [99.0]
    assert store.samples("cpu_pct", labels={"instance": "web-2"}) == []
    store.dispose()


def test_samples_keep_zone_labels_and_units_and_a_batch_collapses_its_own_repeats(history_url: str) -> None:
    store = HistoryStore(history_url)
    berlin = T0.astimezone(timezone(timedelta(hours=1)))  # the same instant, written in another zone
    batch = [
        Sample("disk_pct", 71.5, berlin, source="host", labels={"mount": "/", "host": "db-1"}, unit="%"),
        Sample("disk_pct", 72.0, T0, source="host", labels={"host": "db-1", "mount": "/"}, unit="%"),
        Sample("disk_pct", 80.0, T0, source="host", labels={"mount": "/var", "host": "db-1"}),
    ]
    assert store.add_samples(batch, run_id="run-9") == 2  # the first two are one series at one time
    stored = store.samples("disk_pct", source="host")
    assert {(s.labels["mount"], s.value, s.unit) for s in stored} == {("/", 71.5, "%"), ("/var", 80.0, None)}
    assert all(s.ts == T0 and s.ts.utcoffset() == timedelta(0) for s in stored)
    store.dispose()


def test_a_naive_sample_time_is_refused_on_every_backend(history_url: str) -> None:
    store = HistoryStore(history_url)
    with pytest.raises(StoreError, match="naive datetime"):
        store.add_samples([Sample("cpu_pct", 1.0, datetime(2026, 11, 27, 8, 0), source="host")])
    assert store.samples("cpu_pct") == []
    store.dispose()


def test_result_history_is_oldest_first(history_url: str) -> None:
    store = HistoryStore(history_url)
    for day in (2, 0, 1):
        shifted = [r.model_copy(update={"started_at": T0 + timedelta(days=day)}) for r in results()]
        store.record_run(
            run_id=f"day-{day}",
            flow="daily-checklist",
            estate="demo",
            started_at=T0 + timedelta(days=day),
            finished_at=None,
            results=shifted,
        )
    history = store.result_history("platform.health", "fly")
    assert [r.started_at.day for r in history] == [27, 28, 29]
    store.dispose()


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    store = HistoryStore("postgresql+psycopg://opsbook:hunter2-secret@127.0.0.1:1/opsbook")
    with pytest.raises(StoreError) as caught:
        store.upgrade()
    assert "hunter2-secret" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


def test_annotating_a_run_keeps_its_results_and_redacts_notes(history_url: str) -> None:
    from opsbook.secrets import register_secret

    store = HistoryStore(history_url)
    store.record_run(
        run_id="run-a", flow="daily-checklist", estate="demo", started_at=T0, finished_at=T0, results=results()
    )
    register_secret("note-secret-8c1f")
    store.annotate_run("run-a", report_path="/r/daily.html", notes="report mailed with note-secret-8c1f")
    run = store.get_run("run-a")
    assert run.report_path == "/r/daily.html" and run.notes == "report mailed with ***"
    assert [r.model_dump() for r in run.results] == [r.model_dump() for r in results()]
    with pytest.raises(StoreError, match="no run nope"):
        store.annotate_run("nope", report_path=None, notes=None)
    store.dispose()


def test_pruning_counts_first_then_deletes_only_what_is_older(history_url: str) -> None:
    from opsbook.alerts import record_results
    from opsbook.store.incident_models import AlertRow, DeliveryRow

    store = HistoryStore(history_url)
    old, new = T0 - timedelta(days=500), T0
    for run_id, at in (("run-old", old), ("run-new", new)):
        store.record_run(
            run_id=run_id,
            flow="daily-checklist",
            estate="demo",
            started_at=at,
            finished_at=at,
            results=[r.model_copy(update={"started_at": at}) for r in results()],
        )
    store.add_samples(
        [Sample("cpu_pct", float(i), old + timedelta(minutes=i), source="host") for i in range(45)]
        + [Sample("cpu_pct", 1.0, new, source="host")]
    )
    record_results(store, [results()[1].model_copy(update={"started_at": old})], now=old)  # an old alert: kept
    with store.session() as session, session.begin():
        session.add_all(
            [
                DeliveryRow(channel="slack", kind="firing", ok=True, at=old),
                DeliveryRow(channel="slack", kind="firing", ok=True, at=new),
            ]
        )

    cutoff = T0 - timedelta(days=400)
    expected = {"check_results": 2, "check_runs": 1, "metric_samples": 45, "notification_deliveries": 1}
    assert store.prune(cutoff) == expected  # a dry run counts...
    assert store.get_run("run-old") is not None  # ...and deletes nothing
    assert store.prune(cutoff, apply=True, batch=10) == expected  # batches smaller than the work
    assert store.get_run("run-old") is None and len(store.get_run("run-new").results) == 2
    assert [s.value for s in store.samples("cpu_pct")] == [1.0]
    with store.session() as session:
        assert session.query(DeliveryRow).count() == 1 and session.query(AlertRow).count() == 1
    assert store.prune(cutoff, apply=True) == dict.fromkeys(expected, 0)  # nothing left to do
    store.dispose()
