"""Gatus-style conditions: the grammar, every operator, and conditions that cannot be evaluated."""

from __future__ import annotations

import pytest

from opsbook.conditions import ConditionError, parse_condition

BODY = {
    "status": "UP",
    "version": "2.4.1",
    "count": 3,
    "ratio": 0.25,
    "ok": True,
    "none": None,
    "items": [{"name": "a"}, {"name": "b"}],
    "nested": {"deep": {"value": 7}},
    "text": "abc",
}


@pytest.mark.parametrize(
    ("text", "passed", "observed"),
    [
        ("[STATUS] == 200", True, 200),
        ("[STATUS] != 200", False, 200),
        ("[STATUS] < 300", True, 200),
        ("[RESPONSE_TIME] < 500", True, 123.4),
        ("[RESPONSE_TIME] >= 500", False, 123.4),
        ("[BODY].status == UP", True, "UP"),
        ("[BODY].status == 'DOWN'", False, "UP"),
        ('[BODY].version == "2.4.1"', True, "2.4.1"),
        ("[BODY].count > 2", True, 3),
        ("[BODY].count <= 2", False, 3),
        ("[BODY].count == 3.0", True, 3),
        ("[BODY].ratio < 0.3", True, 0.25),
        ("[BODY].ok == true", True, True),
        ("[BODY].none == null", True, None),
        ("[BODY].nested.deep.value >= 7", True, 7),
        ("[BODY].items[1].name == b", True, "b"),
        ("len([BODY].items) == 2", True, 2),
        ("len([BODY].text) > 5", False, 3),
        ("has([BODY].status) == true", True, True),
        ("has([BODY].errors) == false", True, False),
        ("has([BODY].errors) == true", False, False),
    ],
)
def test_conditions_hold_or_not(text: str, passed: bool, observed: object) -> None:
    outcome = parse_condition(text).evaluate(200, 123.4, BODY)
    assert outcome.passed is passed, outcome
    assert outcome.observed == observed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[BODY].missing > 1", "missing: missing field"),
        ("[BODY].items[5].name == a", "items[5]: index out of range (list has 2 items)"),
        ("[BODY].status > 1", "status: expected a number, found string 'UP'"),
        ("len([BODY].count) > 1", "count: len() needs a string, array or object, found number"),
        ("[BODY].status.code == 1", "status.code: expected an object, found string"),
    ],
)
def test_a_condition_that_cannot_be_evaluated_says_why(text: str, reason: str) -> None:
    outcome = parse_condition(text).evaluate(200, 1.0, BODY)
    assert outcome.passed is None
    assert reason in outcome.reason


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[BODY].x = 3", "cannot parse condition"),
        ("[STATUS] ==", "has no value after =="),
        ("[STATUS] == OK", "compare with a number"),
        ("[RESPONSE_TIME] < fast", "needs a number on the right"),
        ("has([BODY].x) == 1", "compared with true or false"),
        ("[BODY]x == 1", r"starts with '\.' or '\['"),
        ("[BODY].a..b == 1", "invalid JSON path"),
        ("[HEADERS].x == 1", "cannot parse condition"),
    ],
)
def test_bad_conditions_are_rejected_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ConditionError, match=problem):
        parse_condition(text)


def test_numeric_threshold_is_exposed_for_reports() -> None:
    assert parse_condition("[RESPONSE_TIME] < 500").numeric_threshold == 500
    assert parse_condition("[BODY].status == UP").numeric_threshold is None
    assert parse_condition("[BODY].ok == true").numeric_threshold is None
