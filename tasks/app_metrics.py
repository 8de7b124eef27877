"""The application's own JSON API: web vitals, API performance, engagement, security, resources,
RUM and the 24-hour error rate, each read through the source's mapping and judged.

One fetch per endpoint (bounded body, deadline, retries only when transient). Every fault
becomes an `error` result naming its cause or its JSON path; the other endpoints and steps
carry on. Every figure read is stored as a metric sample. Failures then pass flap control and
maintenance windows before they are returned.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.config import EstateConfig, Limit, Thresholds
from opsbook.config.app_metrics import AppStep, ConditionSpec, Endpoint, JsonApiSource, MetricMap
from opsbook.flapping import apply_failure_threshold
from opsbook.json_path import PathNotFound, json_type, resolve
from opsbook.maintenance import active_window, silence
from opsbook.results import CheckResult, Status, describe_exception, error_result, judge, utcnow
from opsbook.store import HistoryStore, Sample, open_store
from tasks.http import FetchedResponse, FetchFailure, fetch, sweep

COMPONENT = "application"
FLAP_LOOKBACK = timedelta(days=30)
_EXCERPT_CHARS = 120
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)

# step -> (task name, section title), in the runbook's order.
STEPS: dict[AppStep, tuple[str, str]] = {
    "web_vitals": ("check-web-vitals", "Core Web Vitals"),
    "api_performance": ("check-api-performance", "API performance"),
    "engagement": ("check-user-engagement", "User engagement"),
    "security": ("check-security-dashboard", "Security dashboard"),
    "resources": ("check-app-resources", "Resource utilisation (application API)"),
    "rum": ("check-real-user-monitoring", "Real User Monitoring"),
    "error_rate": ("check-error-rate-24h", "Error rate, last 24 h"),
}


def check_id(step: AppStep) -> str:
    return f"app.{step}"


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


def _said(response: FetchedResponse) -> str:
    """What a body says in one line: an HTML page's title (a proxy's error page), else its start."""
    if title := _TITLE.search(response.text):
        return f"page titled {_excerpt(title.group(1))!r}"
    return _excerpt(response.text)


def decode_json(response: FetchedResponse) -> Any:
    """The body as JSON, or BadValue saying what came back instead (an HTML error page, text...)."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    text = response.text
    if "html" in content_type or text.lstrip()[:1] == "<":
        raise BadValue(f"not JSON: an HTML page ({content_type}): {_said(response)}")
    try:
        return json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise BadValue(f"body is not JSON ({content_type}): {reason}{where}: {_excerpt(text) or '(empty)'}") from None


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
    return CheckResult(status=status, value=round(value, 4), unit=metric.unit, threshold=threshold,
                       message=_judged_message(metric, value, raw, status, limit), details=details, **common)


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
    return CheckResult(status=status, value=value, threshold=condition.numeric_threshold, message=message,
                       unit="ms" if condition.subject == "response_time" else None,
                       details={"condition": condition.text, "severity": spec.severity}, **common)


class Unreadable(Exception):
    """The endpoint gave nothing to read figures from: the cause, and what is known of the answer."""

    def __init__(self, cause: str, details: dict[str, Any], attempts: int, elapsed_ms: float) -> None:
        super().__init__(cause)
        self.details, self.attempts, self.elapsed_ms = details, attempts, elapsed_ms


def usable_body(endpoint: Endpoint, outcome: FetchedResponse | FetchFailure) -> tuple[FetchedResponse, Any]:
    """The response and its decoded JSON body (None when nothing needs it), or Unreadable."""
    if isinstance(outcome, FetchFailure):
        cause, details = outcome.reason, {"failure": outcome.kind}
        if outcome.last_response is not None:
            details["status_code"] = outcome.last_response.status_code
            if said := _said(outcome.last_response):
                cause += f": {said}"
        raise Unreadable(cause, details, outcome.attempts, outcome.elapsed_ms)
    details = {"status_code": outcome.status_code}
    if outcome.status_code not in endpoint.expected_status:
        cause = f"HTTP {outcome.status_code}"
        if outcome.status_code in (401, 403):
            cause += " (the API refused the credentials: check the secret in the source's headers)"
        if said := _said(outcome):
            cause += f": {said}"
        raise Unreadable(cause, details, outcome.attempts, outcome.elapsed_ms)
    try:
        return outcome, decode_json(outcome) if endpoint.needs_body else None
    except BadValue as error:
        raise Unreadable(str(error), details, outcome.attempts, outcome.elapsed_ms) from None


