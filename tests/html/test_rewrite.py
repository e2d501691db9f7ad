"""Golden cases, byte fidelity, the fallback, and the corpus for proxy.html.rewrite."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import html5lib  # type: ignore[import-untyped]
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from proxy.html.locate import find_by_count
from proxy.html.ops.registry import (
    AddClass,
    Append,
    InsertAfter,
    InsertBefore,
    Move,
    Op,
    Operation,
    Prepend,
    Remove,
    RemoveAttr,
    Reorder,
    Replace,
    SetAttr,
    SetHtml,
    SetText,
)
from proxy.html.rewrite import rewrite

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def load_ops(raw: list[Mapping[str, Any]]) -> list[Op]:
    """Ops from the spec's mapping form, as the loader builds them (the same tagged union)."""
    return list(msgspec.convert(raw, tuple[Operation, ...], strict=True))


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


def test_fallback_keeps_a_doctype_behind_an_xml_declaration() -> None:
    """HTML reads ``<?xml …?>`` as a bogus comment; the doctype after it still sets the mode
    (this one: quirks), so the fallback must not write ``<!DOCTYPE html>`` in its place (an
    outside tester's page turned to standards mode in Chromium)."""
    doctype = b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">'
    document = b'<?xml version="1.0" encoding="utf-8"?>\n' + doctype + b"\n<p>one<p>two"
    result = rewrite(document, "utf-8", [SetText("p", "x")])
    assert result.mode == "reserialise"
    assert doctype in result.body and b"<!DOCTYPE html>" not in result.body


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


def test_mark_after_an_op_that_adds_elements_still_splices() -> None:
    document = b"<section class=s>a</section><div id=a>x</div>"
    marks = {".s": {"data-vernier-slot": "hero"}}
    result = rewrite(document, "utf-8", [SetHtml("#a", "<section class=s>n</section>")], mark=marks)
    assert result.mode == "splice"
    assert result.body == (
        b'<section class=s data-vernier-slot="hero">a</section>'
        b"<div id=a><section class=s>n</section></div>"
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


def spliced_and_forced(document: bytes, ops: list[Op]) -> bytes:
    """The spliced body, checked to parse to the tree of the re-serialised one."""
    spliced = rewrite(document, "utf-8", ops)
    forced = rewrite(document, "utf-8", ops, splice=False)
    assert spliced.mode == "splice"
    assert tree(spliced.body) == tree(forced.body)
    return spliced.body


_PAGE = (
    b"<!DOCTYPE html>\r\n<body>\n<h1 id=t>Old <b>x</b></h1>\n<!-- <div id=a> -->"
    b"<ul id=l><li class=one>1</li>\r\n<li class=two>2 <i>two</i></li> <li class=three>3</li></ul>"
    b"<div id=a  title='a&amp;b'>A<p>para</p></div>\n<section id=s><p>s</p></section>\n</body>"
)


@pytest.mark.parametrize(
    ("where", "target", "expected"),
    [
        (
            "before",
            "h1",
            b"<div id=a  title='a&amp;b'>A<p>para</p></div><h1 id=t>Old <b>x</b></h1>",
        ),
        ("after", "#s", b"<section id=s><p>s</p></section><div id=a  title='a&amp;b'>A<p>para"),
        ("into", "#s", b"<section id=s><p>s</p><div id=a  title='a&amp;b'>A<p>para</p></div></"),
    ],
)
def test_move_splices_the_element_bytes(where: str, target: str, expected: bytes) -> None:
    body = spliced_and_forced(_PAGE, [Move("#a", **{where: target})])
    element = b"<div id=a  title='a&amp;b'>A<p>para</p></div>"
    assert expected in body
    assert body.count(element) == 1
    assert body.replace(element, b"") == _PAGE.replace(element, b"")


def test_move_carries_the_edits_made_before_and_after_it() -> None:
    ops: list[Op] = [
        SetAttr("#a", "data-v", "1"),
        Move("#a", before="h1"),
        SetText("#a p", "new"),
        AddClass("h1", "big"),
    ]
    body = spliced_and_forced(_PAGE, ops)
    moved = b"<div id=a  title='a&amp;b' data-v=\"1\">A<p>new</p></div>"
    assert moved + b'<h1 id=t class="big">' in body
    assert body.replace(moved, b"") == _PAGE.replace(
        b"<div id=a  title='a&amp;b'>A<p>para</p></div>", b""
    ).replace(b"<h1 id=t>", b'<h1 id=t class="big">')


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("before", b"<body><i>1</i><i>2</i><i>3</i><b>t</b>\n"),
        ("after", b"<body><b>t</b><i>3</i><i>2</i><i>1</i>\n"),
        ("into", b"<body><b>t<i>1</i><i>2</i><i>3</i></b>\n"),
    ],
)
def test_one_move_of_several_elements_keeps_the_dom_order(where: str, expected: bytes) -> None:
    document = b"<body><i>1</i><i>2</i><b>t</b><i>3</i>\n"
    assert spliced_and_forced(document, [Move("i", **{where: "b"})]) == expected


