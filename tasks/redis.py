"""The Redis health check: PING and its latency, memory, clients, rejected connections, evictions.

One connection per server per run, with connect and reply timeouts and no retries (a health check
measures; retrying would hide the fault it is there to see). A server that cannot be reached,
refuses the password or does not speak Redis gives one `redis.ping` error naming the cause, and
nothing else is measured. Everything else comes from one INFO, not from CONFIG GET, which managed
Redis services often disable.

`rejected_connections` and `evicted_keys` are counters since the server started: a large number
there may be months old and is not a current problem. Each is judged on its increase since this
server's previous stored result, read from the history; the first reading gives the count "since
start" and is not judged.
"""

from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import redis
from prefect import task
from prefect.cache_policies import NO_CACHE
from redis.backoff import NoBackoff
from redis.exceptions import InvalidResponse, NoPermissionError
from redis.retry import Retry

from opsbook.checks import AlertType, Check, declare
from opsbook.config import EstateConfig, Limit
from opsbook.config.redis import RedisServer
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, describe_exception, judge, stopwatch, utcnow
from opsbook.secrets import redact
from opsbook.store import open_store

COMPONENT = "redis"

REDIS_PING = declare(
    "redis.ping",
    title="Redis PING",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="ms",
    on_fail="Redis is slow to answer PING: look for slow commands (SLOWLOG GET 10), a saturated CPU, "
    "swapping, or a fork for persistence (INFO persistence); then the network between opsbook and Redis.",
    on_warn="Redis answers PING more slowly than usual: check SLOWLOG GET 10 and the host's CPU and swap.",
    monitored=True,
)
REDIS_MEMORY = declare(
    "redis.memory",
    title="Redis memory",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="%",
    on_fail="Redis is close to its memory limit: with `noeviction` writes will fail, otherwise keys are evicted. "
    "Raise maxmemory (or the instance), find big keys (redis-cli --bigkeys) and keys without a TTL.",
    on_warn="Redis memory is growing towards its limit: plan more memory, or look for keys without a TTL.",
    monitored=True,
)
REDIS_CLIENTS = declare(
    "redis.clients",
    title="Redis clients",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="%",
    on_fail="Redis is close to maxclients and will refuse new connections: look for a connection leak "
    "(CLIENT LIST, by addr and name), oversized pools, or raise maxclients and the open-files limit.",
    on_warn="Redis connections are climbing towards maxclients: check the applications' pool sizes.",
    monitored=True,
)
REDIS_REJECTED = declare(
    "redis.rejected_connections",
    title="Redis rejected connections",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P2,
    unit="connections",
    on_fail="Redis refused many connections since the last check (maxclients reached): see the clients check.",
    on_warn="Redis refused connections since the last check (maxclients reached): look for connection leaks "
    "and pool sizes, or raise maxclients.",
    monitored=True,
)
REDIS_EVICTIONS = declare(
    "redis.evictions",
    title="Redis evictions",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P2,
    unit="keys",
    on_fail="Redis is evicting many keys: the data no longer fits in maxmemory; raise it or shorten TTLs.",
    on_warn="Redis evicted keys since the last check: raise maxmemory or shorten TTLs, or raise "
    "thresholds.evicted_keys for a cache that evicts by design.",
    monitored=True,
)

PINGS = 3  # latency is the median of this many PINGs on the open connection
HISTORY_DAYS = 8  # a counter is compared with a previous reading at most this old (the checklist is daily)
MAX_PARALLEL_SERVERS = 8
# What the checks read from INFO; a proxy or look-alike that answers PING may not report them.
INFO_FIELDS = ("used_memory", "connected_clients", "rejected_connections", "evicted_keys", "run_id")


def describe_redis_error(error: BaseException) -> str:
    """What went wrong, in the operator's words; the exception's own text follows in brackets."""
    text = describe_exception(error)
    if isinstance(error, redis.AuthenticationError) or "NOAUTH" in str(error) or "WRONGPASS" in str(error):
        return f"authentication failed ({text})"
    if isinstance(error, NoPermissionError):
        return f"the user may not run a command it needs, PING or INFO ({text})"
    if isinstance(error, redis.TimeoutError):
        return f"timed out ({text})"
    if isinstance(error, InvalidResponse):
        return f"not a Redis server: the reply is not the Redis protocol ({text})"
    if isinstance(error, redis.ConnectionError) and "closed by server" in str(error):
        return f"not a Redis server, or it dropped the connection: closed without a Redis reply ({text})"
    if isinstance(error, redis.ConnectionError):
        return f"cannot connect ({text})"
    return text


