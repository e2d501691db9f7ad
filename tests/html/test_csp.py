"""CSP editing: the diff is only our nonce (and beacon source), and nothing the site relied on breaks.

Besides exact expectations, a small independent CSP evaluator below checks the meaning of every
edit: our element and beacons are allowed, inline scripts and handlers are allowed exactly when they
were before, ``eval`` is unchanged, and every directive we do not own is untouched.
"""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.html.csp import allow_tracker, edit_policies, make_nonce

N = "n0nce"
NS = f"'nonce-{N}'"
BEACON = "https://shop.example/__vernier/"


# --- exact edits ---------------------------------------------------------------------------------

CASES: list[tuple[str, str, str | None]] = [
    # SE-04 rows
    ("no policy", "", ""),
    ("script-src self", "script-src 'self'", f"script-src 'self' {NS}"),
    ("default-src only", "default-src 'self'", f"default-src 'self'; script-src 'self' {NS}"),
    (
        "nonce + strict-dynamic",
        "script-src 'nonce-r4nd0m' 'strict-dynamic' https:; object-src 'none'; base-uri 'none'",
        f"script-src 'nonce-r4nd0m' 'strict-dynamic' https: {NS}; object-src 'none'; base-uri 'none'",
    ),
    (
        "hashes only",
        "script-src 'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='",
        f"script-src 'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8=' {NS}",
    ),
    (
        "two policies in one value",
        "default-src 'self', script-src 'none'",
        f"default-src 'self'; script-src 'self' {NS}, script-src {NS}",
    ),
    ("connect-src none", "connect-src 'none'", "connect-src 'self'"),
    (
        "default-src none",
        "default-src 'none'",
        f"default-src 'none'; script-src {NS}; connect-src 'self'",
    ),
    ("unparsable: non-ASCII", "script-src 'self' https://exämple.com", None),
    ("unparsable: NUL", "script-src 'self'\x00", None),
    ("unparsable: CR LF in a header", "script-src 'self'\r\n img-src *", None),
    ("unparsable: vertical tab", "script-src\x0b'self'", None),
    ("unparsable: DEL", "script-src 'self'\x7f", None),
    ("unparsable: bad directive name", "script_src 'self'", None),
    ("unparsable: name glued to quote", "script-src'self'", None),
    ("unparsable: name of another policy", "img-src *, é-src 'self'", None),
    ("sandbox alone", "sandbox", None),
    ("sandbox without allow-scripts", "default-src 'self'; sandbox allow-forms", None),
    ("sandbox in a second policy", "script-src 'self', sandbox allow-forms", None),
    (
        "sandbox with allow-scripts",
        "sandbox allow-scripts allow-forms",
        "sandbox allow-scripts allow-forms",
    ),
    (
        "sandbox, case-insensitive",
        "SANDBOX Allow-Scripts; script-src 'self'",
        f"SANDBOX Allow-Scripts; script-src 'self' {NS}",
    ),
    # duplicates: the first wins, later ones are left alone
    (
        "duplicate script-src",
        "script-src 'self'; script-src 'none'",
        f"script-src 'self' {NS}; script-src 'none'",
    ),
    (
        "duplicate sandbox: only the first counts",
        "sandbox allow-scripts; sandbox",
        "sandbox allow-scripts; sandbox",
    ),
    # case of names and keywords is kept
    ("case kept", "Script-Src 'SELF'", f"Script-Src 'SELF' {NS}"),
    ("upper-case none", "CONNECT-SRC 'NONE'", "CONNECT-SRC 'self'"),
    (
        "upper-case default-src",
        "DEFAULT-SRC 'SELF'",
        f"DEFAULT-SRC 'SELF'; script-src 'SELF' {NS}",
    ),
    # whitespace and semicolons are kept
    (
        "whitespace kept",
        "  script-src\t'self'   https://cdn.example  ;  img-src *  ",
        f"  script-src\t'self'   https://cdn.example {NS}  ;  img-src *  ",
    ),
    (
        "trailing semicolons",
        "default-src 'self';;",
        f"default-src 'self'; script-src 'self' {NS};;",
    ),
    ("empty list means none", "script-src; img-src *", f"script-src {NS}; img-src *"),
    ("empty list at the end", "img-src *; script-src ;", f"img-src *; script-src {NS} ;"),
    ("empty connect list", "connect-src", "connect-src 'self'"),
    ("only separators", " ; ;, ,", " ; ;, ,"),
    # 'none' with other sources is not 'none'
    (
        "none plus a source",
        "script-src 'none' https://a.example",
        f"script-src 'none' https://a.example {NS}",
    ),
    # script-src-elem and script-src
    (
        "elem and script-src both get the nonce",
        "script-src-elem 'self'; script-src 'self'",
        f"script-src-elem 'self' {NS}; script-src 'self' {NS}",
    ),
    (
        "elem only: default-src left alone",
        "default-src 'none'; script-src-elem 'self'",
        f"default-src 'none'; script-src-elem 'self' {NS}; connect-src 'self'",
    ),
    (
        "script-src-attr is not ours",
        "script-src-attr 'none'; default-src 'self'",
        f"script-src-attr 'none'; default-src 'self'; script-src 'self' {NS}",
    ),
    # 'unsafe-inline' in force: a nonce would switch it off, so 'self' instead (if needed)
    (
        "unsafe-inline with self",
        "script-src 'self' 'unsafe-inline'",
        "script-src 'self' 'unsafe-inline'",
    ),
    (
        "unsafe-inline without self",
        "script-src https://cdn.example 'unsafe-inline'",
        "script-src https://cdn.example 'unsafe-inline' 'self'",
    ),
    ("unsafe-inline with star", "script-src * 'unsafe-inline'", "script-src * 'unsafe-inline'"),
    (
        "unsafe-inline with https: only",
        "script-src https: 'unsafe-inline'",
        "script-src https: 'unsafe-inline' 'self'",
    ),
    (
        "unsafe-inline already overridden by a hash",
        "script-src 'unsafe-inline' 'sha256-abc='",
        f"script-src 'unsafe-inline' 'sha256-abc=' {NS}",
    ),
    (
        "unsafe-inline overridden by strict-dynamic",
        "script-src 'unsafe-inline' 'strict-dynamic' 'nonce-x'",
        f"script-src 'unsafe-inline' 'strict-dynamic' 'nonce-x' {NS}",
    ),
    (
        "unsafe-inline in default-src",
        "default-src https://cdn.example 'unsafe-inline'",
        (
            "default-src https://cdn.example 'unsafe-inline'; "
            "script-src https://cdn.example 'unsafe-inline' 'self'; "
            "connect-src https://cdn.example 'unsafe-inline' 'self'"
        ),
    ),
    (
        "unsafe-inline in default-src with self: nothing to do",
        "default-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "default-src 'self' 'unsafe-inline' 'unsafe-eval'",
    ),
    # beacons
    ("connect-src self", "connect-src 'self'", "connect-src 'self'"),
    ("connect-src star", "connect-src *", "connect-src *"),
    ("connect-src http:", "connect-src http:", "connect-src http:"),
    ("connect-src https:", "connect-src https:", "connect-src https: 'self'"),
    (
        "connect-src other hosts",
        "connect-src https://api.example wss://ws.example",
        "connect-src https://api.example wss://ws.example 'self'",
    ),
    (
        "default-src hosts only",
        "default-src https://cdn.example",
        (
            f"default-src https://cdn.example; script-src https://cdn.example {NS}; "
            "connect-src https://cdn.example 'self'"
        ),
    ),
    # other directives pass through untouched
    (
        "reporting kept",
        "default-src 'self'; report-uri /csp-report; report-to csp-endpoint",
        f"default-src 'self'; report-uri /csp-report; report-to csp-endpoint; script-src 'self' {NS}",
    ),
    (
        "no fetch directives",
        "frame-ancestors 'none'; upgrade-insecure-requests",
        "frame-ancestors 'none'; upgrade-insecure-requests",
    ),
    (
        "unknown directive kept",
        "x-future 'whatever'; img-src data:",
        "x-future 'whatever'; img-src data:",
    ),
    (
        "new directives go after the last directive, before trailing separators",
        "default-src 'self'; img-src * ;  ",
        f"default-src 'self'; img-src *; script-src 'self' {NS} ;  ",
    ),
    (
        "edits inside and appended at the same place",
        "default-src 'none'; connect-src https://api.example",
        f"default-src 'none'; connect-src https://api.example 'self'; script-src {NS}",
    ),
]


