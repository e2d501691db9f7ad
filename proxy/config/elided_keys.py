"""The mapping keys msgspec elides from an error's path, found again (pure; error path only).

msgspec names a mapping's value ``[...]`` (``$.slots[0].variants[...][1]``,
``$.rates[0].set[...]``), which would leave a reader to guess which variant or value is wrong.
It stops at the first error in document order, so the culprit is the first key whose prefix of
the mapping reproduces the same error (:func:`resolve_elided_keys`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

Segment = str | int | None  # key, index, or msgspec's elided dict key "[...]"


def path_segments(path: str) -> list[Segment]:
    """``$.a[0].b[...]`` as ``["a", 0, "b", None]``."""
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


def _error_of(data: Any, schema: Any) -> str | None:
    try:
        msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as err:
        return str(err)
    return None


def resolve_elided_keys(data: Any, path: str, error: str, schema: Any) -> str:
    """``path`` with each ``[...]`` named (``$.v[...][1]`` → ``$.v.b[1]``): ``error`` is the
    text of msgspec's error converting ``data`` to ``schema``."""
    resolved: list[Segment] = []
    node = data
    for segment in path_segments(path):
        if segment is None and isinstance(node, dict):
            keys = list(node)
            culprit = keys[0] if keys else "?"
            for count, key in enumerate(keys, 1):
                prefix = {k: node[k] for k in keys[:count]}
                if _error_of(_replace(data, resolved, prefix), schema) == error:
                    culprit = key
                    break
            segment = culprit
        resolved.append(segment)
        if isinstance(node, dict):
            node = node.get(segment)
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            node = node[segment]
    return _format(resolved)
