"""The `metrics_sources` section: Gatus-like defaults, and one clear message per problem with its key path."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml

from opsbook.config import ConfigError, parse_config
from opsbook.config.app_metrics import threshold_limit
from opsbook.config.thresholds import Thresholds

EXAMPLE = Path(__file__).resolve().parents[1] / "opsbook.example.yaml"


def problems(source: dict, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"metrics_sources": [source]}, environ=environ or {})
    return caught.value.problems


def test_a_base_url_is_enough_for_the_runbook_api() -> None:
    config = parse_config({"metrics_sources": [{"base_url": "https://app.example.com"}]})
    [app] = config.metrics_sources
    assert (app.kind, app.name, app.failure_threshold) == ("json_api", "app", 1)
    paths = [e.path for e in app.endpoints]
    assert paths == [
        "/api/metrics/web-vitals",
        "/api/metrics/api-performance",
        "/api/metrics/database",
        "/api/analytics/engagement",
        "/api/security/dashboard",
        "/api/security/status",
        "/api/metrics/system",
        "/api/analytics/rum",
        "/api/metrics/performance",
    ]
    rum = next(e for e in app.endpoints if e.step == "rum")
    judged = {m.name: m.threshold for m in rum.metrics if m.threshold}
    assert judged == {
        "rum_fcp_p75": "web_vitals.fcp_ms",
        "rum_lcp_p75": "web_vitals.lcp_ms",
        "rum_fid_p75": "web_vitals.fid_ms",
        "rum_inp_p75": "web_vitals.inp_ms",
        "rum_cls_p75": "web_vitals.cls",
    }
    assert app.url(rum) == "https://app.example.com/api/analytics/rum"


def test_the_auth_header_comes_from_the_environment() -> None:
    config = parse_config(
        {"metrics_sources": [{"base_url": "https://a.example", "headers": {"Authorization": "Bearer ${APP_TOKEN}"}}]},
        environ={"APP_TOKEN": "s3cret-token"},
    )
    assert config.metrics_sources[0].headers == {"Authorization": "Bearer s3cret-token"}
    assert problems({"base_url": "https://a.example", "headers": {"Authorization": "Bearer ${APP_TOKEN}"}}) == [
        "metrics_sources[0].headers.Authorization: environment variable APP_TOKEN is not set"
    ]


def test_threshold_names_resolve_to_the_configured_limits() -> None:
    custom = Thresholds.model_validate({"web_vitals": {"lcp_ms": {"warn": 2000, "fail": 3000}}})
    assert (threshold_limit(custom, "web_vitals.lcp_ms").warn, threshold_limit(custom, "web_vitals.lcp_ms").fail) == (
        2000,
        3000,
    )
    assert threshold_limit(Thresholds(), "resources.disk_pct").warn == 80
    for bad in ("web_vitals", "database.slow_query_ms", "nope.x", "web_vitals.lcp_ms.warn"):
        with pytest.raises(ValueError, match="is not a limit under thresholds"):
            threshold_limit(Thresholds(), bad)


def test_each_problem_is_reported_with_its_key_path() -> None:
    found = problems(
        {
            "kind": "prometheus",
            "base_url": "not a url",
            "failure_threshold": 0,
            "colour": "blue",
            "maintenance": [{"start": "2026-01-01T02:00", "duration": "2h", "timezone": "Nowhere/City"}],
            "endpoints": [
                {
                    "name": "a",
                    "step": "rum",
                    "path": "/a",
                    "conditions": ["[BODY].x => 1"],
                    "metrics": [
                        {"name": "m", "path": "a..b"},
                        {"name": "n", "path": "n", "threshold": "web_vitals.xyz"},
                        {"name": "o", "path": "o", "threshold": "api.error_rate_pct", "limit": {"warn": 1}},
                    ],
                },
                {"name": "b", "step": "kpis", "path": "b"},
            ],
        }
    )
    text = "\n".join(found)
    for expected in (
        r"^metrics_sources\[0\]\.kind: Input should be 'json_api'",
        r"^metrics_sources\[0\]\.base_url: ",
        r"^metrics_sources\[0\]\.failure_threshold: Input should be greater than or equal to 1",
        r"^metrics_sources\[0\]\.colour: unknown key",
        r"^metrics_sources\[0\]\.maintenance\[0\]\.timezone: unknown time zone 'Nowhere/City'",
        r"^metrics_sources\[0\]\.endpoints\[0\]\.conditions\[0\]\.condition: cannot parse condition '\[BODY\]\.x => 1'",
        r"^metrics_sources\[0\]\.endpoints\[0\]\.metrics\[0\]\.path: invalid JSON path 'a\.\.b'",
        r"^metrics_sources\[0\]\.endpoints\[0\]\.metrics\[1\]\.threshold: 'web_vitals\.xyz' is not a limit",
        r"^metrics_sources\[0\]\.endpoints\[0\]\.metrics\[2\]: give either `threshold`",
        r"^metrics_sources\[0\]\.endpoints\[1\]\.step: Input should be 'web_vitals'",
        r"^metrics_sources\[0\]\.endpoints\[1\]\.path: String should match pattern",
    ):
        assert re.search(expected, text, re.MULTILINE), f"{expected}\n---\n{text}"


def test_duplicate_names_are_rejected() -> None:
    metric = {"name": "lcp", "path": "lcp"}
    assert problems(
        {
            "base_url": "https://a.example",
            "endpoints": [
                {"name": "one", "step": "rum", "path": "/1", "metrics": [metric]},
                {"name": "two", "step": "rum", "path": "/2", "metrics": [metric]},
            ],
        }
    ) == ["metrics_sources[0]: name 'lcp' is used twice in this source (endpoint and metric names must all differ)"]
    assert problems(
        {
            "base_url": "https://a.example",
            "endpoints": [{"name": "lcp", "step": "rum", "path": "/1", "metrics": [metric]}],
        }
    )[0].startswith("metrics_sources[0]: name 'lcp' is used twice")
    with pytest.raises(ConfigError) as caught:
        parse_config({"metrics_sources": [{"base_url": "https://a.example"}, {"base_url": "https://b.example"}]})
    assert caught.value.problems == [
        "metrics_sources: source name 'app' is used twice; give each source its own `name`"
    ]
    assert problems(
        {
            "base_url": "https://a.example",
            "endpoints": [{"name": "one", "step": "rum", "path": "/1", "metrics": [metric, metric]}],
        }
    ) == ["metrics_sources[0].endpoints[0]: metric 'lcp' is mapped twice"]


def test_the_example_config_and_its_commented_mapping_are_valid() -> None:
    text = EXAMPLE.read_text()
    parse_config(yaml.safe_load(text), environ={})
    # Uncomment the example `endpoints:` block and validate the mapping it shows.
    lines = text[text.index("    # endpoints:") :].splitlines()
    block = "\n".join(
        line.replace("    # ", "    ", 1) for line in itertools.takewhile(lambda s: s.startswith("    #"), lines)
    )
    source = yaml.safe_load("x:\n" + block)["x"]
    config = parse_config({"metrics_sources": [{"base_url": "https://a.example", **source}]}, environ={})
    [endpoint] = config.metrics_sources[0].endpoints
    assert [m.name for m in endpoint.metrics] == ["lcp", "queue_depth"]
    assert [c.severity for c in endpoint.conditions] == ["fail", "fail", "fail", "fail", "warn"]
