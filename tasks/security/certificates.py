"""TLS certificates of `host:port` endpoints: expiry, name, chain, protocol, signature.

Two handshakes: the first accepts any certificate so that even a broken one can be read and
described (expiry, names, signature); the second verifies the chain against the system's CAs
plus a configured bundle. The name is matched separately, so an expired certificate for the
wrong name is reported as both. Then one handshake per protocol older than the policy's minimum,
offering only that protocol: a server that still accepts one fails, as testssl.sh would flag it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from opsbook.checks import AlertType, declare
from opsbook.config.security import CertificatePolicy, CertificateTarget
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, judge, utcnow

COMPONENT = "security"

CERTIFICATE = declare(
    "security.certificate",
    title="TLS certificate",
    component=COMPONENT,
    alert_type=AlertType.SECURITY,
    severity=Severity.P2,
    unit="days",
    on_fail=(
        "Renew or fix the certificate now (expiry under 7 days, wrong name, untrusted chain, old TLS or weak hash)."
    ),
    on_warn="The certificate expires within 30 days: renew it and check the automation (certbot/ACME) is running.",
    runbook_steps=(
        "Security Health Check / Checking security policy compliance",
        "Weekly Maintenance Routine / Checking SSL certificate status",
        "System Health Validation (08:00 UTC) / Checking security status",
        "Monthly System Optimization / Reviewing security configurations",
    ),
)
_VERSIONS = {"SSLv3": 0, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}


@dataclass
class CertificateFacts:
    """What one endpoint presented, before any judgement."""

    subject: str
    issuer: str
    not_after: datetime
    names: list[str]
    signature_hash: str | None
    protocol: str
    self_signed: bool
    chain_error: str | None = None
    accepts_old: list[str] = field(default_factory=list)  # protocols older than the policy the server accepts
    extra: dict[str, object] = field(default_factory=dict)


def _handshake(target: CertificateTarget, context: ssl.SSLContext, timeout_s: float) -> tuple[bytes, str]:
    with (
        socket.create_connection((target.host, target.port), timeout=timeout_s) as raw,
        context.wrap_socket(raw, server_hostname=target.name) as tls,
    ):
        return tls.getpeercert(binary_form=True) or b"", tls.version() or "unknown"


def _reading_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _verifying_context(ca_bundle: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False  # matched by names_match, so the other findings still show
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


_PROTOCOLS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2}


def _only(version: str) -> ssl.SSLContext:
    """A client offering exactly one protocol, with the old ciphers it needs (OpenSSL's security
    level 0), certificate unchecked: the question is only whether the server agrees to talk it."""
    context = _reading_context()
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # offering a deprecated protocol on purpose is the probe
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = _PROTOCOLS[version]
    return context


def old_protocols_accepted(target: CertificateTarget, minimum: str, timeout_s: float) -> list[str]:
    """Protocols older than `minimum` the endpoint still completes a handshake with."""
    accepted = []
    for version in (v for v in _PROTOCOLS if _VERSIONS[v] < _VERSIONS[minimum]):
        try:
            _handshake(target, _only(version), timeout_s)
        except (ssl.SSLError, ConnectionResetError):  # refused: as it should be
            continue
        accepted.append(version)
    return accepted


def names_of(certificate: x509.Certificate) -> list[str]:
    """DNS names and IP addresses of the SAN extension (the CN only when there is no SAN)."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [
            a.value for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if isinstance(a.value, str)
        ]
    return [*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))]


def names_match(names: list[str], wanted: str) -> bool:
    """RFC 6125 matching: exact (case-insensitive) or a wildcard for exactly the leftmost label."""
    wanted = wanted.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(wanted)
    except ValueError:
        ip = None
    for name in (n.lower().rstrip(".") for n in names):
        if ip is not None:
            if name == str(ip):
                return True
            continue
        if name == wanted:
            return True
        if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
            return True
    return False


def inspect_endpoint(
    target: CertificateTarget, policy: CertificatePolicy, ca_bundle: Path | None = None
) -> CertificateFacts:
    """Read the endpoint's certificate and try to verify its chain; network errors propagate.

    The chain is verified against the system's CAs plus the first bundle named: the target's own,
    the policy's (the older key), then `ca_bundle` (the caller passes `http.ca_bundle`).
    """
    der, protocol = _handshake(target, _reading_context(), policy.timeout_s)
    certificate = x509.load_der_x509_certificate(der)
    chain_error = None
    bundle = target.ca_bundle or policy.ca_bundle or ca_bundle
    try:
        _handshake(target, _verifying_context(bundle), policy.timeout_s)
    except ssl.SSLCertVerificationError as error:
        chain_error = error.verify_message or str(error)
    hash_algorithm = certificate.signature_hash_algorithm
    return CertificateFacts(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
        names=names_of(certificate),
        signature_hash=hash_algorithm.name if hash_algorithm else None,
        protocol=protocol,
        self_signed=certificate.issuer == certificate.subject,
        chain_error=chain_error,
        accepts_old=old_protocols_accepted(target, policy.min_tls_version, policy.timeout_s),
    )


def judge_certificate(
    target: CertificateTarget, policy: CertificatePolicy, facts: CertificateFacts, now: datetime | None = None
) -> CheckResult:
    """Days left judged warn/fail; a wrong name, an untrusted chain, old TLS or a weak hash fail."""
    now = now or utcnow()
    days = (facts.not_after - now).total_seconds() / 86400
    status, threshold = judge(days, policy.days_left.warn, policy.days_left.fail, higher_is_worse=False)
    problems = (
        [f"expired {-days:.0f} days ago" if days < 0 else f"expires in {days:.0f} days"]
        if status is not Status.OK
        else []
    )
    failures = []
    if not names_match(facts.names, target.name):
        failures.append(f"not valid for {target.name} (names: {', '.join(facts.names) or 'none'})")
    # An expired certificate is refused for its date; that is reported above, not as a chain fault.
    if facts.chain_error and "expired" not in facts.chain_error:
        failures.append(f"untrusted chain: {facts.chain_error}" + (" (self-signed)" if facts.self_signed else ""))
    if _VERSIONS.get(facts.protocol, -1) < _VERSIONS[policy.min_tls_version]:
        failures.append(f"negotiated {facts.protocol}, policy needs {policy.min_tls_version} or newer")
    elif facts.accepts_old:
        failures.append(
            f"still accepts {', '.join(facts.accepts_old)} (policy needs {policy.min_tls_version} or newer)"
        )
    if facts.signature_hash and facts.signature_hash.lower() in policy.weak_signature_hashes:
        failures.append(f"weak signature hash {facts.signature_hash}")
    if failures:
        status = Status.FAIL
    message = "; ".join(problems + failures) or f"valid, expires in {days:.0f} days"
    details = {
        "endpoint": target.endpoint,
        "server_name": target.name,
        "subject": facts.subject,
        "issuer": facts.issuer,
        "not_after": facts.not_after.isoformat(),
        "names": facts.names,
        "signature_hash": facts.signature_hash,
        "protocol": facts.protocol,
        "self_signed": facts.self_signed,
        "chain_error": facts.chain_error,
        "accepts_old": facts.accepts_old,
    }
    return CERTIFICATE.result(
        target.endpoint,
        status,
        value=round(days, 1),
        unit="days",
        threshold=threshold,
        message=message,
        details=details,
        labels={"server_name": target.name},
    )