def connect(server: RedisServer) -> redis.Redis:
    """A client for one server: timeouts on connect and on every reply, no retries, RESP2.

    It runs PING and INFO only, so an ACL user with `+ping +info` is enough.
    """
    return redis.Redis(
        host=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        ssl=server.tls,
        socket_connect_timeout=server.connect_timeout_s,
        socket_timeout=server.timeout_s,
        retry=Retry(NoBackoff(), 0),
        protocol=2,  # the same handshake on redis-py 6 to 8 (8 defaults to RESP3's HELLO)
        # No client_name: CLIENT SETNAME would need one more ACL permission than PING and INFO.
    )


def previous_readings(history_url: str, name: str) -> dict[str, CheckResult] | str:
    """This server's last stored result of each counter check, or why the history cannot be read."""
    try:
        store = open_store(history_url)
        since = utcnow() - timedelta(days=HISTORY_DAYS)
        found = {}
        for check in (REDIS_REJECTED, REDIS_EVICTIONS):
            readings = [r for r in store.result_history(check.id, target=name, since=since) if "total" in r.details]
            if readings:
                found[check.id] = readings[-1]
        return found
    except Exception as error:
        return redact(f"history not readable: {describe_exception(error)}")


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def ping_result(server: RedisServer, connect_ms: float, pings_ms: list[float], version: str) -> CheckResult:
    """Judged on the median PING, so one scheduling hiccup on the opsbook side does not warn."""
    latency = statistics.median(pings_ms)
    limit = server.thresholds.latency_ms
    status, threshold = judge(latency, limit.warn, limit.fail)
    return REDIS_PING.result(
        server.name,
        status,
        value=round(latency, 2),
        threshold=threshold,
        message=f"PONG in {latency:.2f} ms (median of {len(pings_ms)}), Redis {version}",
        details={"connect_ms": round(connect_ms, 1), "pings_ms": [round(p, 3) for p in pings_ms]},
    )


def memory_result(server: RedisServer, info: dict[str, Any]) -> CheckResult:
    """used_memory against maxmemory; with no maxmemory (0, unlimited), against the host's memory."""
    used, maximum = int(info["used_memory"]), int(info.get("maxmemory", 0))
    host = int(info.get("total_system_memory", 0))
    policy = info.get("maxmemory_policy", "unknown")
    details = {"used_bytes": used, "maxmemory_bytes": maximum, "host_bytes": host, "policy": policy}
    if maximum:
        of, limit_bytes = f"maxmemory {maximum / 2**20:,.0f} MB, policy {policy}", maximum
    elif host:
        of, limit_bytes = f"the host's {host / 2**30:,.1f} GB (no maxmemory set)", host
    else:
        message = f"{used / 2**20:,.1f} MB used; no maxmemory and no host memory reported, so not judged"
        return REDIS_MEMORY.result(server.name, Status.OK, message=message, details=details)
    pct = 100.0 * used / limit_bytes
    limit = server.thresholds.memory_pct
    status, threshold = judge(pct, limit.warn, limit.fail)
    message = f"{used / 2**20:,.1f} MB used, {pct:.1f} % of {of}"
    return REDIS_MEMORY.result(
        server.name, status, value=round(pct, 1), threshold=threshold, message=message, details=details
    )


def clients_result(server: RedisServer, info: dict[str, Any]) -> CheckResult:
    """connected_clients against maxclients; an older Redis without maxclients in INFO: the count alone."""
    connected = int(info["connected_clients"])
    maximum = int(info.get("maxclients", 0))
    details = {"connected": connected, "maxclients": maximum or None}
    if not maximum:
        message = f"{connected:,} clients connected; maxclients not in INFO (an older Redis), so not judged"
        return REDIS_CLIENTS.result(server.name, Status.OK, message=message, details=details)
    pct = 100.0 * connected / maximum
    limit = server.thresholds.clients_pct
    status, threshold = judge(pct, limit.warn, limit.fail)
    message = f"{connected:,} of {maximum:,} clients connected ({pct:.1f} %)"
    return REDIS_CLIENTS.result(
        server.name, status, value=round(pct, 1), threshold=threshold, message=message, details=details
    )


