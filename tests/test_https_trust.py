"""One trust setting for every HTTPS call: `http.ca_bundle`, or a target's own `ca_bundle`.

Real HTTPS servers on loopback behind a private CA made here: metrics sources, webhooks and the
certificate check trust it through the shared key or their own, and refuse it without; the
certificate behind a platform's answer is read even when the request's connection cannot give it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from opsbook.config import parse_config
from opsbook.config.tls import Trust
from opsbook.demo.server import LoopbackServer, Reply, Request
from opsbook.demo.tls import Issued, TlsServer, issue
from opsbook.results import Status
from opsbook.tasks.app_metrics import try_mapping
from opsbook.tasks.http import FetchedResponse
from opsbook.tasks.notify import deliver_test_alerts
from opsbook.tasks.platforms import read_certificate
from opsbook.tasks.security.checks import certificate_results
from tests.helpers import estate

NAME = "127.0.0.1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Issued]:
    folder = tmp_path_factory.mktemp("trust")
    ca = issue(folder, "private-ca", [], ca=True, days_left=3650)
    other = issue(folder, "other-ca", [], ca=True, days_left=3650)
    return {"ca": ca, "other": other, "server": issue(folder, "server", [NAME], issuer=ca, days_left=90)}


def api_source(server: LoopbackServer, **fields: Any) -> dict[str, Any]:
    endpoint = {"name": "status", "step": "security", "path": "/api/status", "conditions": ["[BODY].ok == true"]}
    return {"kind": "json_api", "name": "app", "base_url": server.url("/"), "endpoints": [endpoint], **fields}


def mapping(tmp_path: Path, *sources: dict[str, Any], **http: Any) -> list:
    config = estate(tmp_path, metrics_sources=list(sources), http={"timeout_s": 2, "retries": 0, **http})
    return asyncio.run(try_mapping(config))


def test_a_metrics_source_trusts_the_shared_bundle_its_own_or_nothing(tmp_path: Path, pki: dict[str, Issued]) -> None:
    with LoopbackServer({"/api/status": lambda r: Reply.json({"ok": True})}, tls=pki["server"]) as server:
        untrusted = mapping(tmp_path, api_source(server))
        shared = mapping(tmp_path, api_source(server), ca_bundle=str(pki["ca"].cert_path))
        own = mapping(
            tmp_path, api_source(server, ca_bundle=str(pki["ca"].cert_path)), ca_bundle=str(pki["other"].cert_path)
        )
        unverified = mapping(tmp_path, api_source(server, verify_tls=False))
    assert untrusted[0].status is Status.ERROR and "CERTIFICATE_VERIFY_FAILED" in untrusted[0].message
    assert [r.status for r in shared] == [Status.OK, Status.OK]
    assert [r.status for r in own] == [Status.OK, Status.OK]
    assert unverified[0].status is Status.OK and "TLS not verified" in unverified[0].message
    assert all(r.labels["tls"] == "not verified" for r in unverified)


def test_a_metrics_source_names_a_redirect_and_follows_it_when_told(tmp_path: Path) -> None:
    routes = {
        "/api/status": lambda r: Reply(307, "", {"Location": "/v2/api/status"}),
        "/v2/api/status": lambda r: Reply.json({"ok": True}),
    }
    with LoopbackServer(routes) as server:
        [named] = mapping(tmp_path, api_source(server))
        followed = mapping(tmp_path, api_source(server, follow_redirects=True))
    assert named.status is Status.ERROR and f"HTTP 307 to {server.url('/v2/api/status')}" in named.message
    assert [r.status for r in followed] == [Status.OK, Status.OK]


def test_credentials_do_not_follow_a_redirect_to_another_origin(tmp_path: Path) -> None:
    seen: list[str | None] = []

    def elsewhere(request: Request) -> Reply:
        seen.append(request.headers.get("authorization"))
        return Reply.json({"ok": True})

    with LoopbackServer({"/api/status": elsewhere}) as other:
        routes = {"/api/status": lambda r: Reply(302, "", {"Location": other.url("/api/status")})}
        with LoopbackServer(routes) as server:
            results = mapping(
                tmp_path, api_source(server, follow_redirects=True, headers={"Authorization": "Bearer s3"})
            )
    assert [r.status for r in results] == [Status.OK, Status.OK]
    assert seen == [None]  # as httpx does: the token stays with the origin it was meant for


def _webhook_config(tmp_path: Path, url: str, **channel: Any) -> Any:
    return parse_config(
        {
            "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
            "http": {"timeout_s": 2, "backoff_s": 0.01, **channel.pop("http", {})},
            "notifications": {"retries": 0, "channels": [{"name": "hook", "type": "webhook", "url": url, **channel}]},
        },
        base_dir=tmp_path,
    )


def test_a_webhook_behind_the_private_ca_is_delivered_through_either_key(
    tmp_path: Path, pki: dict[str, Issued]
) -> None:
    got: list[bytes] = []

    def receive(request: Request) -> Reply:
        got.append(request.body)
        return Reply(200, "ok")

    with LoopbackServer({"/hook": receive}, tls=pki["server"]) as server:
        url = server.url("/hook")
        [refused] = asyncio.run(deliver_test_alerts.fn(_webhook_config(tmp_path, url)))
        [shared] = asyncio.run(
            deliver_test_alerts.fn(_webhook_config(tmp_path, url, http={"ca_bundle": str(pki["ca"].cert_path)}))
        )
        [own] = asyncio.run(deliver_test_alerts.fn(_webhook_config(tmp_path, url, ca_bundle=str(pki["ca"].cert_path))))
    assert refused.status is Status.FAIL and "CERTIFICATE_VERIFY_FAILED" in refused.message
    assert shared.status is Status.OK and own.status is Status.OK
    assert len(got) == 2  # the refused delivery never reached the server


def test_the_certificate_check_trusts_http_ca_bundle_and_a_target_bundle(
    tmp_path: Path, pki: dict[str, Issued]
) -> None:
    with TlsServer(pki["server"]) as server:
        target = {"endpoint": server.endpoint, "server_name": NAME}
        shared = estate(tmp_path, http={"ca_bundle": str(pki["ca"].cert_path)}, security={"certificates": [target]})
        own = estate(
            tmp_path,
            http={"ca_bundle": str(pki["other"].cert_path)},
            security={"certificates": [{**target, "ca_bundle": str(pki["ca"].cert_path)}]},
        )
        alias = estate(
            tmp_path, security={"certificates": [target], "certificate_policy": {"ca_bundle": str(pki["ca"].cert_path)}}
        )
        none = estate(tmp_path, security={"certificates": [target]})
        results = {
            name: asyncio.run(certificate_results(c))[0]
            for name, c in [("shared", shared), ("own", own), ("alias", alias), ("none", none)]
        }
    for name in ("shared", "own", "alias"):
        assert results[name].status is Status.OK, (name, results[name].message)
    assert results["none"].status is Status.FAIL and "untrusted chain" in results["none"].message


def test_the_certificate_is_read_by_a_handshake_when_the_answer_did_not_carry_it(
    tmp_path: Path, pki: dict[str, Issued]
) -> None:
    with LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}, tls=pki["server"]) as server:
        config = estate(
            tmp_path,
            http={"ca_bundle": str(pki["ca"].cert_path)},
            platforms=[{"name": "fly", "url": server.url("/health"), "conditions": ["[CERTIFICATE_EXPIRATION] > 30d"]}],
        )
        answer = FetchedResponse(200, {}, b"{}", 1.0, url=server.url("/health"))  # no peer certificate on it
        read = asyncio.run(read_certificate(config.platforms[0], answer, config.http.trust(), 2))
        untrusted = asyncio.run(read_certificate(config.platforms[0], answer, Trust(), 2))
    assert read.read_from.startswith("a separate TLS handshake") and read.left_s == pytest.approx(90 * 86400, abs=600)
    assert read.left_s is not None and untrusted.left_s is None and "certificate not read" in untrusted.problem
