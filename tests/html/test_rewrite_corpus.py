"""Rewriter fidelity on the shared corpus, rewriter properties, and golden coverage (issue #4).

What is checked (docs/design.md §3):

- **html5lib tree-construction corpus.** Every full document read with scripting on (the cases of
  :func:`tests.html.test_inject_corpus._tree_cases`) goes through :func:`rewrite` with no
  operation and with operations that match nothing: the same bytes come back. Then one real rule at
  a time (set_attr, add_class, set_text) on the first ``p``, else ``div``, else ``body`` that Lexbor
  sees, addressed by a selector that matches that element alone: it never raises, and html5lib's
  tree of the output is html5lib's tree of the input with only the target changed, as the rule
  says.
- **Real pages.** One rule per page (set_text on the first ``h1``/``h2``, else add_class on the
  first ``p``/``div``/``body``): in splice mode every byte outside the target is kept (the output is
  the input with one contiguous range replaced, and html5lib sees only the target changed). The
  share of pages for which that holds must be at least 95 %; the spliced output must also parse
  (html5lib) to the tree of the re-serialised output (``splice=False``).
- **Properties** (hypothesis; ``test_rewrite.py`` has the binary/text identity and set_attr on
  ``p``): HTML-ish input with any operations never raises, and no operations or operations that
  match nothing are the identity.
- Every operation of the registry has a golden case in ``golden/`` (read by ``test_golden``).

Comparisons that cannot be fair are excluded by computed criteria, counted, and never by name:

- *The parsers disagree*: Lexbor's tree of the input differs from html5lib's (namespace-free dumps:
  names, attributes, merged text, comments). html5lib 1.1 predates ``<template>`` contents, the
  ``<search>`` element, the current ``<ruby>``/``<isindex>``/``<menuitem>`` rules and more, and
  Lexbor reads ``<?x>`` as a processing instruction; the target Lexbor picks may then not be the
  element html5lib has at that place.
- *The fallback cannot round-trip*: the output was re-serialised, and the fallback's output for the
  unchanged tree (remove_attr of an absent attribute, ``splice=False``) already does not parse to
  the input's tree under html5lib (misnested formatting elements, text the adoption agency moved,
  ``<plaintext>``, script data left in an escaped state). The comparison would only measure that,
  not the rule.
- *No target*: frameset documents have no ``p``, ``div`` or ``body``; they still run the no-op check
  and the never-raises check.

The rewriter bugs this found keep their minimal reproducers as regression tests (section 5).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.dom import minidom

import html5lib  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from proxy.html.charset import determine_encoding
from proxy.html.ops.registry import (
    OPERATIONS,
    AddClass,
    Append,
    Hide,
    InsertAfter,
    InsertBefore,
    Move,
    Op,
    Prepend,
    Remove,
    RemoveAttr,
    RemoveClass,
    Reorder,
    Replace,
    SetAttr,
    SetHtml,
    SetStyle,
    SetText,
    SwapImage,
)
from proxy.html.rewrite import RewriteResult, rewrite
from tests.conftest import corpus_root
from tests.html.test_inject_corpus import TREE_DIR, _html5lib_tree, _tree_cases, _tree_files

GOLDEN = Path(__file__).parent / "golden"
PROBE_ATTRIBUTE = "data-vernier-probe"
PROBE_VALUE = 'a "q" & <v>'
PROBE_CLASS = "vernier-probe"
PROBE_TEXT = "new <text> & more"
KINDS = ("set_attr", "add_class", "set_text")
NO_MATCH = ("#vernier-absent", "vernier-absent", "p[", ":not(*)")


# Trees: html5lib's DOM, and dumps of it and of Lexbor's tree that can be compared.


def _html5lib_dom(text: str) -> tuple[Any, minidom.Document]:
    """html5lib's DOM with scripting on (as the rewriter parses), adjacent text merged."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("dom"))
    document = parser.parse(text, scripting=True)
    document.normalize()
    return parser, document


