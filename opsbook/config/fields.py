"""Validators that several config sections share: relative paths, time zones, unique names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AnyHttpUrl, ValidationInfo


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


def no_credentials(url: AnyHttpUrl) -> AnyHttpUrl:
    """Refuse `user:pass@` in a target URL.

    The client does not send it (it refuses the request), and the URL is the target's name in
    reports, the history and alerts, where the password would show. Refused rather than redacted:
    an Authorization header read from `${ENV}` says the same thing and is a secret everywhere.
    """
    if url.username or url.password:
        raise ValueError(
            "credentials in the URL (user:pass@) are not sent and would show in reports: "
            "remove them and set headers: {Authorization: 'Basic ${BASIC_AUTH}'} (or a token) instead"
        )
    return url


def header_values(headers: dict[str, str]) -> dict[str, str]:
    """Refuse header names and values that no HTTP client may send: CR, LF or NUL (header
    injection) and non-ASCII characters (HTTP carries header values as ASCII bytes)."""
    for name, value in headers.items():
        for part, text in (("name", name), ("value", value)):
            if any(c in text for c in "\r\n\x00"):
                raise ValueError(f"header {name!r}: its {part} holds a line break or NUL (header injection)")
            if not text.isascii():
                raise ValueError(f"header {name!r}: its {part} holds non-ASCII characters; HTTP sends ASCII only")
    return headers


TargetUrl = Annotated[AnyHttpUrl, AfterValidator(no_credentials)]
"""An HTTP(S) URL opsbook calls: no credentials inside it."""

HeaderMap = Annotated[dict[str, str], AfterValidator(header_values)]
"""HTTP headers from the config: names and values a client can send."""
