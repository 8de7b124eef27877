"""The monthly cost review: the runbook's "Cost optimization review" (1st of the month).

Reads the FOCUS billing exports, gates each with Great Expectations, then reports the month's
billed and effective cost against the previous month and the budget, where the money went
(provider, service, sub-account, region, environment, application), what moved, which days
spiked, unit costs, idle resources and the cost of the capacity plan.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import State
from pydantic import Field

from opsbook.escaping import markdown_cells
from opsbook.flows.checklist import final_state, finish_checklist, open_checklist
from opsbook.reports import Section, Table
from opsbook.reports.charts import LineChart, Series, bar_chart, line_chart
from opsbook.results import describe_exception
from opsbook.tasks.cost.analysis import DIMENSIONS
from opsbook.tasks.cost.review import CostReview, load_focus_exports, review_month

FLOW_NAME = "cost-review"
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
TABLE_ROWS = 10


@flow(name=FLOW_NAME, description="Monthly cost review from FOCUS billing exports.")
def cost_review(
    config_path: str = "opsbook.yaml",
    month: Annotated[
        str | None,
        Field(pattern=MONTH, description="YYYY-MM; default: the month of the latest charge, judged for staleness"),
    ] = None,
) -> State:
    config, run_id, started_at = open_checklist(config_path)
    loaded = load_focus_exports(config.costs)
    review = review_month(config.costs, config.history.url, loaded, month)

    sections = [
        Section(
            "Billing exports (Great Expectations gate)",
            loaded.results,
            intro="Each export must hold the FOCUS columns the review reads, with costs and "
            "periods of the right type, in one currency; credits and refunds are flagged.",
        )
    ]
    sections += review_sections(review)
    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title=f"Monthly cost review {review.month or ''}".strip(),
        kind="cost",
        artifact_key="cost-review",
        run_id=run_id,
        started_at=started_at,
        sections=sections,
    )
    try:
        create_table_artifact(
            key="cost-breakdown",
            table=[markdown_cells(row) for row in breakdown_rows(review)],  # string cells render as markdown
            description=f"Cost by provider, service, sub-account, region and tag, {review.month}",
        )
    except Exception as error:
        outcome.notes.append(f"cost-breakdown artifact not published: {describe_exception(error)}")
        get_run_logger().error(outcome.notes[-1])
    return final_state(outcome)


def review_sections(review: CostReview) -> list[Section]:
    """The report's sections for a judged month, in the order a manager reads them."""
    by_check: dict[str, list] = {}
    for result in review.results:
        by_check.setdefault(result.check.split(".")[1] if "." in result.check else result.check, []).append(result)

    def pick(*names: str) -> list:
        return [r for n in names for r in by_check.get(n, [])]

    cur = review.currency
    totals = Section(
        "Month total, budget and last month", pick("export_freshness", "month_total", "budget", "month_over_month")
    )
    if review.totals is None:
        return [totals]
    services = review.breakdowns["service"]
    bars = [
        (_short(name), float(cost))
        for name, cost in zip(services["service"].head(TABLE_ROWS), services["billed"].head(TABLE_ROWS), strict=True)
    ]
    totals.charts.append(bar_chart(f"Billed cost by service, {review.month} ({cur})", bars, f" {cur}"))
    for name, table in review.breakdowns.items():
        totals.tables.append(_money_table(f"By {name.replace('_', '-')}", name, table, cur))
    if review.movers is not None:
        by_amount, by_pct = review.movers
        totals.tables.append(_money_table("Top movers by amount (service)", "service", by_amount, cur))
        totals.tables.append(_money_table("Top movers by % (service)", "service", by_pct, cur))

    anomalies = Section("Daily cost anomalies", pick("anomalies"))
    if review.daily is not None and len(review.daily):
        points = [(day.to_pydatetime(), float(cost)) for day, cost in review.daily.items()]
        anomalies.charts.append(
            line_chart(LineChart(f"Billed cost per day ({cur})", f" {cur}", [Series("billed", points)]))
        )
    if review.anomalies:
        anomalies.tables.append(
            Table(
                "Anomalous days",
                ["day", f"billed ({cur})", f"trailing median ({cur})", "x median"],
                [[f"{d.day:%Y-%m-%d}", _money(d.cost), _money(d.baseline), f"{d.ratio:.1f}"] for d in review.anomalies],
            )
        )
    units = Section("Unit costs", pick("per_active_user", "per_1000_requests"))
    idle = Section("Idle resources", pick("idle_resources"))
    if review.idle:
        idle.tables.append(
            Table(
                "Resources costing money while idle",
                ["resource", "service", f"billed ({cur})", "mean CPU %"],
                [[r.resource_id, r.service, _money(r.cost), f"{r.mean_cpu_pct:.1f}"] for r in review.idle],
            )
        )
    plan = Section("Cost impact of the capacity plan", pick("recommendations"))
    if review.recommendations:
        plan.tables.append(
            Table(
                "Recommendations priced",
                ["recommendation", "applies to", f"cost now ({cur})", f"monthly change ({cur})"],
                [
                    [r.name, r.scope, _money(r.current_cost), f"{r.monthly_change:+,.2f}"]
                    for r in review.recommendations
                ],
            )
        )
    return [totals, anomalies, units, idle, plan]


def _short(label: str, width: int = 27) -> str:
    """Service names fit the chart's label column (the table below has them in full)."""
    return label if len(label) <= width else label[: width - 1] + "…"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _money_table(title: str, key: str, table: pd.DataFrame, currency: str) -> Table:
    rows = []
    for row in table.head(TABLE_ROWS).itertuples(index=False):
        item = row._asdict()
        pct = item["change_pct"]
        rows.append(
            [
                item[key],
                _money(item["billed"]),
                _money(item["effective"]),
                None if pd.isna(item["previous_billed"]) else _money(item["previous_billed"]),
                None if pd.isna(item["change"]) else f"{item['change']:+,.2f}",
                None if pd.isna(pct) else f"{pct:+.1f} %",
            ]
        )
    more = len(table) - TABLE_ROWS
    title = f"{title} (top {TABLE_ROWS} of {len(table)})" if more > 0 else title
    return Table(
        title,
        [
            key.replace("_", "-"),
            f"billed ({currency})",
            f"effective ({currency})",
            f"last month ({currency})",
            "change",
            "change %",
        ],
        rows,
    )


def breakdown_rows(review: CostReview) -> list[dict[str, object]]:
    """Every breakdown row, for the `cost-breakdown` table artifact (full precision, no top-N)."""
    rows = []
    for dimension in DIMENSIONS:
        table = review.breakdowns.get(dimension)
        if table is None:
            continue
        for item in table.to_dict("records"):
            rows.append(
                {
                    "dimension": dimension,
                    "value": item[dimension],
                    **{
                        k: None if pd.isna(item[k]) else round(float(item[k]), 6)
                        for k in ("billed", "effective", "previous_billed", "change", "change_pct")
                    },
                }
            )
    return rows
