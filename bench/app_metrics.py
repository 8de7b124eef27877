"""How long the KPI review takes against the demo application API on loopback.

Reads every daily step (9 endpoints, 45 figures) `--rounds` times and prints the median and
worst wall time per full review, and the figures stored per review.

    python bench/app_metrics.py --rounds 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsbook.config import parse_config
from opsbook.demo.app_api import app_api_routes
from opsbook.demo.server import LoopbackServer
from opsbook.store import open_store
from opsbook.tasks.app_metrics import STEPS, read_step


async def review(config) -> int:
    results = await asyncio.gather(*(read_step(config, step) for step in STEPS))
    return sum(len(r) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder, LoopbackServer(app_api_routes("bench-token")) as server:
        config = parse_config(
            {
                "history": {"url": f"sqlite:///{folder}/h.db"},
                "metrics_sources": [{"base_url": server.url("/"), "headers": {"Authorization": "Bearer ${T}"}}],
            },
            environ={"T": "bench-token"},
        )
        asyncio.run(review(config))  # warm-up: schema, clients, TLS context
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            results = asyncio.run(review(config))
            timings.append((time.perf_counter() - started) * 1000)
        samples = len(open_store(config.history.url).samples("disk", source="app"))
    print(
        f"{rounds} reviews, {results} results each: median {statistics.median(timings):.0f} ms, "
        f"worst {max(timings):.0f} ms; {samples} disk samples stored (one per review)"
    )


if __name__ == "__main__":
    main()
