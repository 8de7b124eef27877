"""A check, declared once beside its task: what it measures, how it alerts, what to advise.

Every check id a task emits has one `Check` declaration, made with `declare(...)` at the top of
the task module that emits it. Everything else reads the declaration instead of repeating the id
or keeping a table of its own: alert triage (type and severity), the report's next step, the
flows' step lists and the runbook coverage map. A new check therefore touches its task module,
its flow step and its test, and cannot be forgotten by a table somewhere else.

The registry fills as task modules are imported; `opsbook.tasks.catalog.all_checks()` imports
every task module first when the whole list is needed (coverage, tests).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, error_result


class AlertType(enum.StrEnum):
    """The runbook's alert triage types: who is paged and which runbook handles it."""

    INFRASTRUCTURE = "infrastructure"
    SECURITY = "security"
    PERFORMANCE = "performance"
    APPLICATION = "application"
    OTHER = "other"


@dataclass(frozen=True)
class Check:
    """One check id and everything the rest of opsbook needs to know about it."""

    id: str  # dotted, e.g. platform.health
    title: str  # a few words for headings and tables
    component: str  # the part of the estate, e.g. platforms, database
    alert_type: AlertType
    severity: Severity  # when it fails; an `error` (could not measure) alerts one step lower
    unit: str | None = None
    on_fail: str = ""  # the report's next step for a fail
    on_warn: str = ""  # ... and for a warning
    runbook_steps: tuple[str, ...] = ()  # "Procedure / Step" keys of the runbook it serves
    monitored: bool = False  # live and cheap: the monitor may probe it between checklists
    per_instance: bool = False  # one id per configured instance, `<id>.<name>` (e.g. a switch-over action)
    # Where the runbook alerts on the warning level too (resources above 80 %), a `warn` raises an
    # alert of this severity; None keeps a warning in the report only.
    warn_severity: Severity | None = None

    def alerts_on(self, status: Status) -> bool:
        """Whether a result of this status raises (or keeps firing) an alert."""
        return status.is_problem or (status is Status.WARN and self.warn_severity is not None)

    def instance(self, name: str) -> Check:
        """The check of one named instance of a `per_instance` declaration: id `<id>.<name>`."""
        if not self.per_instance:
            raise ValueError(f"check {self.id!r} is not declared per instance")
        return replace(self, id=f"{self.id}.{name}", per_instance=False)

    def result(self, target: str, status: Status, **fields: Any) -> CheckResult:
        """A result of this check: id and component from the declaration, and its unit for a value."""
        if fields.get("value") is not None:
            fields.setdefault("unit", self.unit)
        return CheckResult(check=self.id, target=target, component=self.component, status=status, **fields)

    def error(self, target: str, error: BaseException | str, **fields: Any) -> CheckResult:
        """The result of this check when it could not measure: the cause in words."""
        return error_result(self.id, target, self.component, error, **fields)

    def skipped(self, message: str, target: str = "(none)") -> CheckResult:
        """Not configured: said so, never read as healthy."""
        return self.result(target, Status.SKIPPED, message=message)


_REGISTRY: dict[str, Check] = {}


def declare(
    check_id: str,
    *,
    title: str,
    component: str,
    alert_type: AlertType,
    severity: Severity,
    unit: str | None = None,
    on_fail: str = "",
    on_warn: str = "",
    runbook_steps: tuple[str, ...] = (),
    monitored: bool = False,
    per_instance: bool = False,
    warn_severity: Severity | None = None,
) -> Check:
    """Declare a check once; a second, different declaration of the same id is a programming error."""
    check = Check(
        check_id,
        title,
        component,
        alert_type,
        severity,
        unit,
        on_fail,
        on_warn,
        runbook_steps,
        monitored,
        per_instance,
        warn_severity,
    )
    known = _REGISTRY.setdefault(check_id, check)
    if known != check:
        raise ValueError(f"check {check_id!r} is declared twice, differently")
    return known


def declared(check_id: str) -> Check | None:
    """The declaration of a check id (`<id>.<name>` of a `per_instance` one too), or None when none is.

    The registry holds what the imported task modules declared; the alert pipeline imports the
    whole catalogue first (`opsbook.tasks.catalog.all_checks`), so results read back from the
    history are judged by their declarations too.
    """
    if found := _REGISTRY.get(check_id):
        return found
    parent = _REGISTRY.get(check_id.rpartition(".")[0])
    return parent.instance(check_id.rpartition(".")[2]) if parent and parent.per_instance else None


def registered() -> list[Check]:
    """Every declaration imported so far, by id (see `opsbook.tasks.catalog.all_checks` for all)."""
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]
