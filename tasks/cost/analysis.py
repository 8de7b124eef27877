"""The monthly cost review's figures, from normalised FOCUS rows (pure pandas, no I/O).

A row belongs to the month of its billing period (as on the invoice); day-level anomalies use
the day its charge period starts. Billed cost is what the invoice says; effective cost spreads
commitments and credits over usage, so both are shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

# Breakdown name -> FOCUS column (tags are extracted into columns of their own first).
DIMENSIONS = {
    "provider": "ProviderName",
    "service": "ServiceName",
    "sub_account": "SubAccountName",
    "region": "RegionId",
    "environment": "tag_environment",
    "application": "tag_application",
}
NONE = "(none)"


def with_dimensions(frame: pd.DataFrame, environment_tag: str, application_tag: str) -> pd.DataFrame:
    """The frame with `month`, `day` and tag columns the breakdowns group by."""
    tags = frame["Tags"] if "Tags" in frame else pd.Series([{}] * len(frame), index=frame.index)
    frame = frame.assign(
        month=frame["BillingPeriodStart"].dt.strftime("%Y-%m"),
        day=frame["ChargePeriodStart"].dt.floor("D"),
        tag_environment=tags.map(lambda t: (t or {}).get(environment_tag)),
        tag_application=tags.map(lambda t: (t or {}).get(application_tag)),
    )
    if "SubAccountName" not in frame:
        frame["SubAccountName"] = frame.get("SubAccountId")
    for column in DIMENSIONS.values():
        if column not in frame:
            frame[column] = None
        frame[column] = frame[column].fillna(NONE).astype(str)
    return frame


def previous_month(month: str) -> str:
    return (pd.Period(month, freq="M") - 1).strftime("%Y-%m")


def newest_billing_period(frame: pd.DataFrame) -> tuple[str, pd.Timestamp] | None:
    """The month of the newest billing period in the exports and when that period ends (UTC)."""
    ends = frame["BillingPeriodEnd"].dropna()
    if not len(ends):
        return None
    newest = frame.loc[ends.idxmax()]
    return newest["BillingPeriodStart"].strftime("%Y-%m"), pd.Timestamp(ends.max())


def latest_month(frame: pd.DataFrame) -> str | None:
    """The month of the latest charge: a stray row billed next month does not move the review."""
    latest = frame["ChargePeriodStart"].dropna()
    return latest.max().strftime("%Y-%m") if len(latest) else None


@dataclass(frozen=True)
class MonthTotals:
    month: str
    billed: float
    effective: float
    previous_billed: float | None  # None when the exports hold no previous month
    previous_effective: float | None
    budget: float | None
    rows: int

    @property
    def change(self) -> float | None:
        return None if self.previous_billed is None else self.billed - self.previous_billed

    @property
    def change_pct(self) -> float | None:
        if self.previous_billed is None or self.previous_billed == 0:
            return None
        return (self.billed - self.previous_billed) / abs(self.previous_billed) * 100

    @property
    def budget_use_pct(self) -> float | None:
        return None if not self.budget else self.billed / self.budget * 100


def month_totals(frame: pd.DataFrame, month: str, budget: float | None) -> MonthTotals:
    current = frame[frame["month"] == month]
    earlier = frame[frame["month"] == previous_month(month)]
    has_previous = len(earlier) > 0
    return MonthTotals(
        month=month,
        billed=float(current["BilledCost"].sum()),
        effective=float(current["EffectiveCost"].sum()),
        previous_billed=float(earlier["BilledCost"].sum()) if has_previous else None,
        previous_effective=float(earlier["EffectiveCost"].sum()) if has_previous else None,
        budget=budget,
        rows=len(current),
    )


def breakdown(frame: pd.DataFrame, month: str, dimension: str) -> pd.DataFrame:
    """Billed and effective cost per value of one dimension, this month and last, biggest first."""
    column = DIMENSIONS[dimension]
    months = frame[frame["month"].isin([month, previous_month(month)])]
    table = months.pivot_table(
        index=column, columns="month", values=["BilledCost", "EffectiveCost"], aggfunc="sum", fill_value=0.0
    )
    out = pd.DataFrame(index=table.index)
    out["billed"] = _column(table, "BilledCost", month)
    out["effective"] = _column(table, "EffectiveCost", month)
    has_previous = (frame["month"] == previous_month(month)).any()
    out["previous_billed"] = _column(table, "BilledCost", previous_month(month)) if has_previous else float("nan")
    out["change"] = out["billed"] - out["previous_billed"]
    out["change_pct"] = out["change"] / out["previous_billed"].where(out["previous_billed"] != 0) * 100
    out.index.name = dimension
    return out.sort_values("billed", ascending=False).reset_index()


def _column(table: pd.DataFrame, value: str, month: str) -> pd.Series:
    key = (value, month)
    return table[key] if key in table.columns else pd.Series(0.0, index=table.index)


def top_movers(table: pd.DataFrame, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The biggest changes in money and in percent (percent only where last month had a cost)."""
    by_amount = table.reindex(table["change"].abs().sort_values(ascending=False).index).head(count)
    by_amount = by_amount[by_amount["change"] != 0]
    with_pct = table.dropna(subset=["change_pct"])
    by_pct = with_pct.reindex(with_pct["change_pct"].abs().sort_values(ascending=False).index).head(count)
    return by_amount.reset_index(drop=True), by_pct[by_pct["change"] != 0].reset_index(drop=True)


