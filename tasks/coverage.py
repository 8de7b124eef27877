"""Runbook coverage: every step of the runbook matched to the checks and automation that serve it.

Steps are read from the runbook itself (each `#### Procedure` heading and the numbered
`echo "N. ..."` lines of its script, and the items of the "Operational Checklist Summary" and
"Success Metrics" sections, keyed `<### heading> / <item>`), so a step added to the runbook shows
up as uncovered until something serves it. A check serves the steps its declaration names
(`runbook_steps`); runbook_map.yaml maps a step to check ids (for the summary items, which
restate the procedures) or to what is not a check (report writing, whole flows), and a mapping
that names a check, task or flow the code does not have counts as uncovered.

How well a served step is served is recorded in runbook_levels.yaml: `full` or `partial`, the
test that proves it and, for a partial step, what is missing. A served step without a level
there counts as partial (never full without a proof); tests/test_runbook_coverage.py fails when
a proof names a test that does not exist.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
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
# The summary sections: `## 📋 Operational Checklist Summary`, `## 🎯 Success Metrics`; their
# `### Daily Operations Checklist ✅` headings and `- [ ] **Item** - ...` / `- **Item:** target` lines.
_SUMMARY = re.compile(r"^##\s+\W*\s*(Operational Checklist Summary|Success Metrics)\s*$")
_SUB_HEADING = re.compile(r"^###\s+(?P<title>.+?)[\s\W]*$")
_ITEM = re.compile(r"^\s*-\s+(?:\[[ xX]\]\s+)?\*\*(?P<text>[^*]+?):?\*\*")


@dataclass(frozen=True)
class RunbookStep:
    procedure: str
    text: str

    @property
    def key(self) -> str:
        return f"{self.procedure} / {self.text}" if self.text else self.procedure


def read_steps(markdown: str) -> list[RunbookStep]:
    """Each procedure's numbered steps (a procedure without numbered steps is one step itself),
    then each item of the checklist summary and the success metrics under its `###` heading."""
    steps: list[RunbookStep] = []
    procedure, numbered, summary = None, False, None
    for line in markdown.splitlines():
        if line.startswith("## "):
            if procedure and not numbered:
                steps.append(RunbookStep(procedure, ""))
            procedure, numbered = None, False
            summary = "" if _SUMMARY.match(line) else None
        elif summary is not None and (sub := _SUB_HEADING.match(line)):
            summary = sub["title"]
        elif summary and (item := _ITEM.match(line)):
            steps.append(RunbookStep(summary, item["text"].strip()))
        elif heading := _HEADING.match(line):
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
            uncovered.append(f"{step.key}: no check, task or flow named {', '.join(missing)}")
        else:
            covered.append(step.key)
    return covered, uncovered


OWNERS = Path(str(files("opsbook") / "runbook_owners.yaml"))
LEVELS = Path(str(files("opsbook") / "runbook_levels.yaml"))
LEVEL_NAMES = ("full", "partial")


def mapped_claims(mapping: dict[str, list[str]], checks: Iterable[Check]) -> tuple[dict[str, list[str]], list[Check]]:
    """The map split in two: its names that are not check ids, and its check ids as claims.

    A check id in the map claims the step as its declaration would, so it is held to the same
    owning-flow rule (`misplaced_claims`); a name that is neither stays in the map and, unknown
    to the code, leaves its step uncovered.
    """
    by_id = {check.id: check for check in checks}
    rest: dict[str, list[str]] = {}
    claims: list[Check] = []
    for key, names in mapping.items():
        claims += [replace(by_id[name], runbook_steps=(key,)) for name in names if name in by_id]
        if others := [name for name in names if name not in by_id]:
            rest[key] = others
    return rest, claims


def partial_steps(covered: Iterable[str], levels: dict[str, dict[str, str]]) -> list[str]:
    """The covered steps that are served only in part, each with what is missing.

    A step is `full` when what opsbook does is what the runbook's step says (check *and* fix
    where the step says to fix, every item it lists); `partial` when opsbook does some of it,
    typically checks and reports where the step also acts. A step with no recorded level is
    partial: a level is never assumed.
    """
    partial = []
    for key in covered:
        entry = levels.get(key) or {}
        if entry.get("level") != "full":
            partial.append(f"{key}: {entry.get('missing') or 'no level or proof recorded'}")
    return partial


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
    runbook: Path | None,
    mapping_file: Path = MAPPING,
    checks: Iterable[Check] | None = None,
    levels_file: Path = LEVELS,
) -> list[CheckResult]:
    """The runbook's "Documentation coverage: 100 % procedures documented", made measurable.

    The value is the share of steps served at all; the status stays amber while any step is
    served only in part (listed in `details["partial"]`, with what is missing) or not at all.
    `checks` defaults to every declared check; a test passes its own (the map's check ids are
    always read from the whole catalogue).
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
        owners, levels = (yaml.safe_load(path.read_text()) or {} for path in (OWNERS, levels_file))
    except (OSError, yaml.YAMLError) as error:  # the error names the file
        return [RUNBOOK_COVERAGE.error(str(runbook), error)]
    mapping, claims = mapped_claims(mapping, all_checks())
    misplaced = misplaced_claims([*checks, *claims], owners, flow_checks())
    covered, uncovered = coverage(steps, mapping, automation_names(), [*checks, *claims], misplaced)
    partial = partial_steps(covered, levels)
    percent = 100.0 * len(covered) / len(steps) if steps else 0.0
    # Target 100 % fully served (the runbook's KPI); under half served at all fails the practice.
    status = Status.OK if not uncovered and not partial else Status.WARN if percent >= 50 else Status.FAIL
    message = (
        f"{len(covered)} of {len(steps)} runbook steps automated: {len(covered) - len(partial)} fully, "
        f"{len(partial)} in part"
    )
    return [
        RUNBOOK_COVERAGE.result(
            runbook.name,
            status,
            value=round(percent, 1),
            unit="%",
            threshold=100.0,
            started_at=utcnow(),
            message=message,
            details={"uncovered": uncovered, "partial": partial, "covered": covered},
        )
    ]