def counter_result(
    check: Check,
    server: RedisServer,
    info: dict[str, Any],
    field: str,
    noun: str,
    limit: Limit,
    previous: CheckResult | None,
) -> CheckResult:
    """A counter since server start, judged on its increase since the previous stored reading.

    A different server run id (a restart, or another server under this name) or a smaller count
    (CONFIG RESETSTAT) means the whole count happened since the previous reading.
    """
    total, run_id = int(info[field]), str(info.get("run_id", ""))
    started = utcnow() - timedelta(seconds=int(info.get("uptime_in_seconds", 0)))
    details: dict[str, Any] = {"total": total, "server_run_id": run_id, "server_started_at": started.isoformat()}
    if previous is None:
        message = f"{total:,} {noun} since the server started at {_at(started)}; judged from the next check on"
        return check.result(server.name, Status.OK, message=message, details=details)
    before = int(previous.details["total"])
    if previous.details.get("server_run_id") != run_id:
        count, since = total, f"since the server restarted at {_at(started)}"
    elif total < before:
        count, since = total, "since its statistics were reset (CONFIG RESETSTAT)"
    else:
        count, since = total - before, f"since the previous check at {_at(previous.started_at)}"
    status, threshold = judge(count, limit.warn, limit.fail)
    details.update(previous_total=before, previous_at=previous.started_at.isoformat())
    return check.result(
        server.name,
        status,
        value=count,
        threshold=threshold,
        message=f"{count:,} {noun} {since} ({total:,} since the server started)",
        details=details,
    )


def check_server(server: RedisServer, previous: dict[str, CheckResult] | str) -> list[CheckResult]:
    """Every Redis check of one server over one connection; a server that cannot be read is one error."""
    started = utcnow()
    common: dict[str, Any] = {"started_at": started, "labels": {"address": server.address}}
    with stopwatch() as timing:
        try:
            with connect(server) as client:
                with stopwatch() as connecting:
                    client.ping()  # connects and authenticates
                pings = []
                for _ in range(PINGS):
                    with stopwatch() as one:
                        client.ping()
                    pings.append(one["ms"])
                info = client.info()
        except (redis.RedisError, OSError) as error:  # OSError: a TLS failure redis-py does not wrap
            cause = redact(f"{server.address}: {describe_redis_error(error)}")
            return [REDIS_PING.error(server.name, cause, duration_ms=timing["ms"], **common)]
    if missing := [field for field in INFO_FIELDS if field not in info]:
        cause = f"{server.address}: answers PING but INFO lacks {', '.join(missing)} (a proxy, not Redis itself?)"
        return [REDIS_PING.error(server.name, redact(cause), duration_ms=timing["ms"], **common)]
    limits = server.thresholds
    history_problem = previous if isinstance(previous, str) else None
    readings = {} if isinstance(previous, str) else previous

    def counter(check: Check, field: str, noun: str, limit: Limit) -> CheckResult:
        if history_problem:
            return check.error(server.name, f"cannot compare with the previous check: {history_problem}")
        return counter_result(check, server, info, field, noun, limit, readings.get(check.id))

    results = [
        ping_result(server, connecting["ms"], pings, str(info.get("redis_version", "?"))),
        memory_result(server, info),
        clients_result(server, info),
        counter(REDIS_REJECTED, "rejected_connections", "rejected connection(s)", limits.rejected_connections),
        counter(REDIS_EVICTIONS, "evicted_keys", "evicted key(s)", limits.evicted_keys),
    ]
    return [r.model_copy(update={**common, "duration_ms": timing["ms"]}) for r in results]


@task(name="check-redis-health", timeout_seconds=300, cache_policy=NO_CACHE)
def check_redis_health(config: EstateConfig) -> list[CheckResult]:
    """PING and latency, memory, clients, rejected connections and evictions of every Redis server."""
    if not config.redis:
        return [REDIS_PING.skipped("no Redis servers configured")]

    def check(server: RedisServer) -> list[CheckResult]:
        return check_server(server, previous_readings(config.history.url, server.name))

    # In parallel, so one hung server costs its timeouts once, not once per server after it.
    with ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL_SERVERS, len(config.redis)), thread_name_prefix="redis-health"
    ) as pool:
        return [result for found in pool.map(check, config.redis) for result in found]
