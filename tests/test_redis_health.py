"""The Redis health check on real Redis servers: the one on 127.0.0.1:6379 and throwaway ones.

A throwaway `redis-server` (no persistence) is started where a test changes the server's settings
or needs a password, so the shared server on 6379 is only ever read.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from opsbook.config import ConfigError, EstateConfig, parse_config
from opsbook.demo.server import LoopbackServer, Reply
from opsbook.flows.daily import daily_checklist, daily_steps
from opsbook.results import CheckResult, Status, Verdict, utcnow
from opsbook.store import HistoryStore
from opsbook.tasks.history import store_results
from opsbook.tasks.redis import check_redis_health
from tests.conftest import free_port
from tests.helpers import estate, raw_speaker, write_config

PASSWORD_ENV = "OPSBOOK_TEST_REDIS_PASSWORD"
PASSWORD = "redis-canary-4f9a1c-secret"
CHECKS = {"redis.ping", "redis.memory", "redis.clients", "redis.rejected_connections", "redis.evictions"}


@contextmanager
def throwaway_redis(*args: str) -> Iterator[int]:
    """A redis-server of our own on a free loopback port, keeping nothing on disk; stopped after."""
    assert shutil.which("redis-server"), "redis-server must be on PATH"
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    password = args[args.index("--requirepass") + 1] if "--requirepass" in args else None
    try:
        for _ in range(100):
            try:
                with redis.Redis(port=port, password=password, socket_connect_timeout=0.2) as probe:
                    probe.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def admin(port: int, password: str | None = None) -> redis.Redis:
    """A plain client for setting the scene; no retries, so one refused attempt is one rejection."""
    return redis.Redis(port=port, password=password, protocol=2, retry=Retry(NoBackoff(), 0))


def config_for(tmp_path: Path, **server: Any) -> EstateConfig:
    return estate(tmp_path, redis=[{"name": "cache", "host": "127.0.0.1", **server}])


def run_health(config: EstateConfig) -> dict[str, CheckResult]:
    results = check_redis_health.fn(config)
    assert len({r.check for r in results}) == len(results), "one result per check and server"
    return {r.check: r for r in results}


def keep(config: EstateConfig, results: dict[str, CheckResult], at_minutes_ago: int = 0) -> None:
    """Store a run's results as the checklist would, so the next run compares with them."""
    when = utcnow() - timedelta(minutes=at_minutes_ago)
    stored = [r.model_copy(update={"started_at": when}) for r in results.values()]
    store_results.fn(
        config.history.url,
        run_id=f"run-{time.monotonic_ns()}",
        flow="daily-checklist",
        estate=config.estate,
        started_at=when,
        finished_at=when,
        results=stored,
    )


def assert_no_password(results: dict[str, CheckResult] | list[CheckResult]) -> None:
    found = results.values() if isinstance(results, dict) else results
    assert all(PASSWORD not in json.dumps(r.model_dump(mode="json")) for r in found)


@pytest.fixture(autouse=True)
def redis_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


# -- a healthy server -------------------------------------------------------------------------


def test_the_machines_redis_is_healthy_on_every_check_and_counters_start_unjudged(tmp_path: Path) -> None:
    # Two shared cores can be busy: latency is judged generously here (its default is tested below).
    config = config_for(tmp_path, port=6379, thresholds={"latency_ms": {"warn": 1000, "fail": 2000}})
    results = run_health(config)

    assert set(results) == CHECKS
    assert {r.status for r in results.values()} == {Status.OK}, {c: r.message for c, r in results.items()}
    info = admin(6379).info()
    ping = results["redis.ping"]
    assert ping.unit == "ms" and 0 < ping.value < 1000 and ping.threshold == 1000
    assert ping.message.startswith("PONG in ") and ping.message.endswith(f"Redis {info['redis_version']}")
    assert ping.labels == {"address": "127.0.0.1:6379"} and ping.component == "redis"
    memory = results["redis.memory"]
    if info["maxmemory"] == 0:  # the machines' server runs unlimited: judged against the host
        assert "of the host's" in memory.message and "(no maxmemory set)" in memory.message
    assert memory.unit == "%" and memory.threshold == 80
    assert results["redis.clients"].details["maxclients"] == info["maxclients"]
    for check in ("redis.rejected_connections", "redis.evictions"):
        first = results[check]
        assert first.value is None, "a counter since server start is not a current problem"
        assert "since the server started at" in first.message and "judged from the next check on" in first.message


