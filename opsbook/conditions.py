"""Gatus-style endpoint conditions: `[STATUS] == 200`, `[RESPONSE_TIME] < 500`,
`[BODY].status == UP`, `len([BODY].items) > 0`, `has([BODY].errors) == false`,
`[CERTIFICATE_EXPIRATION] > 30d` (HTTPS: time left on the certificate the server presented;
the right side is a duration, `720h`, `30d`, or a number of seconds).

Parsed once when the config loads (a bad condition is a config error naming its key path) and
evaluated against each response. A condition that cannot be evaluated (missing field, wrong
type) says so instead of passing or failing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, cast

from opsbook.durations import format_duration, parse_duration
from opsbook.json_path import PathNotFound, PathParts, format_path, json_type, parse_path, resolve

Operator = Literal["<", "<=", "==", "!=", ">", ">="]
Subject = Literal["status", "response_time", "certificate_expiration", "body", "len", "has"]

_GRAMMAR = re.compile(
    r"""^\s*(?:
        (?P<status>\[STATUS\])
      | (?P<response_time>\[RESPONSE_TIME\])
      | (?P<certificate_expiration>\[CERTIFICATE_EXPIRATION\])
      | len\(\s*\[BODY\](?P<len>[^)]*?)\s*\)
      | has\(\s*\[BODY\](?P<has>[^)]*?)\s*\)
      | \[BODY\](?P<body>\S*)
    )\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<right>.*?)\s*$""",
    re.VERBOSE,
)
_ORDERING = {"<", "<=", ">", ">="}


class ConditionError(ValueError):
    """The condition text does not follow the grammar."""


@dataclass(frozen=True)
class Outcome:
    """The result of one condition on one response. `passed` is None when it could not be evaluated."""

    passed: bool | None
    observed: Any
    reason: str


@dataclass(frozen=True)
class Condition:
    text: str
    subject: Subject
    operator: Operator
    expected: float | str | bool | None
    path: PathParts = ()

    @property
    def needs_body(self) -> bool:
        return self.subject in ("body", "len", "has")

    @property
    def numeric_threshold(self) -> float | None:
        expected = self.expected
        return float(expected) if isinstance(expected, (int, float)) and not isinstance(expected, bool) else None

    @property
    def needs_certificate(self) -> bool:
        return self.subject == "certificate_expiration"

    def evaluate(
        self,
        status_code: int,
        response_time_ms: float,
        body: Any = None,
        *,
        certificate_left_s: float | None = None,
        no_certificate: str = "no certificate was read",
    ) -> Outcome:
        """Judge one response; `body` is the decoded JSON (only read when the condition needs it).

        `certificate_left_s` is the time left on the peer certificate; without it a
        `[CERTIFICATE_EXPIRATION]` condition cannot be evaluated, for the reason `no_certificate`.
        """
        if self.subject == "status":
            return self._compare(status_code)
        if self.subject == "response_time":
            return self._compare(round(response_time_ms, 1))
        if self.subject == "certificate_expiration":
            if certificate_left_s is None:
                return Outcome(None, None, no_certificate)
            return self._compare(certificate_left_s)
        try:
            value = resolve(body, self.path)
        except PathNotFound as missing:
            if self.subject == "has":
                return self._compare(False)
            return Outcome(None, None, str(missing))
        if self.subject == "has":
            return self._compare(True)
        if self.subject == "len":
            if not isinstance(value, (str, list, dict)):
                return Outcome(
                    None,
                    value,
                    f"{format_path(self.path)}: len() needs a string, array or object, found {json_type(value)}",
                )
            return self._compare(len(value))
        return self._compare(value)

    def _compare(self, observed: Any) -> Outcome:
        expected = self.expected
        if self.operator in _ORDERING:
            if not _is_number(observed):
                where = format_path(self.path) if self.needs_body else self.subject
                return Outcome(None, observed, f"{where}: expected a number, found {json_type(observed)} {observed!r}")
            number = cast(float, expected)  # parse_condition lets only a number meet an ordering operator
            passed = _ORDER_TESTS[self.operator](float(observed), float(number))
        else:
            same = _equal(observed, expected)
            passed = same if self.operator == "==" else not same
        if self.subject == "certificate_expiration":
            return Outcome(passed, observed, f"{_left(observed)} {self.operator} {_left(cast(float, expected))}")
        return Outcome(passed, observed, f"{_show(observed)} {self.operator} {_show(expected)}")


_ORDER_TESTS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(observed: Any, expected: Any) -> bool:
    if _is_number(observed) and _is_number(expected):
        return float(observed) == float(expected)
    if isinstance(expected, bool) or expected is None:
        return observed is expected
    return str(observed) == str(expected)  # as Gatus: a bare word matches a string or a number's text


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json_type(value)
    return (
        json.dumps(value)
        if isinstance(value, (bool, type(None)))
        else f"{value:g}"
        if _is_number(value)
        else str(value)
    )


def _left(seconds: float) -> str:
    """Time left on a certificate, to the minute (`expired` once it is past)."""
    if seconds < 0:
        return f"expired {format_duration(timedelta(seconds=round(-seconds / 60) * 60))} ago"
    return format_duration(timedelta(seconds=round(seconds / 60) * 60))


def _literal(text: str) -> float | str | bool | None:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):  # `nan`, `inf`, `1e999`: a threshold nothing fails (or passes) is no threshold
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in lowered else number


def parse_condition(text: str) -> Condition:
    """Parse one condition; raise ConditionError saying what is wrong."""
    match = _GRAMMAR.match(text)
    if match is None:
        raise ConditionError(
            f"cannot parse condition {text!r}: expected `<subject> <operator> <value>` where subject is "
            "[STATUS], [RESPONSE_TIME], [CERTIFICATE_EXPIRATION], [BODY].path, len([BODY].path) or has([BODY].path) "
            "and operator is one of < <= == != > >="
        )
    if not match["right"]:
        raise ConditionError(f"condition {text!r} has no value after {match['op']}")
    expected = _literal(match["right"])
    subjects: tuple[Subject, ...] = ("status", "response_time", "certificate_expiration", "len", "has", "body")
    subject = next(name for name in subjects if match[name] is not None)
    if subject == "certificate_expiration":
        try:  # a duration as Gatus writes it (`48h`), or a number of seconds
            expected = parse_duration(match["right"]).total_seconds()
        except ValueError as error:
            raise ConditionError(
                f"condition {text!r}: [CERTIFICATE_EXPIRATION] compares with a duration such as 720h or 30d: {error}"
            ) from None
    raw_path = match[subject] if subject in ("len", "has", "body") else ""
    if raw_path and raw_path[0] not in ".[":
        raise ConditionError(f"condition {text!r}: a body path starts with '.' or '[' after [BODY]")
    try:
        path = parse_path(raw_path.removeprefix("."))
    except ValueError as error:
        raise ConditionError(f"condition {text!r}: {error}") from None
    operator = cast(Operator, match["op"])  # the pattern's `op` group admits only these
    if operator in _ORDERING and not _is_number(expected):
        raise ConditionError(f"condition {text!r}: {operator} needs a number on the right, got {match['right']!r}")
    if subject == "has" and not isinstance(expected, bool):
        raise ConditionError(f"condition {text!r}: has() is compared with true or false")
    if subject in ("status", "response_time", "len") and not _is_number(expected):
        raise ConditionError(f"condition {text!r}: [STATUS], [RESPONSE_TIME] and len() compare with a number")
    return Condition(text=text.strip(), subject=subject, operator=operator, expected=expected, path=path)
