"""Runbook coverage on the user's real runbook: every step found, each mapping checked against the code."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from opsbook.checks import declared
from opsbook.results import Status
from opsbook.tasks.catalog import all_checks
from opsbook.tasks.coverage import (
    LEVEL_NAMES,
    LEVELS,
    MAPPING,
    OWNERS,
    RunbookStep,
    automation_names,
    check_runbook_coverage,
    coverage,
    flow_checks,
    mapped_claims,
    misplaced_claims,
    partial_steps,
    read_steps,
)

RUNBOOK = Path(__file__).resolve().parents[2] / "shared" / "seed" / "operational-runbooks.md"
needs_runbook = pytest.mark.skipif(not RUNBOOK.exists(), reason=f"the user's runbook is not at {RUNBOOK}")


@needs_runbook
def test_every_numbered_step_and_procedure_of_the_real_runbook_is_read() -> None:
    text = RUNBOOK.read_text()
    steps = read_steps(text)
    numbered = re.findall(r'^\s*echo "\d+\. ', text, flags=re.MULTILINE)
    summary = ("Checklist", "KPIs", "Metrics")  # the 5 `###` lists of the summary sections, read too
    assert sum(1 for s in steps if s.text and not s.procedure.endswith(summary)) == len(numbered)
    procedures = {s.procedure for s in steps if not s.procedure.endswith(summary)}
    assert len(procedures) == len(re.findall(r"^#### ", text, flags=re.MULTILINE))
    assert steps[0].key == "System Health Validation (08:00 UTC) / Checking platform health"


def test_every_name_in_the_shipped_mapping_exists_in_the_code() -> None:
    known = automation_names() | {check.id for check in all_checks()}  # a task, a flow or a declared check
    mapping = yaml.safe_load(MAPPING.read_text())
    assert {name for names in mapping.values() for name in names} <= known


@needs_runbook
def test_unmapped_and_misnamed_steps_are_listed_as_uncovered(tmp_path: Path) -> None:
    steps = read_steps(RUNBOOK.read_text())[:3]
    mapping = {steps[0].key: ["check-platform-health"], steps[1].key: ["no-such-task"]}
    covered, uncovered = coverage(steps, mapping, automation_names())
    assert covered == [steps[0].key]
    assert uncovered == [f"{steps[1].key}: no check, task or flow named no-such-task", f"{steps[2].key}: not mapped"]
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text(yaml.safe_dump(mapping))
    [result] = check_runbook_coverage.fn(RUNBOOK, bad_map, checks=())  # the map alone, no declaration
    assert result.status is Status.FAIL  # 1 of 120 (procedures, checklist summary, success metrics)
    assert result.value == round(100 / len(read_steps(RUNBOOK.read_text())), 1)


def _owners() -> dict[str, list[str]]:
    return yaml.safe_load(OWNERS.read_text())


@needs_runbook
def test_owners_name_real_procedures_and_real_flows() -> None:
    procedures = {step.procedure for step in read_steps(RUNBOOK.read_text())}
    runs = flow_checks()
    assert set(_owners()) <= procedures
    assert {flow for flows in _owners().values() for flow in flows} <= set(runs)
    assert {"resource.cpu", "platform.health", "backup.verify"} <= runs["daily-checklist"]  # read from its steps
    assert "database.slow_queries" in runs["monthly-audit"]  # the audit re-runs the daily steps


def test_no_shipped_declaration_claims_a_step_its_owning_flow_never_runs() -> None:
    assert [str(claim) for claim in misplaced_claims(all_checks(), _owners(), flow_checks())] == []


@needs_runbook
def test_a_daily_step_claimed_by_a_check_only_the_weekly_flow_runs_is_not_covered() -> None:
    runs = flow_checks()
    weekly_only = sorted(runs["weekly-maintenance"] - runs["daily-checklist"])[0]
    step = read_steps(RUNBOOK.read_text())[0]  # System Health Validation / Checking platform health
    assert _owners()[step.procedure] == ["daily-checklist"]
    claim = replace(declared(weekly_only), runbook_steps=(step.key,))
    [misplaced] = misplaced_claims([claim], _owners(), runs)
    assert str(misplaced) == f"{step.key}: claimed by {weekly_only}, which daily-checklist never runs"
    covered, uncovered = coverage([step], {}, automation_names(), [claim], [misplaced])
    assert covered == [] and uncovered == [str(misplaced)]
    # The same claim by a check the daily checklist does run covers it.
    daily = replace(declared("platform.health"), runbook_steps=(step.key,))
    assert misplaced_claims([daily], _owners(), runs) == []
    assert coverage([step], {}, automation_names(), [daily]) == ([step.key], [])


@needs_runbook
def test_the_checklist_summary_and_success_metrics_are_read_as_steps() -> None:
    text = RUNBOOK.read_text()
    keys = [step.key for step in read_steps(text)]
    items = re.findall(r"^- (?:\[ \] )?\*\*", text.split("## 📋 Operational Checklist Summary")[1], flags=re.MULTILINE)
    assert (
        len(items) == 30
        and len([k for k in keys if k.split(" / ")[0].endswith(("Checklist", "KPIs", "Metrics"))]) == 30
    )
    assert "Daily Operations Checklist / Resource monitoring" in keys
    assert "Operational Excellence KPIs / Mean Time to Detection (MTTD)" in keys
    assert "Team Performance Metrics / Documentation Coverage" in keys
    assert keys.index("Incident Communication Templates") < keys.index(
        "Daily Operations Checklist / Morning health check"
    )


def _test_functions() -> set[str]:
    """Every `tests/<file>::<function>` node id, read with ast (no collection run)."""
    found = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                found.add(f"tests/{path.name}::{node.name}")
    return found


def _shipped_coverage() -> tuple[list[str], list[str]]:
    checks = all_checks()
    mapping, claims = mapped_claims(yaml.safe_load(MAPPING.read_text()), checks)
    misplaced = misplaced_claims([*checks, *claims], _owners(), flow_checks())
    return coverage(read_steps(RUNBOOK.read_text()), mapping, automation_names(), [*checks, *claims], misplaced)


@needs_runbook
def test_every_served_step_has_a_level_and_a_proof_test_that_exists() -> None:
    levels = yaml.safe_load(LEVELS.read_text())
    covered, uncovered = _shipped_coverage()
    assert set(levels) == set(covered)  # no served step left unjudged, no level for a step nothing serves
    tests = _test_functions()
    for key, entry in levels.items():
        assert entry["level"] in LEVEL_NAMES, key
        assert entry["proof"] in tests, f"{key}: proof {entry['proof']} is not a test"
        assert (entry["level"] == "partial") == bool(entry.get("missing")), (
            f"{key}: a partial step says what is missing"
        )
    assert not any("claimed by" in reason for reason in uncovered)


def test_a_mapped_check_that_is_not_declared_or_not_run_by_the_owner_serves_nothing() -> None:
    step = "Daily Operations Checklist / Resource monitoring"
    mapping, claims = mapped_claims({step: ["resource.cpu", "resource.gpu"]}, all_checks())
    assert mapping == {step: ["resource.gpu"]} and [c.id for c in claims] == ["resource.cpu"]
    known = automation_names()
    assert coverage([RunbookStep(*step.split(" / "))], mapping, known, claims)[1] == [
        f"{step}: no check, task or flow named resource.gpu"
    ]
    # A check id the owning flow never runs: a weekly-only check for a daily item.
    runs = flow_checks()
    weekly_only = sorted(runs["weekly-maintenance"] - runs["daily-checklist"])[0]
    _, claims = mapped_claims({step: [weekly_only]}, all_checks())
    [misplaced] = misplaced_claims(claims, _owners(), runs)
    assert coverage([RunbookStep(*step.split(" / "))], {}, known, claims, [misplaced]) == ([], [str(misplaced)])


def test_a_partial_or_unjudged_step_is_listed_with_what_is_missing() -> None:
    levels = {"A / one": {"level": "full"}, "A / two": {"level": "partial", "missing": "acts on nothing"}}
    assert partial_steps(["A / one", "A / two", "A / three"], levels) == [
        "A / two: acts on nothing",
        "A / three: no level or proof recorded",
    ]


@needs_runbook
def test_the_shipped_result_counts_partial_steps_and_stays_amber_while_any_remain() -> None:
    [result] = check_runbook_coverage.fn(RUNBOOK)
    covered, uncovered = _shipped_coverage()
    partial = result.details["partial"]
    assert result.details["covered"] == covered and result.details["uncovered"] == uncovered
    assert "System Resource Check: network utilisation is not measured (CPU, memory and disk are)" in partial
    assert result.message == (
        f"{len(covered)} of 120 runbook steps automated: {len(covered) - len(partial)} fully, {len(partial)} in part"
    )
    assert result.status is Status.WARN and result.value == round(100 * len(covered) / 120, 1)
