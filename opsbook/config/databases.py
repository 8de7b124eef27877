"""PostgreSQL databases watched by the daily health check and tended by the weekly maintenance.

Other sections (backups) refer to a database by its `name`. Thresholds default to PgHero's and
check_postgres's published levels; the slow-query level is the runbook's 1000 ms.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from opsbook.config.fields import unique_names
from opsbook.config.thresholds import Limit, Section, limit

_URL_PREFIXES = ("postgresql+psycopg://", "postgresql://", "postgres://")


class DatabaseLimits(Section):
    """Per-database thresholds. Counts of findings (indexes, slots) warn from the first one."""

    connections_pct: Limit = limit(80, 95)  # of max_connections; check_postgres backends 90/95
    idle_in_transaction_s: Limit = limit(60, 600)  # oldest session idle in a transaction
    blocked_wait_s: Limit = limit(60, 120)  # check_postgres lockwait 1 min / 2 min
    long_running_s: Limit = limit(60, 300)  # PgHero long-running queries: 60 s
    slow_query_ms: Limit | None = Field(
        None, description="mean execution time; default thresholds.database.slow_query_ms (warn) and 5x (fail)"
    )
    slow_query_min_calls: int = Field(100, ge=1, description="PgHero: only queries called this often")
    cache_hit_pct: Limit = limit(99, 95, higher_is_worse=False)  # PgHero: >= 99 %
    cache_min_blocks: int = Field(10_000, ge=0, description="judge the hit rate only after this many block reads")
    size_growth_pct_7d: Limit = limit(20, 50)  # database size growth over the last 7 days
    unused_index_min_bytes: int = Field(10 * 1024 * 1024, ge=0, description="PgHero: unused indexes from 10 MB")
    missing_index_min_rows: int = Field(10_000, ge=0, description="PgHero: tables from 10k rows")
    missing_index_use_pct: float = Field(95, ge=0, le=100, description="PgHero: flag tables below 95 % index use")
    bloated_index_min_bytes: int = Field(
        100 * 1024 * 1024, ge=0, description="weekly maintenance measures bloat of indexes from this size"
    )
    bloated_index_max_leaf_density_pct: float = Field(
        50, gt=0, le=100, description="rebuild B-tree indexes whose leaf pages are on average less full than this"
    )
    xid_age: Limit = limit(1_300_000_000, 1_400_000_000)  # check_postgres txn_wraparound
    sequence_pct: Limit = limit(85, 95)  # check_postgres sequence 85/95 % (PgHero 90 %)
    vacuum_age_h: Limit = limit(24, 48)  # check_postgres last_vacuum/last_analyze 1 d / 2 d
    replication_lag_s: Limit = limit(5, 60)  # PgHero: replication lag under 5 s
    inactive_slots: Limit = limit(1, None)  # PgHero: any inactive replication slot

    @field_validator("cache_hit_pct", mode="before")
    @classmethod
    def _lower_is_worse(cls, value: object) -> object:
        # A hit rate is bad when low: an override need not repeat `higher_is_worse: false`.
        if isinstance(value, dict) and "higher_is_worse" not in value:
            return {**value, "higher_is_worse": False}
        return value


class Database(Section):
    """One PostgreSQL database. Only `name` and `url` are required."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: str = Field(description="postgresql+psycopg://role:${PASSWORD}@host:5432/db; the role needs pg_monitor")
    maintenance_url: str | None = Field(
        None, description="a role that owns the tables, for ANALYZE and REINDEX (default: url)"
    )
    statement_timeout_ms: int = Field(5000, ge=100, le=600_000, description="set on every health query")
    connect_timeout_s: int = Field(10, ge=1, le=120)
    top_queries: int = Field(10, ge=1, le=100, description="how many queries reports list")
    thresholds: DatabaseLimits = Field(default_factory=DatabaseLimits)

    @field_validator("url", "maintenance_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(_URL_PREFIXES):
            raise ValueError("must be a postgresql+psycopg:// URL")
        for prefix in _URL_PREFIXES[1:]:
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value.removeprefix(prefix)
        return value

    def slow_query_limit(self, default_ms: float) -> Limit:
        """The slow-query limit: this database's, else the runbook's level (warn) and 5x (fail)."""
        return self.thresholds.slow_query_ms or Limit(warn=default_ms, fail=default_ms * 5)


DatabaseList = Annotated[list[Database], AfterValidator(lambda items: unique_names(items, "databases"))]
