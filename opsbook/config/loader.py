"""Reading `opsbook.yaml`: bounded YAML (`yaml_file`), `${ENV}` interpolation, validation, one line per problem."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from opsbook.config.estate import EstateConfig
from opsbook.config.yaml_file import YamlLimitError, decode_config, parse_yaml, read_config_bytes
from opsbook.secrets import MissingEnvironmentVariable, interpolate

DEFAULT_CONFIG = "opsbook.yaml"
CONFIG_ENV = "OPSBOOK_CONFIG"


class ConfigError(Exception):
    """The config cannot be used. `problems` holds one `key.path: message` line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(problems))


def key_path(location: tuple[Any, ...]) -> str:
    """Render a location tuple as `platforms[1].url`; a key with blanks or control characters is quoted."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            text = str(part) if str(part).isprintable() and str(part).strip() == str(part) else repr(str(part))
            path += f".{text}" if path else text
    return path or "(top level)"


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))


def config_path_field(**constraints: Any) -> Any:
    """The `config_path` of a runbook's parameter model, read when the run starts.

    A deployment sets `OPSBOOK_CONFIG` for its runs (prefect.yaml's job variables), so a run
    started from the Run form or the API without a config path uses the config it was deployed
    with, not a bare `opsbook.yaml` in the worker's temporary folder.
    """
    return Field(
        default_factory=lambda: str(default_config_path()),
        description=f"the estate config (empty: ${CONFIG_ENV}, set when deployed, else ./{DEFAULT_CONFIG})",
        **constraints,
    )


def _interpolate_tree(node: Any, location: tuple[Any, ...], problems: list[str], environ: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        try:
            return interpolate(node, environ)
        except MissingEnvironmentVariable as missing:
            problems.append(f"{key_path(location)}: {missing}")
            return node
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, (*location, k), problems, environ) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate_tree(v, (*location, i), problems, environ) for i, v in enumerate(node)]
    return node


def _validation_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        location = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = " ".join(item["msg"].removeprefix("Value error, ").splitlines())  # one line per problem
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{key_path(location)}: {message}")
    return problems


def parse_config(
    data: Any, *, source: str = "<config>", base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> EstateConfig:
    """Validate already-parsed YAML data; raise ConfigError listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): must be a mapping of sections"])
    problems: list[str] = []
    data = _interpolate_tree(data, (), problems, os.environ if environ is None else environ)
    try:
        config = EstateConfig.model_validate(data, context={"base_dir": base_dir or Path.cwd()})
    except ValidationError as error:
        # A key whose ${VAR} is unset already has its problem; its raw text would only add noise.
        unset = {p.split(": ", 1)[0] for p in problems}
        problems.extend(p for p in _validation_problems(error) if p.split(": ", 1)[0] not in unset)
        config = None
    if problems:
        raise ConfigError(source, sorted(set(problems), key=problems.index))
    assert config is not None
    return config


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> EstateConfig:
    """Load and validate a config file; raise ConfigError with one line per problem."""
    file = Path(path) if path is not None else default_config_path()
    source = str(file)
    try:
        data = parse_yaml(decode_config(read_config_bytes(file)))
    except OSError as error:
        raise ConfigError(source, [f"(file): cannot read: {error.strerror or error}"]) from None
    except YamlLimitError as error:
        raise ConfigError(source, [str(error)]) from None
    return parse_config(data, source=source, base_dir=file.resolve().parent, environ=environ)
