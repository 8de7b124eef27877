"""Runbook coverage on the user's real runbook: every step found, each mapping checked against the code."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from opsbook.checks import declared
from opsbook.results import Status
from opsbook.tasks.catalog import all_checks
from opsbook.tasks.coverage import (
    MAPPING,
    OWNERS,
    automation_names,
    check_runbook_coverage,
    coverage,
    flow_checks,
    misplaced_claims,
    read_steps,
)

RUNBOOK = Path(__file__).resolve().parents[2] / "shared" / "seed" / "operational-runbooks.md"
needs_runbook = pytest.mark.skipif(not RUNBOOK.exists(), reason=f"the user's runbook is not at {RUNBOOK}")


@needs_runbook
def test_every_numbered_step_and_procedure_of_the_real_runbook_is_read() -> None:
    text = RUNBOOK.read_text()
    steps = read_steps(text)
    numbered = re.findall(r'^\s*echo "\d+\. ', text, flags=re.MULTILINE)
    assert sum(1 for s in steps if s.text) == len(numbered)
    assert len({s.procedure for s in steps}) == len(re.findall(r"^#### ", text, flags=re.MULTILINE))
    assert steps[0].key == "System Health Validation (08:00 UTC) / Checking platform health"


def test_every_name_in_the_shipped_mapping_exists_in_the_code() -> None:
    known = automation_names()
    mapping = yaml.safe_load(MAPPING.read_text())
    assert {name for names in mapping.values() for name in names} <= known


@needs_runbook
def test_unmapped_and_misnamed_steps_are_listed_as_uncovered(tmp_path: Path) -> None:
    steps = read_steps(RUNBOOK.read_text())[:3]
    mapping = {steps[0].key: ["check-platform-health"], steps[1].key: ["no-such-task"]}
    covered, uncovered = coverage(steps, mapping, automation_names())
    assert covered == [steps[0].key]
    assert uncovered == [f"{steps[1].key}: no task or flow named no-such-task", f"{steps[2].key}: not mapped"]
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text(yaml.safe_dump(mapping))
    [result] = check_runbook_coverage.fn(RUNBOOK, bad_map, checks=())  # the map alone, no declaration
    assert result.status is Status.FAIL  # 1 of 90: far under half
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
