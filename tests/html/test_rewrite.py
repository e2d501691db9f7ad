"""Golden cases, byte fidelity, the fallback, and the corpus for proxy.html.rewrite."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import html5lib  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from proxy.html.operations import OPERATIONS, Op, SetAttr, SetText
from proxy.html.rewrite import rewrite

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def load_ops(raw: list[Mapping[str, Any]]) -> list[Op]:
    """Ops from the spec's mapping form, as the loader builds them."""
    ops: list[Op] = []
    for item in raw:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in item.items() if k != "op"}
        ops.append(OPERATIONS[item["op"]](**fields))  # type: ignore[arg-type]
    return ops


def changed_ranges(before: bytes, after: bytes) -> list[tuple[int, int]]:
    """The ranges of ``before`` that differ in ``after`` (a byte-level diff)."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return [(i1, i2) for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal"]


def tree(markup: bytes | str, *, without: str | None = None) -> str:
    """An html5lib tree dump (``without`` an attribute): equal dumps mean equal DOMs."""
    document = html5lib.parse(markup, treebuilder="dom", namespaceHTMLElements=False)
    if without is not None:
        for element in document.getElementsByTagName("*"):
            if element.hasAttribute(without):
                element.removeAttribute(without)
    lines: list[str] = []
    text = ""
    for token in html5lib.getTreeWalker("dom")(document):
        if token["type"] in ("Characters", "SpaceCharacters"):
            text += token["data"]
            continue
        if text:
            lines.append(repr(text))
            text = ""
        lines.append(repr(token))
    return "\n".join([*lines, repr(text)])


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    spec = json.loads((GOLDEN / f"{case}.json").read_text())
    document = (GOLDEN / f"{case}.html").read_bytes()
    result = rewrite(document, "utf-8", load_ops(spec["ops"]), fill=spec.get("fill"))
    assert result.body == (GOLDEN / f"{case}.expected.html").read_bytes()
    assert result.mode == spec["mode"]
    assert result.changed
    assert result.applied == tuple(range(len(spec["ops"])))


@pytest.mark.parametrize("case", CASES)
def test_golden_splice_is_dom_equivalent(case: str) -> None:
    """A spliced page parses to the tree the DOM rewrite gives (the reserialised meaning)."""
    spec = json.loads((GOLDEN / f"{case}.json").read_text())
    document = (GOLDEN / f"{case}.html").read_bytes()
    ops = load_ops(spec["ops"])
    spliced = rewrite(document, "utf-8", ops, fill=spec.get("fill"))
    forced = rewrite(document, "utf-8", ops, fill=spec.get("fill"), splice=False)
    assert forced.mode == "reserialise"
    if spliced.mode == "splice":
        assert tree(spliced.body) == tree(forced.body)


def test_splice_keeps_every_byte_outside_the_element() -> None:
    document = (
        b"<!doctype html>\r\n<p class=x>a &amp b</p>\n<h1 id='t'>old <b>x</b></h1>\r\n<!--c-->"
    )
    result = rewrite(document, "utf-8", [SetText("h1", "new")])
    assert result.mode == "splice"
    start, end = document.index(b">old") + 1, document.index(b"</h1>")
    assert changed_ranges(document, result.body) == [(start, end)]
    assert result.body == document[:start] + b"new" + document[end:]


def test_decoys_in_comments_scripts_and_attributes_are_skipped() -> None:
    document = (
        b"<!-- <h1> --><script>document.write('<h1>x</h1>')</script>"
        b"<div title='<h1>'></div><h1>real</h1>"
    )
    result = rewrite(document, "utf-8", [SetText("h1", "ok")])
    assert result.mode == "splice"
    assert result.body == document.replace(b"<h1>real</h1>", b"<h1>ok</h1>")


def test_attribute_rewrite_keeps_other_attributes_bytes() -> None:
    document = b"<a  HREF=/x  data-q='1&amp;2' class=c>t</a>"
    result = rewrite(document, "utf-8", [SetAttr("a", "class", "d"), SetAttr("a", "rel", "x")])
    assert result.body == b'<a  HREF=/x  data-q=\'1&amp;2\' class="d" rel="x">t</a>'


def test_implied_end_tag_falls_back_keeping_bom_and_doctype() -> None:
    doctype = b'<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">'
    document = b"\xef\xbb\xbf" + doctype + b"\n<p>one<p>two\n<table><tr><td>caf\xc3\xa9</table>"
    result = rewrite(document, "utf-8", [SetText("p", "x")])
    assert result.mode == "reserialise"
    assert result.body.startswith(b"\xef\xbb\xbf" + doctype)
    expected = LexborHTMLParser(document[3:].decode(), scripting=True)
    for node in expected.css("p"):
        node.inner_html = ""
        node.insert_child("x")
    tail = tree(result.body[3:].decode()).split("\n", 1)[1]
    assert tail == tree(expected.html or "").split("\n", 1)[1]
    assert "café" in result.body.decode()


def test_fallback_reencodes_in_the_original_codec() -> None:
    document = "<p>a<p>é ü €</p>".encode("cp1252")
    result = rewrite(document, "cp1252", [SetAttr("p", "lang", "fr"), SetText("p", "ÿ")])
    assert result.body.decode("cp1252").count("ÿ") == 2


def test_xss_values_are_escaped() -> None:
    document = b"<h1>x</h1><a href=/>y</a>"
    ops: list[Op] = [
        SetText("h1", "<script>alert(1)</script>"),
        SetAttr("a", "title", '"><script>alert(1)</script>'),
    ]
    result = rewrite(document, "utf-8", ops)
    assert b"<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in result.body
    dom = LexborHTMLParser(result.body.decode())
    assert dom.css("script") == []
    link = dom.css_first("a")
    assert link is not None
    assert link.attributes["title"] == '"><script>alert(1)</script>'


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("onclick", "x()"),
        ("OnLoad", "x()"),
        ("href", " JaVa\tScript:alert(1)"),
        ("src", "javascript:x"),
    ],
)
def test_unsafe_attributes_are_refused(name: str, value: str) -> None:
    document = b"<a href=/>y</a>"
    result = rewrite(document, "utf-8", [SetAttr("a", name, value)])
    assert result.body is document and result.missed == (0,)


def test_placeholders_are_escaped_for_their_context() -> None:
    document = b"<h1>x</h1><a href=/>y</a>"
    values = {"who": '<b>"Ann" & co</b>'}
    ops: list[Op] = [SetText("h1", "Hi {{ who }}"), SetAttr("a", "title", "{{who}}!")]
    result = rewrite(document, "utf-8", ops, fill=values)
    assert b'<h1>Hi &lt;b&gt;"Ann" &amp; co&lt;/b&gt;</h1>' in result.body
    assert b'title="<b>&quot;Ann&quot; &amp; co</b>!"' in result.body


def test_mark_goes_on_the_first_match_only() -> None:
    document = b"<section class=s>a</section><section class=s>b</section>"
    marks = {".s": {"data-vernier-slot": "hero", "data-vernier-variant": "b"}}
    result = rewrite(document, "utf-8", [], mark=marks)
    assert result.mode == "splice"
    assert result.body == document.replace(
        b"<section class=s>a",
        b'<section class=s data-vernier-slot="hero" data-vernier-variant="b">a',
        1,
    )


def test_no_match_is_unchanged_and_the_same_object() -> None:
    document = b"<p>x</p>"
    result = rewrite(document, "utf-8", [SetText("h2", "y"), SetText("p[", "bad selector")])
    assert result.body is document
    assert (result.mode, result.changed, result.applied, result.missed) == (
        "unchanged",
        False,
        (),
        (0, 1),
    )


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_no_ops_is_identity(document: bytes) -> None:
    assert rewrite(document, "utf-8", []).body is document


_MARKUP = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<p class=a>",
            "<div>",
            "</div>",
            "<!--",
            "-->",
            "<script>",
            "</script>",
            "<b>",
            "</b>",
            "<table>",
            "<td>",
            "x",
            " ",
            "<p title='<p>'>",
            "&amp;",
            "<svg>",
            "\r\n",
            "<template>",
            "</template>",
            "<p/>",
            "<!doctype html>",
            "<textarea>",
            "\ufeff",
            "é",
        ]
    ),
    max_size=30,
).map(lambda parts: "".join(parts).encode())


@settings(max_examples=300, deadline=None)
@given(_MARKUP)
def test_set_attr_on_p_never_raises_and_keeps_the_tree(document: bytes) -> None:
    result = rewrite(document, "utf-8", [SetAttr("p", "data-x", "1")])
    if result.mode == "splice":
        assert tree(result.body, without="data-x") == tree(document)


@pytest.mark.corpus
def test_corpus_set_text_splices(corpus_dir: Path) -> None:
    modes: dict[str, int] = {}
    for page in sorted(corpus_dir.glob("**/*.html")):
        document = page.read_bytes()
        dom = LexborHTMLParser(document.decode("utf-8", "replace"), scripting=True)
        selector = "h1" if dom.css_first("h1") is not None else "p"
        result = rewrite(document, "utf-8", [SetText(selector, "Hello")])
        modes[result.mode] = modes.get(result.mode, 0) + 1
    handled = modes.get("splice", 0) / max(1, modes.get("splice", 0) + modes.get("reserialise", 0))
    assert handled >= 0.95, modes
