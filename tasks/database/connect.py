"""Connecting to a watched PostgreSQL database with psycopg 3: bounded, labelled, password-free errors."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from opsbook.results import describe_exception
from opsbook.secrets import redact
from opsbook.store.engine import safe_url

APPLICATION_NAME = "opsbook"


def connect(
    url: str, *, connect_timeout_s: int, statement_timeout_ms: int, read_only: bool, lock_timeout_ms: int | None = None
) -> psycopg.Connection[Any]:
    """An autocommit connection whose every statement is bounded by `statement_timeout`.

    Health checks pass `read_only=True`: every transaction they open is READ ONLY, so a check
    can never change the database it watches.
    """
    parsed = make_url(url)
    params: dict[str, Any] = parsed.translate_connect_args(username="user", database="dbname")
    params.update(parsed.query)
    settings: dict[str, int | str] = {
        "statement_timeout": statement_timeout_ms,
        "lock_timeout": lock_timeout_ms if lock_timeout_ms is not None else statement_timeout_ms,
        # A check interrupted mid-transaction must not hold locks for long.
        "idle_in_transaction_session_timeout": max(statement_timeout_ms * 2, 10_000),
    }
    if read_only:
        settings["default_transaction_read_only"] = "on"
    options = " ".join(f"-c {name}={value}" for name, value in settings.items())
    return psycopg.connect(
        **params, connect_timeout=connect_timeout_s, options=options, application_name=APPLICATION_NAME, autocommit=True
    )


def describe_database_error(error: BaseException, url: str | None = None) -> str:
    """One line naming the cause (refused, bad password, permission, timeout), never the password."""
    text = describe_exception(error)
    if isinstance(error, psycopg.Error):
        # libpq's messages span lines ("connection failed: ...\nFATAL: ..."): keep the telling part.
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        text = " ".join(lines[:2]) if lines else type(error).__name__
    where = f" ({safe_url(url)})" if url else ""
    return redact(text + where)
