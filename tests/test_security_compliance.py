"""Security headers against real HTTP servers on loopback; dependency-audit reports of three tools."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from opsbook.demo.server import LoopbackServer, Reply
from opsbook.results import Status
from opsbook.tasks.security.checks import header_results, vulnerability_results
from tests.conftest import free_port
from tests.helpers import estate

GOOD_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def test_headers_are_judged_on_real_responses(tmp_path: Path) -> None:
    weak = {**GOOD_HEADERS, "Strict-Transport-Security": "max-age=300", "X-Frame-Options": "ALLOWALL"}
    missing = {"X-Content-Type-Options": "nosniff"}
    routes = {
        "/good": lambda _r: Reply(200, "ok", GOOD_HEADERS),
        "/weak": lambda _r: Reply(200, "ok", weak),
        "/bare": lambda _r: Reply(200, "ok", missing),
    }
    with LoopbackServer(routes) as server:
        dead = f"http://127.0.0.1:{free_port()}/"
        config = estate(
            tmp_path,
            platforms=[{"name": "fly", "url": server.url("/good")}],
            security={"headers": {"check_platforms": True, "urls": [server.url("/weak"), server.url("/bare"), dead]}},
            http={"timeout_s": 2, "retries": 0},
        )
        good, weak_result, bare, down = asyncio.run(header_results(config))
    assert good.status is Status.OK
    assert weak_result.status is Status.WARN
    assert "HSTS max-age below" in weak_result.message and "ALLOWALL" in weak_result.message
    assert bare.status is Status.FAIL and bare.value == 3
    assert bare.details["missing"] == ["Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options"]
    assert down.status is Status.ERROR


PIP_AUDIT = {
    "dependencies": [
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [
                {
                    "id": "GHSA-h5c8-rqwp-cp95",
                    "fix_versions": ["3.1.3"],
                    "aliases": ["CVE-2024-22195"],
                    "description": "xss",
                }
            ],
        },
        {"name": "idna", "version": "3.7", "vulns": []},
    ],
    "fixes": [],
}
NPM_AUDIT = {
    "auditReportVersion": 2,
    "vulnerabilities": {
        "lodash": {
            "name": "lodash",
            "severity": "critical",
            "isDirect": True,
            "via": [{"source": 1094500, "name": "lodash", "title": "Prototype Pollution", "severity": "critical"}],
            "effects": [],
            "range": "<4.17.21",
            "fixAvailable": True,
        },
        "minimist": {
            "name": "minimist",
            "severity": "moderate",
            "isDirect": False,
            "via": ["mkdirp"],
            "effects": [],
            "range": "<1.2.6",
            "fixAvailable": True,
        },
    },
    "metadata": {"vulnerabilities": {"info": 0, "low": 0, "moderate": 1, "high": 0, "critical": 1, "total": 2}},
}
OSV = {
    "results": [
        {
            "source": {"path": "/app/package-lock.json", "type": "lockfile"},
            "packages": [
                {
                    "package": {"name": "express", "version": "4.17.1", "ecosystem": "npm"},
                    "vulnerabilities": [
                        {
                            "id": "GHSA-rv95-896h-c2vc",
                            "aliases": ["CVE-2024-29041"],
                            "database_specific": {"severity": "MODERATE"},
                        },
                        {"id": "GHSA-qw6h-vgh9-j6wx", "database_specific": {"severity": "LOW"}},
                    ],
                    "groups": [
                        {"ids": ["GHSA-rv95-896h-c2vc", "CVE-2024-29041"], "max_severity": "7.5"},
                        {"ids": ["GHSA-qw6h-vgh9-j6wx"], "max_severity": ""},
                    ],
                }
            ],
        }
    ]
}


def _report(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_three_report_formats_are_counted_by_severity(tmp_path: Path) -> None:
    reports = [
        _report(tmp_path, "pip.json", PIP_AUDIT),
        _report(tmp_path, "npm.json", NPM_AUDIT),
        _report(tmp_path, "osv.json", OSV),
        _report(tmp_path, "other.json", {"hello": 1}),
        tmp_path / "missing.json",
    ]
    stale = _report(tmp_path, "stale.json", {"dependencies": []})
    old = time.time() - 30 * 86400
    os.utime(stale, (old, old))
    config = estate(tmp_path, security={"vulnerabilities": {"reports": [str(p) for p in [*reports, stale]]}})
    pip, npm, osv, other, missing, stale_result = vulnerability_results(config)
    assert pip.status is Status.WARN and pip.details["format"] == "pip-audit"  # no severity: unknown warns
    assert pip.details["by_severity"]["unknown"] == 1
    assert npm.status is Status.FAIL and npm.details["by_severity"]["critical"] == 1
    assert npm.details["by_severity"]["medium"] == 1 and npm.value == 2
    assert osv.details["by_severity"] == {"critical": 0, "high": 1, "medium": 0, "low": 1, "unknown": 0}
    assert osv.status is Status.WARN
    assert other.status is Status.ERROR and "not a pip-audit" in other.message
    assert missing.status is Status.ERROR
    assert stale_result.status is Status.WARN and "30 days old" in stale_result.message


def test_a_clean_report_is_ok(tmp_path: Path) -> None:
    path = _report(tmp_path, "pip.json", {"dependencies": [{"name": "idna", "version": "3.7", "vulns": []}]})
    (result,) = vulnerability_results(estate(tmp_path, security={"vulnerabilities": {"reports": [str(path)]}}))
    assert result.status is Status.OK and result.value == 0
