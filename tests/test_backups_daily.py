"""The daily checklist's "Backup verification" step on a real Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.daily import daily_checklist
from opsbook.results import Status, Verdict
from opsbook.tasks.backups.create import create_backup
from opsbook.tasks.backups.records import verifications
from tests.backup_helpers import repository, source_database
from tests.helpers import write_config

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.postgres]


@pytest.fixture(scope="module")
def source(postgres_admin_url: str) -> Iterator[str]:
    with source_database(postgres_admin_url) as url:
        yield url


def test_daily_checklist_verifies_backups_and_records_the_verification(
    tmp_path: Path, source: str, postgres_admin_url: str
) -> None:
    good, damaged = repository(tmp_path / "good"), repository(tmp_path / "damaged", name="damaged")
    create_backup(source, good)
    broken = create_backup(source, damaged)
    broken.write_bytes(broken.read_bytes()[:-64])
    history = f"sqlite:///{tmp_path / 'history.db'}"
    config = write_config(
        tmp_path,
        {
            "history": {"url": history},
            "reports": {"directory": str(tmp_path / "reports")},
            "backups": {
                "repositories": [
                    {"name": "good", "path": str(good.path), "expected_tables": ["users"]},
                    {"name": "damaged", "path": str(damaged.path)},
                ],
                "restore_server": {"url": postgres_admin_url},
            },
        },
    )

    state = daily_checklist(config_path=str(config), return_state=True)
    outcome = state.result(raise_on_failure=False)

    assert isinstance(outcome, ChecklistOutcome) and state.is_completed() and outcome.verdict is Verdict.RED
    results = {(r.check, r.target): r for r in outcome.results}
    assert results[("backup.restore", "good")].status is Status.OK
    assert results[("backup.integrity", "damaged")].status is Status.FAIL
    assert "checksum mismatch" in results[("backup.integrity", "damaged")].message
    records = {r.repository: r for r in verifications(history)}
    assert records["good"].status == "ok" and records["good"].run_id == outcome.run_id
    assert records["good"].restore_seconds is not None
    assert records["damaged"].status == "fail" and "checksum mismatch" in records["damaged"].message
    html = outcome.report_path.read_text()
    assert "Backup verification" in html and "Do not trust this backup" in html
