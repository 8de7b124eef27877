"""Fault injection per check family: each fault gives a clear error/fail (or a failed delivery).

Every HTTP family is driven against a real loopback server that times out, refuses, answers 5xx,
sends a malformed or an oversized body, or speaks another protocol altogether; the database family
against sockets that refuse, hang or speak another protocol, and a real PostgreSQL cluster that is
stopped in the middle of a run.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from opsbook.config import EstateConfig
from opsbook.config.maintenance import CacheAction
from opsbook.demo.server import LoopbackServer, Reply, Request
from opsbook.reports.messages import Message
from opsbook.results import Status
from opsbook.tasks.app_metrics import read_step
from opsbook.tasks.caches import run_cache_actions
from opsbook.tasks.database.health import check_database
from opsbook.tasks.investigation import recent_deployments
from opsbook.tasks.notify import send
from opsbook.tasks.platforms import probe_platforms
from opsbook.tasks.resources import prometheus_results
from opsbook.tasks.security.headers import check_headers
from tests.conftest import free_port
from tests.helpers import estate, raw_speaker

TIMEOUT_S = 0.5
MAX_BODY = 1024

FAULTS: dict[str, Callable[[Request], Reply]] = {
    "timeout": lambda r: Reply(200, "{}", delay_s=TIMEOUT_S * 3),
    "5xx": lambda r: Reply(503, "upstream unavailable"),
    "malformed": lambda r: Reply(200, '{"status": "success", "data": [1, 2', {"Content-Type": "application/json"}),
    "oversized": lambda r: Reply(200, '{"pad": "' + "x" * (MAX_BODY * 8) + '"}', {"Content-Type": "application/json"}),
}


def _config(tmp_path: Path, **sections: Any) -> EstateConfig:
    return estate(tmp_path, http={"timeout_s": TIMEOUT_S, "retries": 0, "max_body_bytes": MAX_BODY}, **sections)


async def _platform(tmp_path: Path, url: str) -> list:
    return await probe_platforms(_config(tmp_path, platforms=[{"name": "fly", "url": url}]))


async def _json_api(tmp_path: Path, url: str) -> list:
    config = _config(
        tmp_path,
        metrics_sources=[
            {
                "name": "app",
                "base_url": url,
                "endpoints": [
                    {
                        "name": "vitals",
                        "step": "web_vitals",
                        "path": "/api/vitals",
                        "metrics": [{"name": "lcp", "path": "lcp_ms", "threshold": "web_vitals.lcp_ms"}],
                    }
                ],
            }
        ],
    )
    return await read_step(config, "web_vitals")


async def _prometheus(tmp_path: Path, url: str) -> list:
    config = _config(tmp_path, resources={"prometheus": {"url": url, "max_body_bytes": MAX_BODY}})
    assert config.resources.prometheus is not None
    return await prometheus_results(config, config.resources.prometheus)


async def _security_headers(tmp_path: Path, url: str) -> list:
    config = _config(tmp_path)
    return await check_headers([url], config.security.headers, config.http)


async def _cache_action(tmp_path: Path, url: str) -> list:
    return await run_cache_actions([CacheAction(name="purge", url=url)], _config(tmp_path).http, apply=True)


async def _deploy_log(tmp_path: Path, url: str) -> list:
    return await recent_deployments.fn(_config(tmp_path, incidents={"deploy_log": url}))


async def _webhook(tmp_path: Path, url: str) -> list:
    config = _config(
        tmp_path,
        notifications={
            "retries": 0,
            "channels": [
                {"type": "webhook", "name": "hook", "url": url, "secret": "hmac-key-123"},
                {"type": "slack", "name": "slack", "url": url},
            ],
        },
    )
    message = Message("firing", "fly down", "fly is down", "<p>fly is down</p>", {"alert": "fly"})
    return [await send(config, "hook", message), await send(config, "slack", message)]


FAMILIES = {
    "platform": _platform,
    "json_api": _json_api,
    "prometheus": _prometheus,
    "security_headers": _security_headers,
    "cache_action": _cache_action,
    "deploy_log": _deploy_log,
    "webhook": _webhook,
}
# A body is parsed only by these; elsewhere a 200 with any body is a correct answer.
PARSES_BODY = {"json_api", "prometheus", "deploy_log"}
CASES = [
    (family, fault)
    for family in FAMILIES
    for fault in ["refused", "not_http", *FAULTS]
    if fault != "malformed" or family in PARSES_BODY
]


def _failed(outcome: Any) -> tuple[bool, str]:
    """(is a clear failure, what it says) for a CheckResult or a Delivery."""
    if hasattr(outcome, "ok"):  # a notification Delivery
        return not outcome.ok and bool(outcome.error), outcome.error or ""
    return outcome.status in (Status.FAIL, Status.ERROR) and bool(outcome.message), outcome.message


@pytest.mark.parametrize(("family", "fault"), CASES, ids=[f"{f}-{x}" for f, x in CASES])
def test_http_family_fault_is_a_clear_failure(tmp_path: Path, family: str, fault: str) -> None:
    if fault == "refused":
        outcomes = asyncio.run(FAMILIES[family](tmp_path, f"http://127.0.0.1:{free_port()}/"))
    elif fault == "not_http":  # another protocol listens on the port
        with raw_speaker(b"SSH-2.0-OpenSSH_9.2\r\n") as port:
            outcomes = asyncio.run(FAMILIES[family](tmp_path, f"http://127.0.0.1:{port}/"))
    else:

        class AnyPath(dict):
            def get(self, _path: str, _default: object = None):
                return FAULTS[fault]

        with LoopbackServer() as server:
            server.routes = AnyPath()
            outcomes = asyncio.run(FAMILIES[family](tmp_path, server.url("/")))
    assert outcomes
    failures = [_failed(o) for o in outcomes]
    assert all(clear for clear, _ in failures), outcomes
    expected = {
        "refused": ("refused", "connection"),
        "not_http": ("bad status line",),
        "timeout": ("timed out", "timeout"),
        "5xx": ("503",),
        "malformed": ("json", "parse", "decode", "expect", "invalid", "malformed"),
        "oversized": ("larger than", "too large"),
    }[fault]
    assert any(word in text.lower() for _, text in failures for word in expected), failures


@contextmanager
def _silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word: a hung database."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def _database(tmp_path: Path, port: int) -> Any:
    config = estate(
        tmp_path,
        databases=[
            {"name": "app", "connect_timeout_s": 2, "url": f"postgresql+psycopg://mon:pw-db-4f1a@127.0.0.1:{port}/app"}
        ],
    )
    return config.databases[0]


@pytest.mark.parametrize("fault", ["refused", "timeout", "malformed"])
def test_database_fault_is_a_clear_error(tmp_path: Path, fault: str) -> None:
    if fault == "refused":
        results = check_database(_database(tmp_path, free_port()), 1000, [])
    elif fault == "timeout":
        with _silent_listener() as port:
            results = check_database(_database(tmp_path, port), 1000, [])
    else:
        with raw_speaker(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") as port:  # not PostgreSQL
            results = check_database(_database(tmp_path, port), 1000, [])
    assert results and all(r.status in (Status.ERROR, Status.FAIL) and r.message for r in results), results
    assert all("pw-db-4f1a" not in r.message for r in results)


@pytest.mark.usefixtures("prefect_server")
def test_history_database_going_down_mid_run_still_ends_with_a_report(tmp_path: Path) -> None:
    """A private cluster (not the session's shared one) holds the history; the platform check stops it."""
    from tests import pg_cluster
    from tests.test_daily_flow import config_for, run

    try:
        cluster = pg_cluster._start()
    except (OSError, pg_cluster.subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot start a throwaway PostgreSQL cluster with initdb/pg_ctl: {error}")
    cluster.sql("postgres", "CREATE DATABASE history")
    stopped: list[bool] = []

    def stop_the_database(_request: Request) -> Reply:
        if not stopped:
            pg_cluster.subprocess.run(
                pg_cluster._as_postgres(
                    [str(pg_cluster.BIN / "pg_ctl"), "-D", str(cluster.datadir), "-m", "immediate", "-w", "stop"]
                ),
                check=True,
                capture_output=True,
            )
            stopped.append(True)
        return Reply(200, "ok")

    with LoopbackServer({"/h": stop_the_database}) as server:
        path = config_for(tmp_path, [{"name": "fly", "url": server.url("/h")}], history={"url": cluster.url("history")})
        state, outcome = run(path)
    assert stopped, "the platform check never ran"
    assert state.is_failed()
    assert any(note.startswith("history store not written") for note in outcome.notes), outcome.notes
    html = outcome.report_path.read_text()
    assert "history store not written" in html and "fly" in html


def test_hung_database_servers_are_waited_for_together_not_one_after_another(tmp_path: Path) -> None:
    """Three servers that say nothing until all three have a client connected, then answer with
    bytes that are not PostgreSQL's. Checked together, every client sees that answer at once;
    checked one after another, the first waits alone until its connect timeout expires."""
    from opsbook.tasks.database.health import check_database_health

    all_connected = threading.Barrier(3, timeout=30)
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(3)]

    def serve(listener: socket.socket) -> None:
        first = True
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                if first:
                    first = False
                    with suppress(threading.BrokenBarrierError):
                        all_connected.wait()
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    for listener in listeners:
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
    databases = [
        {
            "name": f"db{i}",
            "connect_timeout_s": 5,
            "url": f"postgresql+psycopg://mon:pw-db-4f1a@127.0.0.1:{listener.getsockname()[1]}/app",
        }
        for i, listener in enumerate(listeners)
    ]
    try:
        results = check_database_health.fn(estate(tmp_path, databases=databases))
    finally:
        for listener in listeners:
            listener.close()
    assert [(r.check, r.target, r.status) for r in results] == [
        ("database.connection", f"db{i}", Status.ERROR) for i in range(3)
    ]  # each named, in config order
    assert not any("timeout" in r.message for r in results), [r.message for r in results]
