"""TLS certificate checks against real TLS servers on loopback, with certificates made here."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.config.security import CertificatePolicy, CertificateTarget
from opsbook.demo.tls import Issued, TlsServer, issue
from opsbook.results import Status
from opsbook.tasks.security.certificates import CertificateFacts, judge_certificate, names_match
from opsbook.tasks.security.checks import certificate_results
from tests.conftest import free_port
from tests.helpers import estate

NAME = "app.example.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Issued]:
    folder = tmp_path_factory.mktemp("pki")
    ca = issue(folder, "ca", ["opsbook test CA"], days_left=3650, ca=True)
    return {
        "ca": ca,
        "valid": issue(folder, "valid", [NAME], days_left=200, issuer=ca),
        "expiring_5": issue(folder, "expiring-5", [NAME], days_left=5, issuer=ca),
        "expiring_20": issue(folder, "expiring-20", [NAME], days_left=20, issuer=ca),
        "expired": issue(folder, "expired", [NAME], days_left=-3, issuer=ca),
        "wrong_name": issue(folder, "wrong-name", ["other.example.test"], days_left=200, issuer=ca),
        "self_signed": issue(folder, "self-signed", [NAME], days_left=200),
        "wildcard": issue(folder, "wildcard", ["*.example.test"], days_left=200, issuer=ca),
    }


def _check(tmp_path: Path, pki: dict[str, Issued], targets: list[dict[str, object]], **policy: object) -> list:
    config = estate(
        tmp_path,
        security={
            "certificates": targets,
            "certificate_policy": {"ca_bundle": str(pki["ca"].cert_path), "timeout_s": 5, **policy},
        },
    )
    return asyncio.run(certificate_results(config))


CASES = [
    ("valid", Status.OK, "valid, expires in"),
    ("expiring_20", Status.WARN, "expires in 20 days"),
    ("expiring_5", Status.FAIL, "expires in 5 days"),
    ("expired", Status.FAIL, "expired 3 days ago"),
    ("wrong_name", Status.FAIL, f"not valid for {NAME}"),
    ("self_signed", Status.FAIL, "untrusted chain"),
    ("wildcard", Status.OK, "valid"),
]


def test_each_certificate_is_judged_correctly(tmp_path: Path, pki: dict[str, Issued]) -> None:
    servers = {case: TlsServer(pki[case]).start() for case, _, _ in CASES}
    try:
        results = _check(tmp_path, pki, [{"endpoint": servers[c].endpoint, "server_name": NAME} for c, _, _ in CASES])
    finally:
        for server in servers.values():
            server.stop()
    for (case, status, words), result in zip(CASES, results, strict=True):
        assert (case, result.status) == (case, status), result.message
        assert words in result.message, (case, result.message)
    by_case = dict(zip((c for c, _, _ in CASES), results, strict=True))
    assert by_case["expiring_5"].value == pytest.approx(5, abs=0.1)
    assert by_case["expired"].details["chain_error"] and "untrusted" not in by_case["expired"].message
    assert by_case["self_signed"].details["self_signed"] is True
    assert by_case["valid"].details["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert by_case["valid"].details["signature_hash"] == "sha256"


def test_without_the_ca_bundle_the_private_ca_is_untrusted(tmp_path: Path, pki: dict[str, Issued]) -> None:
    with TlsServer(pki["valid"]) as server:
        config = estate(tmp_path, security={"certificates": [{"endpoint": server.endpoint, "server_name": NAME}]})
        (result,) = asyncio.run(certificate_results(config))
    assert result.status is Status.FAIL and "untrusted chain" in result.message


def test_protocol_older_than_the_policy_fails(tmp_path: Path, pki: dict[str, Issued]) -> None:
    server = TlsServer(pki["valid"])
    server.context.maximum_version = ssl.TLSVersion.TLSv1_2
    with server:
        (result,) = _check(
            tmp_path, pki, [{"endpoint": server.endpoint, "server_name": NAME}], min_tls_version="TLSv1.3"
        )
    assert result.status is Status.FAIL
    assert "negotiated TLSv1.2, policy needs TLSv1.3" in result.message


def test_a_server_that_still_accepts_tls_1_0_and_1_1_fails_one_that_refuses_them_passes(
    tmp_path: Path, pki: dict[str, Issued]
) -> None:
    legacy = TlsServer(pki["valid"], minimum=ssl.TLSVersion.TLSv1)
    legacy.context.set_ciphers("DEFAULT:@SECLEVEL=0")  # what an old load balancer still allows
    modern = TlsServer(pki["valid"])  # TLS 1.2 and newer only
    with legacy, modern:
        old, new = _check(
            tmp_path,
            pki,
            [{"endpoint": legacy.endpoint, "server_name": NAME}, {"endpoint": modern.endpoint, "server_name": NAME}],
        )
    assert old.status is Status.FAIL and old.details["protocol"] == "TLSv1.3"  # it negotiates the best...
    assert "still accepts TLSv1, TLSv1.1 (policy needs TLSv1.2 or newer)" in old.message  # ...and the worst
    assert new.status is Status.OK and new.details["accepts_old"] == []


def test_nothing_listening_is_an_error_not_ok(tmp_path: Path, pki: dict[str, Issued]) -> None:
    (result,) = _check(tmp_path, pki, [{"endpoint": f"127.0.0.1:{free_port()}", "server_name": NAME}])
    assert result.status is Status.ERROR
    assert "ConnectionRefusedError" in result.message


def test_weak_signature_hash_fails() -> None:
    facts = CertificateFacts(
        subject="CN=x",
        issuer="CN=ca",
        not_after=datetime.now(UTC) + timedelta(days=300),
        names=[NAME],
        signature_hash="sha1",
        protocol="TLSv1.3",
        self_signed=False,
    )
    result = judge_certificate(CertificateTarget(endpoint="h:443", server_name=NAME), CertificatePolicy(), facts)
    assert result.status is Status.FAIL and "weak signature hash sha1" in result.message


def test_name_matching_follows_rfc_6125() -> None:
    assert names_match(["*.example.test"], "app.example.test")
    assert not names_match(["*.example.test"], "a.b.example.test")
    assert not names_match(["*.example.test"], "example.test")
    assert names_match(["App.Example.Test"], "app.example.test.")
    assert names_match(["127.0.0.1"], "127.0.0.1") and not names_match(["127.0.0.1"], "127.0.0.2")
