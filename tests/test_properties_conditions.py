"""Property-based tests for endpoint conditions: any text parses or is a ConditionError; any response is judged.

Invariants:
- `parse_condition` raises nothing but ConditionError, whatever the text (built from the
  grammar's own pieces or arbitrary);
- a parsed condition evaluates against any status, response time, certificate and JSON body
  to an Outcome (never an exception), whose `passed` is None only with a reason saying why;
- a condition parsed from its own text is the same condition (the text round-trips), and a
  number it compares with is finite (`!= nan` would always pass, `< inf` never fail);
- a condition built from a subject, an operator and a number parses to those, and judges a
  number exactly as Python's comparison does.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsbook.conditions import Condition, ConditionError, parse_condition
from tests.property_settings import PROPERTY

pytestmark = pytest.mark.timeout(300)

_OPERATORS = ["<", "<=", "==", "!=", ">", ">="]
_PIECES = st.sampled_from(
    [
        "[STATUS]",
        "[RESPONSE_TIME]",
        "[CERTIFICATE_EXPIRATION]",
        "[BODY]",
        "len(",
        "has(",
        ")",
        ".",
        "[0]",
        ".a",
        "[",
        "]",
        " ",
        *_OPERATORS,
        "=",
        "!",
        "200",
        "-1",
        "1e999",
        "nan",
        "inf",
        "1_000",
        "30d",
        "720h",
        "99999999999d",
        "PT2H",
        "true",
        "null",
        '"UP"',
        "'",
        "\t",
        "\n",
    ]
)
_SUBJECT = st.sampled_from(
    ["[STATUS]", "[RESPONSE_TIME]", "[CERTIFICATE_EXPIRATION]", "[BODY]", "[BODY].a", "[BODY][0]", "[BODY].a[0].b"]
) | st.builds("{}([BODY]{})".format, st.sampled_from(["len", "has"]), st.sampled_from(["", ".a", "[1]", ".0.b", ". "]))
_VALUE = st.sampled_from(
    ["200", "-1", "0.5", "1e999", "-1e999", "nan", "inf", "1_000", "30d", "720h", "99999999999d", "PT2H", "1e308"]
    + ["true", "false", "null", '"UP"', "'", "UP", "[1]", "{}", "1e-400", "0x10", "09"]
)
_STRUCTURED = st.tuples(_SUBJECT, st.sampled_from([*_OPERATORS, "=", "=<"]), _VALUE).map(" ".join)
_TEXT = _STRUCTURED | st.lists(_PIECES | st.text(max_size=3), max_size=12).map("".join)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["a", "0", "b"]), children),
    max_leaves=12,
)


def _parse(text: str) -> Condition | None:
    try:
        return parse_condition(text)
    except ConditionError as error:
        assert str(error), text
        return None


def _judge(condition: Condition, status: int, elapsed: float, body: Any, left: float | None) -> None:
    outcome = condition.evaluate(status, elapsed, body, certificate_left_s=left)
    assert outcome.passed in (True, False, None)
    assert outcome.reason, outcome
    str(outcome.reason)


_RESPONSE = {
    "status": st.integers(0, 999),
    "elapsed": st.floats(0, 1e7),
    "body": _JSON,
    "left": st.none() | st.floats(-1e9, 1e9),
}


@PROPERTY
@given(text=_TEXT, **_RESPONSE)
# `nan` and `inf` were read as numbers: `!= nan` passed every response and never equalled itself.
@example(text="[RESPONSE_TIME] != nan", status=200, elapsed=1.0, body=None, left=None)
@example(text="[BODY].a < 1e999", status=200, elapsed=1.0, body={"a": 1}, left=None)
def test_any_text_is_a_condition_or_an_error_and_any_response_gets_an_outcome(
    text: str, status: int, elapsed: float, body: Any, left: float | None
) -> None:
    condition = _parse(text)
    if condition is not None:
        threshold = condition.numeric_threshold
        assert threshold is None or math.isfinite(threshold), condition
        assert parse_condition(condition.text) == condition
        _judge(condition, status, elapsed, body, left)


@PROPERTY
@given(text=st.text(max_size=60), **_RESPONSE)
def test_arbitrary_text_is_a_condition_or_an_error(
    text: str, status: int, elapsed: float, body: Any, left: float | None
) -> None:
    condition = _parse(text)
    if condition is not None:
        _judge(condition, status, elapsed, body, left)


@PROPERTY
@given(
    subject=st.sampled_from(["[STATUS]", "[RESPONSE_TIME]", "len([BODY].items)", "[BODY].a[0].b"]),
    op=st.sampled_from(_OPERATORS),
    threshold=st.integers(-(10**6), 10**6),
    observed=st.integers(0, 10**6),
)
def test_a_numeric_condition_judges_as_python_compares(subject: str, op: str, threshold: int, observed: int) -> None:
    condition = parse_condition(f"{subject} {op} {threshold}")
    assert (condition.operator, condition.expected, condition.numeric_threshold) == (op, threshold, threshold)
    body = {"items": [None] * (observed % 50), "a": [{"b": observed}]}
    measured = observed % 50 if subject.startswith("len") else observed
    outcome = condition.evaluate(observed, float(observed), body)
    compare = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt}
    compare[">="] = operator.ge
    assert outcome.passed is compare[op](measured, threshold), outcome
    assert outcome.observed == measured
