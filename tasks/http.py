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
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt, wait_exponential

from opsbook.config import HttpSettings
from opsbook.config.tls import Trust

T = TypeVar("T")
R = TypeVar("R")


class TransientStatus(Exception):
    """A 5xx answer: worth another attempt."""

    def __init__(self, response: FetchedResponse) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class BodyTooLarge(Exception):
    """The body passed `max_body_bytes`; the read stopped there."""


class TrustUnavailable(httpx.HTTPError):
    """The CA bundle a call should trust cannot be read: nothing was sent, nothing is retried."""


class _Refusing(httpx.AsyncBaseTransport):
    """Stands in for a transport whose trust could not be set up: each request says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise TrustUnavailable(self.reason)


REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_PEER_CERTIFICATE = "opsbook.peer_certificate"  # a request extension asking for it, and the response's answer
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


@dataclass
class FetchedResponse:
    status_code: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: float
    attempts: int = 1
    truncated: bool = False
    url: str = ""  # the URL that gave this answer (the last hop when redirects were followed)
    redirects: list[str] = field(default_factory=list)  # URLs redirected to, in order
    peer_certificate: bytes | None = None  # DER, when asked for and the connection was TLS

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str | None:
        """Where a 3xx points, made absolute against the URL that said it."""
        said = self.headers.get("location")
        if self.status_code not in REDIRECT_CODES or not said:
            return None
        return urljoin(self.url, said) if self.url else said


def describe_status(response: FetchedResponse) -> str:
    """`HTTP 404`, or `HTTP 302 to https://...` for a redirect, saying when the hop limit stopped it."""
    said = f"HTTP {response.status_code}"
    if (location := response.location) is not None:
        said += f" to {location}"
        if response.redirects:
            said += f" (after {len(response.redirects)} redirect(s) followed, the most allowed)"
    return said


@dataclass
class FetchFailure:
    """Why no usable answer came back, after the attempts that were allowed."""

    reason: str
    attempts: int
    elapsed_ms: float
    last_response: FetchedResponse | None = None
    kind: str = "transport"  # transport | timeout | status | too_large | trust (the CA bundle is unreadable)


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, (httpx.TransportError, TimeoutError, TransientStatus))


def ssl_context(trust: Trust) -> ssl.SSLContext:
    """The context for a trust setting, built once per bundle version (keyed by its mtime, so a
    long-running monitor picks up a rotated bundle): loading CAs for every client costs tens of ms."""
    bundle = trust.ca_bundle if trust.verify else None
    return _built_context(trust.verify, str(bundle) if bundle else None, bundle.stat().st_mtime_ns if bundle else 0)


@cache
def _built_context(verify: bool, ca_bundle: str | None, _version: int) -> ssl.SSLContext:
    if verify:
        context = httpx.create_ssl_context()
        if ca_bundle is not None:
            context.load_verify_locations(cafile=ca_bundle)  # in addition to the usual roots
        return context
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _Transport(AiohttpTransport):
    """aiohttp's transport, able to hand back the peer certificate of the connection that answered.

    Only for requests that ask (the `[CERTIFICATE_EXPIRATION]` condition): reading it costs a
    DER copy, nothing a thousand-endpoint sweep should pay for. The certificate is read from the
    connection's TLS object as soon as the headers are in, before an empty body releases it.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.extensions.get(_PEER_CERTIFICATE):
            response.extensions[_PEER_CERTIFICATE] = _peer_der(response)
        return response


def _peer_der(response: httpx.Response) -> bytes | None:
    # httpx-aiohttp keeps the aiohttp response on its stream and aiohttp its protocol on the
    # response (private names both); when either moves, the caller falls back to a handshake.
    protocol = getattr(getattr(response.stream, "_aiohttp_response", None), "_protocol", None)
    transport = getattr(protocol, "transport", None)
    tls = transport.get_extra_info("ssl_object") if transport is not None else None
    return tls.getpeercert(binary_form=True) if isinstance(tls, ssl.SSLObject) else None


