"""System update and security patch review: what the package manager would upgrade, and which of
it is a security fix. Reads this host's `apt list --upgradable` and reports other hosts drop."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow

COMPONENT = "maintenance"

PATCHES = declare(
    "maintenance.patches",
    title="System and security updates",
    component=COMPONENT,
    alert_type=AlertType.SECURITY,
    severity=Severity.P3,
    unit="updates",
    runbook_steps=(
        "Weekly Maintenance Routine / Checking for system updates",
        "Weekly Maintenance Routine / Reviewing security patches",
    ),
)
# openssl/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
_UPGRADABLE = re.compile(
    r"^(?P<package>[^/\s]+)/(?P<suites>\S+)\s+(?P<version>\S+)\s+(?P<arch>\S+)\s+"
    r"\[upgradable from: (?P<current>[^\]]+)\]$"
)


@dataclass(frozen=True)
class Upgrade:
    package: str
    current: str
    available: str
    security: bool


@dataclass(frozen=True)
class UpgradeList:
    upgrades: list[Upgrade]
    unparsed: list[str]


def parse_upgradable(text: str) -> UpgradeList:
    """Parse `apt list --upgradable`; lines that are neither entries nor apt's banner are kept."""
    upgrades, unparsed = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("Listing...", "WARNING:")):
            continue
        match = _UPGRADABLE.match(line)
        if match is None:
            unparsed.append(line)
            continue
        suites = match["suites"].split(",")
        upgrades.append(
            Upgrade(
                match["package"],
                match["current"],
                match["version"],
                any(s.endswith("-security") or s == "security" for s in suites),
            )
        )
    return UpgradeList(upgrades, unparsed)


def judge_upgrades(host: str, listing: UpgradeList) -> CheckResult:
    security = [u for u in listing.upgrades if u.security]
    if security:
        status, words = Status.WARN, f"{len(security)} security update(s) pending"
    else:
        status, words = Status.OK, "no security updates pending"
    message = f"{words}; {len(listing.upgrades)} upgrade(s) in all"
    if listing.unparsed:
        message += f"; {len(listing.unparsed)} line(s) not understood"
    return PATCHES.result(
        host,
        status,
        value=float(len(security)),
        unit="updates",
        threshold=1,
        message=message,
        started_at=utcnow(),
        details={
            "security": [f"{u.package} {u.current} -> {u.available}" for u in security],
            "other": [u.package for u in listing.upgrades if not u.security],
            "unparsed": listing.unparsed[:20],
        },
    )


def local_upgradable() -> str:
    """This host's list, from apt's cached index (refreshing it is the package manager's job)."""
    if shutil.which("apt") is None:
        raise FileNotFoundError("apt not found: this host's packages cannot be reviewed")
    completed = subprocess.run(
        ["apt", "list", "--upgradable"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    return completed.stdout


@task(name="review-system-updates", cache_policy=NO_CACHE, timeout_seconds=300)
def review_system_updates(reports: list[Path], check_local: bool = True) -> list[CheckResult]:
    """The runbook's `check-system-updates.sh` and `review-security-patches.sh`."""
    results = []
    if check_local:
        try:
            results.append(judge_upgrades("this host", parse_upgradable(local_upgradable())))
        except (OSError, subprocess.SubprocessError) as error:
            results.append(PATCHES.error("this host", error))
    for report in reports:
        try:
            results.append(judge_upgrades(report.stem, parse_upgradable(report.read_text())))
        except OSError as error:
            results.append(PATCHES.error(report.stem, error))
    return results or [PATCHES.skipped("no hosts to review")]
