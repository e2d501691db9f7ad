"""Apply operations to an HTML document, keeping every byte outside the changed elements.

The operations run on a Lexbor tree, which decides what they mean: which elements a selector
matches, in the state the earlier operations left. Each changed element that was in the original
document is then found in the original bytes (:mod:`proxy.html.sourcemap`) and only its changed
parts are replaced, a moved element's bytes cut and pasted (:mod:`proxy.html.splice`): "splice".
When any of them cannot be located and verified, or the bytes around a change would be read
differently once it is made (a start tag that closes the element before it or implies its parent,
markup that leaves a comment or an element open, text after ``</body>``), the modified tree is
serialised instead (:mod:`proxy.html.reserialise`), behind the original BOM and doctype and in the
original encoding ("reserialise"; docs/design.md §3). When even that would change what the
operations did not touch (a script, style, comment or name holding a character the page's encoding
cannot write, such as the U+FFFD of a byte it could not decode: a character reference is read
literally there), the page is kept as it is and every operation counts as missed.

Speed (bench/rewrite_bench.py): the Lexbor parse is most of the cost; an element is located only
when an operation selects it, usually with ``bytes.find`` alone, and the page is decoded once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from proxy.html.ops.base import Op
from proxy.html.rewrite_tree import RewriteTree
from proxy.html.sourcemap import select
from proxy.html.values import attribute_allowed

__all__ = ["RewriteResult", "rewrite"]

Mode = Literal["splice", "reserialise", "unchanged"]


@dataclass(frozen=True, slots=True)
class RewriteResult:
    """The rewritten body and what each operation did.

    ``applied``/``missed``: indexes of the ops that did / did not apply. ``targets``: for each op
    index, the elements that op selected and changed, as numbers that identify an element for the
    whole rewrite (the same element has the same number in every op, and a number is never reused,
    not even after the element is removed); two ops whose targets share a number changed the same
    element. One tuple per op (empty for an op that missed); ``()`` when there are no ops.
    ``mode`` "unchanged" with ops that matched but ``applied == ()``: the fallback refused.
    """

    body: bytes
    changed: bool
    mode: Mode
    applied: tuple[int, ...]
    missed: tuple[int, ...]
    targets: tuple[tuple[int, ...], ...] = ()


def rewrite(
    document: bytes,
    codec: str,
    ops: Sequence[Op],
    *,
    mark: Mapping[str, Mapping[str, str]] | None = None,
    fill: Mapping[str, str] | None = None,
    splice: bool = True,
) -> RewriteResult:
    """Apply ``ops`` in order (then ``mark``: attributes for the first element a selector matches)
    to ``document`` encoded in ``codec`` (a Python codec name); see the module doc for the modes.
    ``splice=False`` always re-serialises (tests compare the two modes)."""
    if not ops and not mark:
        return RewriteResult(document, False, "unchanged", (), ())
    run = RewriteTree(document, codec, fill)
    run.splice &= splice
    marks = dict(mark or {})
    run.marks = tuple(marks)
    applied: list[int] = []
    missed: list[int] = []
    targets: list[tuple[int, ...]] = []
    for index, op in enumerate(ops):
        nodes = select(run.parser, op.selector)
        run.pending = ops[index + 1 :]
        run.prepare(op, nodes)
        changed = op.apply(run, nodes)
        targets.append(changed)
        (applied if changed else missed).append(index)
    run.pending = ()
    marked = False
    for selector, attrs in marks.items():
        node = run.select_first(selector)
        if node is not None and all(attribute_allowed(k, v) for k, v in attrs.items()):
            if run.splice and run.original:
                run.source.locate(node, whole=False)
            for name, value in attrs.items():
                node.attrs[name] = value
            run.edit(node).attrs = dict(node.attributes)
            marked = True
    if not applied and not marked:
        return RewriteResult(document, False, "unchanged", (), tuple(missed), tuple(targets))
    body = run.spliced() if run.splice else None
    mode: Mode = "splice"
    if body is None:
        body, mode = run.reserialised(), "reserialise"
        if body is None:  # the fallback would change what was not asked: keep the page
            return RewriteResult(
                document, False, "unchanged", (), tuple(range(len(ops))), tuple(() for _ in ops)
            )
    changed_body = body != document
    return RewriteResult(body, changed_body, mode, tuple(applied), tuple(missed), tuple(targets))
