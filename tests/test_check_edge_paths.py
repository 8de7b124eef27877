"""The results checklists give only when something unusual happens: each named by its own check.

A connection lost between two database checks, a record that cannot be written, a DR assessment
of a platform that is down, a security step with nothing left to say: every one of these is a
declared check (tests/test_check_declarations.py asserts each declaration is emitted somewhere).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsbook.results import CheckResult, Status
from opsbook.tasks.backups import verify
from opsbook.tasks.database import health
from opsbook.tasks.database.checks import CHECKS, Probe
from opsbook.tasks.disaster_recovery import assess_components, record_dr_run
from opsbook.tasks.security.checks import check_security_status
from tests.conftest import free_port
from tests.helpers import estate

UNWRITABLE_HISTORY = "sqlite:////nonexistent-dir/opsbook/history.db"


@pytest.mark.postgres
def test_a_connection_lost_between_database_checks_is_one_error_for_the_rest(
    tmp_path: Path, postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hang_up(probe: Probe) -> CheckResult:
        probe.one("SELECT pg_terminate_backend(pg_backend_pid())")
        raise AssertionError("the server kept the session")

    monkeypatch.setattr(health, "CHECKS", [("database.hang_up", hang_up), *CHECKS[:1]])
    config = estate(tmp_path, databases=[{"name": "app", "url": postgres_admin_url}])
    results = {r.check: r for r in health.check_database_health.fn(config)}
    assert results["database.connection"].status is Status.OK
    lost = results["database.checks"]
    assert lost.status is Status.ERROR and lost.message.startswith("connection lost:"), lost.message
    assert CHECKS[0][0] not in results  # nothing after the loss pretends to have run


def test_a_verification_record_that_cannot_be_written_is_an_error_beside_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = estate(tmp_path, backups={"repositories": [{"name": "main", "path": str(tmp_path)}]})
    config = config.model_copy(update={"history": config.history.model_copy(update={"url": UNWRITABLE_HISTORY})})
    verified = CheckResult(check="backup.completion", target="main", component="backups", status=Status.OK)

    def verified_repository(*_args: Any, **_kwargs: Any) -> tuple[list[CheckResult], dict]:
        return [verified], {"backup": "b.dump", "taken_at": datetime.now(UTC), "size_bytes": 1}

    monkeypatch.setattr(verify, "verify_repository", verified_repository)
    results = verify.verify_all(config, logger=_Silent(), run_id=None, apply_retention=False)
    assert results[0] is verified
    [record] = results[1:]
    assert (record.check, record.status) == ("backup.record", Status.ERROR)
    assert record.message.startswith("verification record not written")


def test_backup_verification_with_no_repository_says_so() -> None:
    config = estate(Path("/tmp"))
    [result] = asyncio.run(verify.verify_backups.fn(config))
    assert (result.check, result.status, result.message) == (
        "backup.verify",
        Status.SKIPPED,
        "no backup repositories configured",
    )


def test_a_dr_record_that_cannot_be_written_is_an_error(tmp_path: Path) -> None:
    config = estate(
        tmp_path,
        history={"url": UNWRITABLE_HISTORY},
        backups={
            "repositories": [{"name": "main", "path": str(tmp_path)}],
            "disaster_recovery": {
                "targets": [{"name": "dr", "url": "postgresql://x@127.0.0.1/dr", "repository": "main"}]
            },
        },
    )
    [target] = config.backups.disaster_recovery.targets
    problem = record_dr_run(
        config,
        drill=True,
        run_id="r1",
        target=target,
        record={"backup": "b.dump", "taken_at": datetime.now(UTC)},
        results=[],
        rpo=None,
        finished=datetime.now(UTC),
    )
    assert problem is not None and (problem.check, problem.status) == ("dr.record", Status.ERROR)
    assert problem.message.startswith("DR record not written")


def test_the_dr_assessment_names_each_platform_that_is_down(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/health"
    config = estate(
        tmp_path,
        http={"timeout_s": 1, "retries": 0, "backoff_s": 0.01},
        platforms=[{"name": "web", "url": down}],
        backups={
            "repositories": [{"name": "main", "path": str(tmp_path / "missing")}],
            "disaster_recovery": {
                "targets": [{"name": "dr", "url": f"postgresql://x@127.0.0.1:{free_port()}/dr", "repository": "main"}]
            },
        },
    )
    [target] = config.backups.disaster_recovery.targets
    results = {r.check: r for r in asyncio.run(assess_components.fn(config, target))}
    assert set(results) == {"dr.assess.platform", "dr.assess.target", "dr.assess.repository"}
    assert all(r.status is Status.FAIL for r in results.values()), {k: r.message for k, r in results.items()}
    assert results["dr.assess.platform"].target == "web"


def test_the_daily_security_step_with_every_check_unconfigured_is_one_skipped_result(tmp_path: Path) -> None:
    config = estate(tmp_path, security={"headers": {"check_platforms": True}})  # no platform to check
    [result] = asyncio.run(check_security_status.fn(config))
    assert (result.check, result.status) == ("security.status", Status.SKIPPED)


class _Silent:
    """A logger that says nothing (verify_all logs each repository's outcome)."""

    def info(self, *_args: object) -> None:
        pass
