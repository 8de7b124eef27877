"""Runbook coverage: every step of the runbook mapped to the Prefect task or flow that automates it.

Steps are read from the runbook itself (each `#### Procedure` heading and the numbered
`echo "N. ..."` lines of its script), so a step added to the runbook shows up as uncovered until
someone maps it. A mapping that names a task or flow the code does not have counts as uncovered.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import yaml
from prefect import Flow, Task, task
from prefect.cache_policies import NO_CACHE

from opsbook.results import CheckResult, Status, error_result, utcnow

CHECK = "runbook.coverage"
COMPONENT = "documentation"
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


def coverage(steps: list[RunbookStep], mapping: dict[str, list[str]], known: set[str]) -> tuple[list[str], list[str]]:
    """(covered step keys, uncovered step keys with the reason)."""
    covered, uncovered = [], []
    for step in steps:
        names = mapping.get(step.key)
        if not names:
            uncovered.append(f"{step.key}: not mapped")
        elif missing := [n for n in names if n not in known]:
            uncovered.append(f"{step.key}: no task or flow named {', '.join(missing)}")
        else:
            covered.append(step.key)
    return covered, uncovered


@task(name="check-runbook-coverage", cache_policy=NO_CACHE)
def check_runbook_coverage(runbook: Path | None, mapping_file: Path = MAPPING) -> list[CheckResult]:
    """The runbook's "Documentation coverage: 100 % procedures documented", made measurable."""
    if runbook is None:
        return [
            CheckResult(
                check=CHECK,
                target="(none)",
                component=COMPONENT,
                status=Status.SKIPPED,
                message="no runbook configured (runbook_path)",
            )
        ]
    try:
        steps = read_steps(runbook.read_text(encoding="utf-8"))
        mapping = yaml.safe_load(mapping_file.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        return [error_result(CHECK, str(runbook), COMPONENT, error)]
    covered, uncovered = coverage(steps, mapping, automation_names())
    percent = 100.0 * len(covered) / len(steps) if steps else 0.0
    # Target 100 % (the runbook's KPI); under half automated is a failure of the practice.
    status = Status.OK if not uncovered else Status.WARN if percent >= 50 else Status.FAIL
    return [
        CheckResult(
            check=CHECK,
            target=runbook.name,
            component=COMPONENT,
            status=status,
            value=round(percent, 1),
            unit="%",
            threshold=100.0,
            started_at=utcnow(),
            message=f"{len(covered)} of {len(steps)} runbook steps automated",
            details={"uncovered": uncovered, "covered": covered},
        )
    ]
