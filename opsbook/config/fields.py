"""Validators that several config sections share: relative paths, time zones, unique names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationInfo


@overload
def relative_to_config(value: Path, info: ValidationInfo) -> Path: ...
@overload
def relative_to_config(value: None, info: ValidationInfo) -> None: ...
def relative_to_config(value: Path | None, info: ValidationInfo) -> Path | None:
    """A relative path is relative to the config file's folder, so a config works from any cwd.

    The loader passes that folder as validation context `base_dir` (without it: the current
    directory). Every path in the config goes through here, as a field validator or called
    with `Path(text)` for paths inside strings (SQLite URLs, globs, "URL or file" fields).
    """
    if value is None or value.is_absolute():
        return value
    return (Path((info.context or {}).get("base_dir", ".")) / value).resolve()


def known_zone(value: str) -> str:
    """An IANA time zone name, or a ValueError naming it."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from None
    return value


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


Named = TypeVar("Named", bound=_HasName)


def unique_names(items: Sequence[Named], section: str) -> Sequence[Named]:
    """Every item's `name` differs; a repeat names both places (`platforms[0] and platforms[2]`)."""
    first: dict[Any, int] = {}
    for index, item in enumerate(items):
        name = item.name
        if name in first:
            raise ValueError(f"name {name!r} is used twice ({section}[{first[name]}] and {section}[{index}])")
        first[name] = index
    return items