def _serialised(parser: Any, document: minidom.Document) -> str:
    """html5lib's test serialisation (namespaces, doctype ids, attributes, text, comments)."""
    return str(parser.tree.testSerializer(document))


def _dump_html5lib(node: minidom.Node, depth: int = 0, out: list[str] | None = None) -> list[str]:
    """Names, attributes, text and comments, without namespaces or the doctype."""
    out = [] if out is None else out
    for child in node.childNodes:
        if child.nodeType == child.ELEMENT_NODE:
            attrs = sorted(child.attributes.items()) if child.attributes else []
            out.append(f"{depth} <{child.tagName}> {attrs!r}")
            _dump_html5lib(child, depth + 1, out)
        elif child.nodeType == child.TEXT_NODE:
            out.append(f"{depth} text {child.data!r}")
        elif child.nodeType == child.COMMENT_NODE:
            out.append(f"{depth} comment {child.data!r}")
    return out


def _dump_lexbor(node: LexborNode, depth: int = 0, out: list[str] | None = None) -> list[str]:
    """The same dump of Lexbor's tree (``<template>`` contents are not children there)."""
    out = [] if out is None else out
    text: str | None = None
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            text = (text or "") + (child.text_content or "")
            continue
        if text is not None:
            out.append(f"{depth} text {text!r}")
            text = None
        if tag == "-comment":  # comment_content strips spaces: take the markup's inside
            out.append(f"{depth} comment {(child.html or '')[4:-3]!r}")
        elif tag is None:
            out.append(f"{depth} processing instruction {child.html!r}")
        elif tag != "-doctype":
            attrs = sorted((k, v or "") for k, v in child.attributes.items())
            out.append(f"{depth} <{tag}> {attrs!r}")
            _dump_lexbor(child, depth + 1, out)
    if text is not None:
        out.append(f"{depth} text {text!r}")
    return out


def _is_element(node: LexborNode) -> bool:
    return node.tag is not None and not node.tag.startswith("-")


def _element_path(node: LexborNode) -> tuple[int, ...]:
    """Indexes among element siblings from the document down to ``node``."""
    path: list[int] = []
    current = node
    while (parent := current.parent) is not None:
        siblings = [c.mem_id for c in parent.iter() if _is_element(c)]
        path.append(siblings.index(current.mem_id))
        current = parent
    return tuple(reversed(path))


def _selector(path: tuple[int, ...], tag: str) -> str:
    """A selector for the element at ``path`` alone (``html > *:nth-child(2) > p:nth-child(1)``)."""
    if len(path) == 1:
        return "html"
    steps = [
        "html",
        *(f"*:nth-child({i + 1})" for i in path[1:-1]),
        f"{tag}:nth-child({path[-1] + 1})",
    ]
    return " > ".join(steps)


def _at(document: minidom.Document, path: tuple[int, ...]) -> minidom.Element:
    node: minidom.Node = document
    for index in path:
        node = [c for c in node.childNodes if c.nodeType == c.ELEMENT_NODE][index]
    assert isinstance(node, minidom.Element)
    return node


@dataclass(frozen=True, slots=True)
class _Target:
    """The element a rule is applied to: found by Lexbor, addressed by a selector matching it alone."""

    tag: str
    path: tuple[int, ...]
    selector: str


def _target(dom: LexborHTMLParser, tags: tuple[str, ...]) -> _Target | None:
    node = next((n for n in map(dom.css_first, tags) if n is not None), None)
    if node is None:
        return None
    path = _element_path(node)
    target = _Target(node.tag or "", path, _selector(path, node.tag or ""))
    assert [n.mem_id for n in dom.css(target.selector)] == [node.mem_id], target
    return target


