"""One declaration per check: the demo's checklists emit only declared ids, every declaration is
emitted by some task, and alert triage, the report's advice and the runbook coverage read them."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook import checks
from opsbook.alerts import classify
from opsbook.checks import AlertType, declare, declared
from opsbook.demo.estate import demo_estate
from opsbook.escalation import Severity
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.daily import daily_checklist
from opsbook.flows.monthly import monthly_audit
from opsbook.flows.security import security_health_check
from opsbook.reports.advice import next_step
from opsbook.results import CheckResult, Status
from opsbook.tasks.catalog import all_checks
from opsbook.tasks.coverage import RunbookStep, coverage, read_steps
from opsbook.tasks.disaster_recovery import SWITCH_OVER
from tests.conftest import services_missing

RUNBOOK = Path(__file__).resolve().parents[2] / "shared" / "seed" / "operational-runbooks.md"


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Declarations made by a test stay in the test (the catalogue is imported first, so it is whole)."""
    all_checks()
    monkeypatch.setattr(checks, "_REGISTRY", dict(checks._REGISTRY))


def fake(**overrides: object) -> checks.Check:
    fields: dict = dict(
        title="Fake",
        component="fakes",
        alert_type=AlertType.SECURITY,
        severity=Severity.P0,
        on_fail="Unplug the fake.",
        on_warn="Watch the fake.",
        runbook_steps=("Fake Procedure / Checking the fake",),
    )
    return declare("test.fake", **{**fields, **overrides})


@pytest.mark.usefixtures("prefect_server")
def test_the_demo_estates_checklists_emit_only_declared_checks(tmp_path: Path) -> None:
    emitted: list[CheckResult] = []
    with demo_estate(tmp_path / "demo") as estate:
        config_path = str(estate.write_config())
        for checklist in (daily_checklist, security_health_check, monthly_audit):
            outcome = checklist(config_path=config_path, return_state=True).result(raise_on_failure=False)
            assert isinstance(outcome, ChecklistOutcome), outcome
            emitted += outcome.results
    ids = {r.check for r in emitted}
    assert {"platform.health", "app.web_vitals", "resource.cpu", "security.certificate", "kpi.uptime"} <= ids
    assert sorted(i for i in ids if declared(i) is None) == []
    wrong_component = {(r.check, r.component) for r in emitted if r.component != declared(r.check).component}
    assert wrong_component == set()


@pytest.mark.after_everything
def test_every_declaration_is_emitted_by_some_task_during_the_suite(emitted_check_ids: set[str]) -> None:
    never = sorted(c.id for c in all_checks() if c.id not in emitted_check_ids and not c.per_instance)
    never += sorted(
        c.id for c in all_checks() if c.per_instance and not any(i.startswith(f"{c.id}.") for i in emitted_check_ids)
    )
    if never and services_missing():
        pytest.skip(f"PostgreSQL was missing, so its tests could not emit: {never}")
    assert never == []  # a check no task emits, or one whose only test is gone


def test_declare_returns_the_declaration_and_refuses_a_different_second_one(scratch_registry: None) -> None:
    first = fake()
    assert fake() is first  # the same declaration again (a module imported twice) is harmless
    assert declared("test.fake") is first
    with pytest.raises(ValueError, match="declared twice"):
        fake(severity=Severity.P3)
    assert declared("test.fake") is first


def test_classify_reads_the_declaration_an_error_is_one_step_lower_and_labels_override(
    scratch_registry: None,
) -> None:
    fake()

    def result(status: Status, **labels: str) -> CheckResult:
        return CheckResult(check="test.fake", target="t", component="misc", status=status, labels=labels)

    assert classify(result(Status.FAIL)) == ("security", Severity.P0)
    assert classify(result(Status.ERROR)) == ("security", Severity.P1)
    assert classify(result(Status.FAIL, severity="P2", alert_type="application")) == ("application", Severity.P2)
    undeclared = CheckResult(check="test.undeclared", target="t", component="database", status=Status.FAIL)
    assert classify(undeclared) == ("infrastructure", Severity.P3)  # by component, as before declarations


def test_next_step_reads_the_declarations_advice_and_falls_back_to_the_generic_words(scratch_registry: None) -> None:
    fake()
    declare("test.silent", title="Silent", component="fakes", alert_type=AlertType.OTHER, severity=Severity.P3)

    def step(check: str, status: Status) -> str:
        return next_step(CheckResult(check=check, target="t", component="fakes", status=status))

    assert step("test.fake", Status.FAIL) == "Unplug the fake."
    assert step("test.fake", Status.WARN) == "Watch the fake."
    assert step("test.fake", Status.ERROR).startswith("The check could not measure")
    assert step("test.silent", Status.FAIL).startswith("Past the critical threshold")
    assert step("test.silent", Status.WARN).startswith("Past the warning threshold")


def test_a_per_instance_declaration_covers_each_named_instance() -> None:
    action = declared("dr.switch_over.dns-to-dr")
    assert action is not None and action.id == "dr.switch_over.dns-to-dr" and action.severity is SWITCH_OVER.severity
    assert SWITCH_OVER.instance("dns-to-dr").result("dns-to-dr", Status.OK).check == "dr.switch_over.dns-to-dr"
    assert declared("dr.restore.anything") is None  # only a per-instance declaration has instances


def test_a_runbook_step_is_covered_by_the_declarations_that_name_it(scratch_registry: None) -> None:
    steps = [RunbookStep("Fake Procedure", "Checking the fake"), RunbookStep("Fake Procedure", "Writing it up")]
    covered, uncovered = coverage(steps, {}, set(), [fake()])
    assert covered == ["Fake Procedure / Checking the fake"]
    assert uncovered == ["Fake Procedure / Writing it up: not mapped"]


@pytest.mark.skipif(not RUNBOOK.exists(), reason=f"the user's runbook is not at {RUNBOOK}")
def test_every_runbook_step_a_declaration_names_is_a_step_of_the_runbook() -> None:
    keys = {step.key for step in read_steps(RUNBOOK.read_text())}
    named = {(c.id, key) for c in all_checks() for key in c.runbook_steps}
    assert {(check, key) for check, key in named if key not in keys} == set()
