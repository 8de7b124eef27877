"""Backup verification against real pg_dump/pg_restore, gpg and the real PostgreSQL server."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from opsbook.config.backups import RestoreServer
from opsbook.results import Status, utcnow
from opsbook.tasks.backups.create import create_backup
from opsbook.tasks.backups.files import list_backups, manifest_path, read_manifest
from opsbook.tasks.backups.restore import SCRATCH_PREFIX
from opsbook.tasks.backups.verify import verify_repository
from tests.backup_helpers import copy_repository, fill_source, repository, source_database

pytestmark = pytest.mark.postgres
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def source(postgres_admin_url: str) -> Iterator[str]:
    """One filled source database for the module: tests only read it (pg_dump, counts)."""
    with source_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="module")
def pristine(source: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One good custom-format backup with its manifest; each test damages a copy of it."""
    folder = tmp_path_factory.mktemp("pristine") / "repo"
    create_backup(source, repository(folder))
    return folder


@pytest.fixture
def server(postgres_admin_url: str) -> RestoreServer:
    return RestoreServer(url=postgres_admin_url)


def by_check(results):
    return {r.check: r for r in results}


def scratch_databases(admin_url: str) -> set[str]:
    engine = create_engine(admin_url)
    with engine.connect() as connection:
        names = {row[0] for row in connection.execute(text("SELECT datname FROM pg_database"))}
    engine.dispose()
    return {n for n in names if n.startswith(SCRATCH_PREFIX)}


def test_a_good_backup_passes_every_check_and_restores(
    source: str, server: RestoreServer, tmp_path: Path, postgres_admin_url: str
) -> None:
    repo = repository(tmp_path / "repo")
    path = create_backup(source, repo)
    manifest = read_manifest(path)
    assert manifest["tables"] == {"public.users": 200, "public.events": 2000}
    before = scratch_databases(postgres_admin_url)

    results = by_check(verify_repository(repo, server)[0])

    assert results["backup.completion"].status is Status.OK
    assert results["backup.integrity"].status is Status.OK, results["backup.integrity"].message
    assert results["backup.encryption"].status is Status.SKIPPED
    restore = results["backup.restore"]
    assert restore.status is Status.OK, restore.message
    assert restore.details["tables"] == {"public.events": 2000, "public.users": 200}
    assert restore.details["dropped"] is True
    assert results["backup.rpo"].status is Status.OK and results["backup.rpo"].value < 1
    assert scratch_databases(postgres_admin_url) <= before  # nothing new left behind (others may run at once)


