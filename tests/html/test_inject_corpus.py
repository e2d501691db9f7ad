"""Tree fidelity on the shared corpus (docs/reliability.md HR-01, HR-06) and byte fidelity on real
pages.

Each document is injected with a marker tag and parsed before and after by two HTML5 parsers with
scripting on: html5lib (the reference the test plan names) and Lexbor via selectolax (it implements
``<template>``, which html5lib 1.1 predates). After removing the one marker ``<script>``, the trees
must be identical.

Exclusions, asserted rather than skipped:

- Documents that end inside a comment opened before ``<head>`` (``<!-- x``, ``<?``, ``</#``):
  every byte position is either inside the comment or moves the comment into ``<head>``, so no
  valid point exists and the scan refuses them (fail open). They are listed in ``NO_VALID_POINT``.
- html5lib's tree is not consulted for documents with ``<template>`` (html5lib 1.1 has no template
  support and builds a non-standard tree for them); Lexbor checks those.
- Documents with NUL bytes near the start are refused by :func:`inject_tag`'s binary guard; the
  scan itself is checked on them through :func:`find_insertion_point`.
"""

from __future__ import annotations

from pathlib import Path

import html5lib  # type: ignore[import-untyped]
import pytest
from selectolax.lexbor import LexborHTMLParser

from proxy.html.inject import inject_tag
from proxy.html.scan import find_insertion_point

MARKER = '<script src="/__vernier/t.js" defer></script>'
MARKER_SRC = "/__vernier/t.js"
NO_VALID_POINT = frozenset(
    {
        "<?xml version",
        "</#",
        "<?",
        "<?#",
        "<!",
        "<!#",
        "<!DOCTYPE html><!-- X",
        "<!DOCTYPE html><!-- XXX - XXX",
        "<!DOCTYPE html><!--x--",
        "<!---x",
    }
)
TREE_DIR = ("html5lib", "tree-construction")


def _html5lib_tree(text: str) -> tuple[str, list[str]]:
    """html5lib's test serialisation without marker scripts, and the markers' parent tags."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("dom"))
    document = parser.parse(text, scripting=True)
    parents = []
    for element in list(document.getElementsByTagName("script")):
        if element.getAttribute("src") == MARKER_SRC:
            parents.append(element.parentNode.tagName)
            element.parentNode.removeChild(element)
    document.normalize()
    return parser.tree.testSerializer(document), parents


def _lexbor_tree(text: str) -> tuple[str, list[str]]:
    """Lexbor's serialisation without live marker scripts, and the markers' parent tags."""
    parser = LexborHTMLParser(text, scripting=True)
    parents = []
    for node in parser.css("script"):  # never matches inside <template> contents: those are inert
        if node.attributes.get("src") == MARKER_SRC:
            parents.append((node.parent.tag or "") if node.parent is not None else "")
            node.decompose()
    parser.merge_text_nodes()
    return parser.html or "", parents


def assert_tree_gains_only_marker(before: str, after: str, *, html5lib_too: bool = True) -> str:
    """Both parsers: ``after`` is ``before`` plus one live marker ``<script>``; its parent tag."""
    checks = [_lexbor_tree] + ([_html5lib_tree] if html5lib_too else [])
    parent = ""
    for tree in checks:
        expected, existing = tree(before)
        got, parents = tree(after)
        assert len(parents) == len(existing) + 1, (tree.__name__, parents)
        assert got == expected, tree.__name__
        parent = parents[-1]
    return parent


def _tree_cases(path: Path) -> list[str]:
    """The ``#data`` of each full-document case (no fragments, none that need scripting off)."""
    cases = []
    for block in path.read_text("utf-8").split("#data\n")[1:]:
        data, _, rest = block.partition("\n#errors")
        if "#document-fragment" not in rest and "#script-off" not in rest:
            cases.append(data)
    return cases


def _tree_files() -> list[str]:
    from tests.conftest import corpus_root

    root = corpus_root()
    if root is None:
        return ["(corpus missing)"]
    return sorted(p.name for p in root.joinpath(*TREE_DIR).glob("*.dat"))


@pytest.mark.corpus
@pytest.mark.parametrize("dat_file", _tree_files())
def test_tree_construction_corpus(corpus_dir: Path, dat_file: str) -> None:
    refused = []
    for data in _tree_cases(corpus_dir.joinpath(*TREE_DIR, dat_file)):
        body = data.encode("utf-8", "surrogatepass")
        injection = inject_tag(body, MARKER, header_charset="utf-8")
        if injection is not None:
            assert (
                injection.body
                == body[: injection.offset] + MARKER.encode() + body[injection.offset :]
            )
            after = injection.body
        else:
            scan = find_insertion_point(body, charset_known=True)
            if scan is None:
                refused.append(data)
                continue
            # only the binary guard may refuse, and the one for blank and JSON bodies (HR-11)
            assert b"\x00" in body[:1024] or body.lstrip()[:1] in (b"", b"{", b"["), data
            after = body[: scan.insert_at] + MARKER.encode() + body[scan.insert_at :]
        text = after.decode("utf-8", "surrogatepass")
        parent = assert_tree_gains_only_marker(
            data, text, html5lib_too="<template" not in data.lower()
        )
        assert parent == "head", data
    assert set(refused) <= NO_VALID_POINT, refused


def test_documents_without_a_valid_point_end_in_a_top_level_comment() -> None:
    for data in NO_VALID_POINT:
        assert find_insertion_point(data.encode(), charset_known=True) is None
        parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("dom"))
        document = parser.parse(data, scripting=True)
        last = document.childNodes[-1]
        top_level = [n for n in document.childNodes if n.nodeType == n.COMMENT_NODE]
        assert top_level or last.firstChild.nodeType == last.COMMENT_NODE, data


def _pages(corpus: Path) -> list[Path]:
    pages = sorted(corpus.joinpath("pages").glob("*.html"))
    assert len(pages) >= 40
    return pages


@pytest.mark.corpus
@pytest.mark.parametrize("header_charset", [None, "utf-8"])
def test_real_pages_keep_every_byte(corpus_dir: Path, header_charset: str | None) -> None:
    """No page is refused; the output is the input with the tag spliced in, nothing else."""
    tag = '<script src="/__vernier/t.js?v=abc" defer data-vernier-page="p1"></script>'
    for page in _pages(corpus_dir):
        body = page.read_bytes()
        injection = inject_tag(body, tag, header_charset=header_charset)
        assert injection is not None, page.name
        offset, inserted = injection.offset, injection.inserted
        assert inserted == tag.encode()
        assert injection.body == body[:offset] + inserted + body[offset:], page.name


@pytest.mark.corpus
def test_real_pages_get_a_live_script_in_the_head(corpus_dir: Path) -> None:
    """html5lib sees a real <script> in <head> (parsing up to the tag: the head never moves);
    Lexbor parses whole pages and sees the same tree plus the script."""
    for page in _pages(corpus_dir):
        body = page.read_bytes()
        injection = inject_tag(body, MARKER, header_charset=None)
        assert injection is not None, page.name
        codec = injection.encoding.codec
        prefix = injection.body[: injection.offset + len(injection.inserted)]
        _, parents = _html5lib_tree(prefix.decode(codec, "replace"))
        assert parents == ["head"], page.name
        before, after = body.decode(codec, "replace"), injection.body.decode(codec, "replace")
        expected, _ = _lexbor_tree(before)
        got, parents = _lexbor_tree(after)
        assert parents == ["head"] and got == expected, page.name
