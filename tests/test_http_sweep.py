"""The sweep pools connections per origin, so many endpoints on a few hosts reuse them."""

from __future__ import annotations

import asyncio

from opsbook.config import parse_config
from opsbook.results import Status
from opsbook.tasks.platforms import probe_platforms


async def _sweep_two_origins(endpoints: int, concurrency: int) -> tuple[list, list[int]]:
    connections = [0, 0]

    def handler(index: int):
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections[index] += 1
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        return handle

    servers = [await asyncio.start_server(handler(i), "127.0.0.1", 0) for i in range(2)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    config = parse_config(
        {
            "http": {"concurrency": concurrency, "retries": 0, "timeout_s": 5},
            "platforms": [
                {"name": f"ep{i}", "url": f"http://127.0.0.1:{ports[i % 2]}/ep/{i}"} for i in range(endpoints)
            ],
        }
    )
    try:
        results = await probe_platforms(config)
    finally:
        for server in servers:
            server.close()
    return results, connections


def test_alternating_origins_reuse_one_connection_each() -> None:
    results, connections = asyncio.run(_sweep_two_origins(20, concurrency=1))
    assert [r.status for r in results] == [Status.OK] * 20
    assert connections == [1, 1]  # a one-connection pool would reconnect on every switch: 10 each


def test_concurrent_sweep_opens_no_more_connections_than_requests_in_flight() -> None:
    results, connections = asyncio.run(_sweep_two_origins(200, concurrency=4))
    assert [r.status for r in results] == [Status.OK] * 200
    # at most one connection per request in flight (4), shared out between the origins; never one per endpoint
    assert sum(connections) <= 4 and min(connections) >= 1
