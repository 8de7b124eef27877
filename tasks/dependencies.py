"""Dependency update review: outdated packages from `pip list --outdated` or `npm outdated` JSON.

Reports are read from configured files (CI jobs drop them); with none configured, this host's
Python environment is asked, which needs the package index: offline, that is a clear `error`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow

COMPONENT = "maintenance"

DEPENDENCIES = declare(
    "maintenance.dependencies",
    title="Dependency updates",
    component=COMPONENT,
    alert_type=AlertType.APPLICATION,
    severity=Severity.P3,
    unit="packages",
    runbook_steps=("Weekly Maintenance Routine / Checking dependency updates",),
)


@dataclass(frozen=True)
class Outdated:
    name: str
    current: str
    latest: str

    @property
    def major_behind(self) -> bool:
        return self.current.split(".")[0] != self.latest.split(".")[0]


def parse_outdated(document: Any) -> list[Outdated]:
    """pip's list of {name, version, latest_version} or npm's {name: {current, latest}}."""
    if isinstance(document, list):
        return [Outdated(d["name"], d["version"], d["latest_version"]) for d in document]
    if isinstance(document, dict):
        return [Outdated(name, str(d.get("current") or "-"), d["latest"]) for name, d in document.items()]
    raise ValueError("not an outdated-packages report (expected a JSON list or object)")


def judge_outdated(source: str, outdated: list[Outdated]) -> CheckResult:
    majors = [o for o in outdated if o.major_behind]
    status = Status.WARN if majors else Status.OK
    return DEPENDENCIES.result(
        source,
        status,
        value=float(len(outdated)),
        unit="packages",
        started_at=utcnow(),
        message=f"{len(outdated)} outdated, {len(majors)} a major version behind",
        details={"outdated": [f"{o.name} {o.current} -> {o.latest}" for o in outdated]},
    )


def _pip(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def local_outdated(timeout_s: float = 120) -> list[Outdated]:
    """This environment's outdated packages; raises ConnectionError when the index cannot be read.

    `pip list --outdated` prints `[]` and exits 0 when the index is unreachable, which would
    read as "all up to date": ask the index for one known project first.
    """
    probe = _pip("index", "versions", "pip", timeout_s=timeout_s)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
        raise ConnectionError(f"package index not reachable, outdated list unavailable offline ({last})")
    listing = _pip("list", "--outdated", "--format=json", timeout_s=timeout_s)
    if listing.returncode != 0:
        raise ConnectionError(f"pip list --outdated failed: {(listing.stderr.strip().splitlines() or ['?'])[-1]}")
    return parse_outdated(json.loads(listing.stdout))


@task(name="review-dependency-updates", cache_policy=NO_CACHE, timeout_seconds=300)
def review_dependency_updates(reports: list[Path]) -> list[CheckResult]:
    """The runbook's `check-dependency-updates.sh`."""
    if not reports:
        try:
            return [judge_outdated("this Python environment", local_outdated())]
        except (OSError, ValueError, subprocess.SubprocessError) as error:
            return [DEPENDENCIES.error("this Python environment", error)]
    results = []
    for report in reports:
        try:
            results.append(judge_outdated(report.name, parse_outdated(json.loads(report.read_text()))))
        except (OSError, ValueError, KeyError, TypeError) as error:
            results.append(DEPENDENCIES.error(report.name, f"{report}: {error!r}"))
    return results