@pytest.mark.parametrize(
    ("policy", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_allow_tracker(policy: str, expected: str | None) -> None:
    assert allow_tracker(policy, nonce=N) == expected


def test_custom_connect_source() -> None:
    assert (
        allow_tracker("default-src 'none'", nonce=N, connect_source=BEACON)
        == f"default-src 'none'; script-src {NS}; connect-src {BEACON}"
    )
    assert allow_tracker(f"connect-src {BEACON}", nonce=N, connect_source=BEACON) == (
        f"connect-src {BEACON}"
    )
    assert (
        allow_tracker("connect-src 'self'", nonce=N, connect_source=BEACON) == "connect-src 'self'"
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("script-src 'self';\n  img-src *", f"script-src 'self' {NS};\n  img-src *"),
        ("sandbox; script-src 'self'", f"sandbox; script-src 'self' {NS}"),  # no effect in <meta>
        (
            "default-src 'self', script-src 'none'",
            None,
        ),  # one policy: a comma is not in the grammar
        ("script-src\f'self'\r", f"script-src\f'self' {NS}\r"),
    ],
)
def test_meta_policy(policy: str, expected: str | None) -> None:
    assert allow_tracker(policy, nonce=N, single_policy=True) == expected


@pytest.mark.parametrize("nonce", ["", "a b", "a;b", "'x'", "abc===", "é"])
def test_bad_nonce_is_a_programming_error(nonce: str) -> None:
    with pytest.raises(ValueError):
        allow_tracker("script-src 'self'", nonce=nonce)


@pytest.mark.parametrize("source", ["", "'self' https://a", "a;b", "a,b", "\t"])
def test_bad_connect_source_is_a_programming_error(source: str) -> None:
    with pytest.raises(ValueError):
        allow_tracker("script-src 'self'", nonce=N, connect_source=source)


def test_make_nonce() -> None:
    nonces = {make_nonce() for _ in range(1000)}
    assert len(nonces) == 1000
    for nonce in nonces:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", nonce)
        assert len(base64.urlsafe_b64decode(nonce + "==")) == 16
        assert allow_tracker("script-src 'none'", nonce=nonce) == f"script-src 'nonce-{nonce}'"


def test_edit_policies() -> None:
    assert edit_policies([], nonce=N, connect_source="'self'") == []
    assert edit_policies(
        ["script-src 'self'", "connect-src 'none'"], nonce=N, connect_source="'self'"
    ) == [f"script-src 'self' {NS}", "connect-src 'self'"]
    assert (
        edit_policies(["script-src 'self'", "img-src é"], nonce=N, connect_source="'self'") is None
    )
    assert edit_policies(["sandbox"], nonce=N, connect_source="'self'") is None


# --- an independent evaluator ------------------------------------------------------------------

Policy = dict[str, list[str]]
ELEM = ("script-src-elem", "script-src", "default-src")
OLD_BROWSER_ELEM = ("script-src", "default-src")
ATTR = ("script-src-attr", "script-src", "default-src")
CONNECT = ("connect-src", "default-src")
OURS = {"script-src-elem", "script-src", "connect-src"}


def policies_of(value: str, *, single: bool = False) -> list[Policy]:
    policies = []
    for text in [value] if single else value.split(","):
        policy: Policy = {}
        for directive in text.split(";"):
            words = directive.split()
            if words:
                policy.setdefault(words[0].lower(), words[1:])
        if policy:
            policies.append(policy)
    return policies


def effective(policy: Policy, chain: tuple[str, ...]) -> list[str] | None:
    return next((policy[name] for name in chain if name in policy), None)


def lowered(words: list[str]) -> list[str]:
    return [w.lower() for w in words]


def is_none(words: list[str]) -> bool:
    return not words or lowered(words) == ["'none'"]


def inline_allowed(words: list[str] | None) -> bool:
    if words is None:
        return True
    low = lowered(words)
    overridden = any(
        w.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) or w == "'strict-dynamic'"
        for w in low
    )
    return "'unsafe-inline'" in low and not overridden


