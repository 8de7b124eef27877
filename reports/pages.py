"""What every HTML page shares: the Jinja2 environment (autoescaped, every value redacted) and the
atomic write. Reports, the index and the status page all render with it; it imports none of them,
so they can import each other's entry points without a circle.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from opsbook.secrets import redact

_STATUS_WORDS = {"ok": "OK", "warn": "Warning", "fail": "Failed", "error": "Error", "skipped": "Skipped"}


def _number(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text} {unit}" if unit else text


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opsbook.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        finalize=lambda value: redact(value) if isinstance(value, str) else value,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = _number
    env.filters["status_words"] = lambda status: _STATUS_WORDS.get(str(status), str(status))
    env.filters["redact"] = redact
    return env


def write_html(path: Path, text: str) -> Path:
    """Write a page atomically: a temp file beside it, then a rename; a reader never sees half a page."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
