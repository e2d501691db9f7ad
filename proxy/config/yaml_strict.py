"""A YAML reader that refuses what makes YAML dangerous or ambiguous for configuration.

PyYAML's ``safe_load`` already refuses ``!!python/...`` tags, but it accepts aliases (an alias bomb
of 9 levels expands to 43 million leaves the moment anything walks it) and silently keeps the last
of two duplicate keys. We compose the node graph ourselves so we can refuse both, and we remember the
line of every key so that schema errors can name ``file:line`` and the key path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from proxy.errors import ConfigError

MAX_FILE_BYTES = 1024 * 1024
# Collections may carry only their default tags; PyYAML's SafeConstructor refuses unknown scalar
# tags, but we build mappings and sequences ourselves and would otherwise ignore the tag.
_INLINE = (None, "'", '"')  # plain, single- and double-quoted scalar styles
_PLAIN_TAGS: dict[type[Node], str] = {
    MappingNode: "tag:yaml.org,2002:map",
    SequenceNode: "tag:yaml.org,2002:seq",
}


@dataclass(slots=True)
class LineMap:
    """Source lines of every value in a loaded document, keyed by JSON-path (``$.a.b[2]``)."""

    file: str
    lines: dict[str, int] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict)
    # single-line scalars written as they read (no escapes, no folding): the line and column of
    # their first character, so an error inside one (a condition) can point at its own column
    texts: dict[str, tuple[int, int]] = field(default_factory=dict)
    # values a flag or an environment variable set over the file: path -> that flag or variable,
    # which an error in the value names instead of a line of the file that did not decide it
    given: dict[str, str] = field(default_factory=dict)

    def _given_by(self, path: str) -> str | None:
        """The flag or variable that set ``path`` or a value containing it, if one did."""
        for prefix, source in self.given.items():
            if path == prefix or path.startswith((prefix + ".", prefix + "[")):
                return source
        return None

    def _nearest(self, path: str) -> str:
        """``path`` or its nearest ancestor that has a position."""
        while path:
            if path in self.lines:
                return path
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                break
            path = path[:cut]
        return "$"

    def line_of(self, path: str) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        return self.lines.get(self._nearest(path))

    def error(self, message: str, path: str = "$") -> ConfigError:
        source = self._given_by(path)
        if source is not None:
            return ConfigError(message, file=source, path=path)
        at = self._nearest(path)
        return ConfigError(
            message,
            file=self.file,
            line=self.lines.get(at),
            column=self.columns.get(at),
            path=path,
        )

    def error_in(self, message: str, path: str, column_in_text: int) -> ConfigError:
        """An error at the 1-based ``column_in_text`` of the string at ``path``: at that very
        place in the file when the string is written on one line as it reads, else at the
        string's key with the column named in the message."""
        start = self.texts.get(path)
        if start is None:
            return self.error(f"{message} (column {column_in_text} of the expression)", path)
        line, first = start
        return ConfigError(
            message, file=self.file, line=line, column=first + column_in_text - 1, path=path
        )

    def mark_text(self, path: str, node: ScalarNode) -> None:
        start, end = node.start_mark, node.end_mark
        buffer = getattr(start, "buffer", None)
        if not isinstance(buffer, str) or start.line != end.line or node.style not in _INLINE:
            return
        quoted = node.style is not None
        written = buffer[start.index + quoted : end.index - quoted]
        if written == node.value:
            self.texts[path] = (start.line + 1, start.column + 1 + quoted)

    def mark(self, path: str, node: Node) -> None:
        self.lines[path] = node.start_mark.line + 1
        self.columns[path] = node.start_mark.column + 1