def _probe(kind: str, selector: str) -> Op:
    if kind == "set_attr":
        return SetAttr(selector, PROBE_ATTRIBUTE, PROBE_VALUE)
    if kind == "add_class":
        return AddClass(selector, PROBE_CLASS)
    return SetText(selector, PROBE_TEXT)


def _attribute(element: minidom.Element, name: str) -> str | None:
    return element.getAttribute(name) if element.hasAttribute(name) else None


def _unchanged_but_target(
    before: str, after: str, kind: str, target: _Target, text: str = PROBE_TEXT
) -> str | None:
    """None when html5lib's tree of ``after`` is that of ``before`` with the ``kind`` rule applied
    to ``target`` and nothing else changed; else what differs."""
    parser, source = _html5lib_dom(before)
    _, output = _html5lib_dom(after)
    path = target.path
    original = _at(source, path)
    if original.tagName != target.tag:
        return f"html5lib has <{original.tagName}> where Lexbor's target <{target.tag}> is"
    try:
        changed = _at(output, path)
    except IndexError:
        return "the target is gone"
    if changed.tagName != original.tagName:
        return f"<{changed.tagName}> where the target <{original.tagName}> was"
    classes = _attribute(original, "class")
    if kind == "set_attr":
        if _attribute(changed, PROBE_ATTRIBUTE) != PROBE_VALUE:
            return f"target attribute is {_attribute(changed, PROBE_ATTRIBUTE)!r}"
        changed.removeAttribute(PROBE_ATTRIBUTE)
    elif kind == "add_class":
        wanted = " ".join([*(classes or "").split(), PROBE_CLASS])
        if _attribute(changed, "class") != wanted:
            return f"target class is {_attribute(changed, 'class')!r}, not {wanted!r}"
        if classes is None:
            changed.removeAttribute("class")
        else:
            changed.setAttribute("class", classes)
    else:
        content = [(c.nodeType, getattr(c, "data", None)) for c in changed.childNodes]
        if content != [(changed.TEXT_NODE, text)]:
            return f"target content is {content!r}"
        for element in (original, changed):
            while element.firstChild is not None:
                element.removeChild(element.firstChild)
    if _serialised(parser, source) != _serialised(parser, output):
        return "the tree differs outside the target"
    return None


# 1. The html5lib tree-construction corpus.


@dataclass(frozen=True, slots=True)
class _Document:
    data: str
    body: bytes
    target: _Target | None
    parsers_agree: bool
    fallback_round_trips: bool


@cache
def _documents(dat_file: str) -> tuple[_Document, ...]:
    root = corpus_root()
    assert root is not None
    documents = []
    for data in _tree_cases(root.joinpath(*TREE_DIR, dat_file)):
        body = data.encode("utf-8", "surrogatepass")
        dom = LexborHTMLParser(body.decode("utf-8", "replace"), scripting=True)
        _, reference = _html5lib_dom(data)
        document = dom.root.parent if dom.root is not None else None
        agree = document is not None and _dump_html5lib(reference) == _dump_lexbor(document)
        unchanged = rewrite(body, "utf-8", [RemoveAttr(":root", PROBE_ATTRIBUTE)], splice=False)
        fallback = unchanged.body.decode("utf-8", "surrogatepass")
        round_trips = _html5lib_tree(fallback)[0] == _html5lib_tree(data)[0]
        target = _target(dom, ("p", "div", "body"))
        documents.append(_Document(data, body, target, agree, round_trips))
    return tuple(documents)


@dataclass(slots=True)
class _Tally:
    run: int = 0
    compared: int = 0
    parsers_disagree: int = 0
    fallback_cannot_round_trip: int = 0
    no_target: int = 0


