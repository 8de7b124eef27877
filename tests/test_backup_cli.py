"""`opsbook backup ...` as a user meets it, and the backups config's error messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.config import ConfigError, parse_config
from opsbook.secrets import redact
from tests.backup_helpers import source_database
from tests.helpers import write_config


@pytest.fixture(scope="module")
def source(postgres_admin_url: str) -> Iterator[str]:
    with source_database(postgres_admin_url) as url:
        yield url


def config(tmp_path: Path, **backups: object) -> Path:
    section = {
        "repositories": [{"name": "main", "path": str(tmp_path / "repo"), "expected_tables": ["users"]}],
        **backups,
    }
    return write_config(tmp_path, {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "backups": section})


@pytest.mark.postgres
def test_backup_create_dumps_with_a_manifest_then_verify_passes(
    tmp_path: Path, source: str, postgres_admin_url: str
) -> None:
    file = config(tmp_path, source_url=postgres_admin_url, restore_server={"url": postgres_admin_url})
    runner = CliRunner()
    created = runner.invoke(app, ["backup", "create", "-c", str(file), "--database", source.rsplit("/", 1)[1]])
    assert created.exit_code == 0, created.output
    assert "pg_dump (custom) of 2 table(s), 2,200 row(s)" in created.output  # progress lines
    path = Path(created.stdout.strip().splitlines()[-1])
    assert path.read_bytes().startswith(b"PGDMP")
    assert json.loads(Path(f"{path}.manifest.json").read_text())["tables"]["public.users"] == 200

    verified = runner.invoke(app, ["backup", "verify", "-c", str(file)])
    assert verified.exit_code == 0, verified.output
    assert "backup.restore" in verified.output

    path.write_bytes(path.read_bytes()[:100])
    assert runner.invoke(app, ["backup", "verify", "-c", str(file)]).exit_code == 1


@pytest.mark.postgres
def test_backup_create_fails_with_exit_1_and_no_leftovers(tmp_path: Path, postgres_admin_url: str) -> None:
    file = config(tmp_path, source_url=postgres_admin_url)
    result = CliRunner().invoke(app, ["backup", "create", "-c", str(file), "--database", "no_such_db_opsbook"])
    assert result.exit_code == 1 and "backup failed" in result.output
    assert not any((tmp_path / "repo").iterdir())


def test_backup_prune_is_a_dry_run_without_apply(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for day in range(1, 6):
        (repo / f"app-202611{day:02d}T000000Z.dump").write_bytes(b"PGDMP")
        (repo / f"app-202611{day:02d}T000000Z.dump.manifest.json").write_text(
            json.dumps({"sha256": "-", "created_at": f"2026-11-{day:02d}T00:00:00+00:00"})
        )
    data = {
        "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
        "backups": {
            "repositories": [
                {"name": "main", "path": str(repo), "retention": {"keep_daily": 2, "keep_weekly": 0, "keep_monthly": 0}}
            ]
        },
    }
    file = write_config(tmp_path, data)
    runner = CliRunner()
    dry = runner.invoke(app, ["backup", "prune", "-c", str(file)])
    assert dry.exit_code == 0 and dry.output.count("prune? ") == 3 and len(list(repo.glob("*.dump"))) == 5
    applied = runner.invoke(app, ["backup", "prune", "-c", str(file), "--apply"])
    assert applied.exit_code == 0 and sorted(p.name for p in repo.glob("*.dump")) == [
        "app-20261104T000000Z.dump",
        "app-20261105T000000Z.dump",
    ]


def test_backup_commands_have_help() -> None:
    for command in (["backup"], ["backup", "create"], ["backup", "verify"], ["backup", "prune"], ["dr"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_dr_command_rejects_an_unknown_scenario_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dr", "-c", str(config(tmp_path)), "--target", "x", "--scenario", "meteor"])
    assert result.exit_code == 2 and "unknown DR target 'x'" in result.output


def test_config_problems_name_their_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "backups": {
                    "repositories": [
                        {"name": "a", "path": "x", "max_age": "soon", "format": "tar", "encryption": {"required": True}}
                    ],
                    "restore_server": {"url": "mysql://x"},
                    "disaster_recovery": {"switch_over": [{"name": "dns", "command": ["x"], "webhook": "http://h"}]},
                }
            },
            base_dir=tmp_path,
        )
    problems = "\n".join(caught.value.problems)
    assert "backups.repositories[0].max_age: must be a duration such as 26h" in problems
    assert "backups.repositories[0].format:" in problems
    assert "backups.repositories[0].encryption: passphrase is required" in problems
    assert "backups.restore_server.url: must be a postgresql+psycopg:// URL" in problems
    assert "backups.disaster_recovery.switch_over[0]: give exactly one of command or webhook" in problems


def test_encryption_passphrase_comes_from_env_and_is_redacted(tmp_path: Path) -> None:
    estate = parse_config(
        {
            "backups": {
                "repositories": [
                    {"name": "a", "path": "x", "encryption": {"required": True, "passphrase": "${BACKUP_KEY}"}}
                ]
            }
        },
        base_dir=tmp_path,
        environ={"BACKUP_KEY": "s3cret-passphrase"},
    )
    repo = estate.backups.repositories[0]
    assert repo.encryption.passphrase == "s3cret-passphrase" and repo.path == tmp_path / "x"
    assert redact("gpg said s3cret-passphrase") == "gpg said ***"
