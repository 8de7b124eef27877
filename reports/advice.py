"""The next step an operator should take for a flagged result: its check's declared advice."""

from __future__ import annotations

from opsbook.checks import declared
from opsbook.results import CheckResult, Status

# What the report says when the check's declaration gives no advice of its own.
_GENERIC_ERROR = "The check could not measure: fix the cause in the message (config, credentials, reachability)."
_GENERIC_FAIL = "Past the critical threshold: investigate now and escalate per the matrix."
_GENERIC_WARN = "Past the warning threshold: watch the trend and plan a fix."


def next_step(result: CheckResult) -> str:
    """The declaration's advice for a fail or a warn; the generic words when it has none."""
    check = declared(result.check)
    if result.status is Status.ERROR:
        return _GENERIC_ERROR
    if result.status is Status.FAIL:
        return (check and check.on_fail) or _GENERIC_FAIL
    return (check and check.on_warn) or _GENERIC_WARN
