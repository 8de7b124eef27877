"""Running the PostgreSQL client tools with a password that never reaches argv or logs.

The SQLAlchemy URL is split into libpq environment variables (PGHOST, PGPASSWORD, ...): a
password on the command line would be visible to every user through `ps`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from opsbook.secrets import redact

_PG_BIN = Path("/usr/lib/postgresql/15/bin")
_STDERR_CHARS = 600


class ToolError(RuntimeError):
    """A client tool failed; the message holds its stderr, without secrets."""


def tool(name: str) -> str:
    """The path of a PostgreSQL client tool: on PATH, else the Debian PostgreSQL 15 folder."""
    found = shutil.which(name) or (str(_PG_BIN / name) if (_PG_BIN / name).exists() else None)
    if not found:
        raise ToolError(f"{name} not found on PATH or in {_PG_BIN}")
    return found


def libpq_env(url: str) -> dict[str, str]:
    """The process environment plus PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE of url."""
    parsed = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    pairs = {
        "PGHOST": parsed.host,
        "PGPORT": parsed.port,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }
    env.update({k: str(v) for k, v in pairs.items() if v is not None})
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def database_name(url: str) -> str:
    return make_url(url).database or ""


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def run(
    argv: Sequence[str],
    *,
    url: str | None = None,
    timeout_s: float = 600,
    stdin=None,
    stdout=subprocess.PIPE,
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool; ToolError with its (redacted) stderr when it exits non-zero or times out."""
    env = libpq_env(url) if url else None
    try:
        done = subprocess.run(
            list(argv), env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{Path(argv[0]).name} did not finish within {timeout_s:g} s") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[-_STDERR_CHARS:]
        raise ToolError(redact(f"{Path(argv[0]).name} exited {done.returncode}: {said or 'no message'}"))
    return done
