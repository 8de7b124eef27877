"""Weekly reviews on real inputs: this host's apt list, pip's own outdated list (offline), report files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from opsbook.results import Status
from opsbook.tasks.dependencies import review_dependency_updates
from opsbook.tasks.patches import parse_upgradable, review_system_updates

SAMPLE = """Listing...
openssl/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
libssl3/stable-security,stable 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
tzdata/stable-updates 2026a-0+deb12u1 all [upgradable from: 2025b-0+deb12u1]
something odd that apt never prints
"""


def test_upgradable_list_separates_security_fixes_and_keeps_odd_lines() -> None:
    listing = parse_upgradable(SAMPLE)
    assert [(u.package, u.security) for u in listing.upgrades] == [
        ("openssl", True),
        ("libssl3", True),
        ("tzdata", False),
    ]
    assert listing.upgrades[0].current == "3.0.14-1~deb12u2" and listing.upgrades[0].available == "3.0.15-1~deb12u1"
    assert listing.unparsed == ["something odd that apt never prints"]


@pytest.mark.skipif(shutil.which("apt") is None, reason="no apt on this host")
def test_this_hosts_real_apt_list_is_fully_accounted_for(tmp_path: Path) -> None:
    text = subprocess.run(["apt", "list", "--upgradable"], capture_output=True, text=True, env={"LC_ALL": "C"}).stdout
    entries = [line for line in text.splitlines() if "[upgradable from:" in line]
    security = [line for line in entries if re.match(r"^[^/]+/\S*-security", line)]
    report = tmp_path / "web-1.txt"
    report.write_text(SAMPLE)
    local, dropped = review_system_updates.fn([report], check_local=True)
    assert local.value == len(security)
    assert f"{len(entries)} upgrade(s) in all" in local.message
    assert local.status is (Status.WARN if security else Status.OK)
    assert dropped.target == "web-1" and dropped.status is Status.WARN and dropped.value == 2
    assert "1 line(s) not understood" in dropped.message


def test_dependency_reports_from_pip_and_npm(tmp_path: Path) -> None:
    pip = tmp_path / "pip-outdated.json"
    pip.write_text(
        json.dumps(
            [
                {"name": "httpx", "version": "0.27.0", "latest_version": "0.28.1"},
                {"name": "pandas", "version": "2.2.0", "latest_version": "3.1.1"},
            ]
        )
    )
    npm = tmp_path / "npm-outdated.json"
    npm.write_text(json.dumps({"react": {"current": "18.2.0", "wanted": "18.3.1", "latest": "19.1.0"}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    results = review_dependency_updates.fn([pip, npm, broken])
    assert [(r.target, r.status, r.value) for r in results[:2]] == [
        ("pip-outdated.json", Status.WARN, 2.0),
        ("npm-outdated.json", Status.WARN, 1.0),
    ]
    assert "pandas 2.2.0 -> 3.1.1" in results[0].details["outdated"]
    assert results[2].status is Status.ERROR and "broken.json" in results[2].message


def test_without_reports_and_without_the_index_the_review_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real pip run against an index that refuses connections: what "offline" looks like.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    [result] = review_dependency_updates.fn([])
    assert result.status is Status.ERROR
    assert "unavailable offline" in result.message
