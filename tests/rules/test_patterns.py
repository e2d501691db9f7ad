"""Path globs and ``path_regex``: RE2's meaning, its refusals, and time linear in the path."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.rules.patterns import PathPattern, compile_path_regex, glob_to_regex, host_name


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("/", "/", True),
        ("/products/*", "/products/cup", True),
        ("/products/*", "/products/cup/reviews", False),
        ("/products/**", "/products/cup/reviews", True),
        ("/blog/*.html", "/blog/a.html", True),
        ("/blog/*.html", "/blog/aXhtml", False),
        ("/a+b", "/a+b", True),
        ("/a+b", "/aab", False),
        ("/café/(x)?[y]", "/café/(x)?[y]", True),
    ],
)
def test_glob_to_regex(glob: str, path: str, matches: bool) -> None:
    assert bool(glob_to_regex(glob).fullmatch(path)) is matches


@given(st.text(st.characters(exclude_characters="*", exclude_categories=["Cs"]), max_size=40))
def test_a_glob_without_wildcards_matches_itself_alone(literal: str) -> None:
    pattern = glob_to_regex("/" + literal)
    assert pattern.fullmatch("/" + literal)
    assert not pattern.fullmatch("/" + literal + "x")


@pytest.mark.parametrize(
    ("pattern", "path", "found"),
    [
        ("^/blog/", "/blog/x", True),
        (r"^/p/(\d+)/(\w+)$", "/p/12/cup", True),
        (r"^/p/(\d+)$", "/p/x", False),
        ("(a+)+$", "/aaa", True),  # a nested repeat is linear in RE2: no longer refused
    ],
)
def test_path_regex_searches(pattern: str, path: str, found: bool) -> None:
    assert bool(compile_path_regex(pattern).search(path)) is found


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?=x)a", "invalid perl operator: (?="),
        (r"(a)\1", r"invalid escape sequence: \1"),
        ("(a", "missing )"),
        ("a++", "bad repetition operator: ++"),
        ("^/p/a{,3}$", "write {0,3}: RE2 reads {,3} as text"),
    ],
)
def test_what_re2_cannot_match_in_linear_time_is_refused_with_its_reason(
    pattern: str, reason: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(reason)):
        compile_path_regex(pattern)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        # exponential in Python's re: 2^60 ways to split 60 spaces between `.` and `\s`
        (compile_path_regex(r"^/(.|\s)*\.html$"), "/" + " " * 60 + "x"),
        (compile_path_regex("(a+)+$"), "a" * 60 + "!"),
        # high polynomial degree in Python's re: a path of 4,000 segments, or one long segment
        (glob_to_regex("/**/**/**/**/x"), "/" + "a/" * 4000),
        (glob_to_regex("/*a*b*c*d"), "/" + "ab" * 4000),
    ],
)
def test_a_pattern_that_backtracks_in_python_answers_for_a_long_path(
    pattern: PathPattern, path: str
) -> None:
    """Each of these takes Python's ``re`` hours or more (seconds at a tenth of the length)."""
    assert not pattern.fullmatch(path)


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("shop.example", "shop.example"),
        ("Shop.Example:8080", "shop.example"),
        ("shop.example.", "shop.example"),
        ("[::1]", "[::1]"),
        ("[::1]:8080", "[::1]"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1", "[::1"),
    ],
)
def test_host_name_drops_the_port_and_a_trailing_dot(host: str, name: str) -> None:
    assert host_name(host) == name