def test_moves_nest_and_follow_a_removed_container() -> None:
    spliced_and_forced(_PAGE, [Move("h1", into="#a"), Move("#a", after="#s")])
    spliced_and_forced(_PAGE, [Move("h1", into="#s"), Remove("#s")])
    spliced_and_forced(_PAGE, [Move("h1", into="#s"), SetHtml("#s", "<b>gone</b>")])
    spliced_and_forced(_PAGE, [Move("li.two", into="#s"), Move("#s", before="ul")])


def test_reorder_swaps_the_children_bytes_and_keeps_the_text_between() -> None:
    ops: list[Op] = [AddClass(".one", "x"), Reorder("#l", (".three", ".two", ".one"))]
    body = spliced_and_forced(_PAGE, ops)
    assert (
        b'<ul id=l><li class=three>3</li>\r\n<li class=two>2 <i>two</i></li> <li class="one x">1</li>'
        b"</ul>" in body
    )
    before, after = _PAGE.split(b"<ul id=l>")[0], _PAGE.split(b"</ul>")[1]
    assert body.startswith(before) and body.endswith(after)


@pytest.mark.parametrize(
    ("document", "ops"),
    [
        (b"<p>a<p>b</p><div>x</div>", [Move("div", before="p:nth-of-type(2)")]),
        (b"<ul><li>a<li>b</ul><li>c</li>", [Reorder("ul", ("li:last-child", "li"))]),
        (b"<div>x</div><p>a</p>", [Move("div", into="p"), Move("div", before="p")]),
        (b"<div>x</div><p>a</p>", [SetText("p", "t"), Move("div", into="p")]),
        (b"<div>x</div><p>a</p>", [Move("div", after="p"), InsertBefore("div", "<hr>")]),
        (b"<i>x</i><title>t</title><body><p>a</p>", [Reorder("body", ("title", "i"))]),
        (b"<p>x</p><html lang=en>", [Move("p", after="html")]),
    ],
)
def test_moves_that_cannot_be_verified_are_reserialised(document: bytes, ops: list[Op]) -> None:
    result = rewrite(document, "utf-8", ops)
    forced = rewrite(document, "utf-8", ops, splice=False)
    assert result.applied == tuple(range(len(ops)))
    assert tree(result.body) == tree(forced.body)
    assert result.mode == "reserialise"


def test_targets_name_the_elements_each_op_changed() -> None:
    document = b"<h1>a</h1><p class=x>1</p><p>2</p>"
    ops: list[Op] = [
        SetText("h1", "b"),
        AddClass("p", "y"),
        SetAttr(".x", "id", "one"),
        SetText("h2", "missing"),
        Remove("p:not(.x)"),
        SetHtml("h1", "<p>new</p>"),
        SetAttr("p", "lang", "en"),
    ]
    result = rewrite(document, "utf-8", ops)
    h1, (first, second) = result.targets[0], result.targets[1]
    assert len(result.targets) == len(ops) and len(h1) == 1
    assert result.targets[2] == (first,)  # the same element as the add_class's first
    assert result.targets[3] == ()
    assert result.targets[4] == (second,)
    assert result.targets[5] == h1
    new = result.targets[6][0]
    assert result.targets[6] == (new, first) and new not in (*h1, first, second)
    assert result.missed == (3,)