def same_origin_allowed(words: list[str] | None, extra: str = "") -> bool:
    if words is None:
        return True
    if is_none(words):
        return False
    low = set(lowered(words))
    return bool(low & {"'self'", "*", "http:"}) or (extra != "" and extra.lower() in low)


def our_element_allowed(words: list[str] | None, nonce: str) -> bool:
    if words is None or f"'nonce-{nonce}'" in words:
        return True
    return "'strict-dynamic'" not in lowered(words) and same_origin_allowed(words)


def eval_allowed(words: list[str] | None) -> bool:
    return words is None or "'unsafe-eval'" in lowered(words)


def unsafe_words(policy: Policy) -> set[str]:
    return {
        w.lower() for words in policy.values() for w in words if w.lower().startswith("'unsafe-")
    }


def check_meaning(
    before: str, after: str, nonce: str, connect_source: str, *, single: bool
) -> None:
    old, new = policies_of(before, single=single), policies_of(after, single=single)
    assert len(old) == len(new)
    for was, now in zip(old, new, strict=True):
        # our element and our beacons are allowed, also by browsers without script-src-elem
        assert our_element_allowed(effective(now, ELEM), nonce)
        if "script-src" in now or "script-src-elem" not in now:
            # (a policy with script-src-elem but no script-src is left to CSP3 browsers)
            assert our_element_allowed(effective(now, OLD_BROWSER_ELEM), nonce)
        assert same_origin_allowed(effective(now, CONNECT), connect_source)
        # nothing the page relied on changes
        for chain in (ELEM, OLD_BROWSER_ELEM, ATTR):
            assert inline_allowed(effective(was, chain)) == inline_allowed(effective(now, chain))
        was_, now_ = effective(was, OLD_BROWSER_ELEM), effective(now, OLD_BROWSER_ELEM)
        assert eval_allowed(was_) == eval_allowed(now_)
        assert unsafe_words(now) <= unsafe_words(was)
        # directives that are not ours are identical
        assert {k: v for k, v in was.items() if k not in OURS} == {
            k: v for k, v in now.items() if k not in OURS
        }
        # ours only grow: every original source is kept, except a lone 'none'
        for name in OURS & was.keys():
            if not is_none(was[name]):
                assert now[name][: len(was[name])] == was[name]
        # the nonce goes nowhere else
        for name, words in now.items():
            if f"'nonce-{nonce}'" in words:
                assert name in ("script-src-elem", "script-src")
    # apart from the first directive of each name we own, every directive is kept, text and order
    assert untouched(before, single=single) == untouched(after, single=single)