def read_response(source: JsonApiSource, endpoint: Endpoint, outcome: FetchedResponse | FetchFailure,
                  thresholds: Thresholds, started_at: datetime) -> Reading:
    """Turn one endpoint's answer into results and samples. Pure: no I/O.

    The first result speaks for the endpoint (answered in so many ms, or could not be read);
    then one per judged figure, one per figure that could not be read, one per condition.
    """
    check, url = check_id(endpoint.step), source.url(endpoint)
    labels = {"source": source.name, "endpoint": endpoint.name}

    def common(name: str) -> dict[str, Any]:
        return dict(check=check, target=f"{source.name}/{name}", component=COMPONENT, started_at=started_at,
                    labels=labels)

    try:
        response, body = usable_body(endpoint, outcome)
    except Unreadable as problem:
        return Reading([error_result(**common(endpoint.name), error=f"{url}: {problem}",
                                     details={"url": url, **problem.details}, attempts=problem.attempts,
                                     duration_ms=problem.elapsed_ms)])
    reading, figures = Reading(), []
    for metric in endpoint.metrics:
        try:
            value, raw = metric_value(body, metric)
        except (PathNotFound, BadValue) as error:
            reading.results.append(error_result(**common(metric.name), error=f"{url}: {error}",
                                                details={"path": metric.path}))
            figures.append({"metric": metric.name, "value": None, "unit": metric.unit, "status": "error"})
            continue
        reading.samples.append(Sample(metric=metric.name, value=value, ts=started_at, source=source.name,
                                      labels={"endpoint": endpoint.name}, unit=metric.unit))
        figure = {"metric": metric.name, "value": round(value, 4), "unit": metric.unit, "status": "recorded"}
        if (limit := metric.judged_by(thresholds)) is not None:
            result = judge_metric(metric, value, raw, limit, **common(metric.name))
            reading.results.append(result)
            figure.update(status=result.status.value, threshold=result.threshold)
        figures.append(figure)
    for index, spec in enumerate(endpoint.conditions):
        name = f"{endpoint.name}[{index}]" if len(endpoint.conditions) > 1 else endpoint.name
        reading.results.append(judge_condition(spec, response, body, **common(f"{name} condition")))
    reading.samples.append(Sample(metric="response_time", value=response.elapsed_ms, ts=started_at,
                                  source=source.name, labels={"endpoint": endpoint.name}, unit="ms"))
    read = f"; {len(figures)} figure(s) read" if figures else ""
    reading.results.insert(0, CheckResult(
        **common(endpoint.name), status=Status.OK, value=round(response.elapsed_ms, 1), unit="ms",
        message=f"HTTP {response.status_code} in {response.elapsed_ms:.0f} ms{read}",
        details={"url": url, "status_code": response.status_code, "figures": figures},
        attempts=response.attempts, duration_ms=response.elapsed_ms))
    return reading


def settle(result: CheckResult, source: JsonApiSource, endpoint: Endpoint, store: HistoryStore | None) -> CheckResult:
    """Flap control from the history, then the maintenance mark; both only touch failures."""
    threshold = endpoint.failure_threshold or source.failure_threshold
    if result.status is Status.FAIL and threshold > 1:
        try:
            if store is None:
                raise RuntimeError("history store not available")
            previous = store.result_history(result.check, result.target, since=result.started_at - FLAP_LOOKBACK)
        except Exception as error:  # noqa: BLE001 - without history a failure is reported as is
            result = result.model_copy(update={"details": {**result.details,
                                                           "flap_control": f"skipped: {describe_exception(error)}"}})
        else:
            result = apply_failure_threshold(result, previous, threshold)
    if window := active_window(source.maintenance, result.started_at):
        result = silence(result, window)
    return result


async def read_step(config: EstateConfig, step: AppStep) -> list[CheckResult]:
    """Read every endpoint of one daily step from every json_api source, concurrently.

    With no `metrics_sources` at all the step has nothing to say (no results, no section); with
    sources that feed other steps only, it is reported as skipped.
    """
    if not config.metrics_sources:
        return []
    jobs = [(source, endpoint) for source in config.metrics_sources for endpoint in source.endpoints
            if endpoint.step == step]
    if not jobs:
        return [CheckResult(check=check_id(step), target="(none)", component=COMPONENT, status=Status.SKIPPED,
                            message="no metrics_sources endpoint feeds this step")]

    async def probe(client: httpx.AsyncClient, job: tuple[JsonApiSource, Endpoint]) -> Reading:
        source, endpoint = job
        started_at = utcnow()
        outcome = await fetch(client, source.url(endpoint), config.http, headers={**source.headers, **endpoint.headers},
                              timeout_s=source.timeout_s)
        return read_response(source, endpoint, outcome, config.thresholds, started_at)

    readings = await sweep(jobs, probe, config.http, verify=lambda job: job[0].verify_tls)
    results, problems = [], []
    try:
        store: HistoryStore | None = open_store(config.history.url)
        store.add_samples([s for reading in readings for s in reading.samples])
    except Exception as error:  # noqa: BLE001 - the figures are still judged and reported
        store = None
        problems.append(error_result(check_id(step), "(history)", COMPONENT,
                                     f"figures not stored: {describe_exception(error)}"))
    for (source, endpoint), reading in zip(jobs, readings, strict=True):
        results.extend(settle(result, source, endpoint, store) for result in reading.results)
    return results + problems


def _step_task(step: AppStep):  # type: ignore[no-untyped-def]
    name, title = STEPS[step]

    async def run(config: EstateConfig) -> list[CheckResult]:
        return await read_step(config, step)

    run.__name__ = run.__qualname__ = name.replace("-", "_")
    run.__doc__ = f"The runbook's KPI review: {title}, from the application's JSON API."
    return task(name=name, timeout_seconds=300, cache_policy=NO_CACHE)(run)


check_web_vitals = _step_task("web_vitals")
check_api_performance = _step_task("api_performance")
check_user_engagement = _step_task("engagement")
check_security_dashboard = _step_task("security")
check_app_resources = _step_task("resources")
check_real_user_monitoring = _step_task("rum")
check_error_rate_24h = _step_task("error_rate")