def test_targets_when_nothing_applied() -> None:
    result = rewrite(b"<p>x</p>", "utf-8", [SetText("h2", "y")])
    assert result.targets == ((),)


@pytest.mark.parametrize(
    "document",
    [
        b"<p>a</p><select><button><selectedcontent></selectedcontent></button>"
        b"<option><div>o</div></option></select><div id=t>x</div>",
        b"<image src=a><img id=t src=b>",
        b"<!-- <div> --><script>'<div>'</script><div title='<div>'></div><div id=t>x</div>",
        b"<table><tr><td>1</td></tr></table><tr id=t><td>x</td></tr>",
    ],
)
def test_names_the_page_may_hold_without_their_start_tag_are_counted_by_scanning(
    document: bytes,
) -> None:
    result = rewrite(document, "utf-8", [SetAttr("#t", "data-v", "1")])
    forced = rewrite(document, "utf-8", [SetAttr("#t", "data-v", "1")], splice=False)
    assert tree(result.body) == tree(forced.body)
    if result.mode == "splice":
        assert result.body.replace(b' data-v="1"', b"") == document


@pytest.mark.parametrize(
    ("lowered", "name", "count", "expected"),
    [
        (b"<h1 x><h1><h12><h1", b"h1", 3, [0, 6, 15]),  # start_tag_at refuses the cut-off one
        (b"<h1 x><h1/><h12>", b"h1", 2, [0, 6]),
        (b"<!-- <h1> --><h1>", b"h1", 1, None),  # two "<h1" for one element: one is a decoy
        (b"<img a><image>", b"img", 2, None),  # "<image" makes an img
        (b"<images><img\n>", b"img", 1, [8]),
        (b"<p>a</p>", b"p", 1, None),  # "</p>" can make a p: always scanned
    ],
)
def test_find_by_count_proves_every_candidate_is_a_start_tag(
    lowered: bytes, name: bytes, count: int, expected: list[int] | None
) -> None:
    assert find_by_count(lowered, name, count) == expected


def test_names_that_need_a_scan_share_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import proxy.html.sourcemap as sourcemap
    from proxy.html.locate import find_start_tags as scan  # the function sourcemap calls

    scans: list[frozenset[bytes]] = []

    def counted(buf: bytes, names: frozenset[bytes], pos: int) -> Any:
        scans.append(names)
        return scan(buf, names, pos)

    monkeypatch.setattr(sourcemap, "find_start_tags", counted)
    document = b"<h1>t</h1><p>a</p><p>b</p><div><a href=/x>x</a></div>"
    ops: list[Op] = [SetText("h1", "n"), AddClass("p", "k"), SetAttr("div > a", "rel", "n")]
    assert rewrite(document, "utf-8", ops).mode == "splice"
    assert scans == [frozenset((b"p", b"a"))]  # h1 and div: by count


def test_invalid_utf8_is_read_as_python_decodes_it() -> None:
    document = b"<p>a\xe2\x00\xbf\x80</p><h1>t</h1>"
    result = rewrite(document, "utf-8", [SetText("h1", "n")])
    assert result.body == document.replace(b"<h1>t</h1>", b"<h1>n</h1>")
    forced = rewrite(document, "utf-8", [SetText("h1", "n")], splice=False)
    assert "<p>a\ufffd\ufffd\ufffd</p>" in forced.body.decode()  # Lexbor's own decoder: "a\u2fc0"


