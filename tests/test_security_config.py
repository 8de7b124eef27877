"""The `security` config section: defaults, relative paths, and problems named by key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.config import ConfigError, parse_config


def test_defaults_and_paths_relative_to_the_config(tmp_path: Path) -> None:
    config = parse_config(
        {
            "security": {
                "auth_logs": ["logs/auth.log"],
                "blocklist": "deny.conf",
                "certificates": [{"endpoint": "example.org:443"}],
                "certificate_policy": {"days_left": {"warn": 30, "fail": 7}},
            }
        },
        base_dir=tmp_path,
    )
    security = config.security
    assert security.auth_logs == [tmp_path / "logs" / "auth.log"] and security.blocklist == tmp_path / "deny.conf"
    assert security.window_hours == 24 and security.brute_force.failures == 10
    assert security.certificates[0].name == "example.org" and security.certificates[0].port == 443
    assert security.certificate_policy.days_left.higher_is_worse is False
    assert parse_config({}).security.auth_logs == [] and not parse_config({}).security.configured
    assert security.configured


def test_problems_name_their_key_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "security": {
                    "certificates": [{"endpoint": "no-port"}],
                    "syslog_timezone": "Mars/Base",
                    "vulnerabilities": {"fail_on": ["catastrophic"]},
                    "brute_force": {"failures": 0},
                    "typo": 1,
                }
            },
            base_dir=tmp_path,
        )
    text = "\n".join(caught.value.problems)
    for path in (
        "security.certificates[0].endpoint",
        "security.syslog_timezone",
        "security.vulnerabilities.fail_on[0]",
        "security.brute_force.failures",
        "security.typo",
    ):
        assert path in text, text
