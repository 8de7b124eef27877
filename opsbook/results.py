"""The one shape every check returns, and how a set of results becomes a verdict."""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Status(enum.StrEnum):
    """What a check found. `error` means it could not measure, and is never read as ok."""

    OK = "ok"  # measured, fine
    WARN = "warn"  # past the warning threshold
    FAIL = "fail"  # past the critical threshold, or the target is down
    ERROR = "error"  # could not measure: timeout, refused, bad data
    SKIPPED = "skipped"  # not configured

    @property
    def is_problem(self) -> bool:
        """True for the statuses that fail a checklist."""
        return self in (Status.FAIL, Status.ERROR)

    @property
    def severity(self) -> int:
        """How bad, higher is worse: the one ordering (`WORST_FIRST`) for sorting and "the worst of"."""
        return len(WORST_FIRST) - WORST_FIRST.index(self)


# A fail (the target is down, or past its critical threshold) outranks an error (could not
# measure): both are problems, but a confirmed outage is worse than an unknown.
WORST_FIRST: tuple[Status, ...] = (Status.FAIL, Status.ERROR, Status.WARN, Status.OK, Status.SKIPPED)


def worst_status(statuses: Iterable[Status]) -> Status:
    """The worst of some statuses by `WORST_FIRST`; skipped when there are none."""
    return max(statuses, key=lambda status: status.severity, default=Status.SKIPPED)


class Verdict(enum.StrEnum):
    """The manager's one-word answer, with a colour that is never the only signal."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def words(self) -> str:
        return {
            Verdict.GREEN: "All clear",
            Verdict.AMBER: "Needs attention",
            Verdict.RED: "Action required",
        }[self]


def utcnow() -> datetime:
    return datetime.now(UTC)


class CheckResult(BaseModel):
    """One measurement of one target by one check."""

    model_config = ConfigDict(frozen=True)

    check: str = Field(description="dotted check id, e.g. platform.health")
    target: str = Field(description="what was checked, e.g. a platform name")
    component: str = Field(description="the part of the estate, e.g. platforms, database")
    status: Status
    value: float | None = None
    unit: str | None = None
    threshold: float | None = Field(default=None, description="the threshold the value was judged against")
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    started_at: datetime = Field(default_factory=utcnow)
    duration_ms: float = 0.0
    attempts: int = 1

    @property
    def key(self) -> tuple[str, str]:
        """Identity within a run (and the alert fingerprint): check and target."""
        return (self.check, self.target)


def verdict_of(results: Iterable[CheckResult]) -> Verdict:
    """Red if anything failed or could not be measured, amber on a warning, else green."""
    statuses = {r.status for r in results}
    if statuses & {Status.FAIL, Status.ERROR}:
        return Verdict.RED
    if Status.WARN in statuses:
        return Verdict.AMBER
    return Verdict.GREEN


def count_by_status(results: Iterable[CheckResult]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for r in results:
        counts[r.status.value] += 1
    return counts


def judge(
    value: float,
    warn: float | None,
    fail: float | None,
    *,
    higher_is_worse: bool = True,
) -> tuple[Status, float | None]:
    """Compare value with warn and fail thresholds; return the status and the threshold crossed.

    A value equal to a threshold crosses it for "higher is worse" limits stated as "below X" in
    the runbook (FCP < 1800 ms means 1800 is not good). The threshold returned is the one that
    was crossed, or the warning threshold (else the failing one) when none was.
    """

    def crossed(limit: float | None) -> bool:
        if limit is None:
            return False
        return value >= limit if higher_is_worse else value <= limit

    if crossed(fail):
        return Status.FAIL, fail
    if crossed(warn):
        return Status.WARN, warn
    return Status.OK, warn if warn is not None else fail


def error_result(check: str, target: str, component: str, error: BaseException | str, **extra: Any) -> CheckResult:
    """The result of a check that could not measure: the cause in words, never a silent ok."""
    cause = error if isinstance(error, str) else describe_exception(error)
    return CheckResult(check=check, target=target, component=component, status=Status.ERROR, message=cause, **extra)


def describe_exception(error: BaseException) -> str:
    """A one-line, user-facing description of an exception: its type and its message."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return f"{name}: {text}" if text else name


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Measure elapsed wall time in milliseconds into the yielded dict's `ms` key."""
    timing: dict[str, float] = {"ms": 0.0}
    start = time.perf_counter()
    try:
        yield timing
    finally:
        timing["ms"] = (time.perf_counter() - start) * 1000.0
