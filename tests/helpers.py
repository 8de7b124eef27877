"""Small builders shared by tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from opsbook.config import EstateConfig, parse_config


def estate(tmp_path: Path, **sections: Any) -> EstateConfig:
    """A validated config with its history and reports under tmp_path."""
    data = {
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        "reports": {"directory": str(tmp_path / "reports")},
        "http": {"timeout_s": 2, "retries": 2, "backoff_s": 0.01},
    }
    data.update(sections)
    return parse_config(data, base_dir=tmp_path)


def write_config(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@contextmanager
def raw_speaker(answer: bytes) -> Iterator[int]:
    """A TCP port that reads what the client says first, writes `answer` verbatim and hangs up.

    Broken servers of every kind: another protocol on the port, a cut-short reply, silence then close.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)

    def serve() -> None:
        while True:
            try:
                connection, _ = sock.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