def test_memory_is_judged_against_maxmemory_and_evictions_on_their_increase(tmp_path: Path) -> None:
    with throwaway_redis("--maxmemory-policy", "allkeys-lru") as port:
        server = admin(port)
        for n in range(100):  # 10 MB of data, so a connection's own buffers do not move the figure
            server.set(f"key:{n}", b"x" * 100_000)
        used = int(server.info("memory")["used_memory"])
        server.config_set("maxmemory", int(used / 0.85))  # about 85 %: past 80 (warn), under 90 (fail)
        config = config_for(tmp_path, port=port)
        first = run_health(config)
        memory = first["redis.memory"]
        assert memory.status is Status.WARN and memory.threshold == 80 and 80 <= memory.value < 90
        assert "policy allkeys-lru" in memory.message
        assert first["redis.evictions"].status is Status.OK and first["redis.evictions"].value is None
        keep(config, first, at_minutes_ago=60)

        server.config_set("maxmemory", used // 2)
        server.set("one-more", b"x" * 100_000)  # over maxmemory: the LRU policy evicts to make room
        evicted = int(server.info("stats")["evicted_keys"])
        assert evicted > 0
        second = run_health(config)

    evictions = second["redis.evictions"]
    assert evictions.status is Status.WARN and evictions.value >= evicted and evictions.threshold == 1
    assert "evicted key(s) since the previous check at" in evictions.message
    assert evictions.details["previous_total"] == 0


def test_a_quiet_interval_is_ok_even_when_the_counter_since_start_is_high(tmp_path: Path) -> None:
    with throwaway_redis("--maxclients", "2") as port:
        held = [admin(port) for _ in range(4)]
        refused = 0
        for client in held:
            try:
                client.ping()
            except redis.ConnectionError:  # "max number of clients reached"
                refused += 1
        for client in held:
            client.close()
        assert refused >= 1
        time.sleep(0.2)  # the server notices the closed ones
        config = config_for(tmp_path, port=port)
        first = run_health(config)
        assert first["redis.rejected_connections"].details["total"] >= 1
        assert first["redis.rejected_connections"].status is Status.OK  # since start, not judged
        keep(config, first, at_minutes_ago=60)
        second = run_health(config)

    rejected = second["redis.rejected_connections"]
    assert rejected.status is Status.OK and rejected.value == 0
    assert "0 rejected connection(s) since the previous check" in rejected.message
    assert f"({first['redis.rejected_connections'].details['total']:,} since the server started)" in rejected.message


def test_clients_near_maxclients_warn_and_rejections_in_the_interval_warn(tmp_path: Path) -> None:
    with throwaway_redis("--maxclients", "10") as port:
        config = config_for(tmp_path, port=port)
        keep(config, run_health(config), at_minutes_ago=60)
        held = [admin(port) for _ in range(11)]
        for client in held[:10]:
            client.ping()
        with pytest.raises(redis.ConnectionError):
            held[10].ping()  # the 11th is refused
        for client in held[:2]:
            client.close()  # 8 held + the check's own connection = 9 of 10
        time.sleep(0.2)  # the server notices the closed ones
        results = run_health(config)
        for client in held:
            client.close()

    clients = results["redis.clients"]
    assert clients.status is Status.WARN and clients.value == 90.0 and clients.threshold == 80
    assert clients.message == "9 of 10 clients connected (90.0 %)"
    rejected = results["redis.rejected_connections"]
    assert rejected.status is Status.WARN and rejected.value == 1
    assert rejected.message.startswith("1 rejected connection(s) since the previous check at")


def test_thresholds_are_overridden_per_server(tmp_path: Path) -> None:
    with throwaway_redis("--maxclients", "10") as port:
        config = config_for(tmp_path, port=port, thresholds={"clients_pct": {"warn": 5, "fail": 10}})
        results = run_health(config)
    assert results["redis.clients"].status is Status.FAIL  # 1 of 10 = 10 %
    assert results["redis.clients"].threshold == 10


def test_a_restart_or_a_reset_counts_the_whole_counter_in_the_interval(tmp_path: Path) -> None:
    with throwaway_redis() as port:
        config = config_for(tmp_path, port=port)
        results = run_health(config)
        # The previous reading came from another run of the server (a restart) with a larger count.
        before = results["redis.evictions"]
        stale = before.model_copy(update={"details": {**before.details, "server_run_id": "0" * 40, "total": 99}})
        keep(config, {**results, "redis.evictions": stale}, at_minutes_ago=60)
        restarted = run_health(config)["redis.evictions"]

        with admin(port) as server:
            server.config_resetstat()  # counters to zero, same server run
        previous = run_health(config)["redis.evictions"]
        same_run = previous.model_copy(update={"details": {**previous.details, "total": 5}})
        keep(config, {"redis.evictions": same_run}, at_minutes_ago=10)
        reset = run_health(config)["redis.evictions"]

    assert restarted.status is Status.OK and restarted.value == 0
    assert "since the server restarted at" in restarted.message
    assert reset.value == 0 and "since its statistics were reset (CONFIG RESETSTAT)" in reset.message


def test_an_unreadable_history_makes_the_counters_errors_not_silent_oks(tmp_path: Path) -> None:
    config = estate(
        tmp_path,
        history={"url": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/history"},
        redis=[{"name": "cache", "host": "127.0.0.1", "thresholds": {"latency_ms": {"warn": 1000}}}],
    )
    results = run_health(config)
    assert results["redis.memory"].status is Status.OK  # what needs no history is still measured
    for check in ("redis.rejected_connections", "redis.evictions"):
        assert results[check].status is Status.ERROR
        assert results[check].message.startswith("cannot compare with the previous check: history not readable")


# -- servers that cannot be checked: one error naming the cause -------------------------------


def only_error(results: dict[str, CheckResult]) -> CheckResult:
    assert list(results) == ["redis.ping"], "nothing else is measured"
    error = results["redis.ping"]
    assert error.status is Status.ERROR
    return error


def test_redis_down_is_an_error_naming_connection_refused(tmp_path: Path) -> None:
    port = free_port()
    error = only_error(run_health(config_for(tmp_path, port=port)))
    assert error.message.startswith(f"127.0.0.1:{port}: cannot connect")
    assert "Connection refused" in error.message


def test_a_wrong_or_missing_password_is_an_error_naming_authentication(tmp_path: Path) -> None:
    with throwaway_redis("--requirepass", PASSWORD) as port:
        wrong = run_health(config_for(tmp_path, port=port, password="not-the-password"))
        missing = run_health(config_for(tmp_path, port=port))
        right = run_health(config_for(tmp_path, port=port, password=f"${{{PASSWORD_ENV}}}"))

    assert "authentication failed" in only_error(wrong).message
    assert "invalid username-password pair" in wrong["redis.ping"].message
    assert "authentication failed (AuthenticationError: Authentication required.)" in only_error(missing).message
    assert set(right) == CHECKS and right["redis.ping"].status is Status.OK
    assert_no_password(right)


def test_the_password_from_the_environment_never_reaches_a_result(tmp_path: Path) -> None:
    with throwaway_redis("--requirepass", "something-else-entirely") as port:
        results = run_health(config_for(tmp_path, port=port, password=f"${{{PASSWORD_ENV}}}"))
    assert "authentication failed" in only_error(results).message
    assert_no_password(results)


def test_a_port_that_speaks_http_is_an_error_saying_it_is_not_redis(tmp_path: Path) -> None:
    with raw_speaker(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") as port:
        replied = only_error(run_health(config_for(tmp_path, port=port)))
    assert "not a Redis server: the reply is not the Redis protocol" in replied.message
    assert "HTTP/1.1 400 Bad Request" in replied.message

    with LoopbackServer({}) as web:  # a real HTTP server, which hangs up on a Redis command
        port = int(web.url("/").rstrip("/").rsplit(":", 1)[1])
        closed = only_error(run_health(config_for(tmp_path, port=port)))
    assert "not a Redis server, or it dropped the connection" in closed.message


def test_a_silent_port_times_out_within_the_configured_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        error = only_error(run_health(config_for(tmp_path, port=port, timeout_s=0.5)))
        elapsed = time.monotonic() - started
    assert "timed out" in error.message
    assert elapsed < 5, "no retries: one timeout, not several"


# -- not configured, and the config -----------------------------------------------------------


def test_not_configured_is_skipped_never_healthy(tmp_path: Path) -> None:
    results = check_redis_health.fn(estate(tmp_path))
    assert [(r.check, r.status, r.message) for r in results] == [
        ("redis.ping", Status.SKIPPED, "no Redis servers configured")
    ]


def test_defaults_from_the_usual_redis_guidance(tmp_path: Path) -> None:
    server = config_for(tmp_path).redis[0]
    assert (server.port, server.tls, server.connect_timeout_s, server.timeout_s) == (6379, False, 5, 5)
    limits = server.thresholds
    assert (limits.memory_pct.warn, limits.memory_pct.fail) == (80, 90)
    assert (limits.clients_pct.warn, limits.clients_pct.fail) == (80, 95)
    assert (limits.latency_ms.warn, limits.latency_ms.fail) == (10, 100)
    assert (limits.rejected_connections.warn, limits.rejected_connections.fail) == (1, None)
    assert (limits.evicted_keys.warn, limits.evicted_keys.fail) == (1, None)


def problems(redis_section: object) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config({"redis": redis_section}, environ={})
    return raised.value.problems


def test_each_bad_key_gets_one_clear_message() -> None:
    assert problems(
        [
            {"name": "cache", "host": "redis://cache.internal:6379"},
            {"name": "queue", "host": "queue.internal:6380", "prot": 6380},
            {"name": "cache", "host": "ok.internal", "port": 0, "thresholds": {"memory_pct": {"warn": 95, "fail": 90}}},
            {"name": "sessions", "host": "s.internal", "password": "${REDIS_PASSWORD}"},
            {"host": "nameless.internal"},
        ]
    ) == [
        "redis[3].password: environment variable REDIS_PASSWORD is not set",
        "redis[0].host: must be a host name or address, not a URL (e.g. redis.internal)",
        "redis[1].host: must not carry the port: write it as `port`",
        "redis[1].prot: unknown key",
        "redis[2].port: Input should be greater than or equal to 1",
        "redis[2].thresholds.memory_pct: warn (95.0) must not be above fail (90.0)",
        "redis[4].name: Field required",
    ]
    assert problems([{"name": "a", "host": "x"}, {"name": "a", "host": "y"}]) == [
        "redis: name 'a' is used twice (redis[0] and redis[1])"
    ]


def test_an_ipv6_address_is_a_host_and_shows_bracketed(tmp_path: Path) -> None:
    server = config_for(tmp_path, host="::1").redis[0]
    assert server.address == "[::1]:6379"


# -- the morning checklist --------------------------------------------------------------------


def test_the_daily_checklist_has_a_redis_step_only_when_redis_is_configured(tmp_path: Path) -> None:
    titles = [step.title for step in daily_steps(estate(tmp_path), "run")]
    assert "Redis health" not in titles
    titles = [step.title for step in daily_steps(config_for(tmp_path, port=6379), "run")]
    assert titles[:2] == ["Platform health", "Redis health"]  # infrastructure first, after the databases


@pytest.mark.usefixtures("prefect_server")
def test_the_daily_checklist_runs_the_redis_step_and_reports_it(tmp_path: Path) -> None:
    with LoopbackServer({"/health": lambda _request: Reply.json({"status": "healthy"})}) as platform:
        data = {
            "estate": "redis estate",
            "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
            "reports": {"directory": str(tmp_path / "reports")},
            "platforms": [{"name": "fly", "url": platform.url("/health")}],
            "redis": [
                {"name": "cache", "host": "127.0.0.1", "thresholds": {"latency_ms": {"warn": 1000, "fail": 2000}}},
                {"name": "gone", "host": "127.0.0.1", "port": free_port()},
            ],
        }
        state = daily_checklist(config_path=str(write_config(tmp_path, data)), return_state=True)
    outcome = state.result(raise_on_failure=False)
    by_key = {(r.check, r.target): r for r in outcome.results}
    assert {check for check, target in by_key if target == "cache"} == CHECKS
    assert by_key[("redis.ping", "gone")].status is Status.ERROR
    assert (
        state.is_completed() and outcome.verdict is Verdict.RED
    )  # an unreachable Redis makes the run red, after the report was written
    report = outcome.report_path.read_text()
    assert "Redis health" in report and "cannot connect" in report
    stored = HistoryStore(data["history"]["url"]).result_history("redis.evictions", target="cache")
    assert len(stored) == 1 and "total" in stored[0].details  # what the next run compares with
