"""Property-based tests for the config loader: whatever the file holds, the answer is a config or a ConfigError.

Invariants, over arbitrary bytes, YAML-ish text built from YAML's own punctuation, and
well-formed YAML data aimed at the real sections (maintenance recurrences included):
- nothing but `ConfigError` escapes `load_config`, and every problem is one line;
- nothing hangs: hypothesis' deadline fails an example that takes seconds (the alias bomb took
  minutes, SECONDLY recurrences never finished), and pytest-timeout stops a true hang;
- a valid config survives a round trip: dumped and loaded again, it is the same config.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbook.config import ConfigError, load_config
from opsbook.config.estate import EstateConfig

pytestmark = pytest.mark.timeout(300)

PROPERTY = settings(
    deadline=timedelta(seconds=5),  # generous on shared CPUs; a hang takes minutes
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECTIONS = [*EstateConfig.model_fields, "windows", "recurrence", "start", "duration", "url", "name", "<<"]
YAML_PIECES = [
    "&a ",
    "*a",
    "&b ",
    "*b",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "\n",
    "  ",
    "<<: ",
    "? ",
    "|\n",
    ">\n",
    "'",
    '"',
    "# ",
    "${HOME}",
    "${UNSET_OPSBOOK_VAR}",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "!!python/object:os.system ",
    "!!binary ",
    "!!int ",
    "!!float ",
    "!!timestamp ",
    "2026-02-30",
    "9" * 60,
    "1e999",
    ".nan",
    "\t",
    "\x00",
    "\ufeff",
    ",",
    "@",
    "`",
    "~",
    "null",
    "yes",
    "\\",
    "\r\n",
    "\u2028",
    "platforms",
    "maintenance",
    "windows",
    "FREQ=SECONDLY;INTERVAL=7",
    "FREQ=DAILY;INTERVAL=0",
    "1900-01-01T00:00",
]
RULE_PARTS = st.lists(
    st.sampled_from(
        [
            "FREQ=SECONDLY",
            "FREQ=MINUTELY",
            "FREQ=HOURLY",
            "FREQ=DAILY",
            "FREQ=WEEKLY",
            "FREQ=MONTHLY",
            "FREQ=YEARLY",
            "INTERVAL=0",
            "INTERVAL=7",
            "INTERVAL=-1",
            "INTERVAL=99999",
            "COUNT=0",
            "COUNT=3",
            "COUNT=100000000",
            "UNTIL=18000101T000000",
            "UNTIL=20300101T000000",
            "BYDAY=SU",
            "BYDAY=5MO",
            "BYMONTH=2",
            "BYMONTHDAY=30",
            "BYMONTHDAY=-1",
            "BYHOUR=0,1,2,3",
            "BYMINUTE=0,30",
            "BYSECOND=0,1",
            "BYSETPOS=-1",
            "BYWEEKNO=53",
            "BYYEARDAY=366",
            "WKST=MO",
            "BYEASTER=0",
            "X=1",
            "",
        ]
    ),
    min_size=1,
    max_size=5,
).map(";".join)


@pytest.fixture
def config_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "opsbook.yaml"


def _load(path: Path) -> EstateConfig | None:
    try:
        return load_config(path, environ={"HOME": "/home/x"})
    except ConfigError as error:
        assert error.problems and all(p and "\n" not in p for p in error.problems), error.problems
        return None


@PROPERTY
@given(data=st.binary(max_size=4000))
def test_arbitrary_bytes_give_a_config_or_a_config_error(config_file: Path, data: bytes) -> None:
    config_file.write_bytes(data)
    _load(config_file)


@PROPERTY
@given(text=st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=4), max_size=60).map("".join))
def test_yaml_ish_text_gives_a_config_or_a_config_error(config_file: Path, text: str) -> None:
    config_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    _load(config_file)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1h", "2h", "0m", "PT2H", "1900-01-01T00:00", "https://a.example/", "UTC", "Mars/X"])
    | RULE_PARTS
)
_DATA = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(SECTIONS), children, max_size=4),
    max_leaves=30,
)


@PROPERTY
@given(data=st.dictionaries(st.sampled_from(SECTIONS) | st.text(max_size=8), _DATA, max_size=5))
def test_well_formed_yaml_of_any_shape_gives_a_config_or_a_config_error(config_file: Path, data: dict) -> None:
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    _load(config_file)


_WINDOW = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1, max_size=10),
        "start": st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda d: d.replace(microsecond=0).isoformat()
        ),
        "duration": st.sampled_from(["30m", "2h", "1d", "PT90M"]),
        "recurrence": RULE_PARTS | st.sampled_from(["daily", "weekly", "monthly"]),
        "timezone": st.sampled_from(["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]),
    }
)


@PROPERTY
@given(windows=st.lists(_WINDOW, min_size=1, max_size=3), at=st.datetimes(min_value=datetime(1990, 1, 1)))
def test_any_maintenance_recurrence_is_refused_at_load_or_answered_at_once(
    config_file: Path, windows: list[dict], at: datetime
) -> None:
    config_file.write_text(yaml.safe_dump({"maintenance": {"windows": windows}}), encoding="utf-8")
    config = _load(config_file)
    if config is not None:
        from datetime import UTC

        for window in config.maintenance.windows:
            window.covers(at.replace(tzinfo=UTC))


_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
_VALID = st.fixed_dictionaries(
    {
        "estate": st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30
        ),
        "platforms": st.lists(
            st.fixed_dictionaries({"name": _NAME, "url": _NAME.map(lambda n: f"https://{n}.example/health")}),
            max_size=4,
            unique_by=lambda p: p["name"],
        ),
        "maintenance": st.fixed_dictionaries(
            {"windows": st.lists(_WINDOW.map(lambda w: {**w, "recurrence": "FREQ=WEEKLY;BYDAY=SU"}), max_size=2)}
        ),
    }
)


@PROPERTY
@given(data=_VALID)
def test_a_valid_config_survives_a_round_trip(config_file: Path, data: dict) -> None:
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(config_file)
    assert config.estate == data["estate"] and [p.name for p in config.platforms] == [
        p["name"] for p in data["platforms"]
    ]
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
    assert load_config(config_file) == config