def _tree_corpus_run(dat_file: str, kind: str, failures: list[str]) -> _Tally:
    """Apply the ``kind`` rule to every document of ``dat_file``; count what was compared."""
    tally = _Tally()
    for doc in _documents(dat_file):
        tally.run += 1
        if doc.target is None:
            tally.no_target += 1
            continue
        result = rewrite(doc.body, "utf-8", [_probe(kind, doc.target.selector)])
        if result.applied != (0,) or not result.changed:
            failures.append(f"{doc.data!r}: not applied ({result})")
            continue
        if not doc.parsers_agree:
            tally.parsers_disagree += 1
            continue
        if result.mode == "reserialise" and not doc.fallback_round_trips:
            tally.fallback_cannot_round_trip += 1
            continue
        tally.compared += 1
        after = result.body.decode("utf-8", "surrogatepass")
        problem = _unchanged_but_target(doc.data, after, kind, doc.target)
        if problem is not None:
            failures.append(f"{doc.data!r} ({result.mode}): {problem}; output {result.body!r}")
    return tally


def _tree_corpus_params() -> list[Any]:
    return [pytest.param(d, k, id=f"{d}-{k}") for d in _tree_files() for k in KINDS]


@pytest.mark.corpus
@pytest.mark.parametrize("dat_file", _tree_files())
def test_tree_corpus_no_op_is_identity(corpus_dir: Path, dat_file: str) -> None:
    ops: list[list[Op]] = [[], [SetText(s, "x") for s in NO_MATCH], [Remove(NO_MATCH[0])]]
    for doc in _documents(dat_file):
        for op_list in ops:
            result = rewrite(doc.body, "utf-8", op_list)
            assert result.body == doc.body, doc.data
            assert (result.mode, result.changed, result.applied) == ("unchanged", False, ())


@pytest.mark.corpus
@pytest.mark.parametrize(("dat_file", "kind"), _tree_corpus_params())
def test_tree_corpus_rule_changes_only_the_target(
    corpus_dir: Path, dat_file: str, kind: str
) -> None:
    failures: list[str] = []
    tally = _tree_corpus_run(dat_file, kind, failures)
    assert not failures, f"{len(failures)} of {tally.run} documents:\n" + "\n".join(failures[:20])


@pytest.mark.corpus
def test_tree_corpus_exclusions_are_a_minority(corpus_dir: Path) -> None:
    """The computed exclusions must not swallow the corpus (a broken dump would exclude all)."""
    total = _Tally()
    for dat_file in _tree_files():
        for doc in _documents(dat_file):
            total.run += 1
            total.no_target += doc.target is None
            total.parsers_disagree += doc.target is not None and not doc.parsers_agree
            total.compared += doc.target is not None and doc.parsers_agree
    assert total.run >= 1500
    assert total.compared >= 0.8 * total.run, total
    assert total.no_target <= 0.05 * total.run, total


# 2. Real pages: byte fidelity outside the target, and DOM equivalence with the fallback.


@dataclass(frozen=True, slots=True)
class _PageRun:
    name: str
    codec: str
    kind: str
    target: _Target
    spliced: RewriteResult
    reserialised: RewriteResult
    problem: str | None  # None: every byte outside the target kept


def _replaced_range(before: bytes, after: bytes) -> tuple[int, int, int]:
    """``(a, b, c)``: ``after == before[:a] + after[a:c] + before[b:]`` with ``a`` and the kept
    tail as long as possible (the one range of ``before`` that ``after`` replaced)."""
    limit = min(len(before), len(after))
    a, step = 0, 4096
    while a + step <= limit and before[a : a + step] == after[a : a + step]:
        a += step
    while a < limit and before[a] == after[a]:
        a += 1
    tail = 0
    while tail < limit - a and before[len(before) - 1 - tail] == after[len(after) - 1 - tail]:
        tail += 1
    return a, len(before) - tail, len(after) - tail


