"""Prefect tasks of the monthly cost review: load and gate the exports, then judge the month.

Each export is read and gated on its own, so one bad file is one `error` result and the others
are still reviewed. When no export is usable the review says "insufficient data" instead of
printing a total that would be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, Check, declare
from opsbook.config.costs import CostsConfig
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, judge, stopwatch, utcnow
from opsbook.store import open_store
from opsbook.tasks.cost import analysis
from opsbook.tasks.cost.expectations import credits_and_refunds, gate_export
from opsbook.tasks.cost.focus import ExportError, convert_currency, export_files, read_export
from opsbook.tasks.cost.gate import GateReport

COMPONENT = "costs"

EXPORT_GATE = declare(
    "cost.export_gate",
    title="FOCUS export gate",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="findings",
    on_fail=(
        "Fix or re-export the named file (missing FOCUS column, wrong type, unconverted currency); it is left out of "
        "the review until then."
    ),
    on_warn=(
        "Read the named rows with the provider: negative usage that is not a credit, or charges outside their billing"
        " period, usually mean a late correction."
    ),
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

EXPORT_OVERLAP = declare(
    "cost.export_overlap",
    title="Overlapping exports",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="months",
    on_fail="Remove the older of the two exports of the same month from costs.exports.",
    on_warn="Remove the older of the two exports of the same month from costs.exports.",
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

MONTH_TOTAL = declare(
    "cost.month_total",
    title="Month's cost",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

BUDGET = declare(
    "cost.budget",
    title="Budget",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="%",
    on_fail="The month is over budget: review the top movers with the service owners and agree cuts or a new budget.",
    on_warn="The month is close to its budget: check the top movers and the anomalous days before month end.",
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

MONTH_OVER_MONTH = declare(
    "cost.month_over_month",
    title="Month over month",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="%",
    on_fail="Cost grew sharply: find the top movers' owners and confirm the growth was planned.",
    on_warn="Cost grew past the warning level: confirm the top movers with their owners.",
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

ANOMALIES = declare(
    "cost.anomalies",
    title="Cost anomalies",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="days",
    on_fail="Find what started on the flagged days (deploys, scaling, data transfer) in the service breakdown.",
    on_warn="Find what started on the flagged days (deploys, scaling, data transfer) in the service breakdown.",
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

PER_ACTIVE_USER = declare(
    "cost.per_active_user",
    title="Cost per active user",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

PER_1000_REQUESTS = declare(
    "cost.per_1000_requests",
    title="Cost per 1,000 requests",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

IDLE_RESOURCES = declare(
    "cost.idle_resources",
    title="Idle resources",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="resources",
    on_fail="Stop, downsize or schedule the idle resources listed (dry-run first).",
    on_warn="Stop, downsize or schedule the idle resources listed (dry-run first).",
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

# A month's export is complete a few days after the month ends; by then the month just ended is
# the newest billing period. Newest period ended more than 35 days ago: the month after it is
# missing (late or never exported), so "the latest month" would be an old month read as current.
STALE_AFTER = timedelta(days=35)

EXPORT_FRESHNESS = declare(
    "cost.export_freshness",
    title="Export freshness",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="days",
    on_fail=(
        "The newest FOCUS export is old: check the provider's scheduled export and add last month's file to "
        "costs.exports, or give --month to review an earlier month on purpose."
    ),
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)

RECOMMENDATIONS = declare(
    "cost.recommendations",
    title="Priced recommendations",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    # Not "Resource Capacity Analysis / Analyzing cost impact": the capacity-planning flow that
    # owns that step never runs this check (tests/test_runbook_coverage.py).
    runbook_steps=("Monthly System Optimization / Reviewing cost optimization",),
)


@dataclass
class LoadedExports:
    """Rows of every usable export (one frame) and one gate result per export."""

    frame: pd.DataFrame
    results: list[CheckResult]
    gates: list[GateReport] = field(default_factory=list)


@task(name="gate-focus-exports", cache_policy=NO_CACHE, timeout_seconds=600)
def load_focus_exports(costs: CostsConfig) -> LoadedExports:
    """Read, convert and gate each configured export; keep the rows of those the gate allows."""
    files = export_files(costs.exports)
    if not files:
        skipped = EXPORT_GATE.result(
            "(exports)", Status.SKIPPED, message="no FOCUS exports configured or matched (costs.exports)"
        )
        return LoadedExports(pd.DataFrame(), [skipped])
    frames, results, gates = [], [], []
    for path in files:
        with stopwatch() as timing:
            try:
                frame, converted = convert_currency(read_export(path), costs.currency, costs.exchange_rates)
            except ExportError as error:
                results.append(EXPORT_GATE.error(path.name, str(error)))
                continue
            gate = gate_export(path.name, frame, costs.currency)
        gates.append(gate)
        results.append(_gate_result(path.name, frame, gate, converted, costs.currency, timing["ms"]))
        if gate.usable:
            frames.append(frame.assign(source_file=path.name, source_mtime=path.stat().st_mtime))
    frames, overlap = _supersede_overlaps(frames)
    if overlap is not None:
        results.append(overlap)
    frame = pd.concat(frames, ignore_index=True).drop(columns="source_mtime") if frames else pd.DataFrame()
    return LoadedExports(frame, results, gates)


def _billing_keys(frame: pd.DataFrame) -> pd.Series:
    """Each row's (provider, billing account, billing month), as one string."""
    account = frame["BillingAccountId"] if "BillingAccountId" in frame else pd.Series("", index=frame.index)
    return (
        frame["ProviderName"].astype(str)
        + " "
        + account.fillna("").astype(str).replace("", "(no account)")
        + " "
        + frame["BillingPeriodStart"].dt.strftime("%Y-%m")
    )


