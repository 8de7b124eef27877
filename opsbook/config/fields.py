"""Validators that several config sections share: paths relative to the config file, time zones."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationInfo


def relative_to_config(value: Path, info: ValidationInfo) -> Path:
    """A relative path is relative to the config file's folder (passed as context `base_dir`)."""
    base = Path((info.context or {}).get("base_dir", "."))
    return value if value.is_absolute() else (base / value).resolve()


def known_zone(value: str) -> str:
    """An IANA time zone name, or a ValueError naming it."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from None
    return value
