"""Platform health: is each hosting platform's health endpoint up, correct and fast enough?

"Correct" reads the answer, not only its status line: a 200 maintenance page or a JSON body
saying `"status": "degraded"` is not healthy, and `conditions` judge what the operator names,
including the time left on the certificate the platform presented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.conditions import Outcome
from opsbook.config import EstateConfig, Limit, Platform
from opsbook.config.tls import Trust
from opsbook.escalation import Severity
from opsbook.flapping import settle_flaps
from opsbook.json_path import PathNotFound, resolve
from opsbook.results import CheckResult, Status, describe_exception, judge, utcnow, worst_status
from opsbook.store import HistoryStore, open_store
from opsbook.tasks.http import FetchedResponse, FetchFailure, describe_status, fetch, handshake_certificate, sweep
from opsbook.tasks.json_api import BadValue, content_type, decode_json, is_html, summarise_body

PLATFORM_HEALTH = declare(
    "platform.health",
    title="Platform health",
    component="platforms",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="ms",
    on_fail=(
        "Open the platform's dashboard and recent deploys; if it stays down for 15 minutes, open a P1 incident "
        "(`opsbook incident open`) and follow the escalation matrix."
    ),
    on_warn="Latency is above target: compare with the 7-day baseline and run a performance investigation.",
    runbook_steps=(
        "System Health Validation (08:00 UTC) / Checking platform health",
        "Monthly System Optimization / Performing comprehensive system health audit",
    ),
    monitored=True,
)
_EXCERPT_CHARS = 200
_MESSAGE_EXCERPT_CHARS = 120
_FROM_REQUEST = "the health request's own connection"
_FROM_HANDSHAKE = "a separate TLS handshake (the request's connection did not expose it)"


@dataclass(frozen=True)
class PeerCertificate:
    """Time left on the certificate the platform presented, or why it could not be read."""

    left_s: float | None
    read_from: str
    problem: str = ""


def _excerpt(text: str, limit: int) -> str:
    """The start of a body on one line, to show an operator what the target said."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _tls_note(platform: Platform) -> str:
    return "" if platform.verify_tls else " [TLS not verified: verify_tls is false]"