def _supersede_overlaps(frames: list[pd.DataFrame]) -> tuple[list[pd.DataFrame], CheckResult | None]:
    """When several files bill the same account for the same month (a re-export), the newest file
    (last modified; then the later name) speaks for that month and the others' rows for it are left
    out, so nothing is counted twice. Warned, so someone tidies the exports."""
    keyed = [(frame, _billing_keys(frame)) for frame in frames]
    owners: dict[str, list[tuple[float, str]]] = {}
    for frame, keys in keyed:
        if len(frame):
            version = (float(frame["source_mtime"].iloc[0]), str(frame["source_file"].iloc[0]))
            for key in keys.unique():
                owners.setdefault(key, []).append(version)
    clashes = {key: sorted(versions) for key, versions in owners.items() if len(versions) > 1}
    if not clashes:
        return frames, None
    winner = {key: versions[-1][1] for key, versions in clashes.items()}
    kept = []
    for frame, keys in keyed:
        name = str(frame["source_file"].iloc[0]) if len(frame) else ""
        superseded = keys.map(lambda key: winner.get(key, name) != name)  # noqa: B023 - applied at once
        kept.append(frame[~superseded])
    said = [
        f"{key}: kept {versions[-1][1]}, left out {', '.join(name for _, name in versions[:-1])}"
        for key, versions in sorted(clashes.items())
    ]
    return kept, EXPORT_OVERLAP.result(
        "(exports)",
        Status.WARN,
        value=float(len(clashes)),
        unit="months",
        message="the same account and month are in more than one export; the newest file counts, so nothing is "
        "counted twice: " + "; ".join(said[:5]),
        details={"overlaps": said},
    )


def _gate_result(
    name: str, frame: pd.DataFrame, gate: GateReport, converted: int, currency: str, ms: float
) -> CheckResult:
    refunds = credits_and_refunds(frame)
    refund_total = float(refunds["BilledCost"].sum()) if "BilledCost" in refunds else 0.0
    flagged = f"{len(refunds)} credit/refund row(s) flagged ({refund_total:,.2f} {currency})"
    details = {
        "rows": gate.rows,
        "rules": gate.rules,
        "converted_rows": converted,
        "credits_and_refunds": {"rows": len(refunds), "billed": refund_total},
        "findings": [
            {"reason": f.reason, "blocking": f.blocking, "rows": f.unexpected_count, "examples": f.examples}
            for f in gate.findings
        ],
    }
    if gate.passed:
        status, message = Status.OK, f"passed {gate.rules} rules on {gate.rows} rows; {flagged}"
    elif gate.usable:
        status = Status.WARN
        message = f"gate failed, rows kept: {'; '.join(gate.reasons)}; {flagged}"
    else:
        status = Status.ERROR
        message = f"gate failed, export left out: {'; '.join(gate.reasons)}"
    return EXPORT_GATE.result(
        name, status, value=float(len(gate.findings)), unit="findings", message=message, details=details, duration_ms=ms
    )