@dataclass(frozen=True)
class AnomalyDay:
    day: datetime
    cost: float
    baseline: float  # median of the trailing window

    @property
    def ratio(self) -> float:
        return self.cost / self.baseline if self.baseline else float("inf")


def daily_costs(frame: pd.DataFrame) -> pd.Series:
    """Billed cost per calendar day (UTC), with days that had no charges as zero."""
    days = frame.groupby("day")["BilledCost"].sum()
    if days.empty:
        return days
    full = pd.date_range(days.index.min(), days.index.max(), freq="D")
    return days.reindex(full, fill_value=0.0)


def anomalies(
    frame: pd.DataFrame, month: str, window_days: int, factor: float, min_daily_cost: float
) -> tuple[list[AnomalyDay], pd.Series, pd.Series]:
    """Days of the month costing more than factor x the median of the `window_days` before them.

    The baseline uses only earlier days (a spike does not raise its own bar) and needs at least
    three of them; the previous month's days count, so the 1st of a month has a baseline too.
    """
    days = daily_costs(frame)
    baseline = days.shift(1).rolling(window_days, min_periods=3).median()
    in_month = days.index.strftime("%Y-%m") == month
    flagged = (days > factor * baseline) & (days >= min_daily_cost) & baseline.notna() & in_month
    found = [AnomalyDay(day.to_pydatetime(), float(days[day]), float(baseline[day])) for day in days.index[flagged]]
    return found, days[in_month], baseline[in_month]


def cost_per_unit(cost: float, units: float | None, per: float = 1.0) -> float | None:
    """Cost per `per` units (e.g. per 1,000 requests); None when there were no units."""
    if units is None or units <= 0:
        return None
    return cost / units * per


@dataclass(frozen=True)
class IdleResource:
    resource_id: str
    service: str
    cost: float
    mean_cpu_pct: float


def idle_resources(
    frame: pd.DataFrame, month: str, cpu_by_resource: dict[str, float], cpu_pct: float, min_cost: float
) -> list[IdleResource]:
    """Resources whose mean CPU stayed under `cpu_pct` while they cost at least `min_cost`."""
    if "ResourceId" not in frame or not cpu_by_resource:
        return []
    current = frame[(frame["month"] == month) & frame["ResourceId"].notna()]
    costs = current.groupby("ResourceId").agg(cost=("BilledCost", "sum"), service=("ServiceName", "first"))
    idle = [
        IdleResource(str(rid), str(row.service), float(row.cost), cpu_by_resource[rid])
        for rid, row in costs.iterrows()
        if rid in cpu_by_resource and cpu_by_resource[rid] < cpu_pct and row.cost >= min_cost
    ]
    return sorted(idle, key=lambda r: r.cost, reverse=True)


@dataclass(frozen=True)
class PricedRecommendation:
    name: str
    scope: str
    current_cost: float
    monthly_change: float  # positive: the plan costs more


def price_recommendations(frame: pd.DataFrame, month: str, recommendations: Iterable) -> list[PricedRecommendation]:
    """Each recommendation's monthly cost change: the cost of what it scales x (scale - 1)."""
    current = frame[frame["month"] == month]
    priced = []
    for rec in recommendations:
        if rec.resource_id:
            scope, rows = f"resource {rec.resource_id}", current[current.get("ResourceId") == rec.resource_id]
        elif rec.service:
            scope, rows = f"service {rec.service}", current[current["ServiceName"] == rec.service]
        else:
            scope, rows = "whole estate", current
        cost = float(rows["BilledCost"].sum())
        priced.append(PricedRecommendation(rec.name, scope, cost, cost * (rec.scale - 1)))
    return priced