def _page_problem(
    body: bytes, result: RewriteResult, kind: str, target: _Target, codec: str, bom: int
) -> str | None:
    """Why the output does not keep every byte outside the target (None: it does)."""
    if result.mode != "splice":
        return f"{result.mode}: the target was not located and verified in the source"
    a, b, c = _replaced_range(body, result.body)
    removed, inserted = body[a:b], result.body[a:c]
    if kind == "set_text":
        # The one replaced range is the escaped text alone: an occurrence of it covers the change.
        value = html.escape(PROBE_TEXT, quote=False).encode(codec)
        starts = range(max(0, a - len(value)), a + 1)
        if not any(result.body.startswith(value, s) and s + len(value) >= c for s in starts):
            return f"bytes changed beyond the new content at offset {a}: {inserted[:80]!r}"
    elif b"<" in removed + inserted or b">" in removed + inserted:
        return (
            f"a change crosses a tag boundary at offset {a}: {removed[:80]!r} -> {inserted[:80]!r}"
        )
    before = body[bom:].decode(codec, "replace")
    after = result.body[bom:].decode(codec, "replace")
    return _unchanged_but_target(before, after, kind, target)


def _page_rule(dom: LexborHTMLParser) -> tuple[str, _Target]:
    heading = _target(dom, ("h1", "h2"))
    if heading is not None:
        return "set_text", heading
    target = _target(dom, ("p", "div", "body"))
    assert target is not None
    return "add_class", target


def _page_runs(corpus: Path) -> Iterator[_PageRun]:
    pages = sorted(corpus.joinpath("pages").glob("*.html"))
    assert len(pages) >= 40
    for page in pages:
        body = page.read_bytes()
        encoding = determine_encoding(body, None)
        codec, bom = encoding.codec, encoding.bom_length
        dom = LexborHTMLParser(body[bom:].decode(codec, "replace"), scripting=True)
        kind, target = _page_rule(dom)
        ops = [_probe(kind, target.selector)]
        spliced = rewrite(body, codec, ops)
        reserialised = rewrite(body, codec, ops, splice=False)
        assert spliced.applied == (0,), page.name
        # the fallback may refuse: test_fallback_keeps_undecodable_bytes_in_scripts
        assert reserialised.applied == (0,) or reserialised.body is body, page.name
        problem = _page_problem(body, spliced, kind, target, codec, bom)
        yield _PageRun(page.name, codec, kind, target, spliced, reserialised, problem)


@cache
def _all_page_runs() -> tuple[_PageRun, ...]:
    root = corpus_root()
    assert root is not None
    return tuple(_page_runs(root))


@pytest.mark.corpus
def test_pages_keep_every_byte_outside_the_target(corpus_dir: Path) -> None:
    runs = _all_page_runs()
    exceptions = [f"{r.name} ({r.kind} {r.target.tag}): {r.problem}" for r in runs if r.problem]
    kept = 1 - len(exceptions) / len(runs)
    assert kept >= 0.95, f"{kept:.1%} of {len(runs)} pages; exceptions:\n" + "\n".join(exceptions)


@pytest.mark.corpus
def test_pages_splice_is_dom_equivalent_to_the_fallback(corpus_dir: Path) -> None:
    """Pages whose fallback refuses (a script, style or comment holds a character the page's
    codec cannot write, such as U+FFFD for an undecodable byte:
    test_fallback_keeps_undecodable_bytes_in_scripts) are counted apart."""
    different: list[str] = []
    refused: list[str] = []
    for run in _all_page_runs():
        if run.spliced.mode != "splice":
            continue
        if run.reserialised.mode == "unchanged":
            refused.append(run.name)
            continue
        text = [r.body.decode(run.codec, "replace") for r in (run.spliced, run.reserialised)]
        if _html5lib_tree(text[0])[0] != _html5lib_tree(text[1])[0]:
            different.append(run.name)
    assert not different, different
    assert len(refused) <= 0.05 * len(_all_page_runs()), refused


# 3. Properties: HTML-ish input, any operations.

