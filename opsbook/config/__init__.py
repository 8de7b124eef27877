"""Estate config: what opsbook watches, validated with pydantic."""

from opsbook.config.estate import EstateConfig, HistoryConfig, HttpSettings, ReportsConfig
from opsbook.config.loader import ConfigError, config_path_field, default_config_path, load_config, parse_config
from opsbook.config.platforms import Platform
from opsbook.config.thresholds import Limit, Section, Thresholds

__all__ = [
    "ConfigError",
    "EstateConfig",
    "HistoryConfig",
    "HttpSettings",
    "Limit",
    "Platform",
    "ReportsConfig",
    "Section",
    "Thresholds",
    "config_path_field",
    "default_config_path",
    "load_config",
    "parse_config",
]
