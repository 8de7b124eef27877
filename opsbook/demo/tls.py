"""Real TLS on loopback: certificates made with `cryptography`, and a server that presents one.

For the demo estate and for tests: a check meets a real handshake with a real certificate,
expired, about to expire, for the wrong name, self-signed or signed by a private CA.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Issued:
    """A certificate and its key, as PEM files in a folder."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def issue(
    folder: Path,
    stem: str,
    names: list[str],
    *,
    days_left: float = 365,
    issuer: Issued | None = None,
    ca: bool = False,
    days_valid_before: float = 30,
) -> Issued:
    """A certificate for `names` expiring in `days_left` days (negative: already expired).

    Signed by `issuer`, or self-signed when there is none.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = _name(names[0] if names else stem)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=days_valid_before))
        .not_valid_after(now + timedelta(days=days_left))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(_san(names), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    certificate = builder.sign((issuer.key if issuer else key), hashes.SHA256())
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return Issued(certificate, key, cert_path, key_path)


class TlsServer:
    """Accepts TLS connections on 127.0.0.1, completes the handshake, then closes."""

    def __init__(
        self, issued: Issued, chain: list[Issued] | None = None, minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    ) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():  # an old minimum (a legacy server to detect) is deliberate
            warnings.simplefilter("ignore", DeprecationWarning)
            self.context.minimum_version = minimum
        if chain:
            bundle = issued.cert_path.with_suffix(".chain.pem")
            bundle.write_bytes(issued.cert_path.read_bytes() + b"".join(c.cert_path.read_bytes() for c in chain))
            self.context.load_cert_chain(bundle, issued.key_path)
        else:
            self.context.load_cert_chain(issued.cert_path, issued.key_path)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="loopback-tls", daemon=True)

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handshake, args=(connection,), daemon=True).start()

    def _handshake(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        try:
            with self.context.wrap_socket(connection, server_side=True) as tls:
                tls.recv(1)  # wait for the client to finish with us
        except (ssl.SSLError, OSError):
            pass  # a client refusing the certificate is the point of some tests
        finally:
            connection.close()

    def start(self) -> TlsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()

    def __enter__(self) -> TlsServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
