"""The index page of a report directory: every report by date and type with its verdict, latest first.

It is rebuilt from the reports themselves (each carries its kind, verdict and start time in
`<meta>` tags), so it never drifts from what is on disk and needs no state of its own.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from opsbook.reports.pages import environment, write_html

INDEX_NAME = "index.html"
_META = re.compile(r'<meta name="opsbook-([a-z]+)" content="([^"]*)">')
_HEAD_BYTES = 4096


@dataclass(frozen=True)
class IndexEntry:
    file: str
    kind: str
    verdict: str
    started_at: datetime
    title: str
    headline: str


def read_entry(path: Path) -> IndexEntry | None:
    """The report's own description of itself, or None for a file that is not an opsbook report."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(_HEAD_BYTES)
    meta = {key: html.unescape(value) for key, value in _META.findall(head)}
    try:
        return IndexEntry(
            file=path.name,
            kind=meta["kind"],
            verdict=meta["verdict"],
            started_at=datetime.fromisoformat(meta["started"]),
            title=meta.get("title", meta["kind"]),
            headline=meta.get("headline", ""),
        )
    except (KeyError, ValueError):
        return None


def build_index(directory: Path) -> list[IndexEntry]:
    entries = [read_entry(path) for path in directory.glob("*.html") if path.name != INDEX_NAME]
    return sorted((e for e in entries if e is not None), key=lambda e: e.started_at, reverse=True)


def write_index(directory: Path) -> Path:
    """Rewrite `index.html` in the report directory."""
    entries = build_index(directory)
    page = environment().get_template("index.html.j2").render(entries=entries, directory=directory)
    path = directory / INDEX_NAME
    return write_html(path, page)
