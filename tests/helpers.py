"""Small builders shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from opsbook.config import EstateConfig, parse_config


def estate(tmp_path: Path, **sections: Any) -> EstateConfig:
    """A validated config with its history and reports under tmp_path."""
    data = {"history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
            "reports": {"directory": str(tmp_path / "reports")},
            "http": {"timeout_s": 2, "retries": 2, "backoff_s": 0.01}}
    data.update(sections)
    return parse_config(data, base_dir=tmp_path)


def write_config(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