# No Vernier file needs more than a few levels; the composer recurses once a level, and Python's
# stack (about 600 levels of it) must never be what refuses a file.
MAX_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and anchors at compose time (before anything expands)."""

    depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise ConfigError(
                f"YAML nested deeper than {MAX_DEPTH} levels",
                line=mark.line + 1,
                column=mark.column + 1,
            )
        self.depth += 1
        try:
            return self._compose_plain(parent, index)
        finally:
            self.depth -= 1

    def _compose_plain(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ConfigError(
                "YAML aliases (*name) are not allowed in Vernier files",
                line=event.start_mark.line + 1,
                column=event.start_mark.column + 1,
            )
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise ConfigError(
                f"YAML anchors (&{anchor}) are not allowed in Vernier files",
                line=event.start_mark.line + 1,
                column=event.start_mark.column + 1,
            )
        return super().compose_node(parent, index)


def _build(node: Node, path: str, lines: LineMap, loader: _StrictLoader) -> Any:
    lines.mark(path, node)
    plain = _PLAIN_TAGS.get(type(node))
    if plain is not None and node.tag != plain:
        raise lines.error(f"YAML tag '{node.tag}' is not allowed in Vernier files", path)
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise lines.error("mapping keys must be plain scalars", path)
            key = loader.construct_object(key_node)
            if isinstance(key, bool):  # yes/no/on/off: YAML 1.1 booleans, never a Vernier key
                lines.mark(f"{path}.{key_node.value}", key_node)
                raise lines.error(
                    f"key {key_node.value} reads as the boolean {str(key).lower()} in YAML; "
                    f"quote it ('{key_node.value}') to mean the word",
                    f"{path}.{key_node.value}",
                )
            if not isinstance(key, (str, int, float)) or key is None:
                raise lines.error(f"unsupported mapping key {key!r}", path)
            if isinstance(key, str) and not _encodable(key):
                raise lines.error("a lone surrogate (an escape like \\ud800) is not text", path)
            key = str(key)
            child = f"{path}.{key}"
            if key in out:
                lines.mark(child, key_node)
                raise lines.error(f"duplicate key '{key}'", child)
            out[key] = _build(value_node, child, lines, loader)
            lines.mark(child, key_node)  # a key's position is its key's, not its value's
        return out
    if isinstance(node, SequenceNode):
        return [_build(item, f"{path}[{i}]", lines, loader) for i, item in enumerate(node.value)]
    if isinstance(node, ScalarNode):
        lines.mark_text(path, node)
    value = loader.construct_object(node)
    if isinstance(value, str) and not _encodable(value):  # "\ud800": no UTF-8 text can hold it
        raise lines.error("a lone surrogate (an escape like \\ud800) is not text", path)
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads(text: str, file: str = "<string>") -> tuple[Any, LineMap]:
    """Parse one YAML document; returns plain data and the line of every path."""
    lines = LineMap(file)
    try:
        loader = _StrictLoader(text)  # reads every character first: a control one is refused
    except yaml.reader.ReaderError as err:
        at = err.position
        raise ConfigError(
            f"character U+{err.character:04X} is not allowed in YAML (a control character)",
            file=file,
            line=text.count("\n", 0, at) + 1,
            column=at - text.rfind("\n", 0, at),
        ) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None, lines
        return _build(root, "$", lines, loader), lines
    except ConfigError as err:
        if err.file is None:
            raise ConfigError(
                err.message, file=file, line=err.line, path=err.path, column=err.column
            ) from None
        raise
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        what = err.problem or err.context or "invalid YAML"
        raise ConfigError(
            f"YAML syntax error: {what}", file=file, line=line, column=column
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"YAML error: {err}", file=file) from None
    except RecursionError:  # a stack already deep when the file was read: never a traceback
        raise ConfigError(f"YAML nested deeper than {MAX_DEPTH} levels", file=file) from None
    finally:
        loader.dispose()


def load_file(path: Path) -> tuple[Any, LineMap]:
    """Read and parse ``path`` (UTF-8, at most 1 MiB)."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}", file=name)
        with path.open("rb") as handle:  # bounded: a FIFO or /dev/zero reports size 0
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot read file: {err.strerror}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"file is larger than the limit of {MAX_FILE_BYTES} bytes", file=name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError("file is not valid UTF-8", file=name, line=line) from None
    return loads(text, name)