async def handshake_certificate(url: str, trust: Trust, timeout_s: float) -> bytes:
    """The certificate a TLS server presents, from a connection of its own (the fallback when the
    request's connection could not give it). Verified as the request was; raises on any fault."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    async with asyncio.timeout(timeout_s):
        _reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context(trust), server_hostname=host)
    try:
        tls = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if isinstance(tls, ssl.SSLObject) else None
    finally:
        writer.close()
    if not der:
        raise ssl.SSLError(f"{host}:{port} presented no certificate")
    return der


def new_client(settings: HttpSettings, *, trust: Trust | None = None, connections: int = 1) -> httpx.AsyncClient:
    """A client pooling up to `connections` connections (a sweep's concurrency, or 1 for one call).

    `trust` defaults to `http.ca_bundle` with verification on: every HTTPS call trusts the same
    private CA unless its target says otherwise.

    No httpx timeouts: `fetch` puts one total deadline (asyncio.timeout) over each attempt's connect,
    send and body read, which also bounds the pool wait; httpx's per-operation timers on top of it
    cost about a tenth of a sweep's CPU and add nothing. Proxies from the environment (trust_env)
    still go through httpx's own proxy transport.
    """
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    trust = trust or settings.trust()
    transport: httpx.AsyncBaseTransport
    try:
        transport = _Transport(verify=ssl_context(trust), limits=limits)
    except (OSError, ssl.SSLError) as error:  # one unreadable bundle fails its own targets only
        transport = _Refusing(f"CA bundle {trust.ca_bundle} cannot be read: {error.strerror or error}")
    return httpx.AsyncClient(
        transport=transport,
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
    *,
    max_redirects: int = 0,
    want_certificate: bool = False,
) -> FetchedResponse:
    """One attempt: the request, and up to `max_redirects` redirects (GET and HEAD only), under one deadline."""
    started = time.perf_counter()
    followed: list[str] = []
    sent = dict(headers)
    try:
        async with asyncio.timeout(timeout_s):  # a total deadline: a trickling body cannot outlive it
            while True:
                fetched = await _exchange(client, method, url, sent, max_body_bytes, content, want_certificate)
                location = fetched.location if len(followed) < max_redirects and method in ("GET", "HEAD") else None
                if location is None:
                    break
                if _origin(location) != _origin(url):  # as httpx does: credentials stay with their origin
                    sent = {k: v for k, v in sent.items() if k.lower() not in _CREDENTIAL_HEADERS}
                followed.append(location)
                url = location
    except aiohttp.ClientError as error:  # what the transport leaves unmapped: a malformed answer, mostly
        raise httpx.RemoteProtocolError(str(error) or type(error).__name__) from error
    fetched.elapsed_ms = (time.perf_counter() - started) * 1000.0
    fetched.redirects = followed
    if fetched.truncated:
        raise BodyTooLarge(f"body larger than {max_body_bytes} bytes")
    if fetched.status_code >= 500:
        raise TransientStatus(fetched)
    return fetched


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


async def _exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str],
    max_body_bytes: int,
    content: bytes | None,
    want_certificate: bool,
) -> FetchedResponse:
    chunks: list[bytes] = []
    size = 0
    truncated = False
    extensions: dict[str, Any] = {_PEER_CERTIFICATE: True} if want_certificate else {}
    async with client.stream(method, url, headers=dict(headers), content=content, extensions=extensions) as response:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_body_bytes:
                truncated = True
                break
            chunks.append(chunk)
    return FetchedResponse(
        status_code=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=b"".join(chunks),
        elapsed_ms=0.0,
        truncated=truncated,
        url=url,
        peer_certificate=response.extensions.get(_PEER_CERTIFICATE),
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    settings: HttpSettings,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    content: bytes | None = None,
    max_redirects: int = 0,
    want_certificate: bool = False,
) -> FetchedResponse | FetchFailure:
    """GET (or HEAD, or POST `content`) one URL with retries on connection errors, timeouts and 5xx only.

    Never raises for a network fault: the caller gets a FetchFailure saying why and how many
    attempts were made. A 4xx comes back as a response on the first attempt, not retried; so does
    a 3xx, unless `max_redirects` allows following it (each attempt follows the chain afresh).
    `want_certificate` puts the answering connection's certificate on the response.
    """
    deadline = timeout_s or settings.timeout_s
    attempts = 1
    started = time.perf_counter()

    def failure(reason: str, kind: str, last: FetchedResponse | None = None) -> FetchFailure:
        return FetchFailure(reason, attempts, (time.perf_counter() - started) * 1000.0, last, kind)

    def read() -> Awaitable[FetchedResponse]:
        return _read_once(
            client,
            method,
            url,
            headers or {},
            deadline,
            settings.max_body_bytes,
            content,
            max_redirects=max_redirects,
            want_certificate=want_certificate,
        )

    # The first attempt runs without tenacity: most calls succeed, and building the retry machinery
    # for each of a thousand requests is measurable. Retries then follow the same backoff.
    try:
        return await read()
    except BodyTooLarge as error:
        return failure(str(error), "too_large")
    except TrustUnavailable as error:
        return failure(str(error), "trust")
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
    trust: Callable[[T], Trust] | None = None,
) -> list[R]:
    """Run probe over items with at most `settings.concurrency` in flight; results keep order.

    One client per trust setting (verification on or off, and which CA bundle), each pooling up to
    `concurrency` connections, so many endpoints on a few hosts reuse connections instead of
    reconnecting. Without `trust`, every item trusts `http.ca_bundle`. A probe that raises (a
    request the client refuses to build, an answer a parser chokes on) costs its own item only:
    `on_error` turns the exception into that item's result, required so no sweep can forget it.
    """
    listed = list(items)
    limit = asyncio.Semaphore(settings.concurrency)
    clients: dict[Trust, httpx.AsyncClient] = {}
    default = settings.trust()

    async def one(item: T) -> R:
        async with limit:
            want = trust(item) if trust is not None else default
            if want not in clients:
                clients[want] = new_client(settings, trust=want, connections=settings.concurrency)
            try:
                return await probe(clients[want], item)
            except Exception as error:  # one target's fault; cancellation and timeouts of the step still propagate
                return on_error(item, error)

    try:
        return list(await asyncio.gather(*(one(item) for item in listed)))
    finally:
        await asyncio.gather(*(client.aclose() for client in clients.values()))
