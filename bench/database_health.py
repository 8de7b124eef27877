"""How long the daily database health check takes on a database with many tables and indexes.

Run: `python bench/database_health.py [tables]` (starts a throwaway cluster, as the tests do).
Prints the whole run and the slowest checks, median of 5 runs.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsbook.config.databases import Database
from opsbook.tasks.database.health import check_database
from tests.pg_cluster import throwaway_cluster


def main(tables: int = 300, runs: int = 5) -> None:
    cluster = throwaway_cluster()
    with cluster.database() as name:
        for start in range(0, tables, 50):
            cluster.sql(
                name,
                *[
                    f"CREATE TABLE t{i} (id bigserial PRIMARY KEY, a int, b int, c text);"
                    f"CREATE INDEX t{i}_a ON t{i} (a); CREATE INDEX t{i}_ab ON t{i} (a, b);"
                    f"INSERT INTO t{i} (a, b, c) SELECT g, g, 'x' FROM generate_series(1, 100) g"
                    for i in range(start, min(start + 50, tables))
                ],
            )
        database = Database(name="bench", url=cluster.url(name))
        totals, per_check = [], defaultdict(list)
        for _ in range(runs):
            began = time.perf_counter()
            results = check_database(database, 1000, [])
            totals.append((time.perf_counter() - began) * 1000)
            for result in results:
                per_check[result.check].append(result.duration_ms)
    print(
        f"{tables} tables, {tables * 3} indexes, {tables} sequences: whole check median "
        f"{statistics.median(totals):.0f} ms over {runs} runs (one connection, {len(per_check)} checks)"
    )
    slowest = sorted(per_check.items(), key=lambda item: statistics.median(item[1]), reverse=True)[:5]
    for check, durations in slowest:
        print(f"  {check:32} {statistics.median(durations):7.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