@dataclass
class CostReview:
    """The judged month: results for the verdict, and the figures the report shows."""

    month: str | None
    currency: str
    results: list[CheckResult]
    totals: analysis.MonthTotals | None = None
    breakdowns: dict[str, pd.DataFrame] = field(default_factory=dict)
    movers: tuple[pd.DataFrame, pd.DataFrame] | None = None
    anomalies: list[analysis.AnomalyDay] = field(default_factory=list)
    daily: pd.Series | None = None
    idle: list[analysis.IdleResource] = field(default_factory=list)
    recommendations: list[analysis.PricedRecommendation] = field(default_factory=list)


@task(name="review-monthly-costs", cache_policy=NO_CACHE, timeout_seconds=600)
def review_month(
    costs: CostsConfig, history_url: str, loaded: LoadedExports, month: str | None, now: datetime | None = None
) -> CostReview:
    """Totals against last month and the budget, breakdowns, movers, anomalies, unit costs, idle.

    With no `month`, the latest month in the exports is reviewed and the exports' age is judged
    against `now` (default: the clock), so an old export is not read as this month's
    (`_freshness_result`); a month given explicitly is reviewed as asked, its age not judged.
    """
    frame = loaded.frame
    if frame.empty:
        reason = "insufficient data: no FOCUS export passed the gate"
        return CostReview(month, costs.currency, [MONTH_TOTAL.error(month or "(month)", reason)])
    frame = analysis.with_dimensions(frame, costs.environment_tag, costs.application_tag)
    freshness = _freshness_result(frame, month, now or utcnow())
    month = month or analysis.latest_month(frame)
    if month is None or not (frame["month"] == month).any():
        reason = f"insufficient data: the exports hold no rows billed in {month}"
        return CostReview(month, costs.currency, [freshness, MONTH_TOTAL.error(str(month), reason)])

    cur = costs.currency
    totals = analysis.month_totals(frame, month, costs.budget)
    review = CostReview(month, cur, [], totals=totals)
    review.breakdowns = {name: analysis.breakdown(frame, month, name) for name in analysis.DIMENSIONS}
    review.movers = analysis.top_movers(review.breakdowns["service"], costs.top_movers)
    rule = costs.anomaly
    review.anomalies, review.daily, _ = analysis.anomalies(
        frame, month, rule.window_days, rule.factor, rule.min_daily_cost
    )
    review.recommendations = analysis.price_recommendations(frame, month, costs.recommendations)
    results = review.results
    results.append(freshness)
    results.append(
        _result(
            MONTH_TOTAL,
            month,
            Status.OK,
            totals.billed,
            cur,
            f"billed {totals.billed:,.2f} {cur}, effective {totals.effective:,.2f} {cur} over {totals.rows} rows",
            {"effective": totals.effective, "rows": totals.rows},
        )
    )
    results.append(_budget_result(costs, totals))
    results.append(_growth_result(costs, totals))
    results.append(_anomaly_result(review, rule.factor, rule.window_days))
    history = _History(history_url, month)
    results += _unit_cost_results(costs, totals, history)
    results.append(_idle_result(costs, frame, month, history, review))
    results.append(_recommendation_result(review))
    return review


def _result(
    check: Check,
    target: str,
    status: Status,
    value: float | None,
    unit: str | None,
    message: str,
    details: dict | None = None,
    threshold: float | None = None,
) -> CheckResult:
    return check.result(
        target,
        status,
        value=value,
        unit=unit,
        threshold=threshold,
        message=message,
        details=details or {},
    )


def _skipped(check: Check, month: str, message: str) -> CheckResult:
    return _result(check, month, Status.SKIPPED, None, None, message)