_PIECES = [
    "<p>", "</p>", "<P CLASS='a b'>", "<div id=d>", "</div>", "<div/>", "<span title=\"a>b\">",
    "</span>", "<b>", "</b>", "<i>", "</ i>", "<a href='/x?a=1&amp;b=2'>", "</a>", "<img src=a alt>",
    "<br/>", "<hr>", "<input value=\"v\" disabled>", "<ul>", "<li>", "</ul>", "<table>", "<tr>",
    "<td>", "</table>", "<h1>", "</h1>", "<pre>", "</pre>", "<textarea>", "</textarea>", "<title>",
    "</title>", "<style>p>b{}</style>", "<script>", "</script>", "<script>if (a<b) x('</p>')",
    "<!-- c -->", "<!--", "-->", "<!-->", "<!doctype html>", "<?php x ?>", "<![CDATA[x]]>",
    "<svg><circle r=1/></svg>", "<math><mi>x</mi></math>", "<template><p>t</template>",
    "<noscript><p>n</noscript>", "<html lang=en>", "</html>", "<head>", "</head>", "<body>",
    "</body>", "<frameset>", "&amp;", "&lt;", "&nbsp", "&#13;", "&#x1F600;", "&bogus;", "x", " ",
    "é€", "\r\n", "\r", "\n", "\t", "\x00", "<", "</", ">", "'", '"', "=", "<p class='", "<a b=c d",
    "<ul><li>1<li>2</ul>", "<p>a<p>b",
]  # fmt: skip
markup = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=30).map("".join)
_SELECTORS = [
    "p", "div", "b", "li", "ul", "td", "table", "h1", "a", "img", "span", "body", "head", "html",
    "title", "pre", "textarea", "script", "style", "svg", "circle", "template", "*", "#d", ".a",
    "[title]", "p + p", "ul > li", "li:nth-child(2)", "div p", ":has(b)", "p[", "#vernier-absent",
]  # fmt: skip
selectors = st.sampled_from(["p", "div", "b", "li", "body", "*"]) | st.sampled_from(_SELECTORS)
values = st.sampled_from(
    ["", "x", "a & b", "<b>x</b>", "<p>y", "</div>", "{{ who }}", "\r\né", "<!--"]
)
urls = st.sampled_from(["/b.png", "javascript:alert(1)", " data:text/html,x", "b c"])
names = st.sampled_from(["class", "id", "title", "data-x", "onclick", "style", "hidden", "a b"])


def _op_strategy(selector: st.SearchStrategy[str]) -> st.SearchStrategy[Op]:
    """Any operation of the registry, with ``selector`` for every selector it takes (reorder's
    child selectors are valid ones, as the loader guarantees:
    test_reorder_with_an_invalid_child_selector_misses)."""
    valid = selector.filter(lambda s: s != "p[")
    where = st.sampled_from(["before", "after", "into"])
    move = st.builds(lambda s, w, t: Move(s, **{w: t}), selector, where, selector)
    by_tag: dict[str, st.SearchStrategy[Op]] = {
        "set_text": st.builds(SetText, selector, values),
        "set_html": st.builds(SetHtml, selector, values),
        "set_attr": st.builds(SetAttr, selector, names, values | urls),
        "remove_attr": st.builds(RemoveAttr, selector, names),
        "add_class": st.builds(AddClass, selector, values),
        "remove_class": st.builds(RemoveClass, selector, values),
        "set_style": st.builds(SetStyle, selector, st.sampled_from(["color:red", "a", ";;x:1;"])),
        "hide": st.builds(Hide, selector),
        "remove": st.builds(Remove, selector),
        "insert_before": st.builds(InsertBefore, selector, values),
        "insert_after": st.builds(InsertAfter, selector, values),
        "prepend": st.builds(Prepend, selector, values),
        "append": st.builds(Append, selector, values),
        "replace": st.builds(Replace, selector, values),
        "move": move,
        "reorder": st.builds(Reorder, selector, st.lists(valid, max_size=3).map(tuple)),
        "swap_image": st.builds(SwapImage, selector, urls, st.none() | urls, st.none() | values),
    }
    assert set(by_tag) == set(OPERATIONS)
    return st.one_of(*by_tag.values())