def judge_platform(
    platform: Platform,
    latency: Limit,
    outcome: FetchedResponse | FetchFailure,
    started_at: datetime,
    certificate: PeerCertificate | None = None,
) -> CheckResult:
    """Turn one fetch outcome into a result: down or wrong status is fail, slow is warn or fail;
    then the answer itself: an HTML page where JSON was expected fails, the body's own verdict
    (`status: degraded`) and the configured conditions count. Pure: no I/O."""
    labels = {"url": str(platform.url)}
    if not platform.verify_tls:
        labels["tls"] = "not verified"
    common = dict(started_at=started_at, labels=labels)
    note = _tls_note(platform)
    if isinstance(outcome, FetchFailure) and outcome.kind == "trust":  # not measured: a config fault
        return PLATFORM_HEALTH.result(
            platform.name,
            Status.ERROR,
            message=f"not checked: {outcome.reason}",
            details={"url": str(platform.url), "failure": outcome.kind},
            **common,
        )
    if isinstance(outcome, FetchFailure):
        details: dict[str, object] = {"url": str(platform.url), "failure": outcome.kind}
        message = f"down: {outcome.reason}"
        if outcome.last_response is not None:
            details["status_code"] = outcome.last_response.status_code
            details["body_excerpt"] = _excerpt(outcome.last_response.text, _EXCERPT_CHARS)
            if said := _excerpt(outcome.last_response.text, _MESSAGE_EXCERPT_CHARS):
                message += f": {said}"
        return PLATFORM_HEALTH.result(
            platform.name,
            Status.FAIL,
            message=message + note,
            duration_ms=outcome.elapsed_ms,
            attempts=outcome.attempts,
            details=details,
            **common,
        )
    details = {"url": str(platform.url), "status_code": outcome.status_code}
    if outcome.redirects:
        details["redirects"] = outcome.redirects
    if outcome.status_code not in platform.expected_status:
        details["body_excerpt"] = _excerpt(outcome.text, _EXCERPT_CHARS)
        if outcome.location:
            details["location"] = outcome.location
        expected = ", ".join(map(str, platform.expected_status))
        message = f"{describe_status(outcome)}, expected {expected}"
        if not outcome.location and (said := _excerpt(outcome.text, _MESSAGE_EXCERPT_CHARS)):
            message += f": {said}"
        return PLATFORM_HEALTH.result(
            platform.name,
            Status.FAIL,
            value=outcome.elapsed_ms,
            duration_ms=outcome.elapsed_ms,
            attempts=outcome.attempts,
            details=details,
            message=message + note,
            **common,
        )
    findings, judged = judge_answer(platform, outcome, certificate)
    details.update(judged)
    status, threshold = judge(outcome.elapsed_ms, latency.warn, latency.fail)
    answered = f"HTTP {outcome.status_code} in {outcome.elapsed_ms:.0f} ms"
    if findings:
        slow = {Status.OK: "", Status.WARN: ", slow", Status.FAIL: ", too slow"}[status]
        status = worst_status([status, *(finding for finding, _ in findings)])
        message = f"{'; '.join(said for _, said in findings)} ({answered}{slow})"
    else:
        words = {Status.OK: "healthy", Status.WARN: "slow", Status.FAIL: "too slow"}[status]
        message = f"{words}: {answered}"
    return PLATFORM_HEALTH.result(
        platform.name,
        status,
        value=round(outcome.elapsed_ms, 1),
        threshold=threshold,
        duration_ms=outcome.elapsed_ms,
        attempts=outcome.attempts,
        details=details,
        message=message + note,
        **common,
    )


def judge_answer(
    platform: Platform, response: FetchedResponse, certificate: PeerCertificate | None
) -> tuple[list[tuple[Status, str]], dict[str, object]]:
    """What the body and the conditions say: findings (status, message) and details to keep."""
    findings: list[tuple[Status, str]] = []
    details: dict[str, object] = {}
    body: Any = None
    body_problem = "no body was read (HEAD request or empty answer)"
    if response.body and platform.method == "GET":
        try:
            body = decode_json(response)
        except BadValue as error:
            body_problem = str(error)
            if platform.expects_json and is_html(response):
                findings.append(
                    (
                        Status.FAIL,
                        f"an HTML page where JSON was expected ({content_type(response)}): {summarise_body(response)}",
                    )
                )
                details["body_excerpt"] = _excerpt(response.text, _EXCERPT_CHARS)
    if (verdict := _body_verdict(platform, body)) is not None:
        findings.append(verdict[0])
        details["body_status"] = verdict[1]
    evaluated: list[dict[str, object]] = []
    for spec in platform.conditions:
        condition = spec.parsed
        if condition.needs_body and body is None:
            outcome = Outcome(None, None, body_problem)
        else:
            outcome = condition.evaluate(
                response.status_code,
                response.elapsed_ms,
                body,
                certificate_left_s=certificate.left_s if certificate else None,
                no_certificate=(certificate.problem if certificate else "") or "no certificate was read",
            )
        evaluated.append({"condition": condition.text, "severity": spec.severity, "passed": outcome.passed})
        evaluated[-1]["reason"] = outcome.reason
        if outcome.passed is None:
            findings.append((Status.ERROR, f"cannot evaluate {condition.text}: {outcome.reason}"))
        elif not outcome.passed:
            findings.append((Status(spec.severity), f"{condition.text} does not hold ({outcome.reason})"))
    if evaluated:
        details["conditions"] = evaluated
    if certificate is not None:
        details["certificate"] = {"left_s": certificate.left_s, "read_from": certificate.read_from}
    return findings, details


