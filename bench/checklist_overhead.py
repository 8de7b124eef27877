"""Benchmark: the daily checklist on the demo estate, and what Prefect adds to it.

Measured, each `--repeat` times:
  - server start: the demo estate's loopback servers (platforms, app API, TLS), and once the
    temporary Prefect server (`prefect_test_harness`, as the tests use);
  - direct: the same task functions the daily flow runs, called through `.fn` (the steps
    concurrently, as the flow's thread pool runs them), then store (results + alerts) and report;
  - flow: `daily_checklist` as a Prefect flow run against the same estate and config.
Prefect overhead = flow wall time - direct wall time (checks + store + report).

Run: `python bench/checklist_overhead.py [--repeat 3]`; writes bench/results/checklist_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="opsbook-bench-prefect-"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from opsbook.config import load_config
from opsbook.demo.estate import demo_estate
from opsbook.reports import Report, Section
from opsbook.results import utcnow
from opsbook.tasks import app_metrics
from opsbook.tasks.alerts import handle_results
from opsbook.tasks.history import store_results
from opsbook.tasks.platforms import check_platform_health
from opsbook.tasks.report import write_html_report
from opsbook.tasks.resources import check_resource_utilisation
from opsbook.tasks.security.checks import check_security_status

# The daily flow's steps for the demo estate (platforms, security, the app's JSON API, resources).
DEMO_STEPS = [
    check_platform_health,
    check_security_status,
    app_metrics.check_web_vitals,
    app_metrics.check_api_performance,
    app_metrics.check_user_engagement,
    app_metrics.check_security_dashboard,
    app_metrics.check_app_resources,
    app_metrics.check_real_user_monitoring,
    app_metrics.check_error_rate_24h,
    check_resource_utilisation,
]


def _call(task: Any, *args: Any) -> Any:
    outcome = task.fn(*args)
    return asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome


def direct_run(config_path: Path) -> dict[str, float]:
    """The daily checklist without Prefect: the same functions, timed stage by stage."""
    config = load_config(config_path)
    run_id, started_at = str(uuid.uuid4()), utcnow()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(DEMO_STEPS)) as pool:
        sections = [
            Section(t.name, r)
            for t, r in zip(DEMO_STEPS, pool.map(lambda t: _call(t, config), DEMO_STEPS), strict=True)
        ]
    t1 = time.perf_counter()
    results = [r for s in sections for r in s.results]
    store_results.fn(
        config.history.url,
        run_id=run_id,
        flow="daily-checklist",
        estate=config.estate,
        started_at=started_at,
        finished_at=utcnow(),
        results=results,
    )
    asyncio.run(handle_results(config, results))
    t2 = time.perf_counter()
    report = Report(
        kind="daily",
        title="Daily health check",
        estate=config.estate,
        run_id=run_id,
        started_at=started_at,
        finished_at=utcnow(),
        sections=sections,
    )
    write_html_report.fn(report, config.reports.directory)
    t3 = time.perf_counter()
    return {"checks": t1 - t0, "store": t2 - t1, "report": t3 - t2, "total": t3 - t0}


def flow_run(config_path: Path) -> float:
    from opsbook.flows.daily import daily_checklist

    started = time.perf_counter()
    daily_checklist(config_path=str(config_path), return_state=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "checklist_overhead.json")
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    rows: dict[str, list[float]] = {
        "demo servers start": [],
        "direct: checks": [],
        "direct: store + alerts": [],
        "direct: report": [],
        "direct: total": [],
        "flow: total": [],
        "prefect overhead": [],
    }
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-") as workdir:
        started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=120):
            rows["prefect server start"] = [time.perf_counter() - started]
            for repeat in range(args.repeat):
                started = time.perf_counter()
                with demo_estate(Path(workdir) / f"run{repeat}") as estate:
                    rows["demo servers start"].append(time.perf_counter() - started)
                    config_path = estate.write_config()
                    flow_run(config_path)  # warms both paths (imports, first connections, migrations)
                    stages = direct_run(config_path)
                    flow_s = flow_run(config_path)
                for name in ("checks", "store", "report", "total"):
                    key = {"store": "direct: store + alerts"}.get(name, f"direct: {name}")
                    rows[key].append(stages[name])
                rows["flow: total"].append(flow_s)
                rows["prefect overhead"].append(flow_s - stages["total"])

    print(f"daily checklist on the demo estate, {args.repeat} repeat(s); load {os.getloadavg()[0]:.2f}")
    print(f"{'stage':<26}{'median s':>10}{'min s':>10}{'max s':>10}")
    summary = {}
    for name, values in rows.items():
        summary[name] = {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values)}
        print(f"{name:<26}{statistics.median(values):>10.3f}{min(values):>10.3f}{max(values):>10.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"repeat": args.repeat, "load_1m": os.getloadavg()[0], "stages": summary}, indent=2))


if __name__ == "__main__":
    main()
