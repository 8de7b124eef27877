"""Where CPU, memory, disk and network figures come from: Prometheus, and the local host.

Thresholds stay in `thresholds.resources` (the runbook: warn above 80 %); this section only says
where to measure. Either source may be left out; with neither, the resource check is skipped.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from opsbook.config.fields import HeaderMap, TargetUrl
from opsbook.config.thresholds import Section
from opsbook.config.tls import ca_bundle_file

# Filesystems that hold no user data; their usage is noise (or always 100 %, as squashfs is).
_PSEUDO_FS = 'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.lxcfs|autofs"'
# Physical-ish interfaces only: loopback and container bridges would double-count traffic.
_REAL_NICS = 'device!~"lo|veth.*|docker.*|br-.*|cni.*|flannel.*|cali.*"'


def _disk_pct() -> str:
    # Used / (used + available), as `df` and psutil compute it. The common `1 - avail/size`
    # counts root-reserved blocks as used and can be tens of points above what `df` shows.
    # Filtering the first operand is enough: one-to-one matching drops the other series.
    used = f"(node_filesystem_size_bytes{{{_PSEUDO_FS}}} - node_filesystem_free_bytes)"
    return f"100 * {used} / ({used} + node_filesystem_avail_bytes)"


class PrometheusQueries(Section):
    """PromQL per figure, for node exporter by default. Each result series needs an `instance`
    label; disk series also a `mountpoint`. Override any of them for other exporters."""

    # Busy share of all CPU time, as top and psutil count it (iowait is idle). A ratio of rates,
    # not `1 - rate(idle)`: that assumes the counters advance one second per second, which
    # throttled or paused VMs break.
    cpu_pct: str = Field(
        '100 * (1 - sum by (instance) (rate(node_cpu_seconds_total{mode=~"idle|iowait"}[5m]))'
        " / sum by (instance) (rate(node_cpu_seconds_total[5m])))",
        min_length=1,
    )
    memory_pct: str = Field("100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)", min_length=1)
    disk_pct: str = Field(default_factory=_disk_pct, min_length=1)
    network_rx_bytes_per_s: str = Field(
        f"sum by (instance) (rate(node_network_receive_bytes_total{{{_REAL_NICS}}}[5m]))", min_length=1
    )
    network_tx_bytes_per_s: str = Field(
        f"sum by (instance) (rate(node_network_transmit_bytes_total{{{_REAL_NICS}}}[5m]))", min_length=1
    )


class PrometheusSource(Section):
    """A Prometheus server (with node exporter behind it) and how to query it."""

    url: TargetUrl = Field(description="base URL, e.g. http://prometheus:9090")
    headers: HeaderMap = Field(default_factory=dict, description="sent with every query; secrets through ${ENV}")
    bearer_token: str | None = Field(None, description="sent as `Authorization: Bearer`; use ${ENV}")
    timeout_s: float | None = Field(None, gt=0, le=300, description="overrides http.timeout_s")
    ca_bundle: Path | None = Field(None, description="CA certificates (PEM) for Prometheus; overrides http.ca_bundle")
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="a 30-day range answer is far larger than a health check's"
    )
    queries: PrometheusQueries = Field(default_factory=PrometheusQueries)
    mountpoints: list[str] | None = Field(None, description="disk series to keep; all when left out")
    up_selector: str = Field(
        "up",
        min_length=1,
        pattern=r"^[A-Za-z_:][A-Za-z0-9_:]*(\{.*\})?$",
        description='the scrape targets whose `up` says whether figures are current, e.g. up{job="node"}',
    )
    stale_after_scrapes: int = Field(
        3, ge=1, le=100, description="a target whose newest sample is older than this many scrape intervals is stale"
    )
    freshness_window_s: float = Field(
        900, gt=0, le=86_400, description="how far back the last successful scrape is looked for"
    )
    step_s: float = Field(300, gt=0, le=86_400, description="backfill resolution (default 5 minutes)")
    backfill_days: float = Field(30, gt=0, le=3650, description="how far back a backfill reaches")
    max_points_per_query: int = Field(
        10_000, ge=2, le=11_000, description="Prometheus refuses more than 11,000 points per series"
    )

    _trusted = field_validator("ca_bundle")(ca_bundle_file)

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        return headers


class HostSource(Section):
    """The machine opsbook runs on, measured through psutil."""

    name: str | None = Field(None, min_length=1, description="instance label; the host name by default")
    mountpoints: list[str] = Field(default_factory=lambda: ["/"], min_length=1)
    cpu_sample_s: float = Field(1.0, gt=0, le=60, description="CPU is measured over this interval")

    @field_validator("mountpoints")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if not m.startswith("/")]
        if bad:
            raise ValueError(f"mount points must be absolute paths, got {bad}")
        return value


class ResourcesConfig(Section):
    prometheus: PrometheusSource | None = None
    host: HostSource | None = None

    @property
    def configured(self) -> bool:
        return self.prometheus is not None or self.host is not None
