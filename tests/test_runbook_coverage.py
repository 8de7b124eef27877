"""Runbook coverage on the user's real runbook: every step found, each mapping checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from opsbook.results import Status
from opsbook.tasks.coverage import MAPPING, automation_names, check_runbook_coverage, coverage, read_steps

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
