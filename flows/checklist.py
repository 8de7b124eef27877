"""What every checklist flow shares: isolated steps, then store, report and artifacts.

A step's exception never takes the checklist down: it becomes an `error` result. Where the line
between Completed and Failed runs:

- A red or amber estate is the runbook doing its job: the run ends **Completed**, renamed
  `<flow>-<date>-<verdict>` and tagged `verdict:<verdict>` (flows/verdict.py says why), with
  the verdict in the state message and a `opsbook.checklist.<verdict>` event.
- The run ends **Failed** when the runbook itself could not do its job: the history store, the
  alerts, the report, the digest or the artifacts could not be written or sent, or a step's code
  did not finish (it raised or timed out, so part of the estate went unchecked). It fails only
  after everything that could be written was, and still carries its outcome.
- A config that cannot be read stops the flow before any check runs (Failed, with the
  ConfigError); a process that dies is Prefect's Crashed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from markupsafe import Markup
from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, State

from opsbook.checks import Check
from opsbook.config import EstateConfig, Limit, load_config
from opsbook.flows.states import incomplete
from opsbook.flows.verdict import announce_verdict, label_run
from opsbook.maintenance import silence_during
from opsbook.reports import Report, Section
from opsbook.reports.trends import check_trend_chart
from opsbook.results import CheckResult, Status, Verdict, describe_exception, utcnow, verdict_of
from opsbook.secrets import install_log_redaction, redact
from opsbook.tasks.alerts import process_alerts
from opsbook.tasks.history import annotate_run, store_results
from opsbook.tasks.incidents import refresh_status_page, status_page_path
from opsbook.tasks.publish import publish_artifacts
from opsbook.tasks.report import send_report_digest, write_html_report
from opsbook.tasks.report_data import trend_points


@dataclass(frozen=True)
class Trend:
    """A chart of one check's history drawn under a step's results."""

    check: str
    title: str
    unit: str
    limit: Limit | None = None
    days: int = 30


@dataclass(frozen=True)
class Step:
    """One checklist step: a titled Prefect task, the arguments it is called with, its trend charts."""

    title: str
    task: Any  # a prefect Task returning list[CheckResult]
    args: tuple[Any, ...] = ()
    check: Check = field(kw_only=True)  # what a crashed or timed-out step reports under
    trends: Sequence[Trend] = ()


def when(condition: object, *steps: Step) -> tuple[Step, ...]:
    """The steps, only when what they check is configured (an empty section would read "All clear")."""
    return steps if condition else ()


@dataclass
class ChecklistOutcome:
    """What a checklist run produced; the CLI prints it, the flow's final state carries it."""

    run_id: str
    flow: str
    verdict: Verdict
    results: list[CheckResult]
    report_path: Path | None
    notes: list[str] = field(default_factory=list)
    estate: str = ""
    started_at: datetime | None = None

    @property
    def failed(self) -> bool:
        """Red, or incomplete: what `opsbook run` exits 1 on (a CI gate reads the estate)."""
        return self.verdict is Verdict.RED or self.incomplete

    @property
    def incomplete(self) -> bool:
        """The runbook could not do all of its job: what ends the Prefect run Failed."""
        return bool(self.notes)


def open_checklist(config_path: str) -> tuple[EstateConfig, str, datetime]:
    """Load the config (a ConfigError stops the flow before any check runs) and name the run."""
    config = load_config(config_path)
    install_log_redaction()
    run_id = flow_run.get_id() or str(uuid.uuid4())
    return config, run_id, utcnow()


STEP_TARGET = "(step)"  # the target of the one error result a step that did not finish leaves


def run_steps(steps: Sequence[Step], config: EstateConfig | None = None) -> list[Section]:
    """Run every step concurrently; a crashed or timed-out step becomes one error result.

    With the config, each step's trend charts are drawn from the history under its results.
    """
    submitted = [(step, *_submit(step)) for step in steps]
    progress = cast(  # called outside an event loop, it returns the id, not a coroutine
        uuid.UUID, create_progress_artifact(progress=0.0, description=f"{len(steps)} checklist step(s)")
    )
    sections = []
    for done, (step, future, deadline) in enumerate(submitted, start=1):
        future.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        state = future.state
        update_progress_artifact(progress, progress=100.0 * done / len(submitted))
        outcome = state.result(raise_on_failure=False) if state.is_completed() else None
        if state.is_completed() and isinstance(outcome, list):
            results = outcome
        elif not state.is_final():
            limit = step.task.timeout_seconds
            results = [step.check.error(STEP_TARGET, f"step did not finish: no result within {limit:g} s")]
        else:
            cause = state.result(raise_on_failure=False) if state.is_failed() else None
            reason = describe_exception(cause) if isinstance(cause, BaseException) else (state.message or state.name)
            results = [step.check.error(STEP_TARGET, f"step did not finish: {reason}")]
        charts = (
            [trend_chart(config, results, t.check, t.title, t.unit, t.limit, t.days) for t in step.trends]
            if config is not None
            else []
        )
        sections.append(Section(step.title, results, charts=charts))
    return sections


