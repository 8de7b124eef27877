"""What is in a repository: backups, their manifests and their checksums.

A backup is a file (`.dump` for custom format, `.sql.gz` for plain gzipped SQL, either with a
`.gpg` suffix when encrypted) or a folder holding `toc.dat` (directory format). Its manifest is
`<backup name>.manifest.json` beside it: format, sha256 (per file for a folder), size, row
counts, tables and created_at, written by `opsbook backup create` or any tool that can.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsbook.config.backups import BackupRepository

MANIFEST_SUFFIX = ".manifest.json"
_SUFFIXES = {"custom": ".dump", "plain_gz": ".sql.gz", "directory": ""}
_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A manifest is missing, unreadable or incomplete."""


@dataclass(frozen=True)
class Backup:
    """One backup in a repository, newest-first sortable by `taken_at`."""

    path: Path
    format: str
    encrypted: bool
    size: int
    mtime: datetime
    manifest: dict[str, Any] | None
    manifest_problem: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)

    @property
    def taken_at(self) -> datetime:
        """When the backup was taken: the manifest says so; else the file's modification time."""
        stamp = (self.manifest or {}).get("created_at")
        if isinstance(stamp, str):
            try:
                value = datetime.fromisoformat(stamp)
                return value if value.tzinfo else value.replace(tzinfo=UTC)
            except ValueError:
                pass
        return self.mtime


def ahead_of_clock(stamp: datetime, now: datetime, max_skew: timedelta) -> timedelta | None:
    """How far `stamp` lies in the future when that is more than `max_skew` (clock skew); else None.

    A backup dated ahead of this host's clock would pass freshness for as long as it stays in
    the future and take retention's newest slot, so every judgement refuses it instead.
    """
    ahead = stamp - now
    return ahead if ahead > max_skew else None


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def backup_suffix(fmt: str, encrypted: bool) -> str:
    return _SUFFIXES[fmt] + (".gpg" if encrypted else "")


def _is_backup(path: Path, fmt: str) -> bool:
    if path.is_symlink() or path.name.startswith(".") or path.name.endswith(MANIFEST_SUFFIX):
        return False
    if fmt == "directory":
        return path.is_dir() and (path / "toc.dat").exists()
    return path.is_file() and (path.name.endswith(_SUFFIXES[fmt]) or path.name.endswith(_SUFFIXES[fmt] + ".gpg"))


def tree_size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return path.stat().st_size


def read_manifest(backup: Path) -> dict[str, Any]:
    """The sidecar manifest as a dict; ManifestError says what is wrong with it."""
    file = manifest_path(backup)
    if not file.exists():
        raise ManifestError(f"no manifest {file.name} beside the backup")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestError(f"manifest {file.name} is not readable JSON: {error}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"manifest {file.name} is not a JSON object")
    missing = [k for k in ("sha256", "created_at") if k not in data]
    if missing:
        raise ManifestError(f"manifest {file.name} lacks {', '.join(missing)}")
    return data


def list_backups(repo: BackupRepository) -> list[Backup]:
    """Every backup of the repository's format directly under its root, newest first."""
    root = repo.path
    if not root.is_dir():
        raise FileNotFoundError(f"repository folder {root} does not exist")
    found = []
    for entry in root.iterdir():
        if not _is_backup(entry, repo.format):
            continue
        manifest, problem = None, None
        try:
            manifest = read_manifest(entry)
        except ManifestError as error:
            problem = str(error)
        stat = entry.stat()
        found.append(
            Backup(
                path=entry,
                format=repo.format,
                encrypted=entry.name.endswith(".gpg"),
                size=tree_size(entry),
                mtime=datetime.fromtimestamp(stat.st_mtime, UTC),
                manifest=manifest,
                manifest_problem=problem,
            )
        )
    return sorted(found, key=lambda b: (b.taken_at, b.name), reverse=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(path: Path) -> str | dict[str, str]:
    """sha256 of a file, or of every file in a directory-format backup (relative path -> hex)."""
    if path.is_dir():
        return {
            str(f.relative_to(path)): sha256_file(f)
            for f in sorted(path.rglob("*"))
            if f.is_file() and not f.is_symlink()
        }
    return sha256_file(path)


def write_manifest(backup: Path, data: dict[str, Any]) -> Path:
    """Write the sidecar atomically, so a reader never sees half a manifest."""
    file = manifest_path(backup)
    temp = file.with_name(f".{file.name}.tmp")
    temp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(temp, file)
    return file
