"""The fast paths (the plain-run pattern, the prescan's skip pattern) change no result.

Each fast path is an optimisation of a careful loop that stays in the code: the scan's walk with
``fast=False`` and the prescan without its skip pattern. Here both run on the same inputs (crafted
cases, hypothesis documents, the real pages, the html5lib corpora) and must agree on everything
the callers see: the point, the meta CSPs with their offsets, the tracker, the declared charset.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.html import prescan
from proxy.html.runs import plain_run
from proxy.html.scan import _Walk, find_insertion_point
from tests.html.test_inject import html_ish

_NEVER = re.compile(b"")  # a skip pattern that skips nothing: the prescan's own loop does it all


def _walk(body: bytes, *, fast: bool, find_charset: bool = False) -> tuple[object, ...]:
    walk = _Walk(body, find_charset=find_charset)
    point = walk.head(3 if body.startswith(b"\xef\xbb\xbf") else 0, fast=fast)
    return point, walk.meta_csp, walk.tracker, walk.charset


def _prescan_slow(body: bytes) -> prescan.MetaCharset | None:
    skip = prescan._SKIP
    prescan._SKIP = _NEVER
    try:
        return prescan.prescan_meta_charset(body)
    finally:
        prescan._SKIP = skip


def assert_fast_paths_agree(body: bytes) -> None:
    for find_charset in (False, True):
        fast = _walk(body, fast=True, find_charset=find_charset)
        assert fast == _walk(body, fast=False, find_charset=find_charset), body[:200]
    assert prescan.prescan_meta_charset(body) == _prescan_slow(body), body[:200]


CASES = [
    b"<head><script></script><meta http-equiv=content-security-policy content=x></head>",
    b"<head><script>x</script></head><p>",
    b"<head><style>a{}</style ><meta http-equiv=content-security-policy content=x></head>",
    b"<head><title>t</title x='</head>'></head>",
    b'<head><meta name="a" content="b"="c>"></head>',
    b'<head><meta a ="</head>"></head>',
    b'<head><meta a= "b"><meta ="</head>"></head>',
    b"<head><meta a/='</head>'></head>",
    b'<head><link href="x"/ ="</head>"></head>',
    b'<head><meta http-equiv="Content-Security-Policy" content="a"></head>',
    b'<head><meta http-equiv="refresh" http-equiv="content-security-policy" content=a></head>',
    b'<head><meta HTTP-EQUIV="content-security-policy" content="a"></head>',
    b'<head><meta http-equiv="content-security-&#112;olicy" content="a"></head>',
    b"<head><meta http-equiv='content-security-policy' content='a'></head>",
    b"<head><meta http-equiv=content-security-policy content='a'></head>",
    b'<head><meta http-equiv = "content-security-policy" content="a"></head>',
    b'<head><meta x="1"http-equiv="content-security-policy" content="a"></head>',
    b'<head><meta charset="utf-8"><meta http-equiv="content-type" content="text/html"></head>',
    b'<head><script src="/__vernier/t.js"></script></head>',
    b"<head><script src='/a/__vernier/t.js' async></script></head>",
    b"<head><script async src=/__vernier/t.js></script></head>",
    b'<head><script data-x="/__vernier/t.js"></script></head>',
    b"<head><script><!--<script></script>--></script><meta http-equiv=content-security-policy"
    b" content=late></head>",
    b"<head><script>" + b"x" * 5000 + b"</script><meta http-equiv=content-security-policy"
    b" content=x></head>",
    b"<head><style>" + b"<" * 50 + b"</style><title>" + b"a<b" * 3000 + b"</title></head>",
    b"<head><metadata a='</head>'></head>",
    b"<head><scripts></scripts></head>",
    b"<head></scriptx></head>",
    b"<head><!-- a --!><!----><!-- -- --><!-->x</head>",
    b"<head><link/><link / ><link\nrel=x\thref='y'></head>",
]


@pytest.mark.parametrize("body", CASES)
def test_crafted_cases(body: bytes) -> None:
    assert_fast_paths_agree(body)


def test_script_end_tag_ends_where_the_tokenizer_says() -> None:
    """The end tag's name is followed by a delimiter that still belongs to the tag's rest."""
    run = plain_run(find_charset=False)
    body = b"<script>x</script><meta http-equiv=content-security-policy content=y>"
    script = run.match(body)
    assert script is not None and script.end() == body.index(b"<meta")
    result = find_insertion_point(b"<head>" + body + b"</head>", charset_known=True)
    assert result is not None and [m.value for m in result.meta_csp] == ["y"]


@settings(max_examples=2000, deadline=None)
@given(text=html_ish)
def test_html_ish_documents(text: str) -> None:
    assert_fast_paths_agree(text.encode("utf-8"))


@settings(max_examples=500, deadline=None)
@given(body=st.binary(max_size=400))
def test_arbitrary_bytes(body: bytes) -> None:
    assert_fast_paths_agree(body)


@pytest.mark.corpus
def test_real_pages(corpus_dir: Path) -> None:
    for page in sorted(corpus_dir.joinpath("pages").glob("*.html")):
        assert_fast_paths_agree(page.read_bytes())


@pytest.mark.corpus
def test_html5lib_corpora(corpus_dir: Path) -> None:
    root = corpus_dir / "html5lib"
    paths = sorted(root.joinpath("tree-construction").glob("*.dat"))
    paths += sorted(root.joinpath("encoding").rglob("*.dat"))
    assert paths
    for path in paths:
        for block in path.read_bytes().split(b"#data\n")[1:]:
            assert_fast_paths_agree(block.partition(b"\n#")[0])
