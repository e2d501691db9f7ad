"""Rewrite a page once, serve the result many times: the results of recent rewrites, by input.

Most views of a URL carry the same origin bytes and the same matched operations, and
:func:`proxy.html.rewrite.rewrite` is a pure function of its inputs, so a repeat page can be the
earlier result: a dictionary look-up (one hash of the page and one ``memcmp`` against the kept
copy) instead of a Lexbor parse, locating and splicing (~1.9 ms for three edits on the 87 KB
lemonde-1 page, ~20 µs for the look-up; docs/benchmarks.md, "Rewriting at the speed of the
edge"). The key is the page's bytes themselves, not a digest of them, so a hit is exactly the
page that was rewritten before: a collision cannot serve another page's result.

The cache holds at most ``max_bytes`` of pages and results (least recently used out first); a
page larger than a quarter of that is never kept. Pages that differ on every view (a CSRF token, a
timestamp) miss and cost only the look-up. A slot's decision id is new on every view, so the
rewrite is cached with stand-in ids (:meth:`RewriteCache.stand_ins`: random per process, never
sent) and the real ids are put back with one ``bytes.replace`` each (:func:`put_back`). Not thread-safe: use it from the event loop only and
run the rewrite itself wherever it belongs (:func:`proxy.content.offload.run_sized`).
"""

from __future__ import annotations

import functools
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

import msgspec

from proxy.html.ops.base import Op
from proxy.html.rewrite import RewriteResult
from proxy.html.values import placeholders

__all__ = ["RewriteCache", "RewriteKey", "put_back", "rewrite_key"]

RewriteKey: TypeAlias = tuple[
    bytes,
    str,
    tuple[Op, ...],
    tuple[tuple[str, tuple[tuple[str, str], ...]], ...],
    tuple[tuple[str, str], ...] | None,
]


@functools.lru_cache(maxsize=1024)
def filled_names(ops: tuple[Op, ...]) -> tuple[str, ...]:
    """The context values ``ops`` write into the page (their ``{{ name }}`` placeholders): only
    these make two views' results differ, not the rest of the request's context."""
    names = {
        name
        for op in ops
        for value in msgspec.structs.asdict(op).values()
        if isinstance(value, str)
        for name in placeholders(value)
    }
    return tuple(sorted(names))


def rewrite_key(
    document: bytes,
    codec: str,
    ops: Sequence[Op],
    mark: Mapping[str, Mapping[str, str]] | None,
    fill: Mapping[str, str] | None,
) -> RewriteKey:
    """Everything :func:`~proxy.html.rewrite.rewrite`'s result depends on, as a hashable key:
    the marks in order (the order they apply in) and, of ``fill``, only the values the
    operations' placeholders name (``None`` stays apart: placeholders are then left as
    written)."""
    op_key = tuple(ops)
    marks = tuple((s, tuple(attrs.items())) for s, attrs in (mark or {}).items())
    filled = None if fill is None else tuple((n, fill.get(n, "")) for n in filled_names(op_key))
    return (document, codec, op_key, marks, filled)


def put_back(body: bytes, codec: str, ids: Iterable[tuple[str, str]]) -> bytes | None:
    """``body`` with each (stand-in, real) id's stand-in replaced by the real one, in ``codec``
    (ASCII-compatible: ids are ``[A-Za-z0-9_-]``, written as they are in an attribute value);
    ``None`` when a stand-in is there more than once, which only a page that held it could do."""
    for stand_in, real in ids:
        find = stand_in.encode(codec)
        count = body.count(find)
        if count > 1:
            return None
        if count:
            body = body.replace(find, real.encode(codec))
    return body


def _size(key: RewriteKey, result: RewriteResult) -> int:
    kept = len(key[0])
    return kept if result.body is key[0] else kept + len(result.body)


class RewriteCache:
    """Least-recently-used :class:`RewriteResult` by :data:`RewriteKey`, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._results: OrderedDict[RewriteKey, RewriteResult] = OrderedDict()
        self._stand_in = secrets.token_urlsafe(9)  # 12 characters of the ids' alphabet

    def stand_ins(self, count: int) -> list[str]:
        """``count`` ids that stand in for decision ids in cached rewrites: the same on every
        call, 16 characters like a decision id, none a prefix of another."""
        return [f"{self._stand_in}{n:04d}" for n in range(count)]

    def __len__(self) -> int:
        return len(self._results)

    def get(self, key: RewriteKey) -> RewriteResult | None:
        result = self._results.get(key)
        if result is not None:
            self._results.move_to_end(key)
        return result

    def put(self, key: RewriteKey, result: RewriteResult) -> None:
        size = _size(key, result)
        if size * 4 > self.max_bytes or key in self._results:
            return
        self._results[key] = result
        self.size_bytes += size
        while self.size_bytes > self.max_bytes:
            old_key, old = self._results.popitem(last=False)
            self.size_bytes -= _size(old_key, old)
