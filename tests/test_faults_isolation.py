"""One hostile target never costs its neighbours their results (issue 22, class 4).

Real loopback servers send the hostile answers: a raw asyncio server for a reason phrase that is not
UTF-8 (no HTTP library would send one), JSON nested far deeper than the parser's stack, an integer
past Python's digit limit. Every test asserts the healthy neighbour's result is intact.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from opsbook.config import parse_config
from opsbook.config.loader import ConfigError
from opsbook.results import Status
from opsbook.tasks.app_metrics import read_step
from opsbook.tasks.platforms import probe_platforms
from opsbook.tasks.security.headers import check_headers


@contextmanager
def raw_server(answer: bytes) -> Iterator[str]:
    """A TCP server on loopback that reads one request head and writes `answer` as is."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        finally:
            writer.close()

    async def start() -> None:
        holder["server"] = await asyncio.start_server(handle, "127.0.0.1", 0)
        holder["port"] = holder["server"].sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def http_answer(body: bytes, reason: bytes = b"OK", content_type: bytes = b"application/json") -> bytes:
    head = b"HTTP/1.1 200 " + reason + b"\r\nContent-Type: " + content_type
    return head + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body


HEALTHY = http_answer(b'{"lcp": 1200}')
NOT_UTF8_REASON = http_answer(b"ok", reason=b"\xff\xfe\xfd")


def config(tmp_path: Path, **sections: Any):
    data = {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "http": {"timeout_s": 2, "retries": 0}}
    return parse_config({**data, **sections}, base_dir=tmp_path, environ={})


def test_a_reason_phrase_that_is_not_utf8_costs_only_its_own_platform(tmp_path: Path) -> None:
    with raw_server(HEALTHY) as good, raw_server(NOT_UTF8_REASON) as bad:
        estate = config(tmp_path, platforms=[{"name": "good", "url": good + "/"}, {"name": "bad", "url": bad + "/"}])
        results = {r.target: r for r in asyncio.run(probe_platforms(estate))}
    assert results["good"].status is Status.OK and "HTTP 200" in results["good"].message
    assert results["bad"].status is Status.ERROR and results["bad"].message


def test_security_headers_sweep_keeps_the_healthy_url(tmp_path: Path) -> None:
    estate = config(tmp_path)
    with raw_server(HEALTHY) as good, raw_server(NOT_UTF8_REASON) as bad:
        results = asyncio.run(check_headers([good + "/", bad + "/"], estate.security.headers, estate.http))
    assert [r.target for r in results] == [good + "/", bad + "/"]
    assert results[0].status is Status.FAIL and "missing" in results[0].message  # judged: no headers sent
    assert results[1].status is Status.ERROR


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"lcp": ' + b"9" * 5000 + b"}", b'{"lcp": ' + b"9" * 4000 + b"}"],
    ids=["nested-deep", "int-past-digit-limit", "int-too-large-for-float"],
)
def test_a_hostile_json_body_costs_only_its_own_source(tmp_path: Path, body: bytes) -> None:
    endpoint = {"name": "vitals", "step": "web_vitals", "path": "/v", "metrics": [{"name": "lcp", "path": "lcp"}]}
    with raw_server(HEALTHY) as good, raw_server(http_answer(body)) as bad:
        estate = config(
            tmp_path,
            metrics_sources=[
                {"kind": "json_api", "name": "good", "base_url": good + "/", "endpoints": [endpoint]},
                {"kind": "json_api", "name": "bad", "base_url": bad + "/", "endpoints": [endpoint]},
            ],
        )
        results = asyncio.run(read_step(estate, "web_vitals"))
    good_results = [r for r in results if r.target.startswith("good/")]
    bad_results = [r for r in results if r.target.startswith("bad/")]
    assert good_results and all(r.status is not Status.ERROR for r in good_results)
    assert any(r.target == "good/vitals" and "1 figure(s) read" in r.message for r in good_results)
    assert bad_results and all(r.status in (Status.ERROR, Status.FAIL) for r in bad_results)
    assert not any(r.status is Status.OK for r in bad_results)


@pytest.mark.parametrize(
    ("headers", "said"),
    [({"X-Token": "a\r\nInjected: yes"}, "line break"), ({"X-Name": "café"}, "non-ASCII"), ({"X\nY": "v"}, "line")],
)
def test_header_values_no_client_can_send_are_refused_at_load(tmp_path: Path, headers: dict, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config(tmp_path, platforms=[{"name": "p", "url": "http://127.0.0.1:1/", "headers": headers}])
    assert said in str(raised.value) and "platforms[0].headers:" in str(raised.value)


def test_credentials_in_a_target_url_are_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        config(tmp_path, platforms=[{"name": "p", "url": "http://user:hunter22@127.0.0.1:1/"}])
    assert "platforms[0].url: credentials in the URL" in str(raised.value) and "hunter22" not in str(raised.value)


def test_the_reference_json_is_still_read_normally(tmp_path: Path) -> None:
    assert json.loads(HEALTHY.split(b"\r\n\r\n", 1)[1]) == {"lcp": 1200}
