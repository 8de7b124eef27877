"""Flap control, as Gatus does it: a check fails only after `failure_threshold` consecutive
failures, and a failure is over only after `success_threshold` consecutive successes.

Earlier failures are reported as warnings ("failing 1 of 3"). While a failure is not yet over,
a success is held as `fail` ("recovering, 1 of 2 successes: healthy ..."), so its alert stays open
until the target has proved itself; the message says what was measured. The streaks are read
from the check's own history, so they survive restarts and need no state beyond the history
store. Each result whose measurement failed carries `details["failing"]` (its place in the
streak), each held success `details["recovering"]`; an error (could not measure) ends both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from opsbook.results import CheckResult, Status, describe_exception

if TYPE_CHECKING:
    from opsbook.store import HistoryStore

FAILING = "failing"
RECOVERING = "recovering"
LOOKBACK = timedelta(days=30)  # how far back the streaks are read
_SUCCESS = (Status.OK, Status.WARN)  # measured and not failing: a warning (slow) is still a success


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


def recovery_progress(previous: Sequence[CheckResult]) -> int | None:
    """Successes since the last failure that counted (`fail`), or None when the target is not failing."""
    successes = 0
    for result in reversed(previous):
        if result.details.get(RECOVERING):
            successes += 1
            continue
        return successes if result.status is Status.FAIL else None
    return None


def apply_flap_control(
    result: CheckResult, previous: Sequence[CheckResult], failure_threshold: int = 1, success_threshold: int = 1
) -> CheckResult:
    """Both thresholds at once; with both at 1 the result is returned as measured."""
    recovering = recovery_progress(previous) if success_threshold > 1 else None
    if result.status is Status.FAIL:
        if recovering is None:
            return apply_failure_threshold(result, previous, failure_threshold)
        # The failure never ended: no new streak to wait for.
        return result.model_copy(
            update={"details": {**result.details, FAILING: failure_threshold, "failure_threshold": failure_threshold}}
        )
    if result.status not in _SUCCESS or recovering is None:
        return result
    successes = recovering + 1
    details = {**result.details, "success_threshold": success_threshold}
    if successes >= success_threshold:
        return result.model_copy(update={"details": {**details, "recovered_after": successes}})
    return result.model_copy(
        update={
            "status": Status.FAIL,
            "details": {**details, RECOVERING: successes, "measured_status": result.status.value},
            "message": f"recovering, {successes} of {success_threshold} successes: {result.message}",
        }
    )


def settle_flaps(
    result: CheckResult, store: HistoryStore | None, failure_threshold: int = 1, success_threshold: int = 1
) -> CheckResult:
    """Flap control from the check's history in `store`; read only when a threshold is above 1.

    When the history cannot be read the result stands as measured, and says that flap control
    was skipped and why.
    """
    if max(failure_threshold, success_threshold) == 1 or result.status not in (Status.FAIL, *_SUCCESS):
        return result
    if result.status is not Status.FAIL and success_threshold == 1:
        return result
    try:
        if store is None:
            raise RuntimeError("history store not available")
        previous = store.result_history(result.check, result.target, since=result.started_at - LOOKBACK)
    except Exception as error:
        return result.model_copy(
            update={"details": {**result.details, "flap_control": f"skipped: {describe_exception(error)}"}}
        )
    return apply_flap_control(result, previous, failure_threshold, success_threshold)
