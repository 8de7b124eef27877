"""Secrets: `${ENV}` interpolation and redaction at every sink.

A secret is never literal in the config: it is written as `${VAR}` and read from the environment
when the config loads. Every value that came from the environment is remembered here, so the
sinks (history rows, reports, artifacts, log records, exception messages shown to users) can
replace it with `***` however it travelled there: inside a URL, a header or an error message.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Short values such as "1" or "on" would redact half of every report; they are not secrets.
_MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()


class MissingEnvironmentVariable(ValueError):
    """A `${VAR}` reference names a variable that is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


def register_secret(value: str) -> None:
    """Remember a value that must never reach a sink in clear text."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def interpolate(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace each `${VAR}` in text with its value, registering the value as a secret.

    `$${VAR}` stays a literal `${VAR}`.
    """
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise MissingEnvironmentVariable(name)
        value = env[name]
        register_secret(value)
        return value

    escaped = text.split("$${")
    return "${".join(_ENV_REFERENCE.sub(substitute, part) for part in escaped)


def redact(value: Any) -> Any:
    """Return value with every registered secret replaced by `***` (strings, dicts, lists)."""
    if isinstance(value, str):
        if not _secrets:
            return value
        with _lock:
            known = sorted(_secrets, key=len, reverse=True)
        for secret in known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {redact(k): redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """Logging filter that rewrites each record's rendered message without its secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = redact(text)
                record.exc_info = None
        return True


_filter = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to every handler of every configured logger.

    Filters on handlers (not loggers) also see records propagated from child loggers; Prefect's
    run loggers have handlers of their own (console and API), so each handler gets the filter.
    """
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if _filter not in handler.filters:
                handler.addFilter(_filter)
