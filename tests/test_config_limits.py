"""The config loader's limits: size, file kind, encoding, nesting, aliases; each a one-line ConfigError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsbook.config import ConfigError, load_config
from opsbook.config.yaml_file import MAX_BYTES

pytestmark = pytest.mark.timeout(120)  # each of these hung, or ran for minutes, before the limits

# 416 bytes: nine levels of nine aliases, 387 million strings once expanded.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def problem_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.problems) == 1
    (problem,) = caught.value.problems
    assert "\n" not in problem
    return problem


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 500
    assert problem_of(write(tmp_path, ALIAS_BOMB)) == "(yaml): expands to more than 200,000 values through its aliases"


def test_a_few_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    text = (
        "platforms:\n"
        "  - &base {name: a, url: 'https://a.example/', expected_status: [200, 204]}\n"
        "  - {<<: *base, name: b, url: 'https://b.example/'}\n"
    )
    config = load_config(write(tmp_path, text))
    assert [(p.name, p.expected_status) for p in config.platforms] == [("a", [200, 204]), ("b", [200, 204])]


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a [1, [2, *a]]\n"])
def test_a_recursive_anchor_is_refused(tmp_path: Path, text: str) -> None:
    assert problem_of(write(tmp_path, text)).startswith("(yaml): recursive alias: an anchor contains itself at line 1")


def test_deep_nesting_is_refused_by_line_and_column(tmp_path: Path) -> None:
    assert problem_of(write(tmp_path, "a: " + "[" * 50_000 + "]" * 50_000)) == (
        "(yaml): nested deeper than 64 levels at line 1, column 67"
    )


def test_a_latin1_file_names_the_byte_and_its_offset(tmp_path: Path) -> None:
    assert problem_of(write(tmp_path, b"estate: caf\xe9\n")) == (
        "(file): not UTF-8 text: byte 0xe9 at byte offset 11 (invalid continuation byte)"
    )
    assert load_config(write(tmp_path, "\ufeffestate: café\n".encode())).estate == "café"  # BOM and UTF-8 fine


def test_a_control_character_is_named_by_its_offset(tmp_path: Path) -> None:
    assert problem_of(write(tmp_path, "estate: a\x00b\n")) == (
        "(yaml): character #x0000 is not allowed in YAML at character offset 9"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("estate: 2026-02-30\n", "(yaml): a value cannot be read: day is out of range for month"),
        ("estate: " + "9" * 5000 + "\n", "(yaml): a value cannot be read: Exceeds the limit (4300 digits)"),
        ("estate: !!python/object:os.system x\n", "(yaml): could not determine a constructor"),
        ("estate: !!float\n", "(yaml): a value cannot be read: string index out of range"),  # found by hypothesis
        ("estate: !!int ''\n", "(yaml): a value cannot be read: string index out of range"),
    ],
)
def test_values_yaml_cannot_build_are_config_errors(tmp_path: Path, text: str, problem: str) -> None:
    assert problem_of(write(tmp_path, text)).startswith(problem)


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = write(tmp_path, "estate: x\n" + "# padding\n" * (MAX_BYTES // 10 + 1))
    assert problem_of(path) == f"(file): larger than {MAX_BYTES:,} bytes; a config file is never that big"


def test_device_files_fifos_and_folders_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # no writer: opening it for reading used to block for ever
    not_regular = "(file): not a regular file (a device, FIFO or socket); give a YAML file"
    assert problem_of(fifo) == not_regular
    assert problem_of(Path("/dev/zero")) == not_regular
    assert problem_of(tmp_path) == "(file): a directory; give a YAML file"
    assert problem_of(tmp_path / "missing.yaml").startswith("(file): cannot read: No such file")


def test_a_key_with_a_newline_is_quoted_so_each_problem_stays_one_line(tmp_path: Path) -> None:
    # Found by hypothesis: the raw key split the problem over two lines.
    assert problem_of(write(tmp_path, '"bad\\nkey": 1\n')) == "'bad\\nkey': unknown key"
