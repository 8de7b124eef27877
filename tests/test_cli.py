"""The `opsbook` command as a user meets it: a fresh process, real servers, exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from opsbook.cli import app
from tests.helpers import write_config


def opsbook(*args: str, home: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PREFECT_HOME=str(home / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false", XDG_DATA_HOME=str(home / "xdg")
    )
    return subprocess.run(
        [sys.executable, "-m", "opsbook", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def test_demo_runs_the_daily_checklist_and_reports_the_degraded_platform(tmp_path: Path) -> None:
    result = opsbook("demo", "--workdir", str(tmp_path / "demo"), home=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    match = re.search(r"^report: (.+\.html)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    html = Path(match.group(1)).read_text()
    for platform in ("fly", "railway", "render"):
        assert f"<td>{platform}</td>" in html
    assert "RED: Action required" in html
    assert re.search(r"render</td><td class=\"status fail\">Failed", html)
    assert "database connection pool exhausted" in html
    assert (tmp_path / "demo" / "history.db").exists()


def test_run_daily_with_a_bad_config_exits_2_and_runs_nothing(tmp_path: Path) -> None:
    bad = write_config(
        tmp_path, {"platforms": [{"name": "fly", "url": "nope"}], "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}}
    )
    result = CliRunner().invoke(app, ["run", "daily", "-c", str(bad)])
    assert result.exit_code == 2
    assert "platforms[0].url:" in result.output
    assert not (tmp_path / "h.db").exists()


def test_every_command_has_help() -> None:
    import typer

    def commands(group: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, command in getattr(group, "commands", {}).items():
            found += commands(command, [*path, name])
        return found

    runner = CliRunner()
    every = commands(typer.main.get_command(app), [])
    assert ["db", "prune"] in every and ["alerts", "judge"] in every and ["metrics", "try"] in every
    for command in every:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output and len(result.output.splitlines()) > 3, command


def test_db_prune_counts_then_deletes_what_is_past_the_retention(tmp_path: Path) -> None:
    from datetime import timedelta

    from opsbook.results import utcnow
    from opsbook.store import HistoryStore, Sample

    config = write_config(tmp_path, {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}", "retention_days": 120}})
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    store.add_samples([Sample("cpu_pct", 1.0, utcnow() - timedelta(days=days), source="host") for days in (1, 200)])
    runner = CliRunner()
    dry = runner.invoke(app, ["db", "prune", "-c", str(config)])
    assert dry.exit_code == 0 and "would delete (dry run) 0 run(s) (0 results), 1 sample(s)" in dry.output
    assert len(store.samples("cpu_pct")) == 2
    applied = runner.invoke(app, ["db", "prune", "--apply", "-c", str(config)])
    assert applied.exit_code == 0 and "deleted 0 run(s) (0 results), 1 sample(s)" in applied.output
    assert len(store.samples("cpu_pct")) == 1
    too_short = runner.invoke(app, ["db", "prune", "--days", "30", "-c", str(config)])
    assert too_short.exit_code == 2  # less than the status page's 90 days is refused


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}})
    result = CliRunner().invoke(app, ["db", "upgrade", "-c", str(config)])
    assert result.exit_code == 0, result.output
    from opsbook.store import HistoryStore

    assert all(head in result.output for head in HistoryStore(f"sqlite:///{tmp_path / 'h.db'}").head_revisions())
