"""Flap control: a check fails only after `failure_threshold` consecutive failures.

Earlier failures are reported as warnings ("failing 1 of 3"). The streak is read from the
check's own history, so it survives restarts and needs no state beyond the history store.
Each result whose measurement failed carries `details["failing"]` (its place in the streak);
a result without it (ok, warn, error) ends the streak.
"""

from __future__ import annotations

from collections.abc import Sequence

from opsbook.results import CheckResult, Status

FAILING = "failing"


def failure_streak(previous: Sequence[CheckResult]) -> int:
    """How many results at the end of `previous` (oldest first) were failing measurements."""
    streak = 0
    for result in reversed(previous):
        if not result.details.get(FAILING):
            break
        streak += 1
    return streak


def apply_failure_threshold(result: CheckResult, previous: Sequence[CheckResult], threshold: int) -> CheckResult:
    """Keep a failure as fail once the streak reaches threshold; before that, report it as warn."""
    if result.status is not Status.FAIL:
        return result
    streak = failure_streak(previous) + 1
    details = {**result.details, FAILING: streak, "failure_threshold": threshold}
    if streak >= threshold:
        return result.model_copy(update={"details": details})
    return result.model_copy(
        update={
            "status": Status.WARN,
            "details": details,
            "message": f"failing {streak} of {threshold}: {result.message}",
        }
    )
