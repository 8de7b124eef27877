"""Runbook coverage: every step of the runbook matched to the checks and automation that serve it.

Steps are read from the runbook itself (each `#### Procedure` heading and the numbered
`echo "N. ..."` lines of its script), so a step added to the runbook shows up as uncovered until
something serves it. A check serves the steps its declaration names (`runbook_steps`); what is
not a check (report writing, whole flows) is mapped by name in runbook_map.yaml, and a mapping
that names a task or flow the code does not have counts as uncovered.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import yaml
from prefect import Flow, Task, task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, Check, declare
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow
from opsbook.tasks.catalog import all_checks

# The practice's own figure: it tells a lead, it pages nobody (type other).
RUNBOOK_COVERAGE = declare(
    "runbook.coverage",
    title="Runbook coverage",
    component="documentation",
    alert_type=AlertType.OTHER,
    severity=Severity.P3,
    unit="%",
    runbook_steps=("Monthly System Optimization / Updating operational documentation",),
)
MAPPING = Path(str(files("opsbook") / "runbook_map.yaml"))
_HEADING = re.compile(r"^####\s+(?P<title>.+?)\s*$")
_STEP = re.compile(r'^\s*echo\s+"(?P<n>\d+)\.\s+(?P<text>[^".]+?)\.{0,3}"\s*$')


@dataclass(frozen=True)
class RunbookStep:
    procedure: str
    text: str

    @property
    def key(self) -> str:
        return f"{self.procedure} / {self.text}" if self.text else self.procedure


def read_steps(markdown: str) -> list[RunbookStep]:
    """Each procedure's numbered steps; a procedure without numbered steps is one step itself."""
    steps: list[RunbookStep] = []
    procedure, numbered = None, False
    for line in markdown.splitlines():
        if heading := _HEADING.match(line):
            if procedure and not numbered:
                steps.append(RunbookStep(procedure, ""))
            procedure, numbered = heading["title"], False
        elif procedure and (step := _STEP.match(line)):
            steps.append(RunbookStep(procedure, step["text"].strip()))
            numbered = True
    if procedure and not numbered:
        steps.append(RunbookStep(procedure, ""))
    return steps


def automation_names() -> set[str]:
    """The names of every Prefect task and flow in the `tasks` and `flows` packages."""
    names: set[str] = set()
    for package_name in ("opsbook.tasks", "opsbook.flows"):
        package = importlib.import_module(package_name)
        for module_info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            module = importlib.import_module(module_info.name)
            names.update(obj.name for obj in vars(module).values() if isinstance(obj, (Task, Flow)))
    return names


def coverage(
    steps: list[RunbookStep],
    mapping: dict[str, list[str]],
    known: set[str],
    checks: Iterable[Check] = (),
    misplaced: Iterable[Misplaced] = (),
) -> tuple[list[str], list[str]]:
    """(covered step keys, uncovered step keys with the reason): served by a check or by mapped automation.

    `misplaced` (from `misplaced_claims`) are claims no owning flow runs: they serve nothing.
    """
    wrong = {(claim.step, claim.check): claim for claim in misplaced}
    served = {key for check in checks for key in check.runbook_steps if (key, check.id) not in wrong}
    covered, uncovered = [], []
    for step in steps:
        names = mapping.get(step.key)
        if not names and step.key not in served:
            claims = [str(claim) for (key, _), claim in wrong.items() if key == step.key]
            uncovered.append("; ".join(claims) if claims else f"{step.key}: not mapped")
        elif missing := [n for n in names or [] if n not in known]:
            uncovered.append(f"{step.key}: no task or flow named {', '.join(missing)}")
        else:
            covered.append(step.key)
    return covered, uncovered


OWNERS = Path(str(files("opsbook") / "runbook_owners.yaml"))


def _checks_of(module: ModuleType, seen: set[str]) -> set[str]:
    """The check ids a module can emit: its own and imported declarations, and those of the task
    modules and flow modules it uses (followed through imports, as a flow calls its tasks).

    A flow module imports every task it calls (ruff forbids unused imports), so this is what
    the flow runs, read statically; it may over-count a sibling module's checks, never under-count.
    """
    if module.__name__ in seen:
        return set()
    seen.add(module.__name__)
    found = {value.id for value in vars(module).values() if isinstance(value, Check)}
    package = module.__name__.rpartition(".")[0]
    for value in vars(module).values():
        origin = value.fn.__module__ if isinstance(value, Task) else getattr(value, "__module__", None)
        if not isinstance(origin, str) or origin == module.__name__:
            continue
        same_package = origin.rpartition(".")[0] == package
        if origin.startswith("opsbook.flows.") or (
            origin.startswith("opsbook.tasks.") and (same_package or isinstance(value, Task))
        ):
            found |= _checks_of(importlib.import_module(origin), seen)
    return found


def flow_checks() -> dict[str, set[str]]:
    """Each flow's name -> the check ids it runs (see `_checks_of`)."""
    package = importlib.import_module("opsbook.flows")
    runs: dict[str, set[str]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"opsbook.flows.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, Flow) and value.fn.__module__ == module.__name__:
                runs[value.name] = _checks_of(module, set())
    return runs


@dataclass(frozen=True)
class Misplaced:
    """A step claimed by a check that no flow owning the step's procedure runs: it serves nothing."""

    step: str
    check: str
    owners: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.step}: claimed by {self.check}, which {' / '.join(self.owners)} never runs"


def misplaced_claims(
    checks: Iterable[Check], owners: dict[str, list[str]], runs: dict[str, set[str]]
) -> list[Misplaced]:
    """Steps a check claims although no flow owning the step's procedure runs that check."""
    wrong = []
    for check in checks:
        for key in check.runbook_steps:
            flows = owners.get(key.split(" / ")[0])
            if flows and not any(check.id in runs.get(name, set()) for name in flows):
                wrong.append(Misplaced(key, check.id, tuple(flows)))
    return sorted(wrong, key=str)


@task(name="check-runbook-coverage", cache_policy=NO_CACHE)
def check_runbook_coverage(
    runbook: Path | None, mapping_file: Path = MAPPING, checks: Iterable[Check] | None = None
) -> list[CheckResult]:
    """The runbook's "Documentation coverage: 100 % procedures documented", made measurable.

    `checks` defaults to every declared check; a test passes its own.
    """
    if runbook is None:
        return [RUNBOOK_COVERAGE.skipped("no runbook configured (runbook_path)")]
    try:
        steps = read_steps(runbook.read_text(encoding="utf-8"))
        mapping = yaml.safe_load(mapping_file.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        return [RUNBOOK_COVERAGE.error(str(runbook), error)]
    checks = all_checks() if checks is None else list(checks)
    try:
        owners = yaml.safe_load(OWNERS.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        return [RUNBOOK_COVERAGE.error(str(OWNERS), error)]
    misplaced = misplaced_claims(checks, owners, flow_checks())
    covered, uncovered = coverage(steps, mapping, automation_names(), checks, misplaced)
    percent = 100.0 * len(covered) / len(steps) if steps else 0.0
    # Target 100 % (the runbook's KPI); under half automated is a failure of the practice.
    status = Status.OK if not uncovered else Status.WARN if percent >= 50 else Status.FAIL
    return [
        RUNBOOK_COVERAGE.result(
            runbook.name,
            status,
            value=round(percent, 1),
            unit="%",
            threshold=100.0,
            started_at=utcnow(),
            message=f"{len(covered)} of {len(steps)} runbook steps automated",
            details={"uncovered": uncovered, "covered": covered},
        )
    ]
