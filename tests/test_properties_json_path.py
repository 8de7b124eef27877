"""Property-based tests for JSON paths: any text is a path or a ValueError, and a path finds what was put there.

Invariants:
- `parse_path` raises nothing but ValueError, and a path it accepts renders back (`format_path`)
  to text that parses to the same parts;
- parts rendered and parsed again are the same parts;
- in any JSON document, `resolve` answers a value or `PathNotFound` (naming a prefix of the path),
  and a value placed at a path is the value `resolve` finds there.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsbook.json_path import PathNotFound, PathParts, format_path, parse_path, resolve
from tests.property_settings import PROPERTY

pytestmark = pytest.mark.timeout(300)

_PIECES = st.sampled_from([".", "[", "]", "0", "12", "a", "b c", " ", "\t", "-1", "[0]", "..", "\u2028", "é", "\x1c"])
_PATH_TEXT = st.lists(_PIECES | st.text(max_size=4), max_size=20).map("".join)
# A key as a path can spell it: no `.`, `[` or `]`, and no blanks at its ends (they are trimmed).
_KEY = st.text(alphabet=st.characters(exclude_characters=".[]"), min_size=1, max_size=8).filter(
    lambda k: k == k.strip()
)
_PARTS = st.lists(_KEY | st.integers(0, 5), min_size=1, max_size=6).map(tuple)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEY, children, max_size=4),
    max_leaves=20,
)


def _parse(text: str) -> PathParts | None:
    try:
        return parse_path(text)
    except ValueError as error:
        assert str(error).startswith("invalid JSON path"), error
        return None


@PROPERTY
@given(text=_PATH_TEXT)
# A blank segment parsed to an empty key: `a. .b` looked up "" and rendered as `a..b`, which does not parse.
@example(text="a. .b")
@example(text="a.\x1c")
def test_any_text_is_a_path_or_a_value_error_and_renders_back(text: str) -> None:
    parts = _parse(text)
    if parts:
        assert all(part != "" for part in parts), parts
        assert parse_path(format_path(parts)) == parts


@PROPERTY
@given(parts=_PARTS)
def test_parts_render_and_parse_back(parts: PathParts) -> None:
    assert parse_path(format_path(parts)) == parts


def _place(parts: PathParts, value: Any, filler: Any) -> Any:
    """A document that holds `value` at `parts` (lists padded with `filler`)."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    inner = _place(rest, value, filler)
    if isinstance(head, int):
        return [filler] * head + [inner]
    return {head: inner}


@PROPERTY
@given(parts=_PARTS, value=_JSON, filler=_JSON)
def test_a_value_put_at_a_path_is_found_there(parts: PathParts, value: Any, filler: Any) -> None:
    document = _place(parts, value, filler)
    assert resolve(document, parse_path(format_path(parts))) == value


@PROPERTY
@given(document=_JSON, parts=_PARTS)
def test_resolve_answers_a_value_or_names_where_it_stopped(document: Any, parts: PathParts) -> None:
    try:
        resolve(document, parts)
    except PathNotFound as missing:
        prefixes = {format_path(parts[: n + 1]) for n in range(len(parts))}
        assert missing.path in prefixes, (missing.path, prefixes)