def _freshness_result(frame: pd.DataFrame, month: str | None, now: datetime) -> CheckResult:
    """Whether the newest billing period is recent enough to be "the latest month" (`STALE_AFTER`).

    An `error` when stale: the month reviewed is not the month the reader expects, and nothing
    newer could be measured. Skipped when the month was given: the reader chose it.
    """
    if month is not None:
        return EXPORT_FRESHNESS.skipped(f"month {month} given explicitly: the exports' age is not judged", month)
    newest = analysis.newest_billing_period(frame)
    if newest is None:
        return EXPORT_FRESHNESS.error("(exports)", "no row of the exports has a BillingPeriodEnd")
    period, ends = newest
    age = now - ends.to_pydatetime()
    days = max(age, timedelta(0)) // timedelta(days=1)
    limit = STALE_AFTER // timedelta(days=1)
    fields = {"value": float(days), "unit": "days", "threshold": float(limit), "details": {"newest_period": period}}
    if age > STALE_AFTER:
        message = (
            f"stale: the newest billing period, {period}, ended {days} days ago ({ends:%Y-%m-%d}), more than "
            f"{limit}: no export holds a later month, so {period} is reviewed as the latest month"
        )
        return EXPORT_FRESHNESS.error(period, message, **fields)
    when = "is still open" if age <= timedelta(0) else f"ended {days} days ago ({ends:%Y-%m-%d})"
    return EXPORT_FRESHNESS.result(period, Status.OK, message=f"the newest billing period, {period}, {when}", **fields)


def _budget_result(costs: CostsConfig, totals: analysis.MonthTotals) -> CheckResult:
    use = totals.budget_use_pct
    if use is None:
        return _skipped(BUDGET, totals.month, "no monthly budget configured (costs.budget)")
    limit = costs.budget_use_pct
    status, threshold = judge(use, limit.warn, limit.fail, higher_is_worse=limit.higher_is_worse)
    return _result(
        BUDGET,
        totals.month,
        status,
        use,
        "%",
        f"{totals.billed:,.2f} of a {totals.budget:,.2f} {costs.currency} budget ({use:.1f} %)",
        {"budget": totals.budget, "billed": totals.billed},
        threshold,
    )


def _growth_result(costs: CostsConfig, totals: analysis.MonthTotals) -> CheckResult:
    if totals.previous_billed is None:
        return _skipped(
            MONTH_OVER_MONTH, totals.month, f"the exports hold no month before {totals.month} to compare with"
        )
    growth = totals.change_pct
    details = {
        "previous_billed": totals.previous_billed,
        "previous_effective": totals.previous_effective,
        "change": totals.change,
    }
    text = (
        f"billed {totals.billed:,.2f} vs {totals.previous_billed:,.2f} {costs.currency} "
        f"in {analysis.previous_month(totals.month)} ({totals.change:+,.2f}"
    )
    if growth is None:
        return _result(MONTH_OVER_MONTH, totals.month, Status.OK, None, "%", text + ")", details)
    limit = costs.growth_pct
    status, threshold = judge(growth, limit.warn, limit.fail, higher_is_worse=limit.higher_is_worse)
    return _result(MONTH_OVER_MONTH, totals.month, status, growth, "%", f"{text}, {growth:+.1f} %)", details, threshold)


def _anomaly_result(review: CostReview, factor: float, window: int) -> CheckResult:
    days = review.anomalies
    details = {"days": [{"day": d.day.date().isoformat(), "cost": d.cost, "baseline": d.baseline} for d in days]}
    if not days:
        return _result(
            ANOMALIES,
            review.month or "",
            Status.OK,
            0,
            "days",
            f"no day above {factor:g}x its trailing {window}-day median",
            details,
        )
    listed = ", ".join(f"{d.day:%Y-%m-%d} ({d.cost:,.2f} vs {d.baseline:,.2f})" for d in days[:5])
    return _result(
        ANOMALIES,
        review.month or "",
        Status.WARN,
        len(days),
        "days",
        f"{len(days)} day(s) above {factor:g}x the trailing {window}-day median: {listed}",
        details,
    )


class _History:
    """Reads of the month's samples from the history store (a missing store is not fatal)."""

    def __init__(self, url: str, month: str) -> None:
        start = pd.Period(month, freq="M").start_time.tz_localize(UTC)
        self.url, self.start, self.end = url, start.to_pydatetime(), (start + pd.offsets.MonthBegin(1)).to_pydatetime()

    def samples(self, metric: str) -> list:
        rows = open_store(self.url).samples(metric, since=self.start)
        return [s for s in rows if s.ts < self.end]