def untouched(value: str, *, single: bool) -> list[list[str]]:
    kept = []
    for text in [value] if single else value.split(","):
        seen: set[str] = set()
        texts = []
        for directive in text.split(";"):
            words = directive.split()
            if not words:
                continue
            name = words[0].lower()
            if name in OURS and name not in seen:
                seen.add(name)
                continue
            texts.append(directive.strip())
        kept.append(texts)
    return kept


@pytest.mark.parametrize(
    ("policy", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_cases_mean_what_they_should(policy: str, expected: str | None) -> None:
    if expected is not None:
        check_meaning(policy, expected, N, "'self'", single=False)


# --- properties ----------------------------------------------------------------------------------

NAMES = [
    "default-src", "script-src", "script-src-elem", "script-src-attr", "connect-src", "img-src",
    "style-src", "object-src", "base-uri", "report-uri", "report-to", "frame-ancestors", "sandbox",
    "upgrade-insecure-requests", "require-trusted-types-for", "worker-src", "x-unknown",
]  # fmt: skip
SOURCES = [
    "'self'", "'none'", "'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'",
    "'wasm-unsafe-eval'", "'report-sample'", "'nonce-abc123'", "'sha256-AbC+/1='", "*", "http:",
    "https:", "data:", "blob:", "https://cdn.example", "*.example.com", "/csp", "allow-scripts",
    "allow-forms", "'script'", BEACON,
]  # fmt: skip


def _case_variants(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.title()])


_ws = st.sampled_from([" ", "  ", "\t", " \t "])
_directive = st.builds(
    lambda name, sep, words: name + "".join(sep + w for w in words),
    st.sampled_from(NAMES).flatmap(_case_variants),
    _ws,
    st.lists(st.sampled_from(SOURCES).flatmap(_case_variants), max_size=4),
)
_policy = st.builds(
    lambda lead, directives, seps, tail: (
        lead + "".join(d + s for d, s in zip(directives, seps, strict=False)) + tail
    ),
    st.sampled_from(["", " ", "\t"]),
    st.lists(_directive, min_size=0, max_size=6),
    st.lists(st.sampled_from([";", "; ", " ;", ";;", ";\t"]), min_size=6, max_size=6),
    st.sampled_from(["", " ", ";"]),
)
_header_value = st.lists(_policy, min_size=1, max_size=3).map(", ".join)


def sandboxed(value: str) -> bool:
    return any(
        "sandbox" in p and "allow-scripts" not in lowered(p["sandbox"]) for p in policies_of(value)
    )


@settings(max_examples=400)
@given(value=_header_value, connect_source=st.sampled_from(["'self'", BEACON]))
def test_header_property(value: str, connect_source: str) -> None:
    nonce = make_nonce()
    edited = allow_tracker(value, nonce=nonce, connect_source=connect_source)
    if sandboxed(value):
        assert edited is None
        return
    assert edited is not None
    check_meaning(value, edited, nonce, connect_source, single=False)
    assert allow_tracker(edited, nonce=nonce, connect_source=connect_source) == edited


@settings(max_examples=200)
@given(value=_policy)
def test_meta_property(value: str) -> None:
    edited = allow_tracker(value, nonce=N, single_policy=True)
    assert edited is not None
    check_meaning(value, edited, N, "'self'", single=True)
    assert allow_tracker(edited, nonce=N, single_policy=True) == edited


@settings(max_examples=500)
@given(
    value=st.one_of(
        st.text(max_size=120),
        st.text(st.characters(max_codepoint=127), max_size=120),
        st.text(st.sampled_from("scrip-tdefaul'nonesfx*;, \t\r\n"), max_size=80),
    ),
    single=st.booleans(),
)
def test_arbitrary_text_never_raises(value: str, single: bool) -> None:
    edited = allow_tracker(value, nonce=N, single_policy=single)
    if edited is not None:
        assert edited.isascii()
        if not single:
            assert "\r" not in edited and "\n" not in edited
        assert unsafe_words_in(edited) <= unsafe_words_in(value)


def unsafe_words_in(value: str) -> set[str]:
    return {w.lower() for w in re.split(r"[\s;,]+", value) if w.lower().startswith("'unsafe-")}
