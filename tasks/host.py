"""The local host through psutil: the figures `df`, `top` and `free` would show.

Used where no Prometheus runs (the demo, a single server) and as a cross-check of one.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import psutil

from opsbook.config.resources import HostSource
from opsbook.results import describe_exception


@dataclass(frozen=True)
class HostFigures:
    """CPU and memory in %, and per watched mount point its usage in % or why it is missing."""

    instance: str
    cpu_pct: float
    memory_pct: float
    disk_pct: dict[str, float | str] = field(default_factory=dict)


def measure_host(source: HostSource) -> HostFigures:
    """Blocks for `cpu_sample_s`: CPU use is a rate and needs an interval to be measured over."""
    disks: dict[str, float | str] = {}
    for mountpoint in source.mountpoints:
        try:
            # percent = used / (used + available), as `df` computes it (root-reserved excluded).
            disks[mountpoint] = psutil.disk_usage(mountpoint).percent
        except OSError as error:
            disks[mountpoint] = describe_exception(error)
    return HostFigures(
        instance=source.name or socket.gethostname(),
        cpu_pct=psutil.cpu_percent(interval=source.cpu_sample_s),
        memory_pct=psutil.virtual_memory().percent,
        disk_pct=disks,
    )
