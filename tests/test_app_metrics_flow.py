"""The daily checklist with the application's API, on a real Prefect server: the runbook's order,
value, threshold and status in the report, and a broken endpoint that takes nothing else down."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsbook.demo.estate import demo_estate
from opsbook.demo.server import Reply
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.daily import daily_checklist
from opsbook.results import Status, Verdict
from opsbook.store import open_store

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_daily_checklist_reads_the_app_api_in_the_runbook_order(tmp_path: Path) -> None:
    with demo_estate(tmp_path / "demo") as estate:
        # One endpoint answers with a proxy's HTML error page: an error, and nothing else is lost.
        assert estate.app_api is not None
        estate.app_api.routes["/api/metrics/web-vitals"] = lambda _r: Reply(
            502, "<html><title>502 Bad Gateway</title></html>", {"Content-Type": "text/html"}
        )
        state = daily_checklist(config_path=str(estate.write_config()), return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome) and state.is_completed() and outcome.verdict is Verdict.RED
    by_key = {r.key: r for r in outcome.results}

    vitals = by_key[("app.web_vitals", "app/web-vitals")]
    assert vitals.status is Status.ERROR and "HTTP 502" in vitals.message
    disk = by_key[("app.resources", "app/disk")]
    assert (disk.status, disk.value, disk.threshold) == (Status.WARN, 86.3, 80)
    assert by_key[("app.rum", "app/rum_lcp_p75")].status is Status.OK
    assert by_key[("app.security", "app/threat_level")].status is Status.OK
    assert by_key[("app.api_performance", "app/avg_response_time")].threshold == 200

    html = outcome.report_path.read_text()
    titles = re.findall(r"<h2[^>]*>\s*(?:\d+\.\s*)?([^<—]+?)\s*(?:—|<)", html)
    expected = [
        "Platform health",
        "Core Web Vitals",
        "API performance",
        "User engagement",
        "Security dashboard",
        "Application resources",
        "Real User Monitoring",
        "Error rate, last 24 h",
    ]
    assert [t for t in titles if t in expected] == expected

    def row(target: str) -> str:  # status, value and threshold cells of one result row
        match = re.search(re.escape(f"<td>{target}</td>") + r"(.*?)</tr>", html, re.DOTALL)
        assert match, target
        return " | ".join(re.findall(r"<td[^>]*>([^<]*)</td>", match.group(1))[:3])

    assert row("app/rum_lcp_p75") == "OK | 2,180 ms | 2,500 ms"
    assert row("app/disk").endswith(" | 86.3 % | 80 %") and not row("app/disk").startswith("OK")
    assert row("app/avg_response_time") == "OK | 142 ms | 200 ms"
    assert row("app/threat_level") == "OK | 0 | 2"
    assert "Figures from app/rum" in html and "rum_lcp_p95" in html

    store = open_store(f"sqlite:///{tmp_path / 'demo' / 'history.db'}")
    assert [s.value for s in store.samples("disk", source="app")] == [86.3]
    stored = {r.key: r for r in store.get_run(outcome.run_id).results}
    assert stored[("app.resources", "app/disk")].status is Status.WARN


def test_opsbook_demo_prints_value_threshold_and_status_of_the_app_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from opsbook.cli import app
    from opsbook.cli.common import out

    monkeypatch.setattr(out, "width", 250)  # one table row per line, however narrow the terminal
    result = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path / "demo")])
    assert result.exit_code == 1, result.output  # the degraded platform still fails the run
    rows = {
        tuple(cell.strip() for cell in line.split("│")[1:5]): line
        for line in result.output.splitlines()
        if line.count("│") >= 6
    }
    expected = {  # (check, target, status) -> value and threshold cells
        ("app.web_vitals", "app/lcp", "ok"): ("2140 ms", "2500 ms"),
        ("app.api_performance", "app/avg_response_time", "ok"): ("142 ms", "200 ms"),
        ("app.rum", "app/rum_lcp_p75", "ok"): ("2180 ms", "2500 ms"),
        ("app.resources", "app/disk", "warn"): ("86.3 %", "80 %"),
        ("app.security", "app/vulnerability_count", "ok"): ("0 vulnerabilities", "1 vulnerabilities"),
    }
    for (check, target, status), (value, threshold) in expected.items():
        [line] = [line for key, line in rows.items() if key[:3] == (check, target, status)]
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        assert cells[3:5] == [value, threshold], line
    assert "threat_level 'low': below the warning level 'high'" in result.output
