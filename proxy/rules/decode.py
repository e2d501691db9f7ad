"""One rules file's YAML as typed structs, or an error that names ``file:line $.path``.

msgspec checks the types and stops at the first error, in document order. Its path elides the
keys of mappings (``$.slots[0].variants[...][1]``), which would leave a reader to guess which
variant is wrong, so the elided key is found again (:func:`_resolve_path`, on the error path
only), and an unknown ``op`` lists the operations there are.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec

from proxy.config.load import msgspec_error_path
from proxy.config.yaml_strict import LineMap
from proxy.html.ops.registry import OPERATION_TAGS
from proxy.rules import schema

_ID_KEY = re.compile(r"^[a-z0-9-]{1,64}$")

Segment = str | int | None  # key, index, or msgspec's elided dict key "[...]"


def _segments(path: str) -> list[Segment]:
    found = re.findall(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]", path.removeprefix("$"))
    return [name or (None if index == "..." else int(index)) for name, index in found]


def _format(segments: list[Segment]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in segments)


def _replace(data: Any, segments: list[Segment], value: Any) -> Any:
    """A copy of ``data`` with the node at ``segments`` (no elided keys) replaced by ``value``."""
    if not segments:
        return value
    head, rest = segments[0], segments[1:]
    if isinstance(data, dict):
        return {**data, head: _replace(data[head], rest, value)}
    copy = list(data)
    copy[head] = _replace(data[head], rest, value)  # type: ignore[index]
    return copy


def _error_of(data: Any) -> str | None:
    try:
        msgspec.convert(data, schema.RulesFile, strict=True)
    except msgspec.ValidationError as err:
        return str(err)
    return None


def _resolve_path(data: Any, path: str, error: str) -> str:
    """Name the dict keys msgspec elides (``$.v[...][1]`` → ``$.v.b[1]``).

    msgspec stops at the first error in document order, so the culprit is the first key whose
    prefix of the mapping reproduces the same error. This runs only on the error path.
    """
    resolved: list[Segment] = []
    node = data
    for segment in _segments(path):
        if segment is None and isinstance(node, dict):
            keys = list(node)
            culprit = keys[0] if keys else "?"
            for count, key in enumerate(keys, 1):
                prefix = {k: node[k] for k in keys[:count]}
                if _error_of(_replace(data, resolved, prefix)) == error:
                    culprit = key
                    break
            segment = culprit
        resolved.append(segment)
        if isinstance(node, dict):
            node = node.get(segment)
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            node = node[segment]
    return _format(resolved)


def decode_rules_file(data: Any, lines: LineMap) -> schema.RulesFile:
    """``data`` (one file's YAML) as a :class:`~proxy.rules.schema.RulesFile`; else a
    :class:`~proxy.errors.ConfigError` naming the file, line and key path of the first error."""
    try:
        return msgspec.convert(data, schema.RulesFile, strict=True)
    except msgspec.ValidationError as err:
        error = str(err)  # compared, never shown: the message is Vernier's own (msgspec_error_path)
        message, path = msgspec_error_path(err, schema.RulesFile)
    at_key = re.fullmatch(r".* - at `key` in `([^`]*)`", error)
    if at_key is not None:  # a mapping key (a variant id) is malformed
        path = _resolve_path(data, at_key.group(1), error)
        node = functools.reduce(lambda n, s: n[s], _segments(path), data)
        bad = next((k for k in node if not _ID_KEY.match(str(k))), None)
        if bad is None:
            raise lines.error(f"a key {message}", path)
        raise lines.error(f"key {bad!r} {message}", f"{path}.{bad}")
    if "[...]" in path:
        path = _resolve_path(data, path, error)
    unknown_op = re.match(r"Invalid value (.*) - at", error)
    if unknown_op is not None and path.endswith(".op"):
        known = ", ".join(sorted(OPERATION_TAGS))
        message = f"unknown operation {unknown_op.group(1)} (known: {known})"
    raise lines.error(message, path)
