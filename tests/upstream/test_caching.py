"""The caching fields of responses for one visitor (pure header logic)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from proxy.upstream.caching import is_shared_cache_field, make_private, revalidate_privately

TARGETED = (
    "CDN-Cache-Control",
    "Cloudflare-CDN-Cache-Control",
    "Akamai-CDN-Cache-Control",
    "Surrogate-Control",
    "Fastly-Surrogate-Control",
    "Edge-Control",
    "X-Accel-Expires",
)


@pytest.mark.parametrize("name", TARGETED)
def test_a_response_made_private_loses_what_shared_caches_read_first(name: str) -> None:
    headers = CIMultiDict(
        {"Cache-Control": "public, max-age=60, s-maxage=600", name: "max-age=600"}
    )
    headers.add(name.lower(), "max-age=3600")  # every copy, whatever its case
    make_private(headers)
    assert headers.getall("Cache-Control") == ["private, max-age=60"]
    assert name not in headers


def test_other_fields_are_not_taken_for_cache_fields() -> None:
    for name in ("Cache-Control", "Surrogate-Key", "X-Cache", "Vary", "Content-Type"):
        assert not is_shared_cache_field(name)


def test_a_page_revalidated_privately_keeps_no_store_and_drops_freshness() -> None:
    headers = CIMultiDict(
        {
            "Cache-Control": "public, max-age=60, immutable, no-store, no-transform",
            "Expires": "Wed, 01 Jan 2031 00:00:00 GMT",
            "CDN-Cache-Control": "max-age=600",
            "Vary": "Accept-Encoding",
        }
    )
    headers.add("Cache-Control", "stale-while-revalidate=30, s-maxage=9, must-revalidate")
    revalidate_privately(headers)
    assert headers.getall("Cache-Control") == ["private, no-cache, no-store, no-transform"]
    assert "Expires" not in headers and "CDN-Cache-Control" not in headers
    assert headers.getall("Vary") == ["Accept-Encoding, Cookie"]


def test_revalidating_privately_twice_changes_nothing_more() -> None:
    headers = CIMultiDict({"Cache-Control": "max-age=5"})
    revalidate_privately(headers)
    once = sorted(headers.items())
    revalidate_privately(headers)
    assert (
        sorted(headers.items())
        == once
        == [("Cache-Control", "private, no-cache"), ("Vary", "Cookie")]
    )