def _body_verdict(platform: Platform, body: Any) -> tuple[tuple[Status, str], object] | None:
    """The JSON body's own verdict, unless turned off or a condition judges that field itself."""
    rule = platform.body_status
    if rule is None or not isinstance(body, dict):
        return None
    if any(spec.parsed.needs_body and spec.parsed.path == rule.parts for spec in platform.conditions):
        return None  # the operator's own condition on that field speaks for it
    try:
        value = resolve(body, rule.parts)
    except PathNotFound:
        return None
    level = rule.judge(value)
    if level is None:
        return None
    return (Status(level), f"the body says {rule.path} {value!r}"), value


async def read_certificate(
    platform: Platform, response: FetchedResponse, trust: Trust, timeout_s: float
) -> PeerCertificate:
    """The certificate behind the answer: from the request's connection, else a handshake of its own."""
    now = utcnow()
    der, read_from = response.peer_certificate, _FROM_REQUEST
    if der is None:
        url = response.url or str(platform.url)
        if urlsplit(url).scheme != "https":
            return PeerCertificate(None, "", f"the answer came over {urlsplit(url).scheme}://, not TLS")
        read_from = _FROM_HANDSHAKE
        try:
            der = await handshake_certificate(url, trust, timeout_s)
        except Exception as error:
            return PeerCertificate(None, read_from, f"certificate not read: {describe_exception(error)}")
    left = (x509.load_der_x509_certificate(der).not_valid_after_utc - now).total_seconds()
    return PeerCertificate(round(left, 1), read_from)


async def probe_platforms(config: EstateConfig) -> list[CheckResult]:
    """Check every configured platform concurrently; one result per platform, in config order."""
    default_latency = config.thresholds.http.latency_ms

    def trust(platform: Platform) -> Trust:
        return config.http.trust(platform.ca_bundle, verify=platform.verify_tls)

    async def probe(client: httpx.AsyncClient, platform: Platform) -> CheckResult:
        started_at = utcnow()
        outcome = await fetch(
            client,
            str(platform.url),
            config.http,
            method=platform.method,
            headers=platform.headers,
            timeout_s=platform.timeout_s,
            max_redirects=platform.max_redirects if platform.follow_redirects else 0,
            want_certificate=platform.needs_certificate,
        )
        certificate = None
        if platform.needs_certificate and isinstance(outcome, FetchedResponse):
            timeout_s = platform.timeout_s or config.http.timeout_s
            certificate = await read_certificate(platform, outcome, trust(platform), timeout_s)
        return judge_platform(platform, platform.latency_ms or default_latency, outcome, started_at, certificate)

    return await sweep(
        config.platforms,
        probe,
        config.http,
        on_error=lambda p, error: PLATFORM_HEALTH.error(p.name, error),
        trust=trust,
    )


def settle_platforms(config: EstateConfig, results: list[CheckResult]) -> list[CheckResult]:
    """Flap control per platform (`failure_threshold`, `success_threshold`) from the history.

    The store is opened only when some platform asks for it; a store that cannot be read leaves
    every result as measured, each saying why flap control was skipped.
    """
    thresholds = {p.name: (p.failure_threshold, p.success_threshold) for p in config.platforms}
    if all(pair == (1, 1) for pair in thresholds.values()):
        return results
    store: HistoryStore | None
    try:
        store = open_store(config.history.url)
    except Exception:  # settle_flaps names the store's absence on each result it affects
        store = None
    return [settle_flaps(r, store, *thresholds.get(r.target, (1, 1))) for r in results]


@task(name="check-platform-health", timeout_seconds=900, cache_policy=NO_CACHE)
async def check_platform_health(config: EstateConfig) -> list[CheckResult]:
    """The runbook's step 1: every platform's health endpoint, checked at once, with flap control.

    Async so that Prefect's task timeout can interrupt it (a worker thread cannot be).
    """
    if not config.platforms:
        return [PLATFORM_HEALTH.skipped("no platforms configured")]
    return settle_platforms(config, await probe_platforms(config))
