"""Vernier's own evaluation of a GET's conditions (RFC 9110 §13.2.2), checked on the RFC's
cases: If-None-Match wins, weak comparison, ``*``, and dates only without an entity-tag list."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from proxy.upstream.conditional import (
    Conditions,
    asks_for_a_page,
    not_modified,
    not_modified_headers,
    only_our_validators,
    take_conditions,
    without_dates_beside_tags,
)
from proxy.upstream.etag import served_etag

MONDAY = "Mon, 30 Nov 2026 10:00:00 GMT"
TUESDAY = "Tue, 01 Dec 2026 10:00:00 GMT"


@pytest.mark.parametrize(
    ("if_none_match", "etag", "expected"),
    [
        ('"a"', '"a"', True),
        ('W/"a"', '"a"', True),  # weak comparison: W/ is ignored on either side
        ('"a"', 'W/"a"', True),
        ('"b", W/"a"', 'W/"a"', True),
        ('"b"', '"a"', False),
        ("*", None, True),
        ('"a"', None, False),
        ("garbage", '"a"', False),
        ('"a,b"', '"a,b"', True),
    ],
)
def test_if_none_match(if_none_match: str, etag: str | None, expected: bool) -> None:
    assert not_modified(Conditions(if_none_match=if_none_match), etag, None) is expected


def test_if_none_match_wins_over_the_date() -> None:
    both = Conditions(if_none_match='"b"', if_modified_since=TUESDAY)
    assert not not_modified(both, '"a"', MONDAY)


@pytest.mark.parametrize(
    ("since", "modified", "expected"),
    [
        (TUESDAY, MONDAY, True),
        (TUESDAY, TUESDAY, True),
        (MONDAY, TUESDAY, False),
        ("yesterday", MONDAY, False),  # an invalid date is ignored
        (TUESDAY, None, False),
    ],
)
def test_if_modified_since(since: str, modified: str | None, expected: bool) -> None:
    assert not_modified(Conditions(if_modified_since=since), None, modified) is expected


def test_no_conditions_is_never_not_modified() -> None:
    assert not not_modified(Conditions(), '"a"', MONDAY)


def test_conditions_are_taken_out_of_the_origin_request() -> None:
    headers = CIMultiDict(
        {"If-None-Match": '"a"', "If-Modified-Since": MONDAY, "If-Match": '"x"', "Accept": "*/*"}
    )
    assert take_conditions(headers) == Conditions('"a"', MONDAY)
    assert dict(headers) == {"If-Match": '"x"', "Accept": "*/*"}
    assert take_conditions(headers) == Conditions()


def test_a_304_carries_only_what_rfc_9110_lists() -> None:
    headers = CIMultiDict(
        {
            "ETag": 'W/"x"',
            "Cache-Control": "private",
            "Vary": "Cookie",
            "Content-Security-Policy": "script-src 'nonce-abc'",
            "Content-Type": "text/html",
            "Last-Modified": MONDAY,
            "Expires": TUESDAY,
        }
    )
    assert dict(not_modified_headers(headers)) == {
        "ETag": 'W/"x"',
        "Cache-Control": "private",
        "Vary": "Cookie",
        "Expires": TUESDAY,
    }


def test_served_etags_name_the_bytes_and_the_tag_context() -> None:
    page = b"<html><p>A</p></html>"
    tag = served_etag(page, "digest", "consent-given")
    assert tag.startswith('W/"vs-') and tag == served_etag(page, "digest", "consent-given")
    assert tag != served_etag(page + b" ", "digest", "consent-given")
    assert tag != served_etag(page, "other", "consent-given")
    assert tag != served_etag(page, "digest", "consent-pending")
    assert served_etag(page, "ab", "c") != served_etag(page, "a", "bc")


def test_a_date_beside_tags_never_reaches_the_origin() -> None:
    headers = CIMultiDict({"If-None-Match": 'W/"a-vnold"', "If-Modified-Since": MONDAY})
    without_dates_beside_tags(headers)
    assert dict(headers) == {"If-None-Match": 'W/"a-vnold"'}
    alone = CIMultiDict({"If-Modified-Since": MONDAY})
    without_dates_beside_tags(alone)
    assert dict(alone) == {"If-Modified-Since": MONDAY}  # without tags, the date decides


@pytest.mark.parametrize(
    ("headers", "page"),
    [
        ({"Sec-Fetch-Dest": "document"}, True),
        ({"Sec-Fetch-Dest": "iframe", "Accept": "*/*"}, True),
        ({"Sec-Fetch-Dest": "image", "Accept": "text/html"}, False),  # Fetch Metadata wins
        ({"Sec-Fetch-Dest": "empty"}, False),
        ({"Accept": "text/html,application/xhtml+xml;q=0.9"}, True),  # no Fetch Metadata
        ({"Accept": "*/*"}, False),
        ({}, False),
    ],
)
def test_asks_for_a_page(headers: dict[str, str], page: bool) -> None:
    assert asks_for_a_page(CIMultiDict(headers)) is page


@pytest.mark.parametrize(
    ("if_none_match", "kept"),
    [
        ('"pg-v1"', None),  # the origin's own
        ('W/"pg-v1-vnabc", "pg-v1"', 'W/"pg-v1-vnabc"'),  # ours kept, the origin's dropped
        ('"weird-vnabc"', None),  # a strong "-vn" tag is the origin's
        ('W/"vs-123"', None),  # a page's digest Vernier no longer answers for here
        ("*", "*"),
    ],
)
def test_only_our_validators(if_none_match: str, kept: str | None) -> None:
    headers = CIMultiDict({"If-None-Match": if_none_match, "If-Modified-Since": "a date"})
    only_our_validators(headers)
    assert headers.get("If-None-Match") == kept
    assert "If-Modified-Since" not in headers