def _submit(step: Step) -> tuple[Any, float | None]:
    """Submit a step; a synchronous task's timeout is enforced here, where it can act.

    Prefect cannot interrupt a synchronous task in a worker thread (and warns so on every run):
    such a task is submitted without its timeout and the flow waits for it at most that long,
    then reports the step as not finished. The thread ends when its own I/O timeouts fire.
    """
    task = step.task
    if task.timeout_seconds is None or task.isasync:
        return task.submit(*step.args), None
    untimed = task.with_options()  # with_options(timeout_seconds=None) keeps the old value
    untimed.timeout_seconds = None
    return untimed.submit(*step.args), time.monotonic() + task.timeout_seconds


def trend_chart(
    config: EstateConfig,
    current: list[CheckResult],
    check: str,
    title: str,
    unit: str,
    limit: Limit | None = None,
    days: int = 30,
) -> Markup:
    """A chart of one check over `days` from the history; a history that cannot be read gives a note."""
    try:
        return check_trend_chart(trend_points(config.history.url, check, current, days), title, unit, limit)
    except Exception as error:
        return Markup('<p class="chart-empty">{}: history not available ({}).</p>').format(
            title, redact(describe_exception(error))
        )


def finish_checklist(
    *,
    config: EstateConfig,
    flow: str,
    title: str,
    kind: str,
    artifact_key: str,
    run_id: str,
    started_at: datetime,
    sections: list[Section],
) -> ChecklistOutcome:
    """Store the results, write the report, publish artifacts; record what could not be done."""
    logger = get_run_logger()
    sections = [
        replace(section, results=silence_during(section.results, config.maintenance.windows))
        for section in sections
        if section.results
    ]  # an empty one would read "All clear"
    results = [r for section in sections for r in section.results]
    notes: list[str] = [f"{r.check}: {r.message}" for r in results if r.target == STEP_TARGET]
    finished_at = utcnow()
    history: dict[str, Any] = dict(
        run_id=run_id, flow=flow, estate=config.estate, started_at=started_at, finished_at=finished_at, results=results
    )

    stored = _attempt(lambda: store_results(config.history.url, **history), "history store not written", notes)
    if stored is not _FAILED:  # alerts read the stored history; notices go out after the final retry
        _attempt(lambda: process_alerts(config, results), "alerts not processed", notes)
        _attempt(lambda: refresh_status_page(config), f"status page not refreshed at {status_page_path(config)}", notes)
    report = Report(
        kind=kind,
        title=title,
        estate=config.estate,
        run_id=run_id,
        started_at=started_at,
        finished_at=finished_at,
        sections=sections,
        notes=notes,
    )
    report_path = _attempt(
        lambda: write_html_report(report, config.reports.directory),
        f"report not written to {config.reports.directory}",
        notes,
    )
    problems = _attempt(
        lambda: send_report_digest(config, report, None if report_path is _FAILED else report_path),
        "report digest not sent",
        notes,
    )
    notes += [] if problems is _FAILED else problems
    if stored is not _FAILED and (report_path is not _FAILED or notes):
        # The first write had no report path (and maybe no notes yet): record them with the run.
        _attempt(
            lambda: annotate_run(
                config.history.url,
                run_id,
                None if report_path is _FAILED else str(report_path),
                "\n".join(notes) or None,
            ),
            "history store not updated with the report path",
            notes,
        )
    path = None if report_path is _FAILED else report_path
    _attempt(lambda: publish_artifacts(report, path, artifact_key), "artifacts not published", notes)

    verdict = verdict_of(results)
    logger.info("%s finished: %s (%s)%s", title, verdict.value, report.headline, f"; report {path}" if path else "")
    for note in notes:
        logger.error(note)
    return ChecklistOutcome(
        run_id=run_id,
        flow=flow,
        verdict=verdict,
        results=results,
        report_path=path,
        notes=notes,
        estate=config.estate,
        started_at=started_at,
    )


_FAILED = object()


def _attempt(action: Callable[[], Any], what: str, notes: list[str]) -> Any:
    """Run one finishing action; on failure add a note and carry on with the others."""
    try:
        return action()
    except Exception as error:
        notes.append(redact(f"{what}: {describe_exception(error)}"))
        return _FAILED


def final_state(outcome: ChecklistOutcome) -> State:
    """Completed with the verdict when the runbook did its job, whatever the estate's colour;
    Failed (carrying the outcome) when it could not. Either way the run is labelled and the
    verdict event emitted."""
    label_run(outcome.flow, outcome.started_at or utcnow(), outcome.verdict)
    announce_verdict(
        flow=outcome.flow,
        estate=outcome.estate,
        verdict=outcome.verdict,
        results=outcome.results,
        notes=outcome.notes,
        run_id=outcome.run_id,
    )
    problems = sum(1 for r in outcome.results if r.status in (Status.FAIL, Status.ERROR))
    warnings = sum(1 for r in outcome.results if r.status is Status.WARN)
    summary = f"{outcome.verdict.value}: " + (
        f"{problems} check(s) failed or errored"
        if problems
        else f"{warnings} warning(s)"
        if warnings
        else "all checks ok"
    )
    if outcome.incomplete:
        return incomplete("; ".join([summary, *outcome.notes]), outcome)
    return Completed(message=redact(summary), data=outcome)
