"""The demo application's JSON metrics API (the runbook's endpoints and fields), on loopback.

Realistic figures, all within the runbook's limits but one: disk usage at 86 %, past the
runbook's 80 % warning level. Every route wants the bearer token the demo config sends.
"""

from __future__ import annotations

from typing import Any

from opsbook.demo.server import Handler, Reply, Request

_RUM = {
    "fcp": {"p50": 980, "p75": 1420, "p95": 2650},
    "lcp": {"p50": 1650, "p75": 2180, "p95": 3900},
    "fid": {"p50": 12, "p75": 38, "p95": 140},
    "inp": {"p50": 96, "p75": 164, "p95": 420},
    "cls": {"p50": 0.02, "p75": 0.06, "p95": 0.18},
}

PAYLOADS: dict[str, dict[str, Any]] = {
    "/api/metrics/web-vitals": {
        "fcp": 1380,
        "lcp": 2140,
        "fid": 35,
        "inp": 158,
        "cls": 0.05,
        "sample_size": 18422,
        "period": "24h",
    },
    "/api/metrics/api-performance": {
        "avg_response_time": 142,
        "error_rate": 0.42,
        "throughput": 1275,
        "p95_response_time": 480,
        "period": "24h",
    },
    "/api/metrics/performance": {
        "avg_response_time": 151,
        "error_rate": 0.38,
        "requests_24h": 1836000,
        "errors_24h": 6977,
    },
    "/api/metrics/database": {
        "avg_query_time": 18.4,
        "connection_pool_usage": 46,
        "active_connections": 23,
        "pool_utilization": 46,
    },
    "/api/analytics/engagement": {
        "active_users_24h": 8214,
        "session_duration_avg": 412,
        "completion_rate": 71.5,
        "satisfaction_score": 4.4,
    },
    "/api/security/dashboard": {
        "threat_level": "low",
        "blocked_threats_24h": 37,
        "security_events_24h": 142,
        "vulnerability_count": 0,
    },
    "/api/security/status": {"status": "secure", "waf": "enabled", "last_scan": "2026-01-01T03:00:00Z"},
    "/api/metrics/system": {
        "cpu": {"usage_percent": 41.2, "cores": 4},
        "memory": {"usage_percent": 63.8},
        "disk": {"usage_percent": 86.3, "free_gb": 13.7},
    },
    "/api/analytics/rum": {
        "core_web_vitals": _RUM,
        "user_experience": {
            "bounce_rate": 32.4,
            "avg_session_duration": 398,
            "page_views_per_session": 4.2,
            "conversion_rate": 3.1,
        },
    },
}


def app_api_routes(token: str) -> dict[str, Handler]:
    """path -> handler; a missing or wrong bearer token gets a 401, as the real API would."""

    def route(payload: dict[str, Any]) -> Handler:
        def handler(request: Request) -> Reply:
            sent = request.headers.get("authorization")
            if sent != f"Bearer {token}":
                return Reply.json({"error": "unauthorized"}, status=401)
            return Reply.json(payload, delay_s=0.01)

        return handler

    return {path: route(payload) for path, payload in PAYLOADS.items()}
