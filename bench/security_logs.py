"""How fast the security log parsers and findings run: real files, then a large generated auth log.

Run: `PYTHONPATH=. python bench/security_logs.py [lines]` from the repository root. Prints lines per second.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsbook.config.security import BruteForceRule, BurstRule
from opsbook.tasks.security.accesslog import parse_access_log
from opsbook.tasks.security.authlog import parse_auth_log
from opsbook.tasks.security.findings import access_findings, auth_findings

SHARED = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()), None
)


def timed(label: str, lines: int, action) -> None:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {lines:>9,} lines {seconds * 1000:>9.0f} ms {lines / seconds:>12,.0f} lines/s")


def main(generated_lines: int) -> None:
    now = datetime.now(UTC)
    if SHARED:
        ssh, apache = SHARED / "loghub/OpenSSH/OpenSSH_2k.log", SHARED / "weblogs/apache_logs"
        timed(
            "parse + findings OpenSSH_2k.log",
            2000,
            lambda: auth_findings(parse_auth_log(ssh, now).events, BruteForceRule()),
        )
        timed(
            "parse + findings apache_logs",
            10_000,
            lambda: access_findings(parse_access_log(apache).events, BurstRule()),
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "auth.log"
        start = now - timedelta(hours=23)
        with path.open("w") as handle:
            for i in range(generated_lines):
                t = start + timedelta(seconds=i * 80_000 / generated_lines)
                handle.write(
                    f"{t:%b} {t.day:>2} {t:%H:%M:%S} web1 sshd[{i}]: Failed password for root from "
                    f"198.51.{i % 200}.{i % 250} port {i % 60000} ssh2\n"
                )
        timed(
            "parse + findings generated auth.log",
            generated_lines,
            lambda: auth_findings(parse_auth_log(path, now).events, BruteForceRule()),
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
