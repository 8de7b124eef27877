"""Dotted JSON paths (`core_web_vitals.fcp.p75`, `items[0].name`) and where a lookup stopped.

A missing field must be reported with the exact path that was not there, so an operator can
fix the mapping or the API; that is why this is a small walker and not a query language.
"""

from __future__ import annotations

import re
from typing import Any

_SEGMENT = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")

PathParts = tuple[str | int, ...]


class PathNotFound(LookupError):
    """The document has no value at a path; `where` names the longest part that did exist."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def parse_path(path: str) -> PathParts:
    """Split `a.b[0].c` into ('a', 'b', 0, 'c'); an empty path is the whole document."""
    parts: list[str | int] = []
    position = 0
    text = path.strip()
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None or (position == 0 and text.startswith(".")):
            raise ValueError(f"invalid JSON path {path!r} at character {position + 1}")
        key, index = match.groups()
        if index is None and not key.strip():  # `a. .b` names no field: refuse it rather than look up ""
            raise ValueError(f"invalid JSON path {path!r}: blank field name at character {position + 1}")
        parts.append(int(index) if index is not None else key.strip())
        position = match.end()
    return tuple(parts)


def format_path(parts: PathParts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(whole body)"


def resolve(document: Any, parts: PathParts) -> Any:
    """The value at parts, or PathNotFound naming the path and why it is not there."""
    node = document
    for depth, part in enumerate(parts):
        here = format_path(parts[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise PathNotFound(here, f"expected a list, found {json_type(node)}")
            if part >= len(node):
                raise PathNotFound(here, f"index out of range (list has {len(node)} items)")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise PathNotFound(here, f"expected an object, found {json_type(node)}")
            if part not in node:
                raise PathNotFound(here, "missing field")
            node = node[part]
    return node


def json_type(value: Any) -> str:
    """The JSON name of a Python value decoded from JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
