"""One target's odd values never cost a run its results, identically on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import JSON, String, Text

from opsbook.config import EstateConfig
from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore, Sample
from opsbook.store.models import Base
from opsbook.store.types import JSON_DEPTH_LIMIT, JSON_SIZE_LIMIT, BoundedString, CleanJSON, CleanText

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def result(target: str, message: str = "ok", details: dict[str, Any] | None = None) -> CheckResult:
    return CheckResult(
        check="platform.health",
        target=target,
        component="platforms",
        status=Status.OK,
        message=message,
        details=details or {},
        started_at=T0,
    )


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_hostile_target_keeps_every_result_of_the_run(history_url: str) -> None:
    long_url = "https://example.test/" + "p" * 400
    hostile = [
        result("nul", message="body\x00with a NUL", details={"body": "a\x00b", "k\x00ey": ["\x00"]}),
        result(long_url, message="long target"),
        result(long_url + "-other", message="same head, different tail"),
        result("deep", details={"json": nested(500)}),
        result("huge", details={"blob": ["x" * 5000] * 200}),
        result("healthy"),
    ]
    store = HistoryStore(history_url)
    store.record_run(
        run_id="r1",
        flow="daily-checklist",
        estate="e" * 250,
        started_at=T0,
        finished_at=T0,
        results=hostile,
        notes="note\x00",
    )
    run = store.get_run("r1")
    assert run is not None and len(run.results) == len(hostile)
    by_message = {r.message: r for r in run.results}
    assert by_message["bodywith a NUL"].details == {"body": "ab", "key": [""]}
    assert len(run.estate) == 200 and "truncated" in run.estate and run.notes == "note"
    long_targets = {by_message["long target"].target, by_message["same head, different tail"].target}
    assert len(long_targets) == 2 and all(len(t) == 300 and "truncated" in t for t in long_targets)
    # A lookup by the full target finds the row it wrote: queries bind through the same type.
    assert [r.message for r in store.result_history("platform.health", target=long_url)] == ["long target"]
    deep = next(r for r in run.results if r.target == "deep").details
    assert "nested deeper" in json.dumps(deep)
    huge = next(r for r in run.results if r.target == "huge").details
    assert len(json.dumps(huge)) < JSON_SIZE_LIMIT and "not stored" in json.dumps(huge)
    assert next(r for r in run.results if r.target == "healthy").status is Status.OK
    store.dispose()


def test_samples_with_nul_and_long_labels_are_stored(history_url: str) -> None:
    store = HistoryStore(history_url)
    sample = Sample(metric="m\x00", value=1.0, ts=T0, labels={"route": "/x\x00" + "y" * 600})
    assert store.add_samples([sample]) == 1
    assert store.add_samples([sample]) == 0  # cleaned the same way twice: still one series
    stored = store.samples("m")
    assert len(stored) == 1 and "\x00" not in stored[0].labels["route"]
    store.dispose()


def test_every_text_column_is_a_cleaning_type() -> None:
    """A new column declared with a plain String/Text/JSON would bring the failure back."""
    plain = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, (String, Text, JSON)) and not column.foreign_keys
    ]
    assert plain == [], plain
    kinds = {type(c.type) for t in Base.metadata.tables.values() for c in t.columns}
    assert {BoundedString, CleanText, CleanJSON} <= kinds
    assert JSON_DEPTH_LIMIT < 100


def test_an_estate_name_longer_than_its_column_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="estate"):
        EstateConfig.model_validate({"estate": "e" * 201})
