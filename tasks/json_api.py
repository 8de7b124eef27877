"""Reading one JSON API endpoint: decode the body, pull each mapped figure by its path, judge
figures and conditions. Pure functions of a fetched answer, so every fault is easy to cause.

Every way an answer can be unusable (a transport failure, an unexpected status, an HTML error
page, a body that is not JSON, a missing field, a wrong type) becomes an `error` result whose
message names the cause or the JSON path.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opsbook.checks import AlertType, Check, declare
from opsbook.config import Limit, Thresholds
from opsbook.config.app_metrics import AppStep, Endpoint, JsonApiSource, MetricMap
from opsbook.config.conditions import ConditionSpec
from opsbook.durations import format_duration
from opsbook.escalation import Severity
from opsbook.json_path import PathNotFound, json_type, parse_path, resolve
from opsbook.results import CheckResult, Status, error_result, judge
from opsbook.store import Sample
from opsbook.tasks.http import FetchedResponse, FetchFailure, describe_status
from opsbook.tasks.resources import RUNBOOK_WARN_SEVERITY

COMPONENT = "application"

WEB_VITALS = declare(
    "app.web_vitals",
    title="Core Web Vitals",
    component=COMPONENT,
    alert_type=AlertType.PERFORMANCE,
    severity=Severity.P2,
    on_fail=(
        "Core Web Vitals are poor: check the last frontend deploy and the largest assets; roll back if it regressed."
    ),
    on_warn="A Core Web Vital is past its 'good' level: compare with the 7-day trend and plan a frontend fix.",
    runbook_steps=("Key Performance Indicators (KPIs) Review",),
    monitored=True,
)

API_PERFORMANCE = declare(
    "app.api_performance",
    title="API performance",
    component=COMPONENT,
    alert_type=AlertType.PERFORMANCE,
    severity=Severity.P2,
    on_fail="API response time or error rate is critical: start a performance investigation and check the database.",
    on_warn="API performance is past its target: compare with the baseline and look at the slowest endpoints.",
    runbook_steps=(
        "System Health Validation (08:00 UTC) / Reviewing performance metrics",
        "Key Performance Indicators (KPIs) Review",
    ),
    monitored=True,
)

ENGAGEMENT = declare(
    "app.engagement",
    title="User engagement",
    component=COMPONENT,
    alert_type=AlertType.APPLICATION,
    severity=Severity.P2,
    on_fail="Engagement figures are past their configured limit: tell the product owner.",
    on_warn="Engagement is past its warning level: watch the trend.",
    runbook_steps=("Key Performance Indicators (KPIs) Review",),
    monitored=True,
)

SECURITY_DASHBOARD = declare(
    "app.security",
    title="Security dashboard",
    component=COMPONENT,
    alert_type=AlertType.SECURITY,
    severity=Severity.P1,
    on_fail="The security dashboard is critical: follow the security incident runbook now.",
    on_warn="Threat level or open vulnerabilities are up: review the security events and patch plan today.",
    runbook_steps=(
        "System Health Validation (08:00 UTC) / Checking security status",
        "Key Performance Indicators (KPIs) Review",
        "Security Health Check / Reviewing security dashboard",
    ),
    monitored=True,
)

APP_RESOURCES = declare(
    "app.resources",
    title="Resource utilisation (application API)",
    component=COMPONENT,
    alert_type=AlertType.APPLICATION,
    severity=Severity.P2,
    on_fail="A resource is nearly exhausted: scale up or free space now, then find what grew.",
    on_warn="A resource is above 80 %: plan capacity (scale, clean up logs, archive data) before it becomes critical.",
    runbook_steps=("System Resource Check",),
    monitored=True,
    warn_severity=RUNBOOK_WARN_SEVERITY,  # the same figures and rule as resource.*
)

RUM = declare(
    "app.rum",
    title="Real User Monitoring",
    component=COMPONENT,
    alert_type=AlertType.PERFORMANCE,
    severity=Severity.P2,
    on_fail="Real users see poor page loads (p75): check the last frontend deploy and the CDN.",
    on_warn="RUM p75 is past its 'good' level: compare with lab vitals and the 7-day trend.",
    runbook_steps=("Real User Monitoring (RUM) Check",),
    monitored=True,
)

ERROR_RATE = declare(
    "app.error_rate",
    title="Error rate, last 24 h",
    component=COMPONENT,
    alert_type=AlertType.APPLICATION,
    severity=Severity.P2,
    on_fail="The 24-hour error rate is critical: open an incident and check recent deploys for a rollback.",
    on_warn="The 24-hour error rate is above 1 %: read the top errors in the logs and fix the largest source.",
    runbook_steps=("System Health Validation (08:00 UTC) / Checking error rates",),
    monitored=True,
)

# step -> its check: every endpoint feeding a step reports under the step's check id.
APP_CHECKS: dict[AppStep, Check] = {
    "web_vitals": WEB_VITALS,
    "api_performance": API_PERFORMANCE,
    "engagement": ENGAGEMENT,
    "security": SECURITY_DASHBOARD,
    "resources": APP_RESOURCES,
    "rum": RUM,
    "error_rate": ERROR_RATE,
}
_EXCERPT_CHARS = 120
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<(?:script|style)\b.*?</(?:script|style)>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def check_id(step: AppStep) -> str:
    return APP_CHECKS[step].id


class BadValue(ValueError):
    """A mapped field is there but cannot be read as the figure it should be."""


@dataclass
class Reading:
    """What one endpoint gave: results to judge and figures to keep."""

    results: list[CheckResult] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT_CHARS else flat[: _EXCERPT_CHARS - 1] + "…"


def summarise_body(response: FetchedResponse) -> str:
    """What a body says in one line: an HTML page's title (a proxy's error page), else its start."""
    if title := _TITLE.search(response.text):
        return f"page titled {_excerpt(title.group(1))!r}"
    if is_html(response) and (words := _excerpt(_TAG.sub(" ", response.text))):
        return f"page starting {words!r}"
    return _excerpt(response.text)


def content_type(response: FetchedResponse) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip() or "no content type"


def is_html(response: FetchedResponse) -> bool:
    """An HTML page, by its Content-Type or, when that lies or is missing, by its first character."""
    return "html" in content_type(response) or response.text.lstrip()[:1] == "<"


def decode_json(response: FetchedResponse) -> Any:
    """The body as JSON, or BadValue saying what came back instead (an HTML error page, text...)."""
    text = response.text
    if is_html(response):
        raise BadValue(f"not JSON: an HTML page ({content_type(response)}): {summarise_body(response)}")
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError) as error:  # also an int past Python's digit limit, nesting past the stack
        where = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        reason = (
            error.msg
            if isinstance(error, json.JSONDecodeError)
            else "not UTF-8"
            if isinstance(error, UnicodeDecodeError)
            else "nested too deep"
            if isinstance(error, RecursionError)
            else str(error)
        )
        shown = _excerpt(text) or "(empty)"
        raise BadValue(f"body is not JSON ({content_type(response)}): {reason}{where}: {shown}") from None


def metric_value(body: Any, metric: MetricMap) -> tuple[float, Any]:
    """The figure at the metric's path, scaled; raises PathNotFound or BadValue naming the path."""
    raw = resolve(body, metric.parts)
    if metric.values is not None:
        levels = {name.lower(): number for name, number in metric.values.items()}
        if isinstance(raw, str) and raw.lower() in levels:
            return levels[raw.lower()], raw
        raise BadValue(f"{metric.path}: {json.dumps(raw)} is not one of {', '.join(metric.values)}")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        shown = f" {_excerpt(json.dumps(raw))}" if not isinstance(raw, (dict, list)) else ""
        raise BadValue(f"{metric.path}: expected a number, found {json_type(raw)}{shown}")
    if not math.isfinite(raw):
        raise BadValue(f"{metric.path}: {raw} is not a finite number")
    return float(raw) * metric.scale, raw


