"""Prometheus' HTTP API: instant and range queries, answers parsed strictly.

Every call goes through `opsbook.tasks.http.fetch` (deadline, bounded body, retries on transient faults
only). Anything that is not a well-formed `success` answer raises `PrometheusError` whose message
an operator can act on; Prometheus' own `errorType` and `error` are kept verbatim, so a PromQL
syntax error reads exactly as Prometheus wrote it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from opsbook.config import HttpSettings
from opsbook.config.resources import PrometheusSource
from opsbook.tasks.http import FetchedResponse, FetchFailure, fetch

_EXCERPT_CHARS = 160


class PrometheusError(Exception):
    """The query gave no usable answer. `kind`: unreachable | rejected | bad_answer."""

    def __init__(self, message: str, kind: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.error_type = error_type


@dataclass(frozen=True)
class Series:
    """One time series of an answer: its labels and its (unix seconds, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


# -- the API's JSON, as documented at prometheus.io/docs/prometheus/latest/querying/api ----------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Sample(_Strict):
    metric: dict[str, str] = {}
    value: tuple[float, str]


class _Range(_Strict):
    metric: dict[str, str] = {}
    values: list[tuple[float, str]]


class _Data(_Strict):
    resultType: Literal["vector", "matrix", "scalar", "string"]
    result: Any


class _Answer(_Strict):
    status: Literal["success", "error"]
    data: _Data | None = None
    errorType: str | None = None
    error: str | None = None
    warnings: list[str] = []


def _number(text: str) -> float:
    """Prometheus sends values as strings: "12.5", "NaN", "+Inf"."""
    return float(text)


def parse_answer(response: FetchedResponse, expected: Literal["vector", "matrix"]) -> list[Series]:
    """Turn one HTTP answer into series, or raise PrometheusError saying what was wrong."""
    try:
        answer = _Answer.model_validate_json(response.body)
    except ValidationError:
        excerpt = " ".join(response.text.split())[:_EXCERPT_CHARS]
        raise PrometheusError(
            f"HTTP {response.status_code} that is not Prometheus' API JSON: {excerpt!r}", "bad_answer"
        ) from None
    if answer.status == "error" or response.status_code >= 400:
        error_type = answer.errorType or f"HTTP {response.status_code}"
        raise PrometheusError(
            f"Prometheus rejected the query ({error_type}): {answer.error or 'no reason given'}",
            "rejected",
            answer.errorType,
        )
    if answer.data is None:
        raise PrometheusError("Prometheus said success but sent no data", "bad_answer")
    kind = answer.data.resultType
    try:
        if kind == "scalar" and expected == "vector":
            ts, value = answer.data.result
            return [Series({}, [(float(ts), _number(value))])]
        if kind != expected:
            raise PrometheusError(f"expected a {expected} answer, got a {kind}", "bad_answer")
        if kind == "vector":
            samples = [_Sample.model_validate(item) for item in answer.data.result]
            return [Series(s.metric, [(s.value[0], _number(s.value[1]))]) for s in samples]
        ranges = [_Range.model_validate(item) for item in answer.data.result]
        return [Series(r.metric, [(ts, _number(v)) for ts, v in r.values]) for r in ranges]
    except (ValidationError, ValueError, TypeError) as error:
        raise PrometheusError(
            f"malformed {kind} in Prometheus' answer: {str(error).splitlines()[0]}", "bad_answer"
        ) from None


async def _get(
    client: httpx.AsyncClient,
    source: PrometheusSource,
    settings: HttpSettings,
    path: str,
    params: dict[str, str],
    expected: Literal["vector", "matrix"],
) -> list[Series]:
    url = f"{str(source.url).rstrip('/')}{path}?{urlencode(params)}"
    settings = settings.model_copy(update={"max_body_bytes": source.max_body_bytes})
    outcome = await fetch(client, url, settings, headers=source.request_headers(), timeout_s=source.timeout_s)
    if isinstance(outcome, FetchFailure):
        if outcome.last_response is not None:  # a 5xx (e.g. query timeout) may still explain itself
            try:
                parse_answer(outcome.last_response, expected)
            except PrometheusError as error:
                if error.kind == "rejected":
                    raise
        raise PrometheusError(
            f"Prometheus at {source.url} unreachable after {outcome.attempts} attempt(s): {outcome.reason}",
            "unreachable",
        )
    return parse_answer(outcome, expected)


def _unix(moment: datetime | float) -> str:
    seconds = moment.timestamp() if isinstance(moment, datetime) else moment
    return f"{seconds:.3f}"


async def instant_query(
    client: httpx.AsyncClient, source: PrometheusSource, settings: HttpSettings, promql: str, at: datetime | None = None
) -> list[Series]:
    """`/api/v1/query`: the value of each series now (or at `at`)."""
    params = {"query": promql} | ({"time": _unix(at)} if at else {})
    return await _get(client, source, settings, "/api/v1/query", params, "vector")


async def instant_query_raw(
    client: httpx.AsyncClient, source: PrometheusSource, settings: HttpSettings, promql: str
) -> list[Series]:
    """`/api/v1/query` of a range selector (`up[15m]`): the raw samples with their own timestamps."""
    return await _get(client, source, settings, "/api/v1/query", {"query": promql}, "matrix")


async def range_query(
    client: httpx.AsyncClient,
    source: PrometheusSource,
    settings: HttpSettings,
    promql: str,
    start: float,
    end: float,
    step_s: float,
) -> list[Series]:
    """`/api/v1/query_range`: each series from start to end (unix seconds), one point per step."""
    params = {"query": promql, "start": _unix(start), "end": _unix(end), "step": f"{step_s:g}"}
    return await _get(client, source, settings, "/api/v1/query_range", params, "matrix")


def aligned_chunks(start: datetime, end: datetime, step_s: float, max_points: int) -> list[tuple[float, float]]:
    """Split [start, end] into range-query windows of at most `max_points` points per series.

    The first point is aligned to a multiple of the step, so a repeated backfill evaluates at
    the very same instants and its samples collide with (rather than sit beside) stored ones.
    """
    if end <= start:
        return []
    first = math.ceil(start.timestamp() / step_s)
    last = math.floor(end.timestamp() / step_s)
    windows = []
    for index in range(first, last + 1, max_points):
        stop = min(index + max_points - 1, last)
        windows.append((round(index * step_s, 3), round(stop * step_s, 3)))
    return windows


def to_datetime(unix_seconds: float) -> datetime:
    return datetime.fromtimestamp(round(unix_seconds, 3), UTC)  # Prometheus keeps milliseconds
