"""Reading a config file's YAML with limits, so a hostile or broken file fails fast with one line.

Without limits, a 416-byte alias bomb ran for minutes and ended in MemoryError, a recursive
anchor or deep nesting ended in RecursionError, a non-UTF-8 file in a traceback, and a device
file (`/dev/zero`, a FIFO) was read for ever. Each step here bounds one of those:

- the file: a regular file only (opened without blocking, so a FIFO cannot stall the open),
  at most `MAX_BYTES`;
- the text: strict UTF-8 (a BOM is allowed), the first bad byte named by its offset;
- the event stream (PyYAML's parser is iterative): nesting at most `MAX_DEPTH`, at most
  `MAX_ALIASES` alias uses, before the recursive composer ever runs;
- the node graph: a recursive anchor is refused, and the size the document would have with
  every alias expanded (what the code that walks it will see) is at most `MAX_NODES`, counted
  with memoisation so the count itself never blows up.

Every refusal raises `YamlLimitError` with a one-line message; the loader turns it into a
`ConfigError`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # 1 MiB: a large estate's config is tens of kilobytes
MAX_DEPTH = 64
MAX_ALIASES = 1000
MAX_NODES = 200_000


class YamlLimitError(ValueError):
    """The file breaks a limit or is not readable YAML text; the message is one line."""


def read_config_bytes(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most max_bytes; OSError passes through for the caller."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
            raise YamlLimitError(f"(file): {kind}; give a YAML file")
        with os.fdopen(descriptor, "rb", closefd=True) as handle:
            descriptor = -1
            data = handle.read(max_bytes + 1)
    finally:
        if descriptor >= 0:
            os.close(descriptor)
    if len(data) > max_bytes:
        raise YamlLimitError(f"(file): larger than {max_bytes:,} bytes; a config file is never that big")
    return data


def decode_config(data: bytes) -> str:
    """Strict UTF-8 text (a leading BOM dropped); the first undecodable byte is named by offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise YamlLimitError(
            f"(file): not UTF-8 text: byte 0x{data[error.start]:02x} at byte offset {error.start} ({error.reason})"
        ) from None
    return text.removeprefix("\ufeff")


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composed graph is measured before anything is constructed."""


def _check_events(text: str) -> None:
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlLimitError(f"(yaml): nested deeper than {MAX_DEPTH} levels at {_where(event)}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlLimitError(f"(yaml): more than {MAX_ALIASES} aliases (*name) at {_where(event)}")


def _where(event: yaml.Event | yaml.Node | yaml.Mark | None) -> str:
    mark = event if isinstance(event, yaml.Mark) else getattr(event, "start_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


def _expanded_size(root: yaml.Node) -> int:
    """Nodes the document holds with every alias expanded; refuses cycles. Iterative, memoised."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes and not children_done:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = min(MAX_NODES + 1, 1 + sum(sizes[id(child)] for child in children))
            continue
        if key in open_nodes:
            raise YamlLimitError(f"(yaml): recursive alias: an anchor contains itself at {_where(node)}")
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise YamlLimitError(f"(yaml): recursive alias: an anchor contains itself at {_where(child)}")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml(text: str) -> Any:
    """The document's data, after every limit above; YamlLimitError for anything unusable."""
    try:
        _check_events(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            if _expanded_size(root) > MAX_NODES:
                raise YamlLimitError(f"(yaml): expands to more than {MAX_NODES:,} values through its aliases")
            try:
                return loader.construct_document(root)
            except yaml.YAMLError:
                raise
            except Exception as error:  # PyYAML's constructors: `2026-02-30`, 5000 digits, an empty `!!float`
                raise YamlLimitError(f"(yaml): a value cannot be read: {error or type(error).__name__}") from None
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as error:  # a control character: no line/column, a character offset
        raise YamlLimitError(
            f"(yaml): character #x{error.character:04x} is not allowed in YAML at character offset {error.position}"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).replace("\n", " ")
        raise YamlLimitError(f"(yaml): {problem} at {_where(mark)}") from None
