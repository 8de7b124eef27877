"""The demo estate's security part: a brute-forced sshd log, an attacked web log, a TLS endpoint.

The logs are written with times relative to now, so the daily window always sees them; the TLS
endpoint presents a certificate from a demo CA that expires in 20 days (a warning to act on).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsbook.demo.tls import TlsServer, issue

ATTACKER = "203.0.113.9"


def write_logs(folder: Path) -> tuple[Path, Path]:
    now = datetime.now(UTC)
    start = now - timedelta(hours=2)

    def stamp(t: datetime) -> str:
        return f"{t:%b} {t.day:>2} {t:%H:%M:%S}"

    auth = [
        f"{stamp(start + timedelta(seconds=5 * i))} web1 sshd[{900 + i}]: Failed password for root from {ATTACKER} "
        f"port {40000 + i} ssh2"
        for i in range(40)
    ]
    auth.append(
        f"{stamp(now - timedelta(minutes=30))} web1 sshd[990]: Accepted publickey for deploy from 192.0.2.10 "
        "port 50000 ssh2"
    )
    web = [
        f"192.0.2.{i % 50} - - [{start + timedelta(seconds=i):%d/%b/%Y:%H:%M:%S +0000}] "
        '"GET /courses HTTP/1.1" 200 1024 "-" "Mozilla/5.0"'
        for i in range(200)
    ]
    web.append(
        f"{ATTACKER} - - [{now - timedelta(minutes=10):%d/%b/%Y:%H:%M:%S +0000}] "
        '"GET /search?q=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1" 500 0 "-" "sqlmap/1.7"'
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "auth.log").write_text("\n".join(auth) + "\n")
    (folder / "access.log").write_text("\n".join(web) + "\n")
    return folder / "auth.log", folder / "access.log"


def start_security(workdir: Path) -> tuple[TlsServer, dict[str, Any]]:
    """Start the demo TLS endpoint; return it and the `security` config section for the demo."""
    auth, access = write_logs(workdir / "logs")
    ca = issue(workdir / "pki", "demo-ca", ["opsbook demo CA"], days_left=3650, ca=True)
    server = TlsServer(issue(workdir / "pki", "app", ["app.demo.test"], days_left=20, issuer=ca)).start()
    return server, {
        "auth_logs": [str(auth)],
        "access_logs": [str(access)],
        "certificates": [{"endpoint": server.endpoint, "server_name": "app.demo.test"}],
        "certificate_policy": {"ca_bundle": str(ca.cert_path)},
        "blocklist": str(workdir / "nginx-deny.conf"),
    }
