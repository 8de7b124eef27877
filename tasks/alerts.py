"""What every checklist does with its results: raise, update and resolve alerts, then notify.

The notices due now are grouped (one message per group and channel), routed by the config's
rules, and sent; silenced and maintenance-window alerts say nothing. The escalation sweep calls
`notify_alerts` too, so a group waiting for its window is sent even between checklist runs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from opsbook.alerts import (
    Alert,
    Group,
    Notice,
    channels_for,
    group_notices,
    list_alerts,
    list_silences,
    mark_notified,
    pending_notices,
    record_results,
)
from opsbook.config import EstateConfig
from opsbook.escalation import escalation_level
from opsbook.reports.messages import Message, render_message
from opsbook.results import CheckResult, utcnow
from opsbook.secrets import redact
from opsbook.store import open_store
from opsbook.tasks.catalog import all_checks
from opsbook.tasks.notify import Delivery, deliver


@dataclass
class AlertSummary:
    changed: list[Alert] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def failed_deliveries(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]


@dataclass(frozen=True)
class _Item:
    """A notice as the templates see it: the alert, its kind, and its escalation level now."""

    alert: Alert
    repeat: bool
    level: int


def _level(config: EstateConfig, alert: Alert, now: datetime) -> int:
    impact = alert.labels.get("business_impact", config.incidents.business_impact)
    return escalation_level(alert.severity, now - alert.first_seen, impact)


def alerts_message(config: EstateConfig, group: Group, notices: list[Notice], now: datetime) -> Message:
    items = [(_Item(n.alert, n.repeat, _level(config, n.alert, now)), n.kind) for n in notices]
    firing = [item for item, kind in items if kind == "firing"]
    resolved = [item for item, kind in items if kind == "resolved"]
    payload = {
        "group": dict(zip(config.notifications.group_by, group.key, strict=True)),
        "estate": config.estate,
        "alerts": [
            {
                "fingerprint": i.alert.fingerprint,
                "check": i.alert.check,
                "target": i.alert.target,
                "component": i.alert.component,
                "type": i.alert.alert_type,
                "severity": i.alert.severity,
                "state": kind,
                "repeat": i.repeat,
                "status": i.alert.status,
                "message": i.alert.message,
                "count": i.alert.count,
                "first_seen": i.alert.first_seen.isoformat(),
                "last_seen": i.alert.last_seen.isoformat(),
                "escalation_level": i.level,
                "labels": i.alert.labels,
            }
            for i, kind in items
        ],
    }
    context = {
        "firing": firing,
        "resolved": resolved,
        "estate": config.estate,
        "group": " ".join(group.key),
        "levels": config.escalation.levels,
    }
    return render_message(
        "alerts", "firing" if firing else "resolved", context, config.notifications.templates_dir, payload
    )


async def notify_alerts(config: EstateConfig, now: datetime | None = None) -> list[Delivery]:
    """Send every group whose window has passed; remember what was said."""
    now = now or utcnow()
    store = open_store(config.history.url)
    notices = pending_notices(list_alerts(store), list_silences(store, now), config.notifications, now)
    window = timedelta(seconds=config.notifications.group_window_s)
    deliveries: list[Delivery] = []
    for group in group_notices(notices, config.notifications.group_by):
        if not group.due(window, now):
            continue
        by_channel: dict[str, list[Notice]] = defaultdict(list)
        for notice in group.notices:
            for channel in channels_for(notice.alert, config.notifications):
                by_channel[channel].append(notice)
        for channel, channel_notices in by_channel.items():
            message = alerts_message(config, group, channel_notices, now)
            refs = {"alerts": [n.alert.fingerprint for n in channel_notices]}
            deliveries += await deliver(config, [channel], message, refs=refs, now=now)
        mark_notified(store, group.notices, now)
    return deliveries


async def handle_results(config: EstateConfig, results: list[CheckResult], now: datetime | None = None) -> AlertSummary:
    all_checks()  # every declaration registered: triage reads a result's type and severity from it
    now = now or utcnow()
    changed = record_results(open_store(config.history.url), results, now)
    return AlertSummary(changed=changed, deliveries=await notify_alerts(config, now))


@task(name="process-alerts", cache_policy=NO_CACHE, timeout_seconds=600)
def process_alerts(config: EstateConfig, results: list[CheckResult], now: datetime | None = None) -> AlertSummary:
    """After the results are stored: alerts raised, updated or resolved, and their notices sent.

    The status page is the caller's next, separate step (`refresh_status_page`): a page that cannot
    be written must not read as alerts that were not processed.
    """
    logger = get_run_logger()
    summary: AlertSummary = run_coro_as_sync(handle_results(config, results, now))
    for delivery in summary.failed_deliveries:
        logger.warning(
            "notification to %s failed after %s attempt(s): %s",
            delivery.channel,
            delivery.attempts,
            redact(delivery.error or ""),
        )
    logger.info(
        "alerts: %s changed, %s message(s) sent",
        len(summary.changed),
        len(summary.deliveries) - len(summary.failed_deliveries),
    )
    return summary
