"""Flap control: the streak comes from the history; anything but a failing measurement ends it."""

from __future__ import annotations

from opsbook.flapping import apply_failure_threshold, failure_streak
from opsbook.results import CheckResult, Status


def result(status: Status, failing: int | None = None) -> CheckResult:
    details = {"failing": failing} if failing else {}
    return CheckResult(
        check="app.rum",
        target="app/lcp",
        component="application",
        status=status,
        message="lcp 4,600 ms: above the critical level 4,000 ms",
        details=details,
    )


def test_streak_counts_trailing_failures_and_stops_at_anything_else() -> None:
    history = [result(Status.WARN, 1), result(Status.ERROR), result(Status.WARN, 1), result(Status.FAIL, 2)]
    assert failure_streak(history) == 2
    assert failure_streak(history[:2]) == 0  # an error (could not measure) ends a streak
    assert failure_streak([]) == 0


def test_failures_below_the_threshold_are_warnings_that_say_how_far_along_they_are() -> None:
    first = apply_failure_threshold(result(Status.FAIL), [], 3)
    assert (first.status, first.details["failing"]) == (Status.WARN, 1)
    assert first.message == "failing 1 of 3: lcp 4,600 ms: above the critical level 4,000 ms"
    third = apply_failure_threshold(
        result(Status.FAIL), [first, apply_failure_threshold(result(Status.FAIL), [first], 3)], 3
    )
    assert (third.status, third.details["failing"], third.details["failure_threshold"]) == (Status.FAIL, 3, 3)
    assert apply_failure_threshold(result(Status.FAIL), [], 1).status is Status.FAIL  # threshold 1: no damping


def test_only_failures_are_touched() -> None:
    for status in (Status.OK, Status.WARN, Status.ERROR, Status.SKIPPED):
        unchanged = result(status)
        assert apply_failure_threshold(unchanged, [result(Status.FAIL, 1)], 3) is unchanged
