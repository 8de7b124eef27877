"""The application's JSON API checks against real loopback servers: the runbook's API read
through the default mapping, another API through mapping alone, every fault as an error naming
its cause, figures kept as samples, flap control from the history and maintenance windows."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from opsbook.demo.app_api import app_api_routes
from opsbook.demo.server import LoopbackServer, Reply, Request
from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import open_store
from opsbook.tasks.app_metrics import STEPS, read_step

TOKEN = "demo-token-5f3a9c"


def source(server: LoopbackServer, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "json_api",
        "name": "app",
        "base_url": server.url("/"),
        "headers": {"Authorization": "Bearer ${APP_TOKEN}"},
        **fields,
    }


def configure(tmp_path: Path, *sources: dict[str, Any], **sections: Any):
    from opsbook.config import parse_config

    data = {
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        "http": {"timeout_s": 2, "retries": 1, "backoff_s": 0.01},
        "metrics_sources": list(sources),
        **sections,
    }
    return parse_config(data, base_dir=tmp_path, environ={"APP_TOKEN": TOKEN})


def read(config, step: str) -> dict[str, CheckResult]:
    return {r.target: r for r in asyncio.run(read_step(config, step))}


# -- the runbook's API, default mapping -----------------------------------------------------------


def test_the_runbook_api_is_judged_against_the_runbook_thresholds(tmp_path: Path) -> None:
    with LoopbackServer(app_api_routes(TOKEN)) as server:
        config = configure(tmp_path, source(server))
        steps = {step: read(config, step) for step in STEPS}

    vitals = steps["web_vitals"]
    assert (vitals["app/fcp"].status, vitals["app/fcp"].value, vitals["app/fcp"].threshold) == (Status.OK, 1380, 1800)
    assert vitals["app/inp"].threshold == 200 and vitals["app/cls"].threshold == 0.1
    assert "below the warning level 1,800 ms" in vitals["app/fcp"].message
    api = steps["api_performance"]
    assert (api["app/avg_response_time"].value, api["app/avg_response_time"].threshold) == (142, 200)
    assert api["app/error_rate"].threshold == 1 and api["app/error_rate"].unit == "%"
    rum = steps["rum"]
    assert (rum["app/rum_lcp_p75"].status, rum["app/rum_lcp_p75"].value, rum["app/rum_lcp_p75"].threshold) == (
        Status.OK,
        2180,
        2500,
    )
    assert "app/rum_lcp_p95" not in rum  # p50/p95 are recorded, not judged
    figures = {f["metric"]: f for f in rum["app/rum"].details["figures"]}
    assert figures["rum_lcp_p95"] == {"metric": "rum_lcp_p95", "value": 3900, "unit": "ms", "status": "recorded"}
    assert figures["conversion_rate"]["value"] == 3.1
    security = steps["security"]
    assert (
        security["app/threat_level"].status is Status.OK and security["app/threat_level"].details["observed"] == "low"
    )
    assert security["app/vulnerability_count"].threshold == 1
    assert security["app/security-status condition"].status is Status.OK
    engagement = steps["engagement"]
    assert list(engagement) == ["app/engagement"]  # figures only: no threshold configured
    assert len(engagement["app/engagement"].details["figures"]) == 4
    assert steps["error_rate"]["app/error_rate_24h"].value == 0.38

    problems = [r for results in steps.values() for r in results.values() if r.status is not Status.OK]
    assert [(r.check, r.target, r.status, r.value, r.threshold) for r in problems] == [
        ("app.resources", "app/disk", Status.WARN, 86.3, 80)
    ]  # the demo's one figure out of bounds


def test_every_figure_is_stored_as_a_metric_sample(tmp_path: Path) -> None:
    with LoopbackServer(app_api_routes(TOKEN)) as server:
        config = configure(tmp_path, source(server))
        read(config, "rum")
        read(config, "rum")  # a second reading is a second point in time, not a duplicate
    store = open_store(config.history.url)
    p50 = store.samples("rum_fcp_p50", source="app")
    assert [s.value for s in p50] == [980, 980] and p50[0].labels == {"endpoint": "rum"} and p50[0].unit == "ms"
    assert len(store.samples("bounce_rate", source="app")) == 2
    assert store.samples("response_time", source="app", labels={"endpoint": "rum"})[0].value > 0


def test_thresholds_from_the_config_replace_the_runbook_defaults(tmp_path: Path) -> None:
    with LoopbackServer(app_api_routes(TOKEN)) as server:
        config = configure(
            tmp_path,
            source(server),
            thresholds={
                "resources": {"disk_pct": {"warn": 90, "fail": 95}},
                "web_vitals": {"fcp_ms": {"warn": 1000, "fail": 1300}},
            },
        )
        resources, vitals = read(config, "resources"), read(config, "web_vitals")
    assert resources["app/disk"].status is Status.OK
    assert (vitals["app/fcp"].status, vitals["app/fcp"].threshold) == (Status.FAIL, 1300)
    assert "above the critical level 1,300 ms" in vitals["app/fcp"].message


# -- another application, through mapping alone ---------------------------------------------------

OTHER_API = {
    "/v2/telemetry": {
        "data": {"vitals": [{"name": "LCP", "p75_seconds": 4.6}, {"name": "CLS", "p75": 0.04}]},
        "requests": {"failed_ratio": 0.031, "mean_latency_s": 0.12},
    },
    "/v2/host": {"load": {"cpu": 0.97}, "volumes": [{"mount": "/", "used_pct": 55}]},
}


def test_the_same_checks_read_a_differently_shaped_api_through_mapping_alone(tmp_path: Path) -> None:
    routes = {path: (lambda payload: lambda _r: Reply.json(payload))(body) for path, body in OTHER_API.items()}
    endpoints = [
        {
            "name": "telemetry-vitals",
            "step": "web_vitals",
            "path": "/v2/telemetry",
            "metrics": [
                {
                    "name": "lcp",
                    "path": "data.vitals[0].p75_seconds",
                    "unit": "ms",
                    "scale": 1000,
                    "threshold": "web_vitals.lcp_ms",
                },
                {"name": "cls", "path": "data.vitals[1].p75", "threshold": "web_vitals.cls"},
            ],
        },
        {
            "name": "telemetry-api",
            "step": "api_performance",
            "path": "/v2/telemetry",
            "metrics": [
                {
                    "name": "error_rate",
                    "path": "requests.failed_ratio",
                    "unit": "%",
                    "scale": 100,
                    "threshold": "api.error_rate_pct",
                },
                {
                    "name": "avg_response_time",
                    "path": "requests.mean_latency_s",
                    "unit": "ms",
                    "scale": 1000,
                    "threshold": "api.avg_response_ms",
                },
            ],
        },
        {
            "name": "host",
            "step": "resources",
            "path": "/v2/host",
            "metrics": [
                {"name": "cpu", "path": "load.cpu", "unit": "%", "scale": 100, "threshold": "resources.cpu_pct"},
                {"name": "disk", "path": "volumes[0].used_pct", "unit": "%", "threshold": "resources.disk_pct"},
            ],
        },
    ]
    with LoopbackServer(routes) as server:
        config = configure(
            tmp_path, {"kind": "json_api", "name": "shop", "base_url": server.url("/"), "endpoints": endpoints}
        )
        vitals, api, resources = read(config, "web_vitals"), read(config, "api_performance"), read(config, "resources")
    assert (
        vitals["shop/lcp"].check,
        vitals["shop/lcp"].status,
        vitals["shop/lcp"].value,
        vitals["shop/lcp"].threshold,
    ) == ("app.web_vitals", Status.FAIL, 4600, 4000)
    assert vitals["shop/cls"].status is Status.OK
    assert (api["shop/error_rate"].status, api["shop/error_rate"].value, api["shop/error_rate"].threshold) == (
        Status.WARN,
        3.1,
        1,
    )
    assert api["shop/avg_response_time"].value == pytest.approx(120)
    assert (resources["shop/cpu"].status, resources["shop/cpu"].value) == (Status.FAIL, 97)
    assert resources["shop/disk"].status is Status.OK
    assert read(config, "rum")[("(none)")].status is Status.SKIPPED  # nothing mapped to RUM


# -- faults: each an error naming its cause or path; the other endpoint still answers -------------

HEALTHY = {
    "name": "vitals",
    "step": "web_vitals",
    "path": "/healthy",
    "metrics": [{"name": "lcp", "path": "lcp", "unit": "ms", "threshold": "web_vitals.lcp_ms"}],
}
FAULTY = {
    "name": "rum",
    "step": "web_vitals",
    "path": "/faulty",
    "metrics": [{"name": "fcp_p75", "path": "core_web_vitals.fcp.p75", "unit": "ms", "threshold": "web_vitals.fcp_ms"}],
}
HTML_PAGE = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("reply", "target", "cause"),
    [
        (
            Reply.json({"core_web_vitals": {"fcp": {"p50": 900}}}),
            "app/fcp_p75",
            "core_web_vitals.fcp.p75: missing field",
        ),
        (
            Reply.json({"core_web_vitals": {"fcp": {"p75": "1.2s"}}}),
            "app/fcp_p75",
            'core_web_vitals.fcp.p75: expected a number, found string "1.2s"',
        ),
        (
            Reply.json({"core_web_vitals": {"fcp": [1, 2]}}),
            "app/fcp_p75",
            "core_web_vitals.fcp.p75: expected an object, found array",
        ),
        (Reply(200, "OK", {"Content-Type": "text/plain"}), "app/rum", "body is not JSON (text/plain): Expecting value"),
        (
            Reply(200, HTML_PAGE, {"Content-Type": "text/html"}),
            "app/rum",
            "not JSON: an HTML page (text/html): page titled '502 Bad Gateway'",
        ),
        (Reply(503, HTML_PAGE, {"Content-Type": "text/html"}), "app/rum", "HTTP 503: page titled '502 Bad Gateway'"),
        (
            Reply(200, b'{"core_web_vitals": {"fcp": {"p75": 1', {"Content-Type": "application/json"}),
            "app/rum",
            "body is not JSON (application/json)",
        ),
        (Reply.json({"core_web_vitals": {"fcp": {"p75": 1e999}}}), "app/fcp_p75", "is not a finite number"),
    ],
    ids=[
        "missing-field",
        "wrong-type",
        "wrong-container",
        "plain-text",
        "html-page",
        "html-5xx",
        "truncated-json",
        "infinite",
    ],
)
def test_bad_bodies_become_errors_naming_the_path_or_cause(
    tmp_path: Path, reply: Reply, target: str, cause: str
) -> None:
    routes = {"/healthy": lambda _r: Reply.json({"lcp": 2100}), "/faulty": lambda _r: reply}
    with LoopbackServer(routes) as server:
        results = read(configure(tmp_path, source(server, endpoints=[HEALTHY, FAULTY])), "web_vitals")
    assert results[target].status is Status.ERROR
    assert cause in results[target].message, results[target].message
    assert results["app/lcp"].status is Status.OK and results["app/lcp"].value == 2100


def _guarded(request: Request) -> Reply:
    sent = request.headers.get("authorization")
    return Reply.json({"lcp": 2000}) if sent == f"Bearer {TOKEN}" else Reply.json({"error": "unauthorized"}, 401)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer ${WRONG_TOKEN}"}], ids=["missing", "wrong"])
def test_401_is_an_error_that_points_at_the_secret_and_never_shows_it(tmp_path: Path, headers: dict) -> None:
    from opsbook.config import parse_config

    with LoopbackServer({"/healthy": _guarded}) as server:
        config = parse_config(
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "http": {"retries": 2},
                "metrics_sources": [source(server, headers=headers, endpoints=[HEALTHY])],
            },
            environ={"WRONG_TOKEN": "wrong-secret-value-77"},
        )
        [result] = read(config, "web_vitals").values()
        hits = server.hits["/healthy"]
    assert result.status is Status.ERROR and hits == 1  # a 4xx is not retried
    assert "HTTP 401 (the API refused the credentials" in result.message
    assert "wrong-secret-value-77" not in result.model_dump_json()


def test_an_oversized_body_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    huge = json.dumps({"lcp": 2000, "padding": "x" * 200_000})
    with LoopbackServer({"/healthy": lambda _r: Reply(200, huge, {"Content-Type": "application/json"})}) as server:
        config = configure(tmp_path, source(server, endpoints=[HEALTHY]), http={"max_body_bytes": 4096, "retries": 0})
        [result] = read(config, "web_vitals").values()
    assert result.status is Status.ERROR
    assert "body larger than 4096 bytes" in result.message


def test_a_body_trickling_past_the_deadline_is_a_timeout_error(tmp_path: Path) -> None:
    trickle = [b'{"lcp": 2000, "pad": "'] + [b"x" * 10] * 30 + [b'"}']
    routes = {"/healthy": lambda _r: Reply(200, trickle, {"Content-Type": "application/json"}, chunk_delay_s=0.05)}
    with LoopbackServer(routes) as server:
        config = configure(tmp_path, source(server, endpoints=[HEALTHY]), http={"timeout_s": 0.5, "retries": 0})
        [result] = read(config, "web_vitals").values()
    assert result.status is Status.ERROR
    assert "timed out after 0.5 s" in result.message


def test_an_unreachable_api_is_an_error_after_the_retries(tmp_path: Path) -> None:
    from tests.conftest import free_port

    config = configure(tmp_path, {"name": "app", "base_url": f"http://127.0.0.1:{free_port()}", "endpoints": [HEALTHY]})
    [result] = read(config, "web_vitals").values()
    assert result.status is Status.ERROR and result.attempts == 2
    assert "connection failed" in result.message


# -- conditions on any endpoint -------------------------------------------------------------------


def test_gatus_conditions_on_status_time_body_presence_and_length(tmp_path: Path) -> None:
    body = {"status": "degraded", "queue": [1, 2, 3, 4, 5], "build": "2.4.1"}
    conditions = [
        "[STATUS] == 200",
        "[RESPONSE_TIME] < 5000",
        "[BODY].status == healthy",
        {"condition": "len([BODY].queue) < 3", "severity": "warn"},
        "has([BODY].errors) == false",
        "[BODY].replicas >= 2",
    ]
    endpoint = {"name": "status", "step": "security", "path": "/status", "conditions": conditions}
    with LoopbackServer({"/status": lambda _r: Reply.json(body)}) as server:
        results = list(read(configure(tmp_path, source(server, endpoints=[endpoint])), "security").values())
    summary, *judged = results
    assert summary.status is Status.OK and summary.message.startswith("HTTP 200 in")
    assert [r.status for r in judged] == [Status.OK, Status.OK, Status.FAIL, Status.WARN, Status.OK, Status.ERROR]
    assert "[BODY].status == healthy does not hold (degraded == healthy)" in judged[2].message
    assert (judged[3].value, judged[3].threshold) == (5, 3)
    assert "replicas: missing field" in judged[5].message
    assert len({r.target for r in results}) == len(results)  # each condition is its own series


# -- flap control and maintenance -----------------------------------------------------------------


def _run_and_store(config, step: str, run: int) -> dict[str, CheckResult]:
    results = asyncio.run(read_step(config, step))
    open_store(config.history.url).record_run(
        run_id=f"run-{run}",
        flow="daily-checklist",
        estate="t",
        started_at=utcnow(),
        finished_at=utcnow(),
        results=results,
    )
    return {r.target: r for r in results}


def test_a_check_fails_only_after_failure_threshold_consecutive_failures(tmp_path: Path) -> None:
    lcp = {"value": 5200}
    with LoopbackServer({"/healthy": lambda _r: Reply.json({"lcp": lcp["value"]})}) as server:
        config = configure(tmp_path, source(server, endpoints=[HEALTHY], failure_threshold=3))
        seen = []
        for run in range(1, 7):
            if run == 4:
                lcp["value"] = 2000  # recovered: the streak ends
            if run == 5:
                lcp["value"] = 5200
            seen.append(_run_and_store(config, "web_vitals", run)["app/lcp"])
    assert [r.status for r in seen] == [Status.WARN, Status.WARN, Status.FAIL, Status.OK, Status.WARN, Status.WARN]
    assert seen[0].message.startswith("failing 1 of 3: lcp 5,200 ms: above the critical level")
    assert seen[1].message.startswith("failing 2 of 3")
    assert seen[2].details["failing"] == 3 and not seen[2].message.startswith("failing")
    assert seen[4].message.startswith("failing 1 of 3")


def test_failures_during_a_maintenance_window_are_reported_but_silenced(tmp_path: Path) -> None:
    now = utcnow().replace(tzinfo=None)
    window = {
        "name": "db upgrade",
        "start": (now - timedelta(minutes=30)).isoformat(timespec="minutes"),
        "duration": "2h",
    }
    later = {**window, "start": (now + timedelta(hours=3)).isoformat(timespec="minutes")}
    routes = {"/healthy": lambda _r: Reply.json({"lcp": 9000}), "/faulty": lambda _r: Reply(200, HTML_PAGE)}
    with LoopbackServer(routes) as server:
        during = read(
            configure(tmp_path, source(server, endpoints=[HEALTHY, FAULTY], maintenance=[window])), "web_vitals"
        )
        outside = read(
            configure(tmp_path, source(server, endpoints=[HEALTHY, FAULTY], maintenance=[later])), "web_vitals"
        )
    assert during["app/lcp"].status is Status.FAIL and during["app/rum"].status is Status.ERROR
    for result in (during["app/lcp"], during["app/rum"]):
        assert result.details["silenced_by_maintenance"] is True
        assert result.labels["maintenance"] == "db upgrade"
    assert "silenced_by_maintenance" not in during["app/vitals"].details  # ok results are left alone
    assert not any(r.details.get("silenced_by_maintenance") for r in outside.values())


def test_an_unwritable_history_is_reported_and_the_figures_are_still_judged(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    with LoopbackServer(app_api_routes(TOKEN)) as server:
        config = configure(tmp_path, source(server), history={"url": f"sqlite:///{blocker / 'h.db'}"})
        results = read(config, "resources")
    assert results["app/disk"].status is Status.WARN
    assert results["(history)"].status is Status.ERROR
    assert results["(history)"].message.startswith("figures not stored:")


def test_without_metrics_sources_the_steps_say_nothing(tmp_path: Path) -> None:
    config = configure(tmp_path)
    assert all(asyncio.run(read_step(config, step)) == [] for step in STEPS)


def test_engagement_is_judged_only_where_a_limit_is_configured_and_lower_can_be_worse(tmp_path: Path) -> None:
    endpoint = {
        "name": "engagement",
        "step": "engagement",
        "path": "/api/analytics/engagement",
        "metrics": [
            {
                "name": "satisfaction_score",
                "path": "satisfaction_score",
                "limit": {"warn": 4.5, "fail": 3.5, "higher_is_worse": False},
            },
            {"name": "active_users_24h", "path": "active_users_24h", "unit": "users"},
        ],
    }
    with LoopbackServer(app_api_routes(TOKEN)) as server:
        results = read(configure(tmp_path, source(server, endpoints=[endpoint])), "engagement")
    score = results["app/satisfaction_score"]
    assert (score.status, score.value, score.threshold) == (Status.WARN, 4.4, 4.5)
    assert score.message == "satisfaction_score 4.4: below the warning level 4.5"
    assert "app/active_users_24h" not in results
    assert results["app/engagement"].details["figures"][1] == {
        "metric": "active_users_24h",
        "value": 8214,
        "unit": "users",
        "status": "recorded",
    }


def test_a_secret_in_the_url_or_headers_never_reaches_the_history(tmp_path: Path) -> None:
    from sqlalchemy import text

    from opsbook.config import parse_config

    secret = "query-secret-0a9f3e"
    with LoopbackServer({"/healthy": lambda _r: Reply(500, "down")}) as server:
        config = parse_config(
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "http": {"retries": 0},
                "metrics_sources": [
                    {
                        "name": "app",
                        "base_url": server.url("/") + "?key=${KEY}",
                        "headers": {"Authorization": "Bearer ${KEY}"},
                        "endpoints": [{**HEALTHY, "path": "/healthy"}],
                    }
                ],
            },
            environ={"KEY": secret},
        )
        stored = _run_and_store(config, "web_vitals", 1)
    assert stored["app/vitals"].status is Status.ERROR  # the raw result still holds the URL ...
    store = open_store(config.history.url)
    with store.engine.connect() as connection:
        dump = repr(connection.execute(text("SELECT * FROM check_results")).all())
    assert "HTTP 500" in dump and secret not in dump and "key=***" in dump  # ... the history never does


# -- trying a mapping from the command line -----------------------------------------------------


def test_metrics_try_reads_now_names_a_wrong_path_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from opsbook.cli import app
    from tests.helpers import write_config

    monkeypatch.setenv("APP_TOKEN", TOKEN)
    runner = CliRunner(env={"COLUMNS": "240"})
    with LoopbackServer(app_api_routes(TOKEN)) as server:
        good = source(
            server,
            endpoints=[
                {
                    "name": "vitals",
                    "step": "web_vitals",
                    "path": "/api/metrics/web-vitals",
                    "metrics": [{"name": "lcp", "path": "lcp", "threshold": "web_vitals.lcp_ms"}],
                }
            ],
        )
        wrong = source(
            server,
            name="typo",
            endpoints=[
                {
                    "name": "vitals",
                    "step": "web_vitals",
                    "path": "/api/metrics/web-vitals",
                    "metrics": [{"name": "lcp", "path": "lcpp"}],
                }
            ],
        )
        path = write_config(
            tmp_path, {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "metrics_sources": [good, wrong]}
        )
        ok = runner.invoke(app, ["metrics", "try", "--source", "app", "-c", str(path)])
        bad = runner.invoke(app, ["metrics", "try", "--source", "typo", "-c", str(path)])
        unknown = runner.invoke(app, ["metrics", "try", "--endpoint", "nope", "-c", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "app/lcp" in ok.output and "lcp 2,140: below the warning level 2,500" in ok.output
    assert "nothing stored" in ok.output
    assert bad.exit_code == 1 and "typo/lcp" in bad.output and "lcpp" in bad.output
    assert unknown.exit_code == 1 and "no endpoint 'nope'; known: vitals, vitals" in unknown.output
    assert TOKEN not in ok.output + bad.output
    assert not (tmp_path / "h.db").exists()  # nothing was stored, not even a schema


# -- what the endpoint's own result claims, and how old its figures are ---------------------------


def _host_endpoint(**fields: Any) -> dict[str, Any]:
    return {
        "name": "host",
        "step": "resources",
        "path": "/host",
        "metrics": [
            {"name": "cpu", "path": "cpu", "unit": "%", "threshold": "resources.cpu_pct"},
            {"name": "memory", "path": "memory", "unit": "%", "threshold": "resources.memory_pct"},
            {"name": "disk", "path": "disk.usage_percent", "unit": "%", "threshold": "resources.disk_pct"},
        ],
        **fields,
    }


def test_the_figure_count_counts_only_figures_really_read_and_names_the_missing(tmp_path: Path) -> None:
    body = {"cpu": 41.0, "memory": 52.5}  # no disk at all
    with LoopbackServer({"/host": lambda _r: Reply.json(body)}) as server:
        results = read(configure(tmp_path, source(server, endpoints=[_host_endpoint()])), "resources")
    assert "; 2 of 3 figure(s) read (not read: disk)" in results["app/host"].message
    assert results["app/disk"].status is Status.ERROR and "disk: missing field" in results["app/disk"].message


@pytest.mark.parametrize(
    ("generated_at", "status", "said"),
    [
        (lambda now: now.isoformat().replace("+00:00", "Z"), Status.OK, "; 3 of 3 figure(s) read, generated 0s ago"),
        (lambda now: (now - timedelta(hours=3)).timestamp(), Status.ERROR, "stale figures: generated at "),
        (lambda now: "yesterday", Status.ERROR, 'generated_at at: "yesterday" is not a time'),
    ],
    ids=["fresh-iso", "three-hours-old-unix", "not-a-time"],
)
def test_mapped_generated_at_older_than_max_age_is_an_error_and_nothing_is_judged(
    tmp_path: Path, generated_at: Any, status: Status, said: str
) -> None:
    def reply(_request: Request) -> Reply:
        return Reply.json({"cpu": 41.0, "memory": 52.5, "disk": {"usage_percent": 60}, "at": generated_at(utcnow())})

    endpoint = _host_endpoint(generated_at="at", max_age_s=600)
    with LoopbackServer({"/host": reply}) as server:
        config = configure(tmp_path, source(server, endpoints=[endpoint]))
        results = read(config, "resources")
    assert results["app/host"].status is status and said in results["app/host"].message, results["app/host"].message
    if status is Status.ERROR:
        assert list(results) == ["app/host"]  # no figure judged as if it were current
        assert open_store(config.history.url).samples("cpu") == []
    if "stale" in said:
        assert "3h ago (at most 10m expected)" in results["app/host"].message


def test_a_missing_generated_at_path_says_freshness_cannot_be_told(tmp_path: Path) -> None:
    with LoopbackServer({"/host": lambda _r: Reply.json({"cpu": 41.0})}) as server:
        results = read(
            configure(tmp_path, source(server, endpoints=[_host_endpoint(generated_at="meta.at")])), "resources"
        )
    assert results["app/host"].status is Status.ERROR
    assert "generated_at meta.at" in results["app/host"].message
    assert "cannot tell whether the figures are current" in results["app/host"].message
