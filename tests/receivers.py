"""Real receivers on loopback for notification tests: a webhook recorder and an SMTP server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from opsbook.demo.server import LoopbackServer, Reply, Request
from tests.conftest import free_port


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver(LoopbackServer):
    """Records every POST (path, headers, exact body); `/fail` answers 500, `/reject` 403."""

    def __init__(self) -> None:
        self.received: list[Recorded] = []
        self._lock = threading.Lock()

        def record(request: Request) -> Reply:
            with self._lock:
                self.received.append(Recorded(request.path, dict(request.headers), request.body))
            if request.path.startswith("/fail"):
                return Reply(500, "down")
            if request.path == "/reject":
                return Reply(403, "forbidden")
            return Reply(200, "ok")

        super().__init__({p: record for p in ("/slack", "/hook", "/fail", "/reject", "/prefect")})

    def on(self, path: str) -> list[Recorded]:
        return [r for r in self.received if r.path == path]


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, so STARTTLS is verified for real."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    """aiosmtpd requiring STARTTLS and AUTH with one user; keeps every accepted message."""

    port: int
    ca_file: Path
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[list[str]] = field(default_factory=list)  # RCPT TO of each accepted message
    logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.server.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.server.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"


def start_smtp(tmp_path: Path, user: str, password: str) -> tuple[SmtpServer, Controller]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(free_port(), cert)

    def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
        if ok:
            server.logins.append(user)
        return AuthResult(success=ok)

    controller = Controller(
        _Handler(server),
        hostname="127.0.0.1",
        port=server.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    return server, controller