def _figure_text(value: float, unit: str | None) -> str:
    shown = f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{shown} {unit}".strip() if unit and unit != "%" else f"{shown}{unit or ''}"


def _judged_message(metric: MetricMap, value: float, raw: Any, status: Status, limit: Limit) -> str:
    names = {number: name for name, number in (metric.values or {}).items()}

    def shown(number: float, original: Any = None) -> str:
        if metric.values is not None:  # a level such as a threat level: say its name
            return repr(original if original is not None else names.get(number, f"{number:g}"))
        return _figure_text(number, metric.unit)

    worse, better = ("above", "below") if limit.higher_is_worse else ("below", "above")
    if status is Status.OK:
        level, words = (limit.warn, "warning") if limit.warn is not None else (limit.fail, "critical")
        return f"{metric.name} {shown(value, raw)}: {better} the {words} level {shown(level or 0)}"
    level, words = (limit.fail, "critical") if status is Status.FAIL else (limit.warn, "warning")
    return f"{metric.name} {shown(value, raw)}: {worse} the {words} level {shown(level or 0)}"


def judge_metric(metric: MetricMap, value: float, raw: Any, limit: Limit, **common: Any) -> CheckResult:
    status, threshold = judge(value, limit.warn, limit.fail, higher_is_worse=limit.higher_is_worse)
    details = {"path": metric.path, "warn": limit.warn, "fail": limit.fail}
    if metric.values is not None:
        details["observed"] = raw
    return CheckResult(
        status=status,
        value=round(value, 4),
        unit=metric.unit,
        threshold=threshold,
        message=_judged_message(metric, value, raw, status, limit),
        details=details,
        **common,
    )


