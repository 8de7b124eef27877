"""Platform health against real HTTP servers on loopback: down, slow, flaky, 5xx, 4xx."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from opsbook.demo.server import LoopbackServer, Reply, Request
from opsbook.results import Status
from opsbook.tasks.platforms import probe_platforms
from tests.conftest import free_port
from tests.helpers import estate, raw_speaker


def check(tmp_path: Path, platforms: list[dict], **http: object):
    settings = {"timeout_s": 1, "retries": 2, "backoff_s": 0.01, **http}
    config = estate(tmp_path, platforms=platforms, http=settings)
    return asyncio.run(probe_platforms(config))


def test_healthy_platform_is_ok_with_latency_and_one_attempt(tmp_path: Path) -> None:
    with LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}) as server:
        [result] = check(tmp_path, [{"name": "fly", "url": server.url("/health")}])
    assert result.status is Status.OK
    assert result.attempts == 1
    assert result.details["status_code"] == 200
    assert 0 < result.value < 1000 and result.unit == "ms"


def test_connection_refused_is_a_failed_platform_after_retries(tmp_path: Path) -> None:
    port = free_port()
    [result] = check(tmp_path, [{"name": "fly", "url": f"http://127.0.0.1:{port}/health"}])
    assert result.status is Status.FAIL
    assert result.attempts == 3
    assert "connection failed" in result.message


def test_slow_past_the_timeout_fails_with_the_deadline_named(tmp_path: Path) -> None:
    with LoopbackServer({"/health": lambda r: Reply(200, "late", delay_s=1.5)}) as server:
        [result] = check(tmp_path, [{"name": "render", "url": server.url("/health"), "timeout_s": 0.3}], retries=1)
    assert result.status is Status.FAIL
    assert result.attempts == 2
    assert "timed out after 0.3 s" in result.message


def test_trickling_body_cannot_outlive_the_deadline(tmp_path: Path) -> None:
    trickle = [b"x" * 10] * 20  # 20 chunks, 0.1 s apart: 2 s in all, past a 0.5 s deadline
    with LoopbackServer({"/health": lambda r: Reply(200, trickle, chunk_delay_s=0.1)}) as server:
        [result] = check(tmp_path, [{"name": "fly", "url": server.url("/health"), "timeout_s": 0.5}], retries=0)
    assert result.status is Status.FAIL
    assert "timed out" in result.message
    assert result.duration_ms < 1500


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (b"", "disconnected"),  # accepts, reads, hangs up without a word
        (b"SSH-2.0-OpenSSH_9.2\r\n", "bad status line"),  # another protocol on the port
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", "not enough data"),  # body cut short
    ],
)
def test_broken_http_is_a_named_failure_not_a_timeout_or_a_crash(tmp_path: Path, answer: bytes, said: str) -> None:
    with raw_speaker(answer) as port, LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}) as server:
        broken, healthy = check(
            tmp_path,
            [
                {"name": "broken", "url": f"http://127.0.0.1:{port}/health"},
                {"name": "fine", "url": server.url("/health")},
            ],
            retries=1,
            timeout_s=5,
        )
    assert broken.status is Status.FAIL and broken.attempts == 2  # transient: retried once, then given up
    assert said in broken.message.lower() and "timed out" not in broken.message
    assert "\n" not in broken.message
    assert broken.duration_ms < 4000  # known at once, not after the 5 s deadline
    assert healthy.status is Status.OK  # the rest of the sweep goes on


def test_https_platform_with_an_untrusted_certificate_fails_unless_verification_is_off(tmp_path: Path) -> None:
    from opsbook.demo.tls import issue

    self_signed = issue(tmp_path / "pki", "self-signed", ["127.0.0.1"])
    with LoopbackServer({"/health": lambda r: Reply.json({"status": "ok"})}, tls=self_signed) as server:
        verified, unverified = check(
            tmp_path,
            [
                {"name": "strict", "url": server.url("/health")},
                {"name": "lenient", "url": server.url("/health"), "verify_tls": False},
            ],
            retries=0,
        )
    assert server.url().startswith("https://")
    assert verified.status is Status.FAIL and "certificate verify failed" in verified.message
    assert unverified.status is Status.OK and unverified.details["status_code"] == 200


def test_flaky_platform_recovers_on_the_third_attempt(tmp_path: Path) -> None:
    calls = {"n": 0}

    def flaky(_request: Request) -> Reply:
        calls["n"] += 1
        return Reply(503, "warming up") if calls["n"] <= 2 else Reply.json({"status": "ok"})

    with LoopbackServer({"/health": flaky}) as server:
        [result] = check(tmp_path, [{"name": "railway", "url": server.url("/health")}])
    assert result.status is Status.OK
    assert result.attempts == 3
    assert calls["n"] == 3


def test_http_500_is_retried_then_fails(tmp_path: Path) -> None:
    with LoopbackServer({"/health": lambda r: Reply(500, "boom")}) as server:
        [result] = check(tmp_path, [{"name": "fly", "url": server.url("/health")}])
        hits = server.hits["/health"]
    assert result.status is Status.FAIL
    assert result.attempts == 3 and hits == 3
    assert result.details["status_code"] == 500
    assert "HTTP 500" in result.message


def test_http_404_is_not_retried(tmp_path: Path) -> None:
    with LoopbackServer({}) as server:
        [result] = check(tmp_path, [{"name": "fly", "url": server.url("/missing")}])
        hits = server.hits["/missing"]
    assert result.status is Status.FAIL
    assert result.attempts == 1 and hits == 1
    assert result.message == "HTTP 404, expected 200: not found"


def test_latency_over_the_warning_level_warns(tmp_path: Path) -> None:
    with LoopbackServer({"/health": lambda r: Reply(200, "ok", delay_s=0.15)}) as server:
        [result] = check(
            tmp_path, [{"name": "fly", "url": server.url("/health"), "latency_ms": {"warn": 100, "fail": 5000}}]
        )
    assert result.status is Status.WARN
    assert result.threshold == 100
    assert result.value >= 150


def test_oversized_body_is_not_read_past_the_limit(tmp_path: Path) -> None:
    big = b"y" * (4 * 1024 * 1024)
    with LoopbackServer({"/health": lambda r: Reply(200, big)}) as server:
        [result] = check(tmp_path, [{"name": "fly", "url": server.url("/health")}], max_body_bytes=65536)
    assert result.status is Status.FAIL
    assert "larger than 65536 bytes" in result.message


def test_concurrency_is_bounded_and_results_keep_config_order(tmp_path: Path) -> None:
    in_flight = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def counted(_request: Request) -> Reply:
        with lock:
            in_flight["now"] += 1
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        time.sleep(0.1)
        with lock:
            in_flight["now"] -= 1
        return Reply(200, "ok")

    with LoopbackServer({"/health": counted}) as server:
        platforms = [{"name": f"p{i}", "url": server.url("/health")} for i in range(20)]
        results = check(tmp_path, platforms, concurrency=5)
    assert [r.target for r in results] == [f"p{i}" for i in range(20)]
    assert all(r.status is Status.OK for r in results)
    assert 2 <= in_flight["peak"] <= 5
