"""Accept-Encoding and If-None-Match parsing, and the static asset table."""

from __future__ import annotations

import pytest

from proxy.demo.serving import accepts_gzip, etag_matches, load_assets


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("deflate, GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000, *", False),
        ("*;q=0", False),
        ("gzip;q=bogus", False),
        ("br;q=1, *;q=0.1", True),
    ],
)
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('W/"abc"', True),
        ('"abc"', True),
        ('"x", W/"abc"', True),
        ("*", True),
        ('W/"abd"', False),
        ("", False),
    ],
)
def test_etag_matches_weakly(header: str, expected: bool) -> None:
    assert etag_matches(header, 'W/"abc"') is expected


def test_assets_are_only_known_types_with_stable_versions() -> None:
    assets = load_assets()
    assert "shop.css" in assets and "hero.svg" in assets
    assert {a.content_type for a in assets.values()} == {"text/css", "image/svg+xml"}
    assert load_assets() == assets
    assert all(len(a.version) == 10 for a in assets.values())