def judge_condition(spec: ConditionSpec, response: FetchedResponse, body: Any, **common: Any) -> CheckResult:
    condition = spec.parsed
    outcome = condition.evaluate(response.status_code, response.elapsed_ms, body)
    if outcome.passed is None:
        status, message = Status.ERROR, f"cannot evaluate {condition.text}: {outcome.reason}"
    elif outcome.passed:
        status, message = Status.OK, f"{condition.text} holds ({outcome.reason})"
    else:
        status, message = Status(spec.severity), f"{condition.text} does not hold ({outcome.reason})"
    observed = outcome.observed
    value = float(observed) if isinstance(observed, (int, float)) and not isinstance(observed, bool) else None
    return CheckResult(
        status=status,
        value=value,
        threshold=condition.numeric_threshold,
        message=message,
        unit="ms" if condition.subject == "response_time" else None,
        details={"condition": condition.text, "severity": spec.severity},
        **common,
    )


class Unreadable(Exception):
    """The endpoint gave nothing to read figures from: the cause, and what is known of the answer."""

    def __init__(self, cause: str, details: dict[str, Any], attempts: int, elapsed_ms: float) -> None:
        super().__init__(cause)
        self.details, self.attempts, self.elapsed_ms = details, attempts, elapsed_ms


def usable_body(endpoint: Endpoint, outcome: FetchedResponse | FetchFailure) -> tuple[FetchedResponse, Any]:
    """The response and its decoded JSON body (None when nothing needs it), or Unreadable."""
    if isinstance(outcome, FetchFailure):
        cause = outcome.reason
        details: dict[str, Any] = {"failure": outcome.kind}
        if outcome.last_response is not None:
            details["status_code"] = outcome.last_response.status_code
            if said := summarise_body(outcome.last_response):
                cause += f": {said}"
        raise Unreadable(cause, details, outcome.attempts, outcome.elapsed_ms)
    details = {"status_code": outcome.status_code}
    if outcome.status_code not in endpoint.expected_status:
        cause = describe_status(outcome)
        if outcome.location:
            details["location"] = outcome.location
        if outcome.status_code in (401, 403):
            cause += " (the API refused the credentials: check the secret in the source's headers)"
        if said := summarise_body(outcome):
            cause += f": {said}"
        raise Unreadable(cause, details, outcome.attempts, outcome.elapsed_ms)
    try:
        return outcome, decode_json(outcome) if endpoint.needs_body else None
    except BadValue as error:
        raise Unreadable(str(error), details, outcome.attempts, outcome.elapsed_ms) from None