any_ops = st.lists(_op_strategy(selectors), min_size=1, max_size=4)
no_match_ops = st.lists(_op_strategy(st.sampled_from(NO_MATCH)), min_size=1, max_size=4)
codecs = st.sampled_from(["utf-8", "cp1252", "iso-8859-2", "shift_jis", "utf-16-le"])
FILL = {"who": "<Ann & 'Bo'>"}


@settings(max_examples=400, deadline=None)
@given(markup, any_ops, codecs)
def test_any_ops_never_raise(document: str, ops: list[Op], codec: str) -> None:
    body = document.encode(codec, "replace")
    result = rewrite(body, codec, ops, fill=FILL)
    assert sorted(result.applied + result.missed) == list(range(len(ops)))
    assert result.changed == (result.body != body)
    if result.mode == "unchanged":
        assert result.body is body and not result.applied


@settings(max_examples=150, deadline=None)
@given(markup, codecs)
def test_no_ops_is_identity_on_markup(document: str, codec: str) -> None:
    body = document.encode(codec, "replace")
    assert rewrite(body, codec, []).body is body


@settings(max_examples=200, deadline=None)
@given(markup, no_match_ops, codecs)
def test_ops_that_match_nothing_are_identity(document: str, ops: list[Op], codec: str) -> None:
    body = document.encode(codec, "replace")
    result = rewrite(body, codec, ops, fill=FILL)
    assert result.body is body
    assert (result.mode, result.applied, result.missed) == ("unchanged", (), tuple(range(len(ops))))


