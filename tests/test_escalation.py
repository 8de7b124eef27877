"""The runbook's escalation decision tree on every branch, and the escalation/notification config."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from opsbook.config import ConfigError, parse_config
from opsbook.escalation import RUNBOOK_TIMES, Severity, escalation_level
from opsbook.secrets import REDACTED, redact

MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("severity", "duration", "impact", "level"),
    [
        ("critical", timedelta(0), "high", 4),  # critical, high business impact: executives
        ("P0", 3 * 60 * MIN, "normal", 3),  # critical, otherwise: engineering leadership
        ("high", 31 * MIN, "normal", 3),  # high, > 30 min
        ("P1", 30 * MIN, "high", 2),  # high, exactly 30 min is not "greater than"
        ("P1", 5 * MIN, "normal", 2),
        ("medium", 61 * MIN, "normal", 2),  # medium, > 1 h
        ("P2", 60 * MIN, "high", 1),  # exactly 1 h stays level 1
        ("low", 48 * 60 * MIN, "high", 1),  # low is always level 1
    ],
)
def test_decision_tree_every_branch(severity: str, duration: timedelta, impact: str, level: int) -> None:
    assert escalation_level(severity, duration, impact) == level


def test_severity_words_times_and_bad_input() -> None:
    assert Severity.parse("p1") is Severity.P1 and Severity.parse("Critical") is Severity.P0
    assert Severity.P2.lower() is Severity.P3 and Severity.P3.lower() is Severity.P3
    assert RUNBOOK_TIMES[Severity.P0].respond == 5 * MIN and RUNBOOK_TIMES[Severity.P3].escalate == 24 * 60 * MIN
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse("urgent")


def test_matrix_defaults_come_from_the_runbook(tmp_path: Path) -> None:
    config = parse_config({}, base_dir=tmp_path)
    levels = config.escalation.levels
    assert [levels[n].name for n in (1, 2, 3, 4)] == [
        "Operations Team",
        "Technical Team",
        "Engineering Leadership",
        "Executive Team",
    ]
    assert [levels[n].response_minutes for n in (1, 2, 3, 4)] == [15, 30, 60, 120]
    assert levels[4].contacts[0].email == "cto@company.com"
    assert config.escalation.severities["P1"].escalate_minutes == 30


def test_bad_matrix_and_unknown_channel_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(
            {
                "escalation": {"levels": {1: {"name": "Ops", "response_minutes": 15}}},
                "notifications": {
                    "channels": [{"name": "mail", "type": "email", "host": "h", "sender": "a@b", "to": ["c@d"]}],
                    "routes": [{"channels": ["pager"]}],
                },
            },
            base_dir=tmp_path,
        )
    problems = "\n".join(error.value.problems)
    assert "escalation.levels: must define levels 1, 2, 3 and 4" in problems
    assert "routes[0].channels: unknown channel 'pager'" in problems


def test_webhook_urls_and_smtp_passwords_are_secrets_even_when_literal(tmp_path: Path) -> None:
    parse_config(
        {
            "notifications": {
                "channels": [
                    {"name": "s", "type": "slack", "url": "https://hooks.example/services/T000/B000/literal-token"},
                    {
                        "name": "m",
                        "type": "email",
                        "host": "h",
                        "sender": "a@b",
                        "to": ["c@d"],
                        "password": "hunter2-pw",
                    },
                ]
            }
        },
        base_dir=tmp_path,
    )
    text = "posting to https://hooks.example/services/T000/B000/literal-token with hunter2-pw"
    assert redact(text) == f"posting to {REDACTED} with {REDACTED}"
