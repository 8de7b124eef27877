"""The CLI turns every failure into one line and exit 1 (or 2 for bad input), never a traceback.

Each case runs `python -m opsbook` in a fresh process, as a user meets it: the history store
unreachable (a closed PostgreSQL port, an SQLite path that cannot exist), stored values that
look like Rich markup or globs, absurd numbers, over-long values on the real PostgreSQL, and
a reports folder that cannot be written during `incident open`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port
from tests.test_cli import opsbook

pytestmark = pytest.mark.timeout(900)
PASSWORD = "s3cret-pw-canary"


def config(tmp_path: Path, history_url: str, reports: str | None = None) -> str:
    path = tmp_path / "opsbook.yaml"
    data = {
        "history": {"url": history_url},
        "reports": {"directory": reports or str(tmp_path / "reports")},
        "backups": {"repositories": [{"name": "main", "path": str(tmp_path / "repo")}]},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def one_line_failure(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The process failed with `code`, and said why in one line of stderr, without a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    return lines[0]


STORE_COMMANDS = [
    ("incident", "list"),
    ("incident", "open", "-s", "P1", "-d", "down"),
    ("incident", "ack", "INC-20260101-000000"),
    ("incident", "update", "INC-20260101-000000", "-m", "looking"),
    ("incident", "resolve", "INC-20260101-000000", "--root-cause", "x"),
    ("alerts", "list"),
    ("alerts", "judge", "a|b", "--true-positive"),
    ("silence", "list"),
    ("silence", "add", "--for", "1h"),
    ("silence", "expire", "1"),
]


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("store", ["closed-postgres-port", "sqlite-path-that-cannot-exist"])
def test_an_unreachable_store_is_one_line_and_exit_1(tmp_path: Path, command: tuple[str, ...], store: str) -> None:
    url = (
        f"postgresql+psycopg://opsbook:{PASSWORD}@127.0.0.1:{free_port()}/opsbook"
        if store == "closed-postgres-port"
        else "sqlite:////proc/opsbook-nowhere/history.db"
    )
    line = one_line_failure(opsbook(*command, "-c", config(tmp_path, url), home=tmp_path))
    assert "history store" in line and ("refused" in line or "unable to open database file" in line), line


def test_stored_values_that_look_like_markup_or_globs_never_break_the_lists(tmp_path: Path) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'history.db'}")
    pattern = "[/]*?[x]"
    added = opsbook(
        "silence", "add", "--for", "1h", "--check", pattern, "--target", "]:smile:[", "-c", cfg, home=tmp_path
    )
    assert added.returncode == 0, added.stderr
    opened = opsbook(
        "incident", "open", "-s", "P2", "-d", "[bold]db[/bold] down", "--component", "[/]", "-c", cfg, home=tmp_path
    )
    assert opened.returncode == 0, opened.stderr
    for command in (("silence", "list"), ("incident", "list")):
        listed = opsbook(*command, "-c", cfg, home=tmp_path)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        assert "[/]" in listed.stdout
    assert pattern in opsbook("silence", "list", "-c", cfg, home=tmp_path).stdout
    assert "]:smile:[" in opsbook("silence", "list", "-c", cfg, home=tmp_path).stdout  # no emoji substitution
    assert "[bold]db[/bold] down" in opsbook("incident", "list", "-c", cfg, home=tmp_path).stdout


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (("dr", "--target", "[/]*"), "error: unknown DR target '[/]*'"),
        (("backup", "prune", "--repository", "[/]?"), "error: no backup repository named '[/]?'"),
    ],
)
def test_names_with_markup_or_glob_characters_are_named_back_as_typed(
    tmp_path: Path, command: tuple[str, ...], said: str
) -> None:
    line = one_line_failure(
        opsbook(*command, "-c", config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}"), home=tmp_path), 2
    )
    assert line.startswith(said), line


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (("incident", "open", "-s", "P1", "-d", "x", "--minutes-ago", "inf"), "--minutes-ago"),
        (("incident", "open", "-s", "P1", "-d", "x", "--minutes-ago", "nan"), "--minutes-ago"),
        (("incident", "open", "-s", "P1", "-d", "x", "--minutes-ago", "-5"), "--minutes-ago"),
        (("silence", "add", "--for", "99999999999d"), "must be at most"),
        (("silence", "expire", "99999999999999999999"), "silence_id"),
        (("silence", "expire", "0"), "silence_id"),
    ],
)
def test_absurd_numbers_are_usage_errors_exit_2(tmp_path: Path, command: tuple[str, ...], said: str) -> None:
    result = opsbook(*command, "-c", config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}"), home=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert said in result.stderr


def test_an_over_long_value_on_postgresql_is_one_line(tmp_path: Path, postgres_url: str) -> None:
    cfg = config(tmp_path, postgres_url)
    result = opsbook("silence", "add", "--for", "1h", "--check", "c" * 5000, "-c", cfg, home=tmp_path)
    if result.returncode == 0:  # bounded before the store (the per-column bounds): nothing to say
        assert "Traceback" not in result.stderr
        return
    line = one_line_failure(result)
    assert "value" in line, line


def test_an_unwritable_reports_folder_keeps_the_opened_incident_and_says_so_in_one_line(tmp_path: Path) -> None:
    # /proc refuses new folders even to root, which a chmod'ed folder does not.
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", reports="/proc/opsbook-reports")
    result = opsbook("incident", "open", "-s", "P1", "-d", "db down", "-c", cfg, home=tmp_path)
    line = one_line_failure(result)
    assert line.startswith("error: status page not written (No such file or directory: /proc/opsbook-reports)")
    incident = result.stdout.split()[0]
    assert line.endswith(f"{incident} is stored and open")
    assert incident in opsbook("incident", "list", "-c", cfg, home=tmp_path).stdout


def test_a_value_postgresql_refuses_is_named_in_one_line_without_the_statement(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DataError

    from opsbook.cli.common import failure_line

    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (v varchar(5), n integer)"))
        for statement, value in (("INSERT INTO t (v) VALUES (:x)", PASSWORD), ("INSERT INTO t (n) VALUES (:x)", 2**40)):
            with pytest.raises(DataError) as caught, engine.begin() as connection:
                connection.execute(text(statement), {"x": value})
            line = failure_line(caught.value)
            assert line.startswith("the history store refused a value: ") and "\n" not in line, line
            assert "INSERT" not in line and PASSWORD not in line
    finally:
        engine.dispose()