splice_ops = st.lists(_op_strategy(selectors), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(markup, splice_ops)
def test_splice_is_dom_equivalent_to_the_fallback(document: str, ops: list[Op]) -> None:
    """Where the fallback keeps an unchanged tree, a splice parses to the fallback's tree."""
    body = document.encode()
    result = rewrite(body, "utf-8", ops, fill=FILL)
    if result.mode != "splice":
        return
    unchanged = rewrite(body, "utf-8", [RemoveAttr(":root", PROBE_ATTRIBUTE)], splice=False)
    if _tree_of(unchanged.body) != _tree_of(body):
        return
    assert _tree_of(result.body) == _tree_of(
        rewrite(body, "utf-8", ops, fill=FILL, splice=False).body
    )


# 4. Every operation has a golden case (the cases themselves run in test_rewrite.test_golden).


def test_every_operation_has_a_golden_case() -> None:
    used: set[str] = set()
    moves: set[str] = set()
    for spec_file in GOLDEN.glob("*.json"):
        case = spec_file.with_suffix("")
        assert case.with_suffix(".html").is_file() and case.with_suffix(".expected.html").is_file()
        for op in json.loads(spec_file.read_text())["ops"]:
            used.add(op["op"])
            if op["op"] == "move":
                moves.update({"before", "after", "into"} & set(op))
    assert used >= set(OPERATIONS), set(OPERATIONS) - used
    assert moves == {"before", "after", "into"}


# 5. Fixed bugs: their minimal reproducers (neighbouring cases are in test_rewrite.py).


def _tree_of(body: bytes, codec: str = "utf-8") -> str:
    return str(_html5lib_tree(body.decode(codec, "replace"))[0])


def test_prepend_into_an_empty_element_does_not_raise() -> None:
    result = rewrite(b"<p></p>", "utf-8", [Prepend("p", "x")])
    assert result.body == b"<p>x</p>"


def test_insert_before_an_element_that_closes_its_previous_sibling() -> None:
    document = b"<p>a<p>b"
    ops: list[Op] = [InsertBefore("p + p", "X")]
    result = rewrite(document, "utf-8", ops)
    assert _tree_of(result.body) == _tree_of(rewrite(document, "utf-8", ops, splice=False).body)


def test_reorder_with_an_invalid_child_selector_misses() -> None:
    ops: list[Op] = [Reorder("ul", ("li:nth-child(2)", "p["))]
    result = rewrite(b"<ul><li>a</li><li>b</li></ul>", "utf-8", ops)
    assert result.missed == (0,)


def test_attribute_on_an_implied_head_is_not_spliced_into_an_ignored_tag() -> None:
    document = b"<p>x</p><head>"
    ops: list[Op] = [SetAttr("head", "class", "k")]
    result = rewrite(document, "utf-8", ops)
    assert _tree_of(result.body) == _tree_of(rewrite(document, "utf-8", ops, splice=False).body)


def test_set_text_on_body_replaces_what_follows_the_body_end_tag() -> None:
    document = b"<body><p>a</p></body>x"
    ops: list[Op] = [SetText("body", "new")]
    result = rewrite(document, "utf-8", ops)
    assert _tree_of(result.body) == _tree_of(rewrite(document, "utf-8", ops, splice=False).body)


def _fallback_keeps_the_rest(document: bytes, codec: str = "utf-8") -> None:
    """set_text on the second of two unclosed ``<p>`` (a fallback): only that ``<p>`` changes."""
    ops: list[Op] = [SetText("p + p", "z")]
    result = rewrite(document, codec, ops)
    assert result.mode == "reserialise"
    before, after = document.decode(codec, "replace"), result.body.decode(codec, "replace")
    dom = LexborHTMLParser(before, scripting=True)
    target = _target(dom, ("p + p",))
    assert target is not None
    assert _unchanged_but_target(before, after, "set_text", target, text="z") is None


def test_fallback_keeps_the_rest_of_a_plain_document() -> None:
    _fallback_keeps_the_rest(b"<!doctype html><p class=x>a &amp; b<p>y")


def test_fallback_keeps_a_leading_newline_in_pre() -> None:
    _fallback_keeps_the_rest(b"<pre>\n\nA</pre><p>x<p>y")


def test_fallback_keeps_carriage_return_references() -> None:
    _fallback_keeps_the_rest(b"<div>a&#13;b</div><p>x<p>y")


@pytest.mark.parametrize(
    ("document", "codec"),
    [
        (b"<pre>\nA</pre><textarea>\n\nB</textarea><listing>\n\n\nC</listing><p>x<p>y", "utf-8"),
        (b"<div title='a&#13;b'>\r\n&#13;\r</div><textarea>&#13;</textarea><p>x<p>y", "utf-8"),
        (b'<p title="\x9d">\x9d</p><div>x</div><p>x<p>y', "cp1252"),  # references are read there
        (b'<script>var s="\xff";</script><p>x<p>y', "utf-8"),  # U+FFFD is what a browser reads
    ],
)
def test_fallback_keeps_the_rest_of(document: bytes, codec: str) -> None:
    _fallback_keeps_the_rest(document, codec)


@pytest.mark.parametrize(
    "document",
    [
        b'<script>var s="\x9d";</script><p>x<p>y',
        b"<style>/*\x9d*/</style><p>x<p>y",
        b"<!--\x9d--><p>x<p>y",
        b"<script>\x00</script><p>x<p>y",  # the parser makes it U+FFFD
        b"<p a\x9d=1>x</p><p>x<p>y",  # a name
    ],
)
def test_fallback_keeps_undecodable_bytes_in_scripts(document: bytes) -> None:
    """In a script, style, comment or name a character reference is read as its characters, so
    a character cp1252 cannot encode (U+FFFD for a byte it could not decode) cannot be written:
    the page is kept as it was and the operation counts as missed."""
    result = rewrite(document, "cp1252", [SetText("p + p", "z")])
    assert result.body is document
    assert (result.mode, result.changed, result.applied, result.missed, result.targets) == (
        "unchanged",
        False,
        (),
        (0,),
        ((),),
    )
