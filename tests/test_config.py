"""The estate config: defaults from the runbook, one clear line per problem, secrets from ${ENV}."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.config import ConfigError, load_config, parse_config
from opsbook.secrets import REDACTED, redact
from tests.helpers import write_config

EXAMPLE = Path(__file__).resolve().parents[1] / "opsbook.example.yaml"


def test_example_config_is_valid_and_carries_runbook_defaults() -> None:
    config = load_config(EXAMPLE)
    assert [p.name for p in config.platforms] == ["fly", "railway", "render"]
    assert config.thresholds.web_vitals.fcp_ms.warn == 1800
    assert config.thresholds.resources.cpu_pct.warn == 80
    assert config.thresholds.database.slow_query_ms == 1000
    assert config.platforms[1].expected_status == [200, 204]


def test_defaults_when_sections_are_left_out(tmp_path: Path) -> None:
    config = parse_config({"platforms": [{"name": "fly", "url": "https://fly.example/health"}]}, base_dir=tmp_path)
    assert config.platforms[0].expected_status == [200]
    assert config.thresholds.api.error_rate_pct.warn == 1
    assert config.thresholds.web_vitals.inp_ms.warn == 200
    assert config.history.url == f"sqlite:///{tmp_path / 'opsbook-history.db'}"
    assert config.reports.directory == tmp_path / "reports-out"


def test_bad_url_and_unknown_key_are_both_named_by_key_path(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "platforms": [
                {"name": "fly", "url": "https://fly.example/health"},
                {"name": "railway", "url": "not a url", "colour": "blue"},
            ]
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert any(p.startswith("platforms[1].url: ") for p in problems), problems
    assert "platforms[1].colour: unknown key" in problems
    assert len(problems) == 2


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", "-c", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output and "3 platform(s)" in ok.output

    bad = write_config(tmp_path, {"platforms": [{"name": "x", "url": "ftp://x"}], "bogus": 1})
    result = runner.invoke(app, ["validate", "-c", str(bad)])
    assert result.exit_code == 2
    assert "platforms[0].url:" in result.output
    assert "bogus: unknown key" in result.output


def test_cli_validate_reports_unreadable_and_malformed_files(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["validate", "-c", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("platforms: [\n  - name: a\n")
    result = runner.invoke(app, ["validate", "-c", str(broken)])
    assert result.exit_code == 2 and "(yaml):" in result.output and "line" in result.output


def test_threshold_order_and_duplicate_names_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "thresholds": {"resources": {"cpu_pct": {"warn": 95, "fail": 80}}},
                "platforms": [{"name": "a", "url": "http://a.example"}, {"name": "a", "url": "http://b.example"}],
            },
            base_dir=tmp_path,
        )
    text = str(caught.value)
    assert "thresholds.resources.cpu_pct: warn (95.0) must not be above fail (80.0)" in text
    assert "name 'a' is used twice" in text


def test_env_interpolation_registers_the_secret_for_redaction(tmp_path: Path) -> None:
    environ = {"HEALTH_TOKEN": "tok-3f9a1c-very-secret"}
    config = parse_config(
        {
            "platforms": [
                {"name": "fly", "url": "https://fly.example/h", "headers": {"Authorization": "Bearer ${HEALTH_TOKEN}"}}
            ]
        },
        base_dir=tmp_path,
        environ=environ,
    )
    assert config.platforms[0].headers["Authorization"] == "Bearer tok-3f9a1c-very-secret"
    assert redact("sent Bearer tok-3f9a1c-very-secret to fly") == f"sent Bearer {REDACTED} to fly"


def test_missing_env_var_is_named_with_its_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"history": {"url": "postgresql+psycopg://ops:${OPSBOOK_TEST_UNSET_PW}@db/ops"}},
            base_dir=tmp_path,
            environ={},
        )
    assert caught.value.problems == ["history.url: environment variable OPSBOOK_TEST_UNSET_PW is not set"]


def test_escaped_dollar_brace_stays_literal(tmp_path: Path) -> None:
    config = parse_config({"estate": "cost $${NOT_A_VAR}"}, base_dir=tmp_path, environ={})
    assert config.estate == "cost ${NOT_A_VAR}"


def test_every_relative_path_is_relative_to_the_config_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)  # not the config's folder
    path = write_config(
        folder,
        {
            "history": {"url": "sqlite:///db/history.db"},
            "reports": {"directory": "out"},
            "backups": {"repositories": [{"name": "main", "path": "dumps"}]},
            "costs": {"exports": ["billing/*.csv"]},
            "maintenance": {
                "log_directories": [{"path": "logs"}],
                "patch_reports": ["patches.txt"],
                "dependency_reports": ["outdated.json"],
                "runbook_path": "runbook.md",
            },
            "notifications": {
                "channels": [
                    {
                        "name": "mail",
                        "type": "email",
                        "host": "smtp",
                        "sender": "a@b.c",
                        "to": ["d@e.f"],
                        "ca_file": "ca.pem",
                    }
                ],
                "templates_dir": "templates",
            },
            "incidents": {"status_page": "status.html", "deploy_log": "deploys.json"},
            "security": {
                "auth_logs": ["auth.log"],
                "access_logs": ["access.log"],
                "vulnerabilities": {"reports": ["audit.json"]},
                "certificate_policy": {"ca_bundle": "extra.pem"},
                "blocklist": "deny.conf",
            },
        },
    )
    config = load_config(path)
    found = [
        config.history.url.removeprefix("sqlite:///"),
        config.reports.directory,
        config.backups.repositories[0].path,
        *config.costs.exports,
        config.maintenance.log_directories[0].path,
        *config.maintenance.patch_reports,
        *config.maintenance.dependency_reports,
        config.maintenance.runbook_path,
        config.notifications.channels[0].ca_file,
        config.notifications.templates_dir,
        config.incidents.status_page,
        config.incidents.deploy_log,
        *config.security.auth_logs,
        *config.security.access_logs,
        *config.security.vulnerabilities.reports,
        config.security.certificate_policy.ca_bundle,
        config.security.blocklist,
    ]
    assert [p for p in found if p is None or not Path(p).is_relative_to(folder.resolve())] == []
    assert config.incidents.deploy_log == str(folder / "deploys.json")
    absolute = parse_config({"incidents": {"deploy_log": "https://ci.example/deploys.json"}}, base_dir=folder)
    assert absolute.incidents.deploy_log == "https://ci.example/deploys.json"
