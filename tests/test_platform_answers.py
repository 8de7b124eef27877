"""Platforms judge the answer, not only its status line: real HTTP and HTTPS servers on loopback.

A 200 that says `degraded`, a 200 maintenance page, conditions on body, status, response time
and certificate expiry, redirects named and followed, flap control across stored runs, and one
trust setting (`http.ca_bundle`, a per-target `ca_bundle`) for a private CA.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.config import ConfigError, EstateConfig
from opsbook.demo.server import LoopbackServer, Reply
from opsbook.demo.tls import Issued, issue
from opsbook.results import CheckResult, Status
from opsbook.store import open_store
from opsbook.tasks.platforms import check_platform_health, probe_platforms
from tests.helpers import estate

MAINTENANCE = "<html><head><title>Down for maintenance</title></head><body><h1>Back soon</h1></body></html>"


def probe(tmp_path: Path, platforms: list[dict], **sections: object) -> list[CheckResult]:
    http = {"timeout_s": 2, "retries": 0, "backoff_s": 0.01, **sections.pop("http", {})}  # type: ignore[dict-item]
    return asyncio.run(probe_platforms(estate(tmp_path, platforms=platforms, http=http, **sections)))


def one(tmp_path: Path, platform: dict, **sections: object) -> CheckResult:
    [result] = probe(tmp_path, [{"name": "fly", **platform}], **sections)
    return result


@pytest.mark.parametrize(
    ("said", "status"),
    [
        ("degraded", Status.WARN),  # answers, part of it impaired: amber, not a DR-triggering "down"
        ("Degraded", Status.WARN),  # case-insensitive
        ("unhealthy", Status.FAIL),
        ("DOWN", Status.FAIL),  # Spring Boot's spelling
        ("error", Status.FAIL),
        ("fail", Status.FAIL),
        ("ok", Status.OK),
        ("UP", Status.OK),
    ],
)
def test_a_json_body_status_is_judged_by_default(tmp_path: Path, said: str, status: Status) -> None:
    with LoopbackServer({"/api/health": lambda r: Reply.json({"status": said})}) as server:
        result = one(tmp_path, {"url": server.url("/api/health")})
    assert result.status is status
    if status is Status.OK:
        assert result.message.startswith("healthy: HTTP 200")
    else:
        assert f"the body says status {said!r}" in result.message and "HTTP 200" in result.message
        assert result.details["body_status"] == said


def test_body_status_follows_the_config_when_it_says_otherwise(tmp_path: Path) -> None:
    routes = {"/health": lambda r: Reply.json({"status": "degraded", "state": {"overall": "RED"}})}
    with LoopbackServer(routes) as server:
        off, own_field, own_condition = probe(
            tmp_path,
            [
                {"name": "off", "url": server.url("/health"), "body_status": None},
                {
                    "name": "own",
                    "url": server.url("/health"),
                    "body_status": {"path": "state.overall", "fail": ["red"]},
                },
                {"name": "cond", "url": server.url("/health"), "conditions": ["[BODY].status != down"]},
            ],
        )
    assert off.status is Status.OK  # turned off: the body's verdict is not read
    assert own_field.status is Status.FAIL and "the body says state.overall 'RED'" in own_field.message
    # A condition on the same field speaks for it: degraded != down holds, so the default stays silent.
    assert own_condition.status is Status.OK and "body_status" not in own_condition.details


def test_a_200_maintenance_page_where_json_was_expected_fails_naming_the_page(tmp_path: Path) -> None:
    page = lambda r: Reply(200, MAINTENANCE, {"Content-Type": "text/html; charset=utf-8"})  # noqa: E731 - a route
    untitled = lambda r: Reply(200, "<div>We are upgrading our systems</div>", {})  # noqa: E731 - no Content-Type
    with LoopbackServer({"/api/health": page, "/healthz": untitled, "/": page}) as server:
        titled, sniffed, homepage, asked = probe(
            tmp_path,
            [
                {"name": "titled", "url": server.url("/api/health")},
                {"name": "sniffed", "url": server.url("/healthz")},
                {"name": "home", "url": server.url("/")},  # a homepage is HTML by right
                {"name": "asked", "url": server.url("/"), "expect_json": True},
            ],
        )
    assert titled.status is Status.FAIL
    assert "an HTML page where JSON was expected (text/html)" in titled.message
    assert "page titled 'Down for maintenance'" in titled.message
    assert sniffed.status is Status.FAIL and "page starting 'We are upgrading our systems'" in sniffed.message
    assert homepage.status is Status.OK
    assert asked.status is Status.FAIL and "Down for maintenance" in asked.message


def test_plain_text_health_answers_stay_healthy(tmp_path: Path) -> None:
    with LoopbackServer({"/healthz": lambda r: Reply(200, "ok", {"Content-Type": "text/plain"})}) as server:
        result = one(tmp_path, {"url": server.url("/healthz")})
    assert result.status is Status.OK  # Kubernetes-style `ok`: not JSON, not HTML, nothing to hold against it


def test_conditions_on_body_status_and_response_time(tmp_path: Path) -> None:
    body = {"status": "ok", "db": {"connected": False}, "queue": [1, 2, 3]}
    routes = {
        "/health": lambda r: Reply.json(body),
        "/slow/health": lambda r: Reply.json(body, delay_s=0.3),
    }
    with LoopbackServer(routes) as server:
        held, broken, warned, slow, missing = probe(
            tmp_path,
            [
                {
                    "name": "held",
                    "url": server.url("/health"),
                    "conditions": ["[STATUS] == 200", "len([BODY].queue) < 5"],
                },
                {"name": "broken", "url": server.url("/health"), "conditions": ["[BODY].db.connected == true"]},
                {
                    "name": "warned",
                    "url": server.url("/health"),
                    "conditions": [{"condition": "len([BODY].queue) == 0", "severity": "warn"}],
                },
                {"name": "slow", "url": server.url("/slow/health"), "conditions": ["[RESPONSE_TIME] < 200"]},
                {"name": "missing", "url": server.url("/health"), "conditions": ["[BODY].cache.hits > 0"]},
            ],
        )
    assert held.status is Status.OK and [c["passed"] for c in held.details["conditions"]] == [True, True]
    assert broken.status is Status.FAIL
    assert "[BODY].db.connected == true does not hold (false == true)" in broken.message
    assert warned.status is Status.WARN and "does not hold (3 == 0)" in warned.message
    assert slow.status is Status.FAIL and "[RESPONSE_TIME] < 200 does not hold" in slow.message
    assert missing.status is Status.ERROR and "cannot evaluate [BODY].cache.hits > 0" in missing.message


def test_a_body_condition_on_an_html_answer_cannot_be_evaluated_and_says_why(tmp_path: Path) -> None:
    page = lambda r: Reply(200, MAINTENANCE, {"Content-Type": "text/html"})  # noqa: E731 - a route
    with LoopbackServer({"/": page}) as server:
        result = one(tmp_path, {"url": server.url("/"), "conditions": ["[BODY].status == ok"]})
    assert result.status is Status.FAIL  # a condition reads [BODY]: JSON was expected
    assert "an HTML page where JSON was expected" in result.message
    assert "cannot evaluate [BODY].status == ok: not JSON" in result.message


# -- TLS: a private CA, certificates made here --------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Issued]:
    folder = tmp_path_factory.mktemp("pki")
    ca = issue(folder, "private-ca", [], ca=True, days_left=3650)
    other = issue(folder, "other-ca", [], ca=True, days_left=3650)
    return {
        "ca": ca,
        "other": other,
        "leaf": issue(folder, "leaf", ["127.0.0.1"], issuer=ca, days_left=10),
        "long": issue(folder, "long", ["127.0.0.1"], issuer=ca, days_left=200),
    }


def test_a_private_ca_is_trusted_through_http_ca_bundle_and_untrusted_without_it(
    tmp_path: Path, pki: dict[str, Issued]
) -> None:
    with LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}, tls=pki["long"]) as server:
        url = server.url("/health")
        untrusted = one(tmp_path, {"url": url})
        trusted = one(tmp_path, {"url": url}, http={"ca_bundle": str(pki["ca"].cert_path)})
        wrong = one(tmp_path, {"url": url}, http={"ca_bundle": str(pki["other"].cert_path)})
    assert untrusted.status is Status.FAIL and "CERTIFICATE_VERIFY_FAILED" in untrusted.message
    assert trusted.status is Status.OK and trusted.message.startswith("healthy: HTTP 200")
    assert wrong.status is Status.FAIL and "CERTIFICATE_VERIFY_FAILED" in wrong.message


def test_a_per_target_ca_bundle_overrides_the_shared_one(tmp_path: Path, pki: dict[str, Issued]) -> None:
    with LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}, tls=pki["long"]) as server:
        own, shared = probe(
            tmp_path,
            [
                {"name": "own", "url": server.url("/health"), "ca_bundle": str(pki["ca"].cert_path)},
                {"name": "shared", "url": server.url("/health")},
            ],
            http={"ca_bundle": str(pki["other"].cert_path)},
        )
    assert own.status is Status.OK
    assert shared.status is Status.FAIL and "CERTIFICATE_VERIFY_FAILED" in shared.message


def test_a_relative_ca_bundle_is_read_from_the_config_folder(tmp_path: Path, pki: dict[str, Issued]) -> None:
    (tmp_path / "ca.pem").write_bytes(pki["ca"].cert_path.read_bytes())
    config = estate(tmp_path, http={"ca_bundle": "ca.pem"})
    assert config.http.ca_bundle == (tmp_path / "ca.pem").resolve()


def test_a_missing_ca_bundle_is_an_error_on_its_target_only(tmp_path: Path, pki: dict[str, Issued]) -> None:
    with LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}, tls=pki["long"]) as server:
        missing, fine = probe(
            tmp_path,
            [
                {"name": "missing", "url": server.url("/health"), "ca_bundle": str(tmp_path / "gone.pem")},
                {"name": "fine", "url": server.url("/health"), "ca_bundle": str(pki["ca"].cert_path)},
            ],
        )
    assert missing.status is Status.ERROR  # not measured: never `down`, never ok
    assert "gone.pem cannot be read" in missing.message
    assert fine.status is Status.OK


def test_verify_tls_false_still_checks_but_says_so_on_every_result(tmp_path: Path, pki: dict[str, Issued]) -> None:
    with LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}, tls=pki["long"]) as server:
        result = one(tmp_path, {"url": server.url("/health"), "verify_tls": False})
    assert result.status is Status.OK
    assert "TLS not verified" in result.message and result.labels["tls"] == "not verified"


def test_certificate_expiration_is_read_from_the_real_connection(tmp_path: Path, pki: dict[str, Issued]) -> None:
    routes = {"/health": lambda r: Reply.json({"status": "ok"}), "/empty": lambda r: Reply(204)}
    with LoopbackServer(routes, tls=pki["leaf"]) as server:  # 10 days left
        short, fine, empty = probe(
            tmp_path,
            [
                {"name": "short", "url": server.url("/health"), "conditions": ["[CERTIFICATE_EXPIRATION] > 30d"]},
                {"name": "fine", "url": server.url("/health"), "conditions": ["[CERTIFICATE_EXPIRATION] > 168h"]},
                {
                    "name": "empty",
                    "url": server.url("/empty"),
                    "expected_status": 204,
                    "conditions": ["[CERTIFICATE_EXPIRATION] > 30d"],
                },
            ],
            http={"ca_bundle": str(pki["ca"].cert_path)},
        )
    expected_left = (pki["leaf"].certificate.not_valid_after_utc - datetime.now(UTC)).total_seconds()
    assert short.status is Status.FAIL
    assert re.search(r"\[CERTIFICATE_EXPIRATION\] > 30d does not hold \((9d23h\d*m?|10d) > 30d\)", short.message)
    assert abs(short.details["certificate"]["left_s"] - expected_left) < 120
    assert short.details["certificate"]["read_from"] == "the health request's own connection"
    assert fine.status is Status.OK
    assert empty.status is Status.FAIL and abs(empty.details["certificate"]["left_s"] - expected_left) < 120


def test_certificate_expiration_needs_https(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"platforms\[0\]: \[CERTIFICATE_EXPIRATION\] needs an https:// url"):
        estate(
            tmp_path,
            platforms=[{"name": "a", "url": "http://x/health", "conditions": ["[CERTIFICATE_EXPIRATION] > 1d"]}],
        )


# -- redirects -----------------------------------------------------------------------------------


def test_a_redirect_is_named_and_followed_only_when_configured(tmp_path: Path) -> None:
    routes = {
        "/health": lambda r: Reply(302, "", {"Location": "/v2/health"}),
        "/v2/health": lambda r: Reply.json({"status": "ok"}),
        "/loop": lambda r: Reply(301, "", {"Location": "/loop"}),
    }
    with LoopbackServer(routes) as server:
        named, followed, looped = probe(
            tmp_path,
            [
                {"name": "named", "url": server.url("/health")},
                {"name": "followed", "url": server.url("/health"), "follow_redirects": True},
                {"name": "looped", "url": server.url("/loop"), "follow_redirects": True, "max_redirects": 3},
            ],
        )
        loop_hits = server.hits["/loop"]
    assert named.status is Status.FAIL
    assert named.message == f"HTTP 302 to {server.url('/v2/health')}, expected 200"
    assert named.details["location"] == server.url("/v2/health")
    assert followed.status is Status.OK and followed.details["redirects"] == [server.url("/v2/health")]
    assert looped.status is Status.FAIL and loop_hits == 4  # the request and 3 hops, then it stops
    assert "HTTP 301 to" in looped.message and "after 3 redirect(s) followed" in looped.message


# -- flap control across runs, history on SQLite -------------------------------------------------


def run_daily(config: EstateConfig, run: int) -> CheckResult:
    """One checklist run: the task as the flow calls it, its results stored as the flow stores them."""
    [result] = asyncio.run(check_platform_health.fn(config))
    started = datetime.now(UTC) - timedelta(minutes=10 - run)
    result = result.model_copy(update={"started_at": started})
    open_store(config.history.url).record_run(
        run_id=f"run-{run}", flow="daily", estate="t", started_at=started, finished_at=started, results=[result]
    )
    return result


def test_failure_and_success_thresholds_hold_across_stored_runs(tmp_path: Path) -> None:
    answers = iter(["down", "down", "ok", "down", "ok", "ok", "ok"])
    with LoopbackServer({"/health": lambda r: Reply.json({"status": next(answers)})}) as server:
        config = estate(
            tmp_path,
            platforms=[{"name": "fly", "url": server.url("/health"), "failure_threshold": 2, "success_threshold": 2}],
            http={"timeout_s": 2, "retries": 0},
        )
        seen = [run_daily(config, run) for run in range(7)]
    assert [r.status for r in seen] == [
        Status.WARN,  # failing 1 of 2: not yet
        Status.FAIL,  # 2 of 2: down
        Status.FAIL,  # measured ok, but 1 of 2 successes: still held
        Status.FAIL,  # failed again: the failure never ended, no new streak to wait for
        Status.FAIL,  # recovering 1 of 2
        Status.OK,  # 2 of 2: over
        Status.OK,
    ]
    assert seen[0].message.startswith("failing 1 of 2: ")
    assert seen[2].message.startswith("recovering, 1 of 2 successes: healthy: HTTP 200")
    assert seen[2].details["measured_status"] == "ok"
    assert seen[5].details["recovered_after"] == 2


def test_default_thresholds_judge_each_run_as_measured(tmp_path: Path) -> None:
    answers = iter(["down", "ok"])
    with LoopbackServer({"/health": lambda r: Reply.json({"status": next(answers)})}) as server:
        config = estate(tmp_path, platforms=[{"name": "fly", "url": server.url("/health")}])
        assert [run_daily(config, run).status for run in range(2)] == [Status.FAIL, Status.OK]