_BLOCKS = st.lists(
    st.sampled_from(
        [
            "<div class=a>",
            "<div>",
            "</div>",
            "<p>x</p>",
            "<section id=s>",
            "</section>",
            "<b>b</b>",
            "<!-- <div> -->",
            " ",
            "t",
            "<ul><li class=a>1</li><li>2</li></ul>",
            "<span class=a>s</span>",
        ]
    ),
    max_size=20,
).map(lambda parts: ("<body>" + "".join(parts)).encode())  # a leading comment stays in body
_MOVES = st.sampled_from(
    [
        Move(".a", before="p"),
        Move("p", into="div"),
        Move("span", after="section"),
        Move("section", before="div.a"),
        Reorder("ul", ("li:last-child", "li")),
        Reorder("div", ("span", "p", "b")),
        SetText("div", "z"),
        AddClass("p", "c"),
        Remove("b"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(_BLOCKS, st.lists(_MOVES, min_size=1, max_size=3))
def test_spliced_moves_parse_to_the_reserialised_tree(document: bytes, ops: list[Op]) -> None:
    result = rewrite(document, "utf-8", ops)
    forced = rewrite(document, "utf-8", ops, splice=False)
    if result.mode == "splice":
        assert tree(result.body) == tree(forced.body)


@pytest.mark.parametrize(
    ("document", "ops", "expected"),
    [
        (b"<p></p>", [Prepend("p", "A"), Append("p", "B")], b"<p>AB</p>"),
        (b"<p></p>", [Append("p", "B"), Prepend("p", "A")], b"<p>AB</p>"),
        (b"<p></p>", [Prepend("p", "A"), Prepend("p", "<i>C</i>")], b"<p><i>C</i>A</p>"),
        (b"<p></p><b>m</b>", [Prepend("p", "A"), Move("b", into="p")], b"<p>A<b>m</b></p>"),
        (b"<p></p><b>m</b>", [Move("b", into="p"), Prepend("p", "A")], b"<p>A<b>m</b></p>"),
    ],
)
def test_prepend_and_append_on_an_empty_element_keep_the_dom_order(
    document: bytes, ops: list[Op], expected: bytes
) -> None:
    assert spliced_and_forced(document, ops) == expected


_TAIL = b"<body><p>a</p> </body>\n<!--c-->\n</html>\r\n"


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([SetText("body", "n")], b"<body>n</body><!--c--></html>"),
        ([SetHtml("body", "<i>n</i>")], b"<body><i>n</i></body><!--c--></html>"),
        ([Append("body", "<i>n</i>")], b"<body><p>a</p> \n\n\r\n<i>n</i></body><!--c--></html>"),
        ([InsertAfter("p", "<i>n</i>")], b"<body><p>a</p><i>n</i> </body>\n<!--c-->\n</html>\r\n"),
        ([Prepend("body", "<i>n</i>")], b"<body><i>n</i><p>a</p> </body>\n<!--c-->\n</html>\r\n"),
    ],
)
def test_the_whitespace_after_the_body_end_tag_is_the_body_s_last_content(
    ops: list[Op], expected: bytes
) -> None:
    """The tree builder appends it to the body: replaced with the content, kept before appends."""
    assert spliced_and_forced(_TAIL, ops) == expected


def test_a_move_into_the_body_lands_after_the_whitespace_after_its_end_tag() -> None:
    document = b"<body><p>a</p><div>d</div>\n</body>\n"
    body = spliced_and_forced(document, [Move("p", into="body")])
    assert body == b"<body><div>d</div>\n\n<p>a</p></body>"


@pytest.mark.parametrize(
    ("document", "ops"),
    [
        (b"<body><p>a</p></body>x", [Append("body", "n")]),
        (b"<body><p>a</p></body><!--c--></html><b>x</b>", [SetText("body", "n")]),
        (b"x<body>y</body>", [SetText("body", "n")]),  # the body was implied before "<body>"
        (b"<title>t</title>x<body>y</body>", [Append("body", "n")]),
        (b"<p>x</p><head class=h>", [RemoveAttr("head", "class")]),  # an ignored <head>
        (b"<p>a<p>b</p>", [Replace("p + p", "X")]),  # "<p>" ends the first p: X would go in it
        (b"<li>a<li>b</li>", [InsertBefore("li + li", "X")]),
    ],
)
def test_what_the_tags_do_not_delimit_is_reserialised(document: bytes, ops: list[Op]) -> None:
    result = rewrite(document, "utf-8", ops)
    forced = rewrite(document, "utf-8", ops, splice=False)
    assert result.mode == "reserialise"
    assert tree(result.body) == tree(forced.body)


@pytest.mark.parametrize(
    ("document", "ops"),
    [
        (b"<!doctype html><!--c--> <html></p><head id=h>", [SetAttr("head", "class", "k")]),
        (b"<head><script>'<p>'</script></head>\n<body><p>a</p></body>", [SetText("body", "n")]),
        (b"<body><p>a</p><p>b</p>", [InsertBefore("p + p", "X"), Replace("p", "<i>Y</i>")]),
        (b"<p>a</p><div>\r\n</div>", [SetText("div", "a\r\nb"), SetAttr("p", "title", "\r")]),
    ],
)
def test_what_the_tags_delimit_is_spliced(document: bytes, ops: list[Op]) -> None:
    spliced_and_forced(document, ops)


@pytest.mark.parametrize(
    ("document", "ops"),
    [
        (b"<pre>\ncode</pre>", [Prepend("pre", "X")]),
        (b"<pre>\r\ncode</pre>", [Prepend("pre", "\nX")]),
        (b"<pre>code</pre>", [Prepend("pre", "\nX")]),
        (b"<pre>a</pre>", [SetText("pre", "\nX")]),
        (b"<textarea>a</textarea>", [SetText("textarea", "\n\nX")]),
        (b"<listing></listing>", [Append("listing", "\nX")]),
        (b"<pre>\n</pre>", [Append("pre", "\nX")]),
        (b"<pre>\n<b>x</b></pre>", [InsertBefore("b", "Y"), Prepend("pre", "Z")]),
    ],
)
def test_the_newline_the_parser_drops_after_a_pre_start_tag(document: bytes, ops: list[Op]) -> None:
    """One newline right after ``<pre>``/``<textarea>``/``<listing>`` is not content: new
    content that starts with one gets another, and prepends go after the dropped one."""
    spliced_and_forced(document, ops)


@pytest.mark.parametrize(
    ("document", "ops"),
    [
        (b"<div id=d><p>a</p></div>", [InsertBefore("p", "<!--")]),  # would hide the rest
        (b"<div id=d><p>a</p></div>", [Append("p", "<b>x")]),  # would take in "</p></div>"
        (b"<div><div id=d>x</div><p>y</p></div>", [InsertAfter("#d", "</div>")]),
        (b"<p>a</p><p>b</p>", [Prepend("p", "x&no")]),  # "&no" + "t" would be "\u00act"
        (b"<div id=d>", [InsertBefore("div", "\r\n\u00e9")]),  # the body starts at "<div"
        (b"<img src=a alt><!-- c -->", [Remove("img")]),  # the comment would leave the body
        (b"<p>a<p>b</p>c", [Remove("p + p")]),  # "c" would join the first p
        (b"<body><svg><circle r=1/></svg>", [InsertBefore("circle", "<b>x</b>")]),
        (b"<body><p>a</p></body>\n", [InsertAfter("body", "x")]),
        (b"<body>\r</body>\n", [Append("body", "")]),  # "\r" + "\n" would be one line break
    ],
)
def test_what_a_splice_cannot_keep_apart_is_reserialised(document: bytes, ops: list[Op]) -> None:
    result = rewrite(document, "utf-8", ops)
    forced = rewrite(document, "utf-8", ops, splice=False)
    assert result.mode == "reserialise"
    assert tree(result.body) == tree(forced.body)


def test_an_attribute_left_out_keeps_its_neighbours_apart() -> None:
    document = b"<p a=1 class='x'b=2>t</p>"
    assert spliced_and_forced(document, [RemoveAttr("p", "class")]) == b"<p a=1 b=2>t</p>"


def test_an_element_that_holds_an_svg_is_spliced() -> None:
    document = b"<body><div id=d><svg><circle r=1/></svg></div>\n</body>\n"
    body = spliced_and_forced(document, [Append("#d", "<b>x</b>"), Append("body", "<i>y</i>")])
    assert body == b"<body><div id=d><svg><circle r=1/></svg><b>x</b></div>\n\n<i>y</i></body>"
