"""One status ordering, worst first: the report's attention list, the status page and the
backup verification record all read it from `Status`."""

from __future__ import annotations

from pathlib import Path

from opsbook.reports.model import Report, Section
from opsbook.reports.status_page import _RANK
from opsbook.results import WORST_FIRST, CheckResult, Status, utcnow, worst_status
from opsbook.tasks.backups.records import record_verification, verifications


def result(status: Status, target: str = "main") -> CheckResult:
    return CheckResult(check="backup.integrity", target=target, component="backups", status=status)


def test_fail_outranks_error_outranks_warn_outranks_ok_outranks_skipped() -> None:
    assert WORST_FIRST == (Status.FAIL, Status.ERROR, Status.WARN, Status.OK, Status.SKIPPED)
    assert set(WORST_FIRST) == set(Status)
    assert sorted(Status, key=lambda s: s.severity, reverse=True) == list(WORST_FIRST)
    assert worst_status([Status.OK, Status.ERROR, Status.FAIL, Status.WARN]) is Status.FAIL
    assert worst_status([Status.ERROR, Status.SKIPPED]) is Status.ERROR
    assert worst_status([]) is Status.SKIPPED


def test_the_report_lists_fail_then_error_then_warn_in_run_order_within_each() -> None:
    statuses = [Status.WARN, Status.OK, Status.ERROR, Status.FAIL, Status.SKIPPED, Status.FAIL, Status.WARN]
    results = [result(status, f"t{i}") for i, status in enumerate(statuses)]
    now = utcnow()
    report = Report("daily", "Daily", "estate", "run", now, now, [Section("Backups", results)])
    assert [(item.result.status, item.result.target) for item in report.needs_attention] == [
        (Status.FAIL, "t3"),
        (Status.FAIL, "t5"),
        (Status.ERROR, "t2"),
        (Status.WARN, "t0"),
        (Status.WARN, "t6"),
    ]


def test_the_status_page_levels_follow_the_same_order() -> None:
    levels = [_RANK[status] for status in WORST_FIRST]
    assert levels == sorted(levels, reverse=True)


def test_a_verification_with_a_fail_and_an_error_is_recorded_as_fail(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    record_verification(
        url,
        kind="daily",
        repository="main",
        backup="a.dump",
        results=[result(Status.ERROR), result(Status.FAIL), result(Status.OK)],
        verified_at=utcnow(),
    )
    assert verifications(url, "main")[0].status == "fail"
