"""One duration grammar: the table of what it reads, what it refuses, and the three places
that use it (a backup's max_age, a maintenance window, `opsbook silence add --for`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsbook.alerts import list_silences
from opsbook.cli import app
from opsbook.config import ConfigError
from opsbook.durations import MAXIMUM, POSITIVE, format_duration, parse_duration
from opsbook.maintenance import MaintenanceWindow
from opsbook.store import open_store
from tests.helpers import estate, write_config

H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", 30 * M),
        ("2h", 2 * H),
        ("26h", 26 * H),
        ("2d", 2 * D),
        ("1w", 7 * D),
        ("1h30m", 90 * M),
        ("1d2h", 26 * H),
        ("1w2d", 9 * D),
        ("2h15m30s", 2 * H + 15 * M + timedelta(seconds=30)),
        ("1.5h", 90 * M),
        ("0.5d", 12 * H),
        ("1h 30m", 90 * M),
        (" 26 h ", 26 * H),
        ("3600", H),  # a bare number is seconds
        ("PT2H", 2 * H),  # ISO 8601, as maintenance windows always read
        ("P1DT6H", 30 * H),
        ("PT1H30M", 90 * M),
        ("P2W", 14 * D),
        (3600, H),
        (1.5, timedelta(seconds=1.5)),
        (2 * H, 2 * H),
    ],
)
def test_the_grammar_reads(text: str | float | timedelta, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("soon", "must be a duration such as 26h, 90m, 1h30m or 2d"),
        ("", "must be a duration"),
        ("h", "must be a duration"),
        ("30m1h", "largest unit first"),  # order is part of the grammar
        ("1h1h", "largest unit first"),
        ("2H", "must be a duration"),  # upper case M could be months: lower case only
        ("1y", "must be a duration"),
        ("P1M", "must be a duration"),  # ISO months vary in length
        ("-5m", "must be a duration"),
        (True, "must be a duration"),
        (-60, "must not be negative"),
        ("36526d", "must be at most 36525d"),  # beyond 100 years
        ("99999999999999999999w", "must be at most"),  # would overflow timedelta
        (float("inf"), "must be at most"),
        (float("nan"), "must be at most"),
    ],
)
def test_the_grammar_refuses_with_a_reason(text: str | float, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_duration(text)


def test_callers_set_the_floor() -> None:
    assert parse_duration("0s") == timedelta(0)
    with pytest.raises(ValueError, match="must be longer than zero"):
        parse_duration("0m", minimum=POSITIVE)
    with pytest.raises(ValueError, match="must be at least 5m"):
        parse_duration("90s", minimum=5 * M)
    assert parse_duration("5m", minimum=5 * M) == 5 * M
    with pytest.raises(ValueError, match="must be at most 1d"):
        parse_duration("25h", maximum=D)
    assert parse_duration(MAXIMUM) == MAXIMUM


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (5 * M, "5m"),
        (90 * M, "1h30m"),
        (3 * D, "3d"),
        (14 * D, "14d"),
        (D + 2 * H + 3 * M + timedelta(seconds=4), "1d2h3m4s"),
        (timedelta(seconds=1.5), "1.5s"),
        (-90 * M, "-1h30m"),
    ],
)
def test_format_duration_writes_what_parse_duration_reads(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text
    if duration >= timedelta(0):
        assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["1h30m", "2d", "90s", "1w2d", "1.5h"])
def test_a_backup_repository_and_a_maintenance_window_read_the_same_strings(tmp_path: Path, text: str) -> None:
    expected = parse_duration(text)
    config = estate(
        tmp_path,
        backups={"repositories": [{"name": "main", "path": "dumps", "max_age": text}]},
        maintenance={"windows": [{"start": "2026-03-01T02:00", "duration": text}]},
    )
    assert config.backups.repositories[0].max_age == expected
    assert config.maintenance.windows[0].duration == expected
    assert MaintenanceWindow.model_validate({"start": "2026-03-01T02:00", "duration": text}).duration == expected


def test_a_zero_or_absurd_backup_max_age_is_a_config_problem(tmp_path: Path) -> None:
    for text, problem in (("0s", "must be longer than zero"), ("200000d", "must be at most 36525d")):
        with pytest.raises(ConfigError) as caught:
            estate(tmp_path, backups={"repositories": [{"name": "main", "path": "dumps", "max_age": text}]})
        assert f"backups.repositories[0].max_age: {problem}" in caught.value.problems


def test_silence_add_reads_the_same_grammar(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}})
    runner = CliRunner(env={"COLUMNS": "220"})
    before = datetime.now(UTC)
    added = runner.invoke(app, ["silence", "add", "--for", "1h30m", "--target", "render", "-c", str(path)])
    assert added.exit_code == 0, added.output
    (silence,) = list_silences(open_store(f"sqlite:///{tmp_path / 'h.db'}"))
    assert before + 90 * M <= silence.expires_at <= datetime.now(UTC) + 90 * M

    refused = runner.invoke(app, ["silence", "add", "--for", "0m", "-c", str(path)])
    assert refused.exit_code == 2 and "must be longer than zero" in refused.output
    refused = runner.invoke(app, ["silence", "add", "--for", "30m1h", "-c", str(path)])
    assert refused.exit_code == 2 and "largest unit first" in refused.output
