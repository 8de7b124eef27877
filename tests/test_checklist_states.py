"""Where a checklist run's final state draws the line: a red estate is Completed, a runbook that
could not do its job (a step that crashed or never answered) is Failed, and both keep their results."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from opsbook.flows.checklist import STEP_TARGET, ChecklistOutcome, Step, final_state, finish_checklist, run_steps
from opsbook.flows.states import RunbookIncomplete, outcome_of
from opsbook.results import CheckResult, Status, Verdict, utcnow
from opsbook.tasks.platforms import PLATFORM_HEALTH
from tests.helpers import write_config

pytestmark = pytest.mark.usefixtures("prefect_server")


@task(name="answers-fail", cache_policy=NO_CACHE, timeout_seconds=60)
def answers_fail() -> list[CheckResult]:
    return [PLATFORM_HEALTH.result("render", Status.FAIL, message="down: HTTP 503")]


@task(name="hangs", cache_policy=NO_CACHE, timeout_seconds=0.5)
def hangs() -> list[CheckResult]:
    time.sleep(3)  # blocking code Prefect cannot interrupt in a worker thread
    return [PLATFORM_HEALTH.result("late", Status.OK)]


@task(name="crashes", cache_policy=NO_CACHE)
def crashes() -> list[CheckResult]:
    raise KeyError("a bug in the step")


def checklist(config_path: str, *tasks: object) -> State:
    from opsbook.config import load_config

    config = load_config(config_path)
    sections = run_steps([Step(f"step {i}", t, check=PLATFORM_HEALTH) for i, t in enumerate(tasks)])
    outcome = finish_checklist(
        config=config,
        flow="states-checklist",
        title="States",
        kind="daily",
        artifact_key="states",
        run_id=f"states-{utcnow():%H%M%S%f}",
        started_at=utcnow(),
        sections=sections,
    )
    return final_state(outcome)


states_checklist = flow(name="states-checklist")(checklist)


def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "reports": {"directory": str(tmp_path / "r")}},
    )


def test_a_red_estate_completes_with_its_outcome(tmp_path: Path) -> None:
    state = states_checklist(str(config(tmp_path)), answers_fail, return_state=True)
    outcome = outcome_of(state)
    assert isinstance(outcome, ChecklistOutcome) and outcome.verdict is Verdict.RED and not outcome.notes
    assert state.is_completed() and state.message == "red: 1 check(s) failed or errored"


def test_a_sync_step_past_its_timeout_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    started = time.monotonic()
    state = states_checklist(str(config(tmp_path)), answers_fail, hangs, return_state=True)
    outcome = outcome_of(state)
    assert isinstance(outcome, ChecklistOutcome) and state.is_failed()
    [late] = [r for r in outcome.results if r.target == STEP_TARGET]
    assert late.status is Status.ERROR and late.message == "step did not finish: no result within 0.5 s"
    assert any(note.endswith("no result within 0.5 s") for note in outcome.notes)
    assert {r.target for r in outcome.results} == {"render", STEP_TARGET}  # the neighbour kept its result
    assert outcome.report_path is not None and "no result within 0.5 s" in outcome.report_path.read_text()
    assert time.monotonic() - started >= 0.5


def test_a_crashed_step_fails_the_run_and_carries_the_outcome_as_an_exception(tmp_path: Path) -> None:
    state = states_checklist(str(config(tmp_path)), answers_fail, crashes, return_state=True)
    raw = state.result(raise_on_failure=False)
    assert isinstance(raw, RunbookIncomplete)  # what Prefect resolves a Failed state into: no TypeError
    outcome = outcome_of(state)
    assert isinstance(outcome, ChecklistOutcome) and state.is_failed()
    assert state.message.startswith("red: 2 check(s) failed or errored; platform.health: step did not finish: ")
    assert "KeyError" in state.message
