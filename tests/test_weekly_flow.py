"""The weekly maintenance flow end to end: dry run by default, real files changed only with apply."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows.checklist import ChecklistOutcome
from flows.weekly import weekly_maintenance
from opsbook.demo.server import LoopbackServer, Reply
from opsbook.results import Status
from tests.helpers import write_config

pytestmark = pytest.mark.usefixtures("prefect_server")


def expired_log(root: Path) -> Path:
    path = root / "app.log.9"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("old\n")
    stamp = (datetime.now(UTC) - timedelta(days=45)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def run(config: Path, apply: bool) -> tuple[object, ChecklistOutcome]:
    state = weekly_maintenance(config_path=str(config), apply=apply, return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome), outcome
    return state, outcome


def test_weekly_maintenance_dry_run_then_apply(tmp_path: Path) -> None:
    purges: list[str] = []
    with LoopbackServer({"/purge": lambda r: purges.append(r.method) or Reply(204)}) as cdn:
        old = expired_log(tmp_path / "logs")
        patches = tmp_path / "web-1.txt"
        patches.write_text("openssl/stable-security 3.0.15 amd64 [upgradable from: 3.0.14]\n")
        deps = tmp_path / "pip.json"
        deps.write_text("[]")
        config = write_config(tmp_path, {
            "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "reports": {"directory": str(tmp_path / "reports")},
            "maintenance": {"log_directories": [{"path": str(tmp_path / "logs")}], "patch_reports": [str(patches)],
                            "check_local_patches": False, "dependency_reports": [str(deps)],
                            "cache_actions": [{"name": "cdn", "url": cdn.url("/purge")}]}})

        _, dry = run(config, apply=False)
        assert old.exists() and purges == []
        by_check = {r.check: r for r in dry.results}
        assert "would delete 1" in by_check["maintenance.logs"].message
        assert by_check["maintenance.patches"].status is Status.WARN
        assert by_check["maintenance.cache"].message.endswith("(dry run)")
        # The daily checklist never ran here: the dead-man's switch says so.
        assert by_check["monitoring.deadman"].status is Status.FAIL
        assert "Weekly maintenance" in dry.report_path.read_text()

        _, applied = run(config, apply=True)
        assert not old.exists() and purges == ["POST"]
        assert "deleted 1" in {r.check: r for r in applied.results}["maintenance.logs"].message
