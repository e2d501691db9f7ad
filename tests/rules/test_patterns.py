"""Path globs and the regexes refused for nested quantifiers."""

from __future__ import annotations

import pytest

from proxy.rules.patterns import glob_to_regex, nested_quantifier


@pytest.mark.parametrize(
    ("pattern", "nested"),
    [
        ("(a+)+", True),
        ("(a*)*$", True),
        ("^(?:x{2,})+", True),
        ("((ab)*c)*", True),
        ("(a|b+){3}", True),
        ("^/blog/", False),
        ("^/(a+)$", False),
        ("(a+)?", False),
        ("(ab){2}", False),
        (r"\(a+\)+", False),
        ("[(]a+[)]+", False),
        ("([a+]+)", False),
        (r"^/p/(\d+)/(\w+)$", False),
    ],
)
def test_nested_quantifier(pattern: str, nested: bool) -> None:
    assert nested_quantifier(pattern) is nested


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("/", "/", True),
        ("/products/*", "/products/cup", True),
        ("/products/*", "/products/cup/reviews", False),
        ("/products/**", "/products/cup/reviews", True),
        ("/blog/*.html", "/blog/a.html", True),
        ("/a+b", "/a+b", True),
        ("/a+b", "/aab", False),
    ],
)
def test_glob_to_regex(glob: str, path: str, matches: bool) -> None:
    assert bool(glob_to_regex(glob).match(path)) is matches
