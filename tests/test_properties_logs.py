"""Property-based tests for the log parsers: whatever a log file holds, every line is accounted for.

Invariants, over arbitrary bytes and over lines assembled from the pieces real auth and access
logs are made of (syslog and ISO stamps, sshd and pam_unix messages, `message repeated N times`,
combined-format requests, broken quotes and impossible dates):
- nothing escapes the parser (it documents no error: a line it cannot read is counted unparsed);
- nothing hangs or blows up (hypothesis' deadline; a claimed repeat count is not a memory bomb);
- every line read is accounted for: total == lines in the file, parsed + unparsed == total, and
  the window's coverage puts each parsed line inside or outside it (parsed == in + outside);
- a well-formed access log line parses back to the fields it was built from.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opsbook.tasks.security.accesslog import parse_access_log
from opsbook.tasks.security.authlog import parse_auth_log
from opsbook.tasks.security.findings import coverage
from opsbook.tasks.security.logfile import ParsedLog
from tests.property_settings import PROPERTY

pytestmark = pytest.mark.timeout(300)

REFERENCE = datetime(2026, 11, 27, 12, tzinfo=UTC)
ZONES = st.sampled_from(["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"])
_NEWLINES = re.compile(r"\r\n|\r|\n")


@pytest.fixture
def log_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "some.log"


def _lines_in(data: bytes) -> int:
    """Lines as a reader counts them: \\n, \\r\\n or \\r end one; a last line without an end still counts."""
    text = data.decode("utf-8", errors="replace")
    return len(_NEWLINES.split(text)) - (1 if not text or _NEWLINES.search(text[-1:]) else 0)


def _assert_accounted(parsed: ParsedLog, data: bytes) -> None:
    assert parsed.total_lines == _lines_in(data)
    assert parsed.accounted, parsed.account()
    assert len(parsed.unparsed_samples) == min(parsed.unparsed_lines, 5)
    events = parsed.events
    if not events.empty:
        assert str(events["ts"].dt.tz) == "UTC"
        assert events["line"].between(1, parsed.total_lines).all()
    # Every parsed line has its events, so a window puts each one inside or outside it.
    lines = set(events["line"]) if not events.empty else set()
    assert len(lines) == parsed.parsed_lines
    since = REFERENCE - timedelta(days=30)
    seen = coverage(events, since, REFERENCE)
    assert seen.lines_in_window + seen.lines_outside_window == parsed.parsed_lines


# --- auth log ----------------------------------------------------------------------------------

_CLASSIC_STAMP = st.builds(
    "{} {:>2} {:02d}:{:02d}:{:02d}".format,
    st.sampled_from(["Jan", "Feb", "Mar", "Oct", "Dec", "Foo", "jan"]),
    st.integers(0, 40),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
)
_ISO_STAMP = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["", ".5", ".123456789"]),
    st.sampled_from(["", "Z", "+01:00", "-0530", "+99:99", "+14:00"]),
)
_HUGE = "message repeated 999999999 times: [ "
_PROGRAM = st.sampled_from(["sshd[123]", "sshd[124]", "sshd(pam_unix)[123]", "su", "login[9]", "cron[1]", "sshd"])
_AUTH_MESSAGE = st.sampled_from(
    [
        "Failed password for root from 10.0.0.1 port 22 ssh2",
        "Failed password for invalid user admin from 2001:db8::1 port 22 ssh2",
        "Failed publickey for  from  port 1",
        "Accepted password for alice from 10.0.0.2 port 22 ssh2",
        "Invalid user bob from 10.0.0.3",
        "Invalid user  from ",
        "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.1  user=root",
        "authentication failure; rhost=host.example user=",
        "authentication failure;",
        "pam_unix(sshd:auth): authentication failure; rhost=10.0.0.1 user=root",
        "pam_unix(su:auth): authentication failure; rhost= user=x",
        "check pass; user unknown",
        "2 more authentication failures; rhost=10.0.0.1 user=root",
        "0 more authentication failures; rhost=10.0.0.1",
        "PAM 5 more authentication failures; rhost=10.0.0.1 user=root",
        "PAM 0 more authentication failures;",
        "PAM 4000 more authentication failures; rhost=10.0.0.1",
        "Connection closed by 10.0.0.9 port 5 [preauth]",
        "Received disconnect from ::ffff:1.2.3.4: 11: Bye",
        "",
    ]
)
_REPEAT = st.sampled_from(
    ["", "message repeated 0 times: [ ", "message repeated 3 times: [ ", "message repeated 2 times: [", _HUGE]
)


@st.composite
def _auth_line(draw: st.DrawFn) -> str:
    stamp = draw(_CLASSIC_STAMP | _ISO_STAMP | st.text(max_size=16))
    repeat = draw(_REPEAT)
    message = draw(_AUTH_MESSAGE | st.text(max_size=40))
    tail = " ]" if repeat and draw(st.booleans()) else ""
    return f"{stamp} {draw(st.sampled_from(['host', 'h-1', '']))} {draw(_PROGRAM)}: {repeat}{message}{tail}"


_LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
_AUTH_FILE = st.lists(st.tuples(_auth_line(), _LINE_ENDS), max_size=25).map(
    lambda lines: "".join(line + end for line, end in lines)
)


def _parse_auth(path: Path, data: bytes, zone: str) -> ParsedLog:
    path.write_bytes(data)
    return parse_auth_log(path, REFERENCE, zone)


@PROPERTY
@given(data=st.binary(max_size=3000), zone=ZONES)
def test_any_bytes_in_an_auth_log_are_accounted_for(log_file: Path, data: bytes, zone: str) -> None:
    _assert_accounted(_parse_auth(log_file, data, zone), data)


@PROPERTY
@given(text=_AUTH_FILE, zone=ZONES, cut=st.booleans())
# An impossible ISO stamp escaped as pandas' DateParseError and cost the whole file.
@example(
    text="0000-00-00T00:00:00 host sshd[123]: Failed password for root from 10.0.0.1 port 22 ssh2\n",
    zone="UTC",
    cut=False,
)
# A local time in the spring-forward gap raised NonExistentTimeError the same way.
@example(
    text="2026-03-29T01:30:00 host sshd[1]: Accepted password for a from 10.0.0.2 port 22 ssh2\n",
    zone="Europe/London",
    cut=False,
)
# `repeated 0 times` was parsed yet left no event, so no window accounted for the line.
@example(
    text="Jan  1 00:00:00 host sshd[123]: message repeated 0 times: [ Failed password for x from 10.0.0.1 port 2 ]\n",
    zone="UTC",
    cut=False,
)
# ... and a huge count became a billion rows.
@example(
    text=f"Jan  1 00:00:00 host sshd[1]: {_HUGE}Failed password for root from 10.0.0.1 port 22 ssh2 ]\n",
    zone="UTC",
    cut=False,
)
def test_auth_log_lines_of_every_kind_are_accounted_for(log_file: Path, text: str, zone: str, cut: bool) -> None:
    data = text.encode("utf-8", errors="surrogatepass")
    data = data[:-1] if cut and data else data  # a last line without its newline
    _assert_accounted(_parse_auth(log_file, data, zone), data)


# --- access log --------------------------------------------------------------------------------

_ACCESS_TIME = st.builds(
    "{:02d}/{}/{:04d}:{:02d}:{:02d}:{:02d} {}".format,
    st.integers(0, 32),
    st.sampled_from(["Jan", "May", "Dec", "Foo"]),
    st.integers(0, 9999),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["+0000", "-0700", "+9999", "Z", ""]),
)
_QUOTED_TEXT = st.text(alphabet=st.sampled_from(['"', "\\", " ", "a", "/", "%", "\t", "é"]), max_size=20)


@st.composite
def _access_line(draw: st.DrawFn) -> str:
    ip = draw(st.sampled_from(["10.0.0.1", "::1", "-", "host.example"]))
    request = draw(
        st.sampled_from(["GET / HTTP/1.1", "POST /login HTTP/1.0", "GET /a?b=c", "\\x16\\x03\\x01", "", "-"])
        | _QUOTED_TEXT
    )
    status = draw(st.sampled_from(["200", "401", "999", "20", "abc"]))
    size = draw(st.sampled_from(["0", "1234", "-", "x"]))
    tail = draw(
        st.sampled_from(["", ' "-" "-"', ' "http://a/" "curl/8"', ' "-" "cut short', ' "a\\"b" "c"', "   "])
        | _QUOTED_TEXT.map(lambda t: f' "{t}" "{t}"')
    )
    return f'{ip} - {draw(st.sampled_from(["-", "bob"]))} [{draw(_ACCESS_TIME)}] "{request}" {status} {size}{tail}'


_ACCESS_FILE = st.lists(st.tuples(_access_line() | st.text(max_size=30), _LINE_ENDS), max_size=25).map(
    lambda lines: "".join(line + end for line, end in lines)
)


@PROPERTY
@given(data=st.binary(max_size=3000))
def test_any_bytes_in_an_access_log_are_accounted_for(log_file: Path, data: bytes) -> None:
    log_file.write_bytes(data)
    _assert_accounted(parse_access_log(log_file), data)


@PROPERTY
@given(text=_ACCESS_FILE)
def test_access_log_lines_of_every_kind_are_accounted_for(log_file: Path, text: str) -> None:
    data = text.encode("utf-8", errors="surrogatepass")
    log_file.write_bytes(data)
    _assert_accounted(parse_access_log(log_file), data)


_PATH = st.from_regex(r"/[a-z0-9/._%?=&-]{0,30}", fullmatch=True)


@PROPERTY
@given(
    when=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    method=st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "PROPFIND"]),
    path=_PATH,
    status=st.integers(100, 599),
    size=st.none() | st.integers(0, 10**12),
    agent=st.text(alphabet=st.characters(codec="ascii", exclude_characters='"\\\r\n'), max_size=30),
)
def test_a_combined_log_line_parses_back_to_its_fields(
    log_file: Path, when: datetime, method: str, path: str, status: int, size: int | None, agent: str
) -> None:
    stamp = when.replace(microsecond=0)
    line = (
        f'10.1.2.3 - - [{stamp:%d/%b/%Y:%H:%M:%S +0000}] "{method} {path} HTTP/1.1" '
        f'{status} {"-" if size is None else size} "-" "{agent}"\n'
    )
    log_file.write_text(line, encoding="utf-8")
    parsed = parse_access_log(log_file)
    assert (parsed.total_lines, parsed.parsed_lines, parsed.unparsed_lines) == (1, 1, 0), parsed.account()
    row = parsed.events.iloc[0]
    assert row["ts"] == stamp
    assert (row["ip"], row["method"], row["path"], row["status"], row["agent"]) == (
        "10.1.2.3",
        method,
        path,
        status,
        agent,
    )
    assert (None if row["size"] is None or row["size"] != row["size"] else int(row["size"])) == size
