"""Benchmark: render a report with 200 results and 6 charts; time and file size.

Run on demand: `python bench/report_render.py [--results 200 --charts 6 --repeat 5]`.
The baseline, measured in the same run, is the same report with no charts and no details,
so the ratio says what the charts and details cost on top of the bare table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsbook.reports import Report, Section, write_report
from opsbook.reports.charts import LineChart, Series, line_chart
from opsbook.results import CheckResult, Status

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
STATUSES = [Status.OK] * 16 + [Status.WARN, Status.FAIL, Status.ERROR, Status.SKIPPED]


def build(results: int, charts: int, details: bool) -> Report:
    rows = [
        CheckResult(
            check=f"check.{i % 12}",
            target=f"target-{i}",
            component=f"component-{i % 6}",
            status=STATUSES[i % len(STATUSES)],
            value=float(i),
            unit="ms",
            threshold=100.0,
            message=f"finding number {i}",
            details={"sample": list(range(20))} if details else {},
            started_at=T0,
        )
        for i in range(results)
    ]
    sections = [Section(f"Step {n}", [r for r in rows if r.component == f"component-{n}"]) for n in range(6)]
    for n in range(charts):
        series = [
            Series(f"series-{k}", [(T0 - timedelta(hours=h), 50 + 10 * k + (h % 7)) for h in range(720, -1, -1)])
            for k in range(3)
        ]
        sections[n % 6].charts.append(
            line_chart(LineChart(f"Chart {n}", " ms", series, thresholds={"warn": 80, "fail": 95}))
        )
    return Report(
        kind="daily",
        title="Bench",
        estate="bench",
        run_id=f"bench-{results}-{charts}",
        started_at=T0,
        finished_at=T0,
        sections=sections,
    )


def measure(results: int, charts: int, details: bool, repeat: int, folder: Path) -> dict[str, float]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        path = write_report(build(results, charts, details), folder)
        times.append(time.perf_counter() - started)
        size = path.stat().st_size
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=200)
    parser.add_argument("--charts", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "report_render.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(args.results, args.charts, True, 1, Path(folder))  # warm the template cache
        baseline = measure(args.results, 0, False, args.repeat, Path(folder))
        full = measure(args.results, args.charts, True, args.repeat, Path(folder))
    ratio = full["median_s"] / baseline["median_s"]
    print(f"{'case':<34}{'median s':>10}{'min s':>10}{'max s':>10}{'KiB':>10}")
    for name, row in (
        (f"{args.results} results, no charts (baseline)", baseline),
        (f"{args.results} results, {args.charts} charts", full),
    ):
        print(
            f"{name:<34}{row['median_s']:>10.3f}{row['min_s']:>10.3f}{row['max_s']:>10.3f}{row['bytes'] / 1024:>10.0f}"
        )
    print(f"ratio full/baseline: {ratio:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"baseline": baseline, "full": full, "ratio": ratio, "results": args.results, "charts": args.charts},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
