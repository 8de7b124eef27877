"""Benchmark: the health stage against 1,000 endpoints on loopback.

Each endpoint answers after 100 ms; 5 % answer 500. At concurrency 100 the physical limit is
1,000 / 100 x 0.1 s = 1.0 s. Measured in the same run, beside opsbook's sweep:
  - bare asyncio: raw HTTP/1.1 over asyncio streams with a semaphore (the floor for Python);
  - plain aiohttp: one ClientSession with a 100-connection pool, no httpx API, no judging;
  - one shared httpx AsyncClient with a 100-connection pool (the obvious design opsbook avoids);
  - sequential: one request after another, as the runbook's bash loop does (sampled, then scaled).
The server runs in its own process so it never competes with the client for the GIL.

Run: `python bench/health_sweep.py [--endpoints 1000 --concurrency 100 --delay 0.1]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import httpx

from opsbook.config import parse_config
from opsbook.results import Status
from opsbook.tasks.platforms import probe_platforms


def serve(port: int, delay: float, ready) -> None:
    """An asyncio HTTP/1.1 server: GET /ep/N answers after `delay`; every 20th N answers 500."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                await asyncio.sleep(delay)
                failing = path.rsplit("/", 1)[-1].isdigit() and int(path.rsplit("/", 1)[-1]) % 20 == 0
                body = b"fail" if failing else b'{"status":"ok"}'
                status = b"500 Internal Server Error" if failing else b"200 OK"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nContent-Type: application/json\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def bare_asyncio(urls: list[tuple[int, str]], concurrency: int) -> int:
    """Raw GETs over asyncio streams, one connection per worker, kept alive."""
    queue = list(urls)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        reader = writer = None
        while queue:
            port, path = queue.pop()
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            ok += head.startswith(b"HTTP/1.1 200")
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


async def plain_aiohttp(urls: list[str], concurrency: int) -> int:
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(url: str) -> bool:
            async with semaphore, session.get(url) as response:
                await response.read()
                return response.status == 200

        return sum(await asyncio.gather(*(one(u) for u in urls)))


async def shared_httpx(urls: list[str], concurrency: int) -> int:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(url: str) -> bool:
            async with semaphore:
                return (await client.get(url)).status_code == 200

        return sum(await asyncio.gather(*(one(u) for u in urls)))


def sequential(urls: list[str]) -> int:
    with httpx.Client(timeout=30) as client:
        return sum(client.get(url).status_code == 200 for url in urls)


def timed(function, *args):
    started = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--sequential-sample",
        type=int,
        default=50,
        help="requests timed sequentially, scaled to --endpoints (0 to skip)",
    )
    parser.add_argument("--skip-shared-httpx", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "health_sweep.json")
    args = parser.parse_args()

    ports = [free_port() for _ in range(4)]  # several server processes, as several hosts would be
    ready = [multiprocessing.Event() for _ in ports]
    servers = [
        multiprocessing.Process(target=serve, args=(p, args.delay, r), daemon=True)
        for p, r in zip(ports, ready, strict=True)
    ]
    for process in servers:
        process.start()
    for event in ready:
        event.wait(10)
    endpoints = [(ports[i % len(ports)], f"/ep/{i}") for i in range(args.endpoints)]
    urls = [f"http://127.0.0.1:{port}{path}" for port, path in endpoints]
    config = parse_config(
        {
            "http": {"concurrency": args.concurrency, "retries": 0, "timeout_s": 30},
            "thresholds": {"http": {"latency_ms": {"warn": 5000, "fail": 10000}}},
            "platforms": [{"name": f"ep{i}", "url": u} for i, u in enumerate(urls)],
        }
    )
    limit = args.endpoints / args.concurrency * args.delay
    rows: dict[str, list[float]] = {"opsbook sweep": [], "bare asyncio": [], "plain aiohttp": []}
    if not args.skip_shared_httpx:
        rows["one shared httpx client"] = []
    healthy = {}
    try:
        for _ in range(args.repeat):
            seconds, results = timed(asyncio.run, probe_platforms(config))
            rows["opsbook sweep"].append(seconds)
            healthy["opsbook sweep"] = sum(r.status is Status.OK for r in results)
            seconds, healthy["bare asyncio"] = timed(asyncio.run, bare_asyncio(endpoints, args.concurrency))
            rows["bare asyncio"].append(seconds)
            seconds, healthy["plain aiohttp"] = timed(asyncio.run, plain_aiohttp(urls, args.concurrency))
            rows["plain aiohttp"].append(seconds)
            if not args.skip_shared_httpx:
                seconds, healthy["one shared httpx client"] = timed(asyncio.run, shared_httpx(urls, args.concurrency))
                rows["one shared httpx client"].append(seconds)
        if args.sequential_sample:
            sample = urls[: args.sequential_sample]
            seconds, _ = timed(sequential, sample)
            rows["sequential (scaled)"] = [seconds * args.endpoints / len(sample)]
    finally:
        for process in servers:
            process.terminate()

    print(
        f"{args.endpoints} endpoints, {args.delay * 1000:.0f} ms each, concurrency {args.concurrency}; "
        f"physical limit {limit:.2f} s"
    )
    print(f"{'case':<28}{'median s':>10}{'min s':>10}{'max s':>10}{'x limit':>10}{'x bare':>9}{'ok':>7}")
    summary = {}
    baseline = statistics.median(rows["bare asyncio"])  # measured in this run, beside the others
    for name, values in rows.items():
        median = statistics.median(values)
        summary[name] = {
            "median_s": median,
            "min_s": min(values),
            "max_s": max(values),
            "ratio_to_limit": median / limit,
            "ratio_to_bare_asyncio": median / baseline,
            "healthy": healthy.get(name),
        }
        print(
            f"{name:<28}{median:>10.2f}{min(values):>10.2f}{max(values):>10.2f}{median / limit:>10.2f}"
            f"{median / baseline:>9.2f}{healthy.get(name, ''):>7}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "endpoints": args.endpoints,
                "concurrency": args.concurrency,
                "delay_s": args.delay,
                "limit_s": limit,
                "cases": summary,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
