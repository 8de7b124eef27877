"""The monthly cost review end to end on a real Prefect server, from generated FOCUS exports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.config import parse_config
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.cost_review import cost_review
from opsbook.results import Status, Verdict
from opsbook.store import HistoryStore, Sample
from opsbook.tasks.cost import analysis
from opsbook.tasks.cost.focus import read_export
from tests.focus_builder import month_rows, write_export
from tests.helpers import write_config
from tests.test_daily_flow import read_back

# August: Compute 10/day, Storage 5/day (465). September: Compute grows 50 % to 15/day and spikes to
# 100 on the 17th; Storage is flat (20/day x 30 + 85 = 685, +47.3 %). The 17th is the one anomaly.
AUGUST = {"Compute": 10.0, "Storage": 5.0}
SEPTEMBER = {"Compute": 15.0, "Storage": 5.0}
SPIKE = {(17, "Compute"): 100.0}
RESOURCES = {"Compute": "i-busy", "Storage": "vol-idle"}


def exports(folder: Path) -> None:
    folder.mkdir()
    write_export(folder / "focus-2025-08.csv.gz", month_rows(2025, 8, AUGUST, resources=RESOURCES))
    write_export(folder / "focus-2025-09.parquet", month_rows(2025, 9, SEPTEMBER, overrides=SPIKE, resources=RESOURCES))


def history(url: str) -> None:
    """What other runbooks leave in the history: engagement, traffic and per-resource CPU."""

    def day(d: int) -> datetime:
        return datetime(2025, 9, d, tzinfo=UTC)

    HistoryStore(url).add_samples(
        [Sample("engagement.active_users", v, day(d)) for d, v in ((1, 90), (15, 100), (29, 110))]
        + [Sample("traffic.requests", 400_000, day(d)) for d in (5, 20)]
        + [Sample("traffic.requests", 9_999_999, datetime(2025, 8, 31, tzinfo=UTC))]  # other month
        + [
            Sample("capacity.cpu_pct", v, day(d), labels={"resource_id": rid})
            for d in (3, 10)
            for rid, v in (("i-busy", 60.0), ("vol-idle", 1.5))
        ]
    )


def config(tmp_path: Path, **costs: object) -> Path:
    data = {
        "estate": "cost test",
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        "reports": {"directory": str(tmp_path / "reports")},
        "costs": {
            "exports": ["exports/*"],
            "budget": 700,
            "recommendations": [{"name": "double storage", "service": "Storage", "scale": 2}],
            **costs,
        },
    }
    return write_config(tmp_path, data)


def run(path: Path, month: str | None = None):
    state = cost_review(config_path=str(path), month=month, return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome), outcome
    return state, outcome, {r.check: r for r in outcome.results}


@pytest.mark.usefixtures("prefect_server")
def test_review_reports_the_month_over_month_change_and_the_anomaly_day(tmp_path: Path) -> None:
    exports(tmp_path / "exports")
    path = config(tmp_path)
    history(f"sqlite:///{tmp_path / 'history.db'}")
    # September given: these 2025 fixtures are stale by the clock (the default month and its
    # freshness are tested below, against a `now` of their own).
    state, outcome, by_check = run(path, month="2025-09")

    assert by_check["cost.month_total"].target == "2025-09"
    assert by_check["cost.month_total"].value == pytest.approx(685.0)
    assert by_check["cost.month_total"].details["effective"] == pytest.approx(685.0 * 0.9)
    growth = by_check["cost.month_over_month"]
    assert growth.value == pytest.approx((685 - 465) / 465 * 100) and growth.status is Status.WARN
    assert growth.details["previous_billed"] == pytest.approx(465.0)
    budget = by_check["cost.budget"]
    assert budget.value == pytest.approx(685 / 700 * 100) and budget.status is Status.WARN

    anomalies = by_check["cost.anomalies"]
    assert anomalies.status is Status.WARN and anomalies.value == 1
    assert anomalies.details["days"] == [{"day": "2025-09-17", "cost": 105.0, "baseline": 20.0}]

    effective = 685 * 0.9
    assert by_check["cost.per_active_user"].value == pytest.approx(effective / 100)
    assert by_check["cost.per_1000_requests"].value == pytest.approx(effective / 800)  # August's sample is out
    idle = by_check["cost.idle_resources"]
    assert idle.status is Status.WARN and [r["resource_id"] for r in idle.details["resources"]] == ["vol-idle"]
    assert idle.details["resources"][0]["cost"] == pytest.approx(150.0)
    assert by_check["cost.recommendations"].value == pytest.approx(150.0)
    gates = [r for r in outcome.results if r.check == "cost.export_gate"]
    assert [(r.target, r.status) for r in gates] == [
        ("focus-2025-08.csv.gz", Status.OK),
        ("focus-2025-09.parquet", Status.OK),
    ]
    assert state.is_completed()  # warnings only

    html = outcome.report_path.read_text()
    assert "Monthly cost review 2025-09" in html and "AMBER" in html
    assert "Billed cost by service, 2025-09 (USD)" in html and "<svg" in html
    assert "Top movers by amount (service)" in html and "+225.00" in html  # Compute: 310 -> 535
    assert "2025-09-17" in html and "vol-idle" in html

    artifacts, _ = read_back(outcome.run_id)
    by_key = {a.key: a for a in artifacts}
    assert {"cost-review", "cost-breakdown", "cost-review-link"} <= set(by_key)
    assert "Compute" in by_key["cost-breakdown"].data and "AMBER" in by_key["cost-review"].data


@pytest.mark.usefixtures("prefect_server")
def test_only_export_missing_a_column_gives_insufficient_data_and_fails(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_export(folder / "broken.csv", month_rows(2025, 9, SEPTEMBER), drop=("BilledCost",))
    state, outcome, by_check = run(config(tmp_path), month="2025-09")
    assert state.is_completed() and outcome.verdict is Verdict.RED
    gate = by_check["cost.export_gate"]
    assert gate.status is Status.ERROR and "required column BilledCost is missing" in gate.message
    total = by_check["cost.month_total"]
    assert total.status is Status.ERROR and total.value is None and "insufficient data" in total.message
    assert "required column BilledCost is missing" in outcome.report_path.read_text()


def test_a_spike_does_not_raise_its_own_baseline() -> None:
    days = pd.date_range("2025-09-01", periods=12, freq="D", tz="UTC")
    costs = [10, 10, 10, 10, 50, 52, 10, 10, 10, 10, 10, 31]
    frame = pd.DataFrame(
        {"BilledCost": costs, "ChargePeriodStart": days, "BillingPeriodStart": pd.Timestamp("2025-09-01", tz="UTC")}
    )
    frame = analysis.with_dimensions(frame, "environment", "application")
    found, daily, _ = analysis.anomalies(frame, "2025-09", window_days=7, factor=2.0, min_daily_cost=1.0)
    # The 6th (52) is judged against the median of 10,10,10,10,50 = 10; the 12th (31) against 10.
    assert [d.day.day for d in found] == [5, 6, 12] and len(daily) == 12


def test_cli_rejects_a_bad_month_before_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "cost-review", "-c", str(config(tmp_path)), "--month", "2025-13"])
    assert result.exit_code == 2 and "YYYY-MM" in result.output


@pytest.mark.parametrize("newest", ["focus-2025-09-again.csv", "focus-2025-09.parquet"])
def test_a_month_in_two_exports_counts_once_from_the_newest_file(tmp_path: Path, newest: str) -> None:
    import os

    from opsbook.tasks.cost.review import load_focus_exports

    exports(tmp_path / "exports")
    again = write_export(tmp_path / "exports" / "focus-2025-09-again.csv", month_rows(2025, 9, SEPTEMBER))
    older = (tmp_path / "exports" / "focus-2025-09.parquet") if newest == again.name else again
    os.utime(older, (1_700_000_000, 1_700_000_000))  # modified long before the other
    loaded = load_focus_exports.fn(parse_config({"costs": {"exports": ["exports/*"]}}, base_dir=tmp_path).costs)
    [overlap] = [r for r in loaded.results if r.check == "cost.export_overlap"]
    assert overlap.status is Status.WARN and "nothing is counted twice" in overlap.message
    assert overlap.details["overlaps"] == [
        f"{provider} (no account) 2025-09: kept {newest}, left out {older.name}" for provider in ("AWS", "Microsoft")
    ]
    september = loaded.frame[loaded.frame["BillingPeriodStart"].dt.month == 9]
    assert set(september["source_file"]) == {newest}  # one file speaks for the month
    expected = read_export(tmp_path / "exports" / newest)["BilledCost"].sum()
    assert september["BilledCost"].sum() == pytest.approx(expected)  # not doubled
    assert set(loaded.frame[loaded.frame["BillingPeriodStart"].dt.month == 8]["source_file"]) == {
        "focus-2025-08.csv.gz"
    }


def _review_without_month(tmp_path: Path, now: datetime):
    from opsbook.tasks.cost.review import load_focus_exports, review_month

    tmp_path.mkdir(exist_ok=True)
    exports(tmp_path / "exports")
    costs = parse_config({"costs": {"exports": ["exports/*"]}}, base_dir=tmp_path).costs
    review = review_month.fn(costs, f"sqlite:///{tmp_path / 'h.db'}", load_focus_exports.fn(costs), None, now)
    return review, {r.check: r for r in review.results}


def test_with_no_month_a_fresh_export_reviews_the_latest_month_and_says_how_old_it_is(tmp_path: Path) -> None:
    # 5 October: September (ends 1 October) is the month just ended.
    review, by_check = _review_without_month(tmp_path, datetime(2025, 10, 5, tzinfo=UTC))
    assert review.month == "2025-09" and by_check["cost.month_total"].value == pytest.approx(685.0)
    fresh = by_check["cost.export_freshness"]
    assert fresh.status is Status.OK and fresh.target == "2025-09" and fresh.value == 4
    assert fresh.message == "the newest billing period, 2025-09, ended 4 days ago (2025-10-01)"


def test_with_no_month_an_export_months_old_is_an_error_naming_its_period_and_age(tmp_path: Path) -> None:
    # 20 January 2026: October, November and December are missing; September is 111 days old.
    review, by_check = _review_without_month(tmp_path, datetime(2026, 1, 20, tzinfo=UTC))
    stale = by_check["cost.export_freshness"]
    assert stale.status is Status.ERROR and stale.target == "2025-09" and stale.value == 111
    assert "stale: the newest billing period, 2025-09, ended 111 days ago (2025-10-01), more than 35" in stale.message
    assert review.month == "2025-09"  # still reviewed, but the error says it is not this month
    # 35 days after the period ended is still fresh, a minute later is stale (STALE_AFTER).
    _, edge = _review_without_month(tmp_path / "edge", datetime(2025, 11, 5, tzinfo=UTC))
    assert edge["cost.export_freshness"].status is Status.OK
    _, late = _review_without_month(tmp_path / "late", datetime(2025, 11, 5, 0, 1, tzinfo=UTC))
    assert late["cost.export_freshness"].status is Status.ERROR


@pytest.mark.usefixtures("prefect_server")
def test_a_month_given_explicitly_is_reviewed_without_a_staleness_complaint(tmp_path: Path) -> None:
    exports(tmp_path / "exports")
    state, outcome, by_check = run(config(tmp_path), month="2025-08")  # long past by the clock
    fresh = by_check["cost.export_freshness"]
    assert fresh.status is Status.SKIPPED and "2025-08 given explicitly" in fresh.message
    assert by_check["cost.month_total"].target == "2025-08" and not state.is_failed()


@pytest.mark.usefixtures("prefect_server")
def test_the_flow_with_no_month_is_red_on_a_stale_export(tmp_path: Path) -> None:
    exports(tmp_path / "exports")
    state, outcome, by_check = run(config(tmp_path))  # the clock: September 2025 is long past
    assert by_check["cost.export_freshness"].status is Status.ERROR
    # A red estate is the runbook doing its job: Completed, with the verdict on the run.
    assert state.is_completed() and outcome.verdict is Verdict.RED and str(state.message).startswith("red")
    assert "stale: the newest billing period, 2025-09" in outcome.report_path.read_text()