def _moment(raw: Any) -> datetime:
    """An API's timestamp: ISO 8601 (a `Z` suffix too) or unix seconds; BadValue otherwise."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
        return datetime.fromtimestamp(raw, UTC)
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise BadValue(f"{_excerpt(json.dumps(raw))} is not a time (ISO 8601 or unix seconds)")


def figures_age(endpoint: Endpoint, body: Any, now: datetime) -> float | None:
    """Seconds since the API computed its figures (None when `generated_at` is not mapped).

    Raises Unreadable when the figures are older than `max_age_s`, or when the mapped time is
    missing or not a time: then nobody can say the figures are current, so none is judged.
    """
    if endpoint.generated_at is None:
        return None
    try:
        moment = _moment(resolve(body, parse_path(endpoint.generated_at)))
    except (PathNotFound, BadValue) as error:
        cause = f"generated_at {endpoint.generated_at}: {error}: cannot tell whether the figures are current"
        raise Unreadable(cause, {"failure": "no_timestamp"}, 1, 0.0) from None
    age = (now - moment).total_seconds()
    if age > endpoint.max_age_s:
        limit = format_duration(timedelta(seconds=endpoint.max_age_s))
        cause = (
            f"stale figures: generated at {moment.isoformat(timespec='seconds')}, "
            f"{format_duration(timedelta(seconds=round(age)))} ago (at most {limit} expected)"
        )
        raise Unreadable(cause, {"failure": "stale", "generated_at": moment.isoformat(), "age_s": round(age)}, 1, 0.0)
    return age


def read_response(
    source: JsonApiSource,
    endpoint: Endpoint,
    outcome: FetchedResponse | FetchFailure,
    thresholds: Thresholds,
    started_at: datetime,
) -> Reading:
    """Turn one endpoint's answer into results and samples. Pure: no I/O.

    The first result speaks for the endpoint (answered in so many ms, or could not be read);
    then one per judged figure, one per figure that could not be read, one per condition.
    """
    check, url = check_id(endpoint.step), source.url(endpoint)
    labels = {"source": source.name, "endpoint": endpoint.name}
    if not source.verify_tls:
        labels["tls"] = "not verified"

    def common(name: str) -> dict[str, Any]:
        return dict(
            check=check, target=f"{source.name}/{name}", component=COMPONENT, started_at=started_at, labels=labels
        )

    try:
        response, body = usable_body(endpoint, outcome)
    except Unreadable as problem:
        return Reading(
            [
                error_result(
                    **common(endpoint.name),
                    error=f"{url}: {problem}",
                    details={"url": url, **problem.details},
                    attempts=problem.attempts,
                    duration_ms=problem.elapsed_ms,
                )
            ]
        )
    try:
        age = figures_age(endpoint, body, started_at)
    except Unreadable as problem:
        return Reading(
            [
                error_result(
                    **common(endpoint.name),
                    error=f"{url}: {problem}",
                    details={"url": url, "status_code": response.status_code, **problem.details},
                    attempts=response.attempts,
                    duration_ms=response.elapsed_ms,
                )
            ]
        )
    reading = Reading()
    figures: list[dict[str, object]] = []
    for metric in endpoint.metrics:
        try:
            value, raw = metric_value(body, metric)
        except (PathNotFound, BadValue) as error:
            reading.results.append(
                error_result(**common(metric.name), error=f"{url}: {error}", details={"path": metric.path})
            )
            figures.append({"metric": metric.name, "value": None, "unit": metric.unit, "status": "error"})
            continue
        reading.samples.append(
            Sample(
                metric=metric.name,
                value=value,
                ts=started_at,
                source=source.name,
                labels={"endpoint": endpoint.name},
                unit=metric.unit,
            )
        )
        figure = {"metric": metric.name, "value": round(value, 4), "unit": metric.unit, "status": "recorded"}
        if (limit := metric.judged_by(thresholds)) is not None:
            result = judge_metric(metric, value, raw, limit, **common(metric.name))
            reading.results.append(result)
            figure.update(status=result.status.value, threshold=result.threshold)
        figures.append(figure)
    for index, spec in enumerate(endpoint.conditions):
        name = f"{endpoint.name}[{index}]" if len(endpoint.conditions) > 1 else endpoint.name
        reading.results.append(judge_condition(spec, response, body, **common(f"{name} condition")))
    reading.samples.append(
        Sample(
            metric="response_time",
            value=response.elapsed_ms,
            ts=started_at,
            source=source.name,
            labels={"endpoint": endpoint.name},
            unit="ms",
        )
    )
    missing = [str(f["metric"]) for f in figures if f["status"] == "error"]
    read = f"; {len(figures) - len(missing)} of {len(figures)} figure(s) read" if figures else ""
    if missing:
        read += f" (not read: {', '.join(missing)})"
    if age is not None:
        read += f", generated {format_duration(timedelta(seconds=round(age)))} ago"
    unverified = "" if source.verify_tls else " [TLS not verified: verify_tls is false]"
    reading.results.insert(
        0,
        CheckResult(
            **common(endpoint.name),
            status=Status.OK,
            value=round(response.elapsed_ms, 1),
            unit="ms",
            message=f"HTTP {response.status_code} in {response.elapsed_ms:.0f} ms{read}{unverified}",
            details={"url": url, "status_code": response.status_code, "figures": figures},
            attempts=response.attempts,
            duration_ms=response.elapsed_ms,
        ),
    )
    return reading
