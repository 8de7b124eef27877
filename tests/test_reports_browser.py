"""Reports as a manager sees them: each type rendered from stored results, opened in headless
Chromium from disk with the network off."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.reports import Report, Section, write_report
from opsbook.reports.browser import chromium_path, visit
from opsbook.reports.charts import LineChart, Series, line_chart
from opsbook.reports.index import build_index
from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
KINDS = {
    "daily": "Daily health check",
    "weekly": "Weekly maintenance",
    "monthly": "Monthly audit",
    "incident": "Incident INC-20261127-080000",
    "security": "Security health check",
}


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the screenshots go to: $OPSBOOK_TEST_SCREENSHOTS, else a temporary one."""
    folder = Path(os.environ.get("OPSBOOK_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stored_run(tmp_path: Path, run_id: str, results: list[CheckResult]):
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    store.record_run(
        run_id=run_id,
        flow="test",
        estate="Learning Assistant",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=5),
        results=results,
    )
    return store.get_run(run_id)


def sample_results(status: Status) -> list[CheckResult]:
    return [
        CheckResult(
            check="platform.health",
            target="fly",
            component="platforms",
            status=Status.OK,
            value=42,
            unit="ms",
            threshold=1000,
            message="healthy: HTTP 200 in 42 ms",
            started_at=T0,
        ),
        CheckResult(
            check="platform.health",
            target="render",
            component="platforms",
            status=status,
            value=1500,
            unit="ms",
            threshold=1000,
            message="slow",
            started_at=T0,
        ),
        CheckResult(
            check="resources.cpu",
            target="web-1",
            component="resources",
            status=Status.OK,
            value=35,
            unit="%",
            threshold=80,
            message="CPU 35 %",
            started_at=T0,
        ),
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_report_type_loads_offline_with_its_verdict(kind: str, tmp_path: Path, screenshots: Path) -> None:
    status = {"daily": Status.FAIL, "weekly": Status.WARN, "monthly": Status.OK}.get(kind, Status.ERROR)
    run = stored_run(tmp_path, f"{kind}-run-0001", sample_results(status))
    report = Report.from_run(run, kind=kind, title=KINDS[kind])
    report.sections[0].charts.append(
        line_chart(
            LineChart(
                "Latency",
                " ms",
                [Series("fly", [(T0 - timedelta(days=d), 40.0 + d) for d in range(10, -1, -1)])],
                thresholds={"warn": 1000},
            )
        )
    )
    path = write_report(report, tmp_path / "reports")

    png = screenshots / f"report-{kind}.png"
    seen = visit(path.as_uri(), png, selectors=("#verdict", "#needs-attention"))
    expected = {
        Status.FAIL: "RED: Action required",
        Status.ERROR: "RED: Action required",
        Status.WARN: "AMBER: Needs attention",
        Status.OK: "GREEN: All clear",
    }[status]
    assert expected in seen.texts["#verdict"]
    assert seen.requests == [path.as_uri()], "the report must not load anything but itself"
    assert not seen.blocked
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if status is not Status.OK:
        assert "render" in seen.texts["#needs-attention"]


def test_hostile_strings_show_as_text_and_keep_the_layout(tmp_path: Path, screenshots: Path) -> None:
    hostile = "<script>document.title='pwned'</script> {{ 7*7 }} {% raw %} " + "x" * 3000
    results = [
        CheckResult(
            check="platform.health",
            target="<b>fly</b>",
            component="platforms",
            status=Status.FAIL,
            message=hostile,
            details={"body": hostile},
            started_at=T0,
        )
    ]
    report = Report(
        kind="daily",
        title="Daily health check",
        estate="Learning Assistant",
        run_id="hostile-0001",
        started_at=T0,
        finished_at=T0,
        sections=[Section("Platform health", results)],
    )
    path = write_report(report, tmp_path / "reports")
    seen = visit(path.as_uri(), screenshots / "report-hostile.png", selectors=("#needs-attention", "title"))
    assert "<script>document.title='pwned'</script>" in seen.texts["#needs-attention"]
    assert "{{ 7*7 }}" in seen.texts["#needs-attention"] and "49" not in seen.texts["#needs-attention"]
    assert "<b>fly</b>" in seen.texts["#needs-attention"]
    assert seen.scroll_width <= seen.viewport_width, "a long line must wrap, not widen the page"


def test_index_lists_every_report_latest_first_with_its_verdict(tmp_path: Path, screenshots: Path) -> None:
    directory = tmp_path / "reports"
    for day, status in enumerate([Status.OK, Status.FAIL, Status.WARN]):
        results = [r.model_copy(update={"status": status}) for r in sample_results(status)[:1]]
        write_report(
            Report(
                kind="daily",
                title="Daily health check",
                estate="demo",
                run_id=f"run-{day:04d}",
                started_at=T0 + timedelta(days=day),
                finished_at=T0 + timedelta(days=day),
                sections=[Section("Platform health", results)],
            ),
            directory,
        )
    entries = build_index(directory)
    assert [e.verdict for e in entries] == ["amber", "red", "green"]
    seen = visit((directory / "index.html").as_uri(), screenshots / "report-index.png", selectors=("#reports",))
    rows = seen.texts["#reports"].splitlines()[1:]
    assert [row.split("\t")[2] for row in rows] == ["AMBER", "RED", "GREEN"]
