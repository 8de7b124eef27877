"""`opsbook security ...` and `opsbook run security` as an operator types them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from tests.test_security_incident import IP, _config

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_incident_with_a_bad_ip_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["security", "incident", "--type", "brute_force", "--ip", "999.1.1.1", "-c", str(_config(tmp_path))]
    )
    assert result.exit_code == 2 and "source_ip" in result.output


def test_incident_apply_blocks_and_run_security_exits_1_on_a_compromise(tmp_path: Path) -> None:
    blocklist = tmp_path / "deny.conf"
    # The brute force is 20 minutes old: with active_minutes 10 it is an earlier one, which warns.
    rule = {"failures": 5, "minutes": 10, "active_minutes": 10}
    config = _config(tmp_path, blocklist=str(blocklist), brute_force=rule)
    dry = CliRunner().invoke(app, ["security", "incident", "--type", "brute_force", "--ip", IP, "-c", str(config)])
    assert dry.exit_code == 0, dry.output
    assert "would add" in dry.output and not blocklist.exists()
    applied = CliRunner().invoke(
        app, ["security", "incident", "--type", "brute_force", "--ip", IP, "--apply", "--yes", "-c", str(config)]
    )
    assert applied.exit_code == 0, applied.output
    assert f"deny {IP};" in blocklist.read_text()
    check = CliRunner().invoke(app, ["run", "security", "-c", str(config)])
    assert check.exit_code == 0, check.output  # an earlier brute force warns; no login succeeded
    auth = tmp_path / "auth.log"
    last = auth.read_text().splitlines()[-1]
    auth.write_text(
        auth.read_text() + last.split(" sshd")[0] + f" sshd[7]: Accepted password for root from {IP} port 9 ssh2\n"
    )
    compromised = CliRunner().invoke(app, ["security", "check", "-c", str(config)])
    assert compromised.exit_code == 1, compromised.output
    assert "LOGIN SUCCEEDED" in compromised.output


def test_security_commands_have_help() -> None:
    for command in (["security"], ["security", "check"], ["security", "incident"], ["run", "security"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command