@pytest.mark.parametrize("fmt", ["plain_gz", "directory"])
def test_other_formats_restore(fmt: str, source: str, server: RestoreServer, tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo", format=fmt)
    create_backup(source, repo)
    results = by_check(verify_repository(repo, server)[0])
    assert results["backup.integrity"].status is Status.OK, results["backup.integrity"].message
    assert results["backup.restore"].status is Status.OK, results["backup.restore"].message


@pytest.fixture
def good(pristine: Path, tmp_path: Path):
    repo = repository(copy_repository(pristine, tmp_path / "repo"))
    return repo, list_backups(repo)[0].path


def test_truncated_backup_is_caught(good, server: RestoreServer) -> None:
    repo, path = good
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    results = by_check(verify_repository(repo, server)[0])
    assert results["backup.integrity"].status is Status.FAIL
    assert "checksum mismatch" in results["backup.integrity"].message
    assert results["backup.restore"].status is Status.SKIPPED


def test_truncation_without_a_manifest_is_caught_by_the_full_read(good, server: RestoreServer) -> None:
    repo, path = good
    repo = repo.model_copy(update={"manifest_required": False})
    manifest_path(path).unlink()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    integrity = by_check(verify_repository(repo, None)[0])["backup.integrity"]
    assert integrity.status is Status.FAIL and "not a readable dump" in integrity.message


def test_flipped_bytes_are_caught(good, server: RestoreServer) -> None:
    repo, path = good
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    integrity = by_check(verify_repository(repo, None)[0])["backup.integrity"]
    assert integrity.status is Status.FAIL and "checksum mismatch" in integrity.message


def test_stale_backup_is_caught(good, server: RestoreServer) -> None:
    repo, path = good
    old = utcnow() - timedelta(hours=30)
    manifest = read_manifest(path)
    manifest["created_at"] = old.isoformat()
    manifest_path(path).write_text(json.dumps(manifest))
    os.utime(path, (old.timestamp(), old.timestamp()))
    completion = by_check(verify_repository(repo, None)[0])["backup.completion"]
    assert completion.status is Status.FAIL and completion.message.startswith("stale:")
    assert completion.value == pytest.approx(30, abs=0.1)


def test_empty_backup_is_caught(good, server: RestoreServer) -> None:
    repo, path = good
    path.write_bytes(b"")
    results = by_check(verify_repository(repo, None)[0])
    assert results["backup.completion"].status is Status.FAIL and "empty" in results["backup.completion"].message
    assert results["backup.integrity"].status is Status.FAIL


def test_missing_manifest_is_caught(good, server: RestoreServer) -> None:
    repo, path = good
    manifest_path(path).unlink()
    integrity = by_check(verify_repository(repo, None)[0])["backup.integrity"]
    assert integrity.status is Status.FAIL and "no manifest" in integrity.message


def test_wrong_checksum_in_manifest_is_caught(good, server: RestoreServer) -> None:
    repo, path = good
    manifest = read_manifest(path)
    manifest["sha256"] = "0" * 64
    manifest_path(path).write_text(json.dumps(manifest))
    integrity = by_check(verify_repository(repo, None)[0])["backup.integrity"]
    assert integrity.status is Status.FAIL and "manifest says 000000000000" in integrity.message


def test_much_smaller_than_the_previous_backup_fails(postgres_url: str, tmp_path: Path) -> None:
    fill_source(postgres_url)
    source = postgres_url
    repo = repository(tmp_path / "repo")
    create_backup(source, repo, now=utcnow() - timedelta(hours=24))
    engine = create_engine(source)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM events"))
    engine.dispose()
    create_backup(source, repo)
    completion = by_check(verify_repository(repo, None)[0])["backup.completion"]
    assert completion.status is Status.FAIL and "of the previous backup's size" in completion.message


def test_encrypted_backup_passes_and_plaintext_is_caught(source: str, server: RestoreServer, tmp_path: Path) -> None:
    policy = {"required": True, "passphrase": PASSPHRASE}
    repo = repository(tmp_path / "enc", encryption=policy)
    path = create_backup(source, repo)
    assert path.name.endswith(".dump.gpg") and not path.read_bytes().startswith(b"PGDMP")
    results = by_check(verify_repository(repo, server)[0])
    assert results["backup.encryption"].status is Status.OK, results["backup.encryption"].message
    assert results["backup.restore"].status is Status.OK, results["backup.restore"].message

    wrong_key = repo.model_copy(update={"encryption": repo.encryption.model_copy(update={"passphrase": "not it!"})})
    assert by_check(verify_repository(wrong_key, server)[0])["backup.encryption"].status is Status.FAIL

    plain = repository(tmp_path / "plain")
    plain_path = create_backup(source, plain)
    required = plain.model_copy(update={"encryption": repo.encryption})
    encryption = by_check(verify_repository(required, server)[0])["backup.encryption"]
    assert encryption.status is Status.FAIL
    assert f"{plain_path.name} is a plaintext custom-format dump" in encryption.message


def test_plaintext_sql_gz_named_as_encrypted_is_caught(tmp_path: Path) -> None:
    from opsbook.tasks.backups.integrity import check_encryption

    repo = repository(tmp_path, format="plain_gz", encryption={"required": True, "passphrase": PASSPHRASE})
    fake = tmp_path / "db-20261127T000000Z.sql.gz.gpg"
    with gzip.open(fake, "wb") as handle:
        handle.write(b"-- PostgreSQL database dump\n")
    result, _ = check_encryption(repo, list_backups(repo)[0], tmp_path)
    assert result.status is Status.FAIL and "plaintext gzip" in result.message


def test_validation_failure_still_drops_the_scratch_database_and_never_touches_the_source(
    good, server: RestoreServer, source: str, postgres_admin_url: str
) -> None:
    repo, _ = good
    repo = repo.model_copy(update={"expected_tables": ["public.users", "public.orders"]})
    before = scratch_databases(postgres_admin_url)
    engine = create_engine(source)
    with engine.connect() as connection:
        xmin_before = connection.execute(text("SELECT txid_current_snapshot()::text")).scalar_one()
        tables_before = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
        ).scalar_one()
    results = by_check(verify_repository(repo, server)[0])
    restore = results["backup.restore"]
    assert restore.status is Status.FAIL and "validation failed" in restore.message
    assert "public.orders" not in restore.details["tables"] and "present" in restore.message
    assert restore.details["dropped"] is True
    assert scratch_databases(postgres_admin_url) <= before  # nothing new left behind (others may run at once)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 200
        assert (
            connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname='public'")).scalar_one()
            == tables_before
        )
    engine.dispose()
    assert xmin_before


def test_row_counts_outside_tolerance_fail_validation(good, server: RestoreServer) -> None:
    repo, path = good
    manifest = read_manifest(path)
    manifest["tables"]["public.users"] = 100  # the manifest promised half the rows the dump holds
    # keep the checksum valid: only the manifest changes
    manifest_path(path).write_text(json.dumps(manifest))
    restore = by_check(verify_repository(repo, server)[0])["backup.restore"]
    assert restore.status is Status.FAIL and "deviation_pct" in restore.message


def test_an_unreachable_restore_server_is_a_clear_failure_without_the_password(good, tmp_path: Path) -> None:
    from opsbook.config import parse_config
    from tests.conftest import free_port

    repo, _ = good
    estate = parse_config(
        {
            "backups": {
                "restore_server": {
                    "url": f"postgresql+psycopg://postgres:${{RESTORE_PW}}@127.0.0.1:{free_port()}/postgres"
                }
            }
        },
        base_dir=tmp_path,
        environ={"RESTORE_PW": "hunter2-restore"},
    )
    restore = by_check(verify_repository(repo, estate.backups.restore_server)[0])["backup.restore"]
    assert restore.status is Status.FAIL and "scratch database" in restore.message
    assert "refused" in restore.message.lower() or "connect" in restore.message.lower()
    assert "hunter2-restore" not in restore.model_dump_json()
