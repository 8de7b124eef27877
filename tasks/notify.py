"""Delivering messages: Slack-compatible and signed JSON webhooks, SMTP email, Prefect blocks.

Each channel is tried on its own, concurrently: a failing channel never blocks the others.
Transient failures are retried; every delivery, sent or failed, is recorded in the history.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from tenacity import AsyncRetrying, RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig
from opsbook.config.notifications import EmailChannel, PrefectChannel, SlackChannel, WebhookChannel
from opsbook.escalation import Severity
from opsbook.reports.messages import Message, render_message
from opsbook.results import CheckResult, Status, describe_exception, utcnow
from opsbook.secrets import redact
from opsbook.store import open_store
from opsbook.store.incident_models import DeliveryRow
from opsbook.tasks.http import FetchFailure, new_client, post_json


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    attempts: int
    error: str | None = None


class DeliveryFailed(Exception):
    """The channel answered, but not with success (a 4xx, a refused recipient...)."""

    def __init__(self, reason: str, attempts: int | None = None) -> None:
        super().__init__(reason)
        if attempts is not None:
            self.attempts = attempts


def sign(secret: str, body: bytes) -> str:
    """The webhook signature header value: `sha256=` and the HMAC-SHA256 hex digest of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _post(
    config: EstateConfig, channel: SlackChannel | WebhookChannel, body: bytes, headers: dict[str, str]
) -> int:
    settings = config.http.model_copy(update={"retries": config.notifications.retries})
    url = str(channel.url)
    async with new_client(settings, trust=settings.trust(channel.ca_bundle)) as client:
        outcome = await post_json(client, url, settings, body, headers)
    if isinstance(outcome, FetchFailure):
        raise DeliveryFailed(f"{outcome.reason} after {outcome.attempts} attempt(s)", outcome.attempts)
    if not 200 <= outcome.status_code < 300:
        raise DeliveryFailed(f"HTTP {outcome.status_code}: {outcome.text[:200]}", outcome.attempts)
    return outcome.attempts


def _smtp_transient(error: BaseException) -> bool:
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


def send_email(channel: EmailChannel, message: Message, retries: int) -> int:
    """Send over SMTP (STARTTLS unless turned off); retry only 4xx answers and connection faults.

    Goes to the channel's recipients and the message's `also_to` (an incident's escalation contacts).
    """
    email = EmailMessage()
    recipients = list(dict.fromkeys([*channel.to, *message.also_to]))  # in order, each once
    email["Subject"], email["From"], email["To"] = message.subject, channel.sender, ", ".join(recipients)
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    attempts = 0
    for attempt in Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=0.2, max=2),
        retry=retry_if_exception(_smtp_transient),
        reraise=True,
    ):
        with attempt:
            attempts += 1
            with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_s) as smtp:
                smtp.set_debuglevel(0)  # its debug output prints the AUTH exchange (base64 of the password)
                if channel.starttls:
                    context = ssl.create_default_context(cafile=str(channel.ca_file) if channel.ca_file else None)
                    smtp.starttls(context=context)
                if channel.username and channel.password:
                    smtp.login(channel.username, channel.password)
                refused = smtp.send_message(email)
                if refused:
                    raise DeliveryFailed(f"recipients refused: {', '.join(refused)}")
    return attempts


async def _send_prefect(channel: PrefectChannel, message: Message, retries: int) -> int:
    from prefect.blocks.abstract import NotificationBlock
    from prefect.blocks.core import Block

    attempts = 0
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(retries + 1), wait=wait_exponential(multiplier=0.2, max=2), reraise=True
    ):
        with attempt:
            attempts += 1
            block = cast(NotificationBlock, await Block.aload(channel.block))  # the config names a notification block
            sender = getattr(block, "anotify", None) or block.notify
            outcome = sender(message.text, message.subject)
            if inspect.isawaitable(outcome):
                await outcome
    return attempts


async def send(config: EstateConfig, channel_name: str, message: Message) -> Delivery:
    """Deliver to one channel; never raises: a failure comes back as a Delivery saying why."""
    channel = config.notifications.channel(channel_name)
    retries = config.notifications.retries
    try:
        if isinstance(channel, SlackChannel):
            body = json.dumps({"text": message.for_slack}).encode()
            attempts = await _post(config, channel, body, {})
        elif isinstance(channel, WebhookChannel):
            body = json.dumps(message.payload, sort_keys=True, default=str).encode()
            headers = dict(channel.headers)
            if channel.secret:
                headers[channel.signature_header] = sign(channel.secret, body)
            attempts = await _post(config, channel, body, headers)
        elif isinstance(channel, EmailChannel):
            attempts = await asyncio.to_thread(send_email, channel, message, retries)
        else:
            attempts = await _send_prefect(channel, message, retries)
    except RetryError as error:  # pragma: no cover - reraise=True makes this rare
        return Delivery(channel_name, False, retries + 1, redact(describe_exception(error)))
    except Exception as error:
        return Delivery(channel_name, False, getattr(error, "attempts", retries + 1), redact(describe_exception(error)))
    return Delivery(channel_name, True, attempts)


async def deliver(
    config: EstateConfig,
    channels: Sequence[str],
    message: Message,
    *,
    refs: dict | None = None,
    now: datetime | None = None,
    record: bool = True,
) -> list[Delivery]:
    """Send one message to several channels at once and record each outcome in the history."""
    deliveries = list(await asyncio.gather(*(send(config, name, message) for name in channels)))
    if record and deliveries:
        at = now or utcnow()
        with open_store(config.history.url).session() as session, session.begin():
            session.add_all(
                DeliveryRow(
                    channel=d.channel,
                    kind=message.kind,
                    subject=redact(message.subject),
                    ok=d.ok,
                    attempts=d.attempts,
                    error=d.error,
                    refs=redact(refs or {}),
                    at=at,
                )
                for d in deliveries
            )
    return deliveries


async def send_test_messages(config: EstateConfig) -> list[Delivery]:
    """A test message to every channel, one by one, each delivery recorded (`opsbook notify test`)."""
    now = utcnow()
    deliveries: list[Delivery] = []
    for channel in config.notifications.channels:
        message = render_message(
            "test",
            "test",
            {"estate": config.estate, "channel": channel.name, "now": now},
            config.notifications.templates_dir,
        )
        deliveries += await deliver(config, [channel.name], message, now=now)
    return deliveries


ALERT_DELIVERY = declare(
    "alerts.delivery",
    title="Alert delivery",
    component="monitoring",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="attempts",
    on_fail="The test alert did not arrive: check the channel's URL or credentials and run `opsbook notify test`.",
    on_warn="The test alert needed retries: check the channel's endpoint health.",
    runbook_steps=("Weekly Monitoring System Check / Testing alert delivery",),
)


@task(name="test-alert-delivery", cache_policy=NO_CACHE, timeout_seconds=300)
async def deliver_test_alerts(config: EstateConfig) -> list[CheckResult]:
    """The runbook's `test-alert-delivery.sh --all-channels`: one result per channel."""
    return [
        ALERT_DELIVERY.result(
            d.channel,
            Status.OK if d.ok else Status.FAIL,
            value=float(d.attempts),
            unit="attempts",
            message=(
                f"test message delivered after {d.attempts} attempt(s)"
                if d.ok
                else f"test message not delivered after {d.attempts} attempt(s): {d.error}"
            ),
        )
        for d in await send_test_messages(config)
    ]
