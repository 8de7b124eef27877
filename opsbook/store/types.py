"""Column types that make any value storable, identically on SQLite and PostgreSQL.

One target's odd answer must never cost a run its results: PostgreSQL refuses a NUL character in
text and JSON and a string longer than its `VARCHAR(n)`, while SQLite takes both, so the same run
was kept on one backend and lost whole on the other. These types clean every value on its way in
(inserts, updates and the literals of queries alike, so a lookup by a long target finds the row it
wrote):

- NUL characters are removed (they carry no meaning in a report or a message);
- a string longer than its column keeps its head and ends with a marker holding a digest of the
  whole value, so two long targets differing only in their tails stay two rows;
- JSON is bounded: strings, nesting depth, list lengths and the encoded size, each with a marker.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import JSON, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NUL = "\x00"
# Long enough for any message a check writes; a body dump beyond it is noise in a report.
TEXT_LIMIT = 100_000
JSON_STRING_LIMIT = 10_000
JSON_DEPTH_LIMIT = 32
JSON_ITEMS_LIMIT = 1_000
JSON_SIZE_LIMIT = 256 * 1024
_MARKER = "…[truncated {digest}]"


def bounded(value: str, limit: int) -> str:
    """value without NUL characters, cut to `limit` characters with a marker naming its digest."""
    cleaned = value.replace(NUL, "")
    if len(cleaned) <= limit:
        return cleaned
    marker = _MARKER.format(digest=hashlib.sha256(cleaned.encode("utf-8", "surrogatepass")).hexdigest()[:12])
    if limit <= len(marker):  # a tiny column: the digest alone still tells long values apart
        return marker[-limit:]
    return cleaned[: limit - len(marker)] + marker


def bounded_json(value: Any, depth: int = 0) -> Any:
    """A JSON-able value with every string, list and level of nesting within the limits above.

    Walks the value itself (before any serialiser, which would fail on deep nesting) and converts
    what JSON has no type for the way pydantic does.
    """
    if isinstance(value, str):
        return bounded(value, JSON_STRING_LIMIT)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= JSON_DEPTH_LIMIT:
        return f"…[nested deeper than {JSON_DEPTH_LIMIT} levels]"
    if isinstance(value, dict):
        items = list(value.items())
        kept = {bounded(str(k), JSON_STRING_LIMIT): bounded_json(v, depth + 1) for k, v in items[:JSON_ITEMS_LIMIT]}
        if len(items) > JSON_ITEMS_LIMIT:
            kept["…"] = f"{len(items) - JSON_ITEMS_LIMIT} more key(s) not stored"
        return kept
    if isinstance(value, (list, tuple)):
        kept_list = [bounded_json(v, depth + 1) for v in value[:JSON_ITEMS_LIMIT]]
        if len(value) > JSON_ITEMS_LIMIT:
            kept_list.append(f"…[{len(value) - JSON_ITEMS_LIMIT} more item(s) not stored]")
        return kept_list
    converted = to_jsonable_python(value, fallback=str)  # datetimes, models, enums: as pydantic writes them
    if isinstance(converted, (dict, list)):
        return bounded_json(converted, depth + 1)
    return bounded_json(converted, depth) if isinstance(converted, str) else converted


def storable_json(value: Any) -> Any:
    """bounded_json, then a whole-document size cap: an oversized document becomes a note saying so."""
    kept = bounded_json(value)
    size = len(json.dumps(kept, ensure_ascii=False, default=str))
    if size <= JSON_SIZE_LIMIT:
        return kept
    note = f"…[{size} bytes of JSON, over the {JSON_SIZE_LIMIT}-byte limit, not stored]"
    if isinstance(kept, dict):
        return {"truncated": note, "keys": [bounded(k, 200) for k in list(kept)[:50]]}
    return note


class BoundedString(TypeDecorator[str]):
    """VARCHAR(n) that never refuses a value: NUL removed, cut to n with a digest marker."""

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.limit = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else bounded(str(value), self.limit)


class CleanText(TypeDecorator[str]):
    """TEXT without NUL characters, bounded to TEXT_LIMIT characters."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else bounded(str(value), TEXT_LIMIT)


class CleanJSON(TypeDecorator[Any]):
    """JSON without NUL characters, bounded in depth, length and size (see storable_json)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else storable_json(value)
