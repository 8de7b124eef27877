"""Secrets: `${ENV}` interpolation and redaction at every sink.

A secret is never literal in the config: it is written as `${VAR}` and read from the environment
when the config loads. Every value that came from the environment is remembered here, so the
sinks (history rows, reports, artifacts, log records, exception messages shown to users) can
replace it with `***` however it travelled there: inside a URL, a header or an error message.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import re
import threading
import urllib.parse
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


def encoded_forms(value: str) -> set[str]:
    """The forms a secret takes once a target echoes it back or a protocol carries it.

    HTML (html.escape with and without quotes, decimal and hex entities), JSON (json.dumps, with and
    without ensure_ascii, and the \\u00XX escapes of <, >, &, ' that Go and others emit), URLs
    (percent-encoding of every reserved character or only the unsafe ones, + for space) and base64
    (standard and URL-safe, with and without padding). A form equal to the value adds nothing.
    """
    specials = {c: ord(c) for c in set(value) if not c.isalnum()}

    def each(template: str) -> str:
        return "".join(template.format(n=specials[c]) if c in specials else c for c in value)

    forms = {
        html.escape(value),
        html.escape(value, quote=False),
        each("&#{n};"),
        each("&#x{n:x};"),
        each("&#x{n:X};"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        each("\\u{n:04x}"),
        each("\\u{n:04X}"),
        "".join(f"\\u{ord(c):04x}" if c in "<>&'" else c for c in json.dumps(value)[1:-1]),
        "".join(f"\\u{ord(c):04x}" if c in "<>&" else c for c in json.dumps(value)[1:-1]),  # Go's encoding/json
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        urllib.parse.quote(value, safe="").lower(),
    }
    raw = value.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode()
        forms |= {text, text.rstrip("=")}
    return {form for form in forms if form != value}


def register_secret(value: str) -> None:
    """Remember a value that must never reach a sink in clear text, nor in any encoded form."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)
            _secrets.update(f for f in encoded_forms(value) if len(f) >= _MIN_SECRET_LENGTH)


def register_credentials(username: str, password: str) -> None:
    """A login's password, and the base64 blobs SASL carries it in (AUTH PLAIN `\\0user\\0pass`
    with and without an authorisation identity; AUTH LOGIN sends base64 of each, covered above)."""
    register_secret(password)
    for combo in (f"\0{username}\0{password}", f"{username}\0{username}\0{password}"):
        blob = base64.b64encode(combo.encode()).decode()
        with _lock:
            _secrets.update({blob, blob.rstrip("=")})


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