def _unit_cost_results(costs: CostsConfig, totals: analysis.MonthTotals, history: _History) -> list[CheckResult]:
    """Cost per average active user and per 1,000 requests served in the month."""
    out = []
    for check, metric, per, label in (
        (PER_ACTIVE_USER, costs.units.active_users, 1, "active user"),
        (PER_1000_REQUESTS, costs.units.requests, 1000, "1,000 requests"),
    ):
        if not metric:
            out.append(_skipped(check, totals.month, "no history metric configured"))
            continue
        try:
            samples = history.samples(metric)
        except Exception as error:
            out.append(check.error(totals.month, error))
            continue
        values = [s.value for s in samples]
        # Active users are a level (average the samples); requests are counts (sum them).
        units = (sum(values) / len(values) if per == 1 else sum(values)) if values else None
        unit_cost = analysis.cost_per_unit(totals.effective, units, per)
        if unit_cost is None:
            out.append(_skipped(check, totals.month, f"no {metric} samples in the history for {totals.month}"))
            continue
        out.append(
            _result(
                check,
                totals.month,
                Status.OK,
                unit_cost,
                f"{costs.currency}/{label}",
                f"{unit_cost:,.4f} {costs.currency} per {label} (effective cost over {units:,.0f} "
                f"from {len(values)} sample(s) of {metric})",
                {"units": units, "samples": len(values)},
            )
        )
    return out


def _idle_result(
    costs: CostsConfig, frame: pd.DataFrame, month: str, history: _History, review: CostReview
) -> CheckResult:
    rule = costs.idle
    try:
        samples = history.samples(rule.cpu_metric)
    except Exception as error:
        return IDLE_RESOURCES.error(month, error)
    by_resource: dict[str, list[float]] = {}
    for s in samples:
        if rule.resource_label in s.labels:
            by_resource.setdefault(s.labels[rule.resource_label], []).append(s.value)
    if not by_resource:
        return _skipped(
            IDLE_RESOURCES, month, f"no {rule.cpu_metric} samples labelled {rule.resource_label} in {month}"
        )
    means = {rid: sum(v) / len(v) for rid, v in by_resource.items()}
    review.idle = analysis.idle_resources(frame, month, means, rule.cpu_pct, rule.min_cost)
    wasted = sum(r.cost for r in review.idle)
    details = {"resources": [vars(r) for r in review.idle], "watched": len(means)}
    if not review.idle:
        return _result(
            IDLE_RESOURCES,
            month,
            Status.OK,
            0,
            "resources",
            f"none of {len(means)} watched resources idled under {rule.cpu_pct:g} % CPU",
            details,
        )
    return _result(
        IDLE_RESOURCES,
        month,
        Status.WARN,
        len(review.idle),
        "resources",
        f"{len(review.idle)} resource(s) under {rule.cpu_pct:g} % CPU cost {wasted:,.2f} "
        f"{costs.currency}: " + ", ".join(r.resource_id for r in review.idle[:5]),
        details,
    )


def _recommendation_result(review: CostReview) -> CheckResult:
    month = review.month or ""
    if not review.recommendations:
        return _skipped(RECOMMENDATIONS, month, "no capacity recommendations to price (costs.recommendations)")
    change = sum(r.monthly_change for r in review.recommendations)
    return _result(
        RECOMMENDATIONS,
        month,
        Status.OK,
        change,
        review.currency,
        f"{len(review.recommendations)} recommendation(s) change the monthly cost by {change:+,.2f} {review.currency}",
        {"priced": [vars(r) for r in review.recommendations]},
    )


@task(name="review-costs", cache_policy=NO_CACHE, timeout_seconds=1200)
def review_costs(
    costs: CostsConfig, history_url: str, month: str | None = None, now: datetime | None = None
) -> list[CheckResult]:
    """The monthly audit's cost step: the exports' gate results, then the month judged."""
    loaded = load_focus_exports.fn(costs)
    return loaded.results + review_month.fn(costs, history_url, loaded, month, now).results
