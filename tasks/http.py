"""HTTP for every check: bounded reads, a deadline on every attempt, retries only when transient.

Requests use the httpx API over aiohttp (httpx-aiohttp's transport). httpcore, httpx's own
transport, costs about 0.4 ms of CPU per request and its pool bookkeeping grows with the pool, so a
hundred requests in flight were bound by the CPU (1,000 endpoints: 1.5 s with a client per slot,
8.6 s with one shared pool, against a 1.0 s limit). aiohttp's C parser and pool bring one shared
client to 1.23 s (bench/health_sweep.py).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt, wait_exponential

from opsbook.config import HttpSettings

T = TypeVar("T")
R = TypeVar("R")


class TransientStatus(Exception):
    """A 5xx answer: worth another attempt."""

    def __init__(self, response: FetchedResponse) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class BodyTooLarge(Exception):
    """The body passed `max_body_bytes`; the read stopped there."""


@dataclass
class FetchedResponse:
    status_code: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: float
    attempts: int = 1
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class FetchFailure:
    """Why no usable answer came back, after the attempts that were allowed."""

    reason: str
    attempts: int
    elapsed_ms: float
    last_response: FetchedResponse | None = None
    kind: str = "transport"  # transport | timeout | status | too_large


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, (httpx.TransportError, TimeoutError, TransientStatus))


@cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """Built once per process: loading the CA bundle for every client costs tens of ms."""
    if verify:
        return httpx.create_ssl_context()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def new_client(settings: HttpSettings, *, verify: bool = True, connections: int = 1) -> httpx.AsyncClient:
    """A client pooling up to `connections` connections (a sweep's concurrency, or 1 for one call).

    No httpx timeouts: `fetch` puts one total deadline (asyncio.timeout) over each attempt's connect,
    send and body read, which also bounds the pool wait; httpx's per-operation timers on top of it
    cost about a tenth of a sweep's CPU and add nothing. Proxies from the environment (trust_env)
    still go through httpx's own proxy transport.
    """
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        transport=AiohttpTransport(verify=_ssl_context(verify), limits=limits),
        timeout=None,
        headers={"User-Agent": settings.user_agent},
        follow_redirects=False,
        trust_env=settings.trust_env,
    )


async def _read_once(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    max_body_bytes: int,
    content: bytes | None = None,
) -> FetchedResponse:
    started = time.perf_counter()
    chunks: list[bytes] = []
    size = 0
    truncated = False
    try:
        async with asyncio.timeout(timeout_s):  # a total deadline: a trickling body cannot outlive it
            async with client.stream(method, url, headers=dict(headers), content=content) as response:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_body_bytes:
                        truncated = True
                        break
                    chunks.append(chunk)
    except aiohttp.ClientError as error:  # what the transport leaves unmapped: a malformed answer, mostly
        raise httpx.RemoteProtocolError(str(error) or type(error).__name__) from error
    fetched = FetchedResponse(
        status_code=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=b"".join(chunks),
        elapsed_ms=(time.perf_counter() - started) * 1000.0,
        truncated=truncated,
    )
    if truncated:
        raise BodyTooLarge(f"body larger than {max_body_bytes} bytes")
    if fetched.status_code >= 500:
        raise TransientStatus(fetched)
    return fetched


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    settings: HttpSettings,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    content: bytes | None = None,
) -> FetchedResponse | FetchFailure:
    """GET (or HEAD, or POST `content`) one URL with retries on connection errors, timeouts and 5xx only.

    Never raises for a network fault: the caller gets a FetchFailure saying why and how many
    attempts were made. A 4xx comes back as a response on the first attempt, not retried.
    """
    deadline = timeout_s or settings.timeout_s
    attempts = 1
    started = time.perf_counter()

    def failure(reason: str, kind: str, last: FetchedResponse | None = None) -> FetchFailure:
        return FetchFailure(reason, attempts, (time.perf_counter() - started) * 1000.0, last, kind)

    def read() -> Awaitable[FetchedResponse]:
        return _read_once(client, method, url, headers or {}, deadline, settings.max_body_bytes, content)

    # The first attempt runs without tenacity: most calls succeed, and building the retry machinery
    # for each of a thousand requests is measurable. Retries then follow the same backoff.
    try:
        return await read()
    except BodyTooLarge as error:
        return failure(str(error), "too_large")
    except Exception as error:  # sorted below, exactly as the retry loop would sort it
        if not _is_transient(error):
            if isinstance(error, httpx.HTTPError):  # not transient: invalid URL, unsupported protocol, ...
                return failure(f"{type(error).__name__}: {error}", "transport")
            raise
        if settings.retries == 0:
            return _describe_failure(error, failure, deadline)
    await asyncio.sleep(settings.backoff_s)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.retries),
        # attempt k of this loop is attempt k+1 overall: backoff_s x 2^k, as if the loop had started first
        wait=wait_exponential(multiplier=settings.backoff_s * 2, max=max(settings.backoff_s * 8, 0.001)),
        retry=retry_if_exception(_is_transient),
        reraise=False,
    )
    try:
        async for attempt in retrying:
            with attempt:
                attempts += 1
                response = await read()
        response.attempts = attempts
        return response
    except RetryError as exhausted:
        return _describe_failure(exhausted.last_attempt.exception(), failure, deadline)
    except BodyTooLarge as error:
        return failure(str(error), "too_large")
    except httpx.HTTPError as error:  # not transient: invalid URL, unsupported protocol, ...
        return failure(f"{type(error).__name__}: {error}", "transport")


async def post_json(
    client: httpx.AsyncClient, url: str, settings: HttpSettings, body: bytes, headers: Mapping[str, str] | None = None
) -> FetchedResponse | FetchFailure:
    """POST an already-serialised JSON body (so a signature can cover its exact bytes), same retries."""
    return await fetch(
        client,
        url,
        settings,
        method="POST",
        content=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _describe_failure(
    error: BaseException | None, failure: Callable[..., FetchFailure], deadline: float
) -> FetchFailure:
    if isinstance(error, TransientStatus):
        return failure(f"HTTP {error.response.status_code}", "status", error.response)
    root = _root_cause_error(error) if error else None
    if isinstance(error, TimeoutError) or (
        isinstance(error, httpx.TimeoutException) and isinstance(root, TimeoutError)
    ):
        return failure(f"timed out after {deadline:g} s", "timeout")
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):  # the transport names a refusal ConnectTimeout
        return failure(f"connection failed: {_root_cause(error)}", "transport")
    return failure(f"{type(error).__name__}: {_root_cause(error)}" if error else "unknown failure", "transport")


def _root_cause_error(error: BaseException) -> BaseException:
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return error


def _root_cause(error: BaseException) -> str:
    """The innermost error on one line (aiohttp's protocol errors span several, with a caret)."""
    root = _root_cause_error(error)
    said = getattr(root, "message", None)
    text = " ".join((said if isinstance(said, str) and said else str(root)).split()).removesuffix(" ^")
    return text or type(root).__name__


async def sweep(
    items: Iterable[T],
    probe: Callable[[httpx.AsyncClient, T], Awaitable[R]],
    settings: HttpSettings,
    *,
    on_error: Callable[[T, Exception], R],
    verify: Callable[[T], bool] = lambda _item: True,
) -> list[R]:
    """Run probe over items with at most `settings.concurrency` in flight; results keep order.

    One client per TLS-verification setting, each pooling up to `concurrency` connections, so many
    endpoints on a few hosts reuse connections instead of reconnecting. A probe that raises (a
    request the client refuses to build, an answer a parser chokes on) costs its own item only:
    `on_error` turns the exception into that item's result, required so no sweep can forget it.
    """
    listed = list(items)
    limit = asyncio.Semaphore(settings.concurrency)
    clients: dict[bool, httpx.AsyncClient] = {}

    async def one(item: T) -> R:
        async with limit:
            want = verify(item)
            if want not in clients:
                clients[want] = new_client(settings, verify=want, connections=settings.concurrency)
            try:
                return await probe(clients[want], item)
            except Exception as error:  # one target's fault; cancellation and timeouts of the step still propagate
                return on_error(item, error)

    try:
        return list(await asyncio.gather(*(one(item) for item in listed)))
    finally:
        await asyncio.gather(*(client.aclose() for client in clients.values()))
