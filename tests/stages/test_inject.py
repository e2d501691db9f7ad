"""inject alone: the tracker's script goes into the page, allowed by the page's CSP."""

from __future__ import annotations

from multidict import CIMultiDict

from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.stages.inject import Inject, RecentByPage, SamePages
from proxy.tracker.asset import TrackerAsset
from proxy.upstream.etag import served_etag
from tests.integration.origin_app import PAGE
from tests.stages.factory import make_exchange


async def injected(headers: dict[str, str]) -> Exchange:
    ex = make_exchange(target="/page")
    ex.document = PAGE
    ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8", **headers})
    await Inject(TrackerAsset.load(), Metrics(), "'self'")(ex)
    return ex


async def test_the_script_is_inserted() -> None:
    ex = await injected({})
    assert ex.changed and ex.document is not None
    assert b'<script src="/__vernier/t.js' in ex.document and b"nonce=" not in ex.document


async def test_an_enforced_policy_gets_the_scripts_nonce() -> None:
    ex = await injected({"Content-Security-Policy": "script-src 'self'"})
    assert ex.document is not None and b'nonce="' in ex.document
    nonce = ex.document.split(b'nonce="', 1)[1].split(b'"', 1)[0].decode()
    assert f"'nonce-{nonce}'" in ex.headers["Content-Security-Policy"]


async def test_a_policy_that_does_not_parse_means_no_script() -> None:
    metrics = Metrics()
    ex = make_exchange(target="/page")
    ex.document = PAGE
    ex.headers = CIMultiDict({"Content-Security-Policy": "script-src 'nonce-\x00'"})
    await Inject(TrackerAsset.load(), metrics, "'self'")(ex)
    assert not ex.changed and ex.document is PAGE
    assert metrics.fail_open.labels("inject", "csp_unparsable")._value.get() == 1


async def test_the_served_etag_names_the_page_and_is_reused_for_the_same_page_object() -> None:
    stage = Inject(TrackerAsset.load(), Metrics(), "'self'")
    tags = []
    for document in (PAGE, PAGE, bytes(bytearray(PAGE)), PAGE.replace(b"</body>", b"x</body>")):
        ex = make_exchange(target="/page")
        ex.document, ex.owns_validator = document, True
        ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
        await stage(ex)
        tags.append(ex.served_etag)
    assert tags[0] == tags[1] == tags[2] != tags[3]
    assert tags[0] == served_etag(PAGE, TrackerAsset.load().tag_digest, "consent-given")


def test_recent_values_are_by_page_object_and_bounded_in_bytes() -> None:
    recent: RecentByPage[str] = RecentByPage()
    page = b"x" * (3 * 1024 * 1024)
    recent.put(page, ("d", "consent-given"), "e1", len(page))
    assert recent.get(page, ("d", "consent-given")) == "e1"
    assert recent.get(page, ("d", "consent-pending")) is None
    assert recent.get(bytes(bytearray(page)), ("d", "consent-given")) is None  # equal, not it
    others = [bytes([n]) * (3 * 1024 * 1024) for n in range(2)]
    for other in others:
        recent.put(other, ("d", "consent-given"), "e2", len(other))
    assert recent.get(page, ("d", "consent-given")) is None  # 9 MiB > 8 MiB: the oldest went
    assert recent.get(others[1], ("d", "consent-given")) == "e2"
    recent.put(b"y", ("d", "consent-given"), "e3", 9 * 1024 * 1024)  # too big to keep
    assert recent.get(others[1], ("d", "consent-given")) == "e2"


async def test_a_page_object_seen_before_gets_the_same_injection_unless_a_nonce_is_needed() -> None:
    stage = Inject(TrackerAsset.load(), Metrics(), "'self'")
    meta_csp = PAGE.replace(
        b"<head>",
        b'<head><meta http-equiv="Content-Security-Policy" content="script-src \'self\'">',
    )
    served = []
    for document, pending in (
        (PAGE, False),
        (PAGE, False),
        (PAGE, True),
        (meta_csp, False),
        (meta_csp, False),
    ):
        ex = make_exchange(target="/page")
        ex.document, ex.identity.consent_pending = document, pending
        ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
        await stage(ex)
        assert ex.changed and ex.document is not None
        served.append(ex.document)
    assert served[1] is served[0]  # found once
    assert served[2] != served[0] and b'data-vernier-consent="pending"' in served[2]
    assert b'nonce="' in served[3] and served[3] != served[4]  # a new nonce on every view


async def test_the_same_bytes_in_a_new_object_get_the_injection_found_before() -> None:
    stage = Inject(TrackerAsset.load(), Metrics(), "'self'")
    served = []
    for document in (PAGE, bytes(bytearray(PAGE)), PAGE.replace(b"<head>", b"<head> ")):
        ex = make_exchange(target="/page")
        ex.document = document
        ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
        await stage(ex)
        assert ex.changed and ex.document is not None
        served.append(ex.document)
    assert served[1] is served[0]  # equal bytes from the origin again: not scanned again
    assert served[2] != served[0] and b"<head> " in served[2]  # other bytes: their own


def test_same_pages_keeps_the_first_object_and_is_bounded_in_bytes() -> None:
    pages = SamePages()
    first = b"x" * (2 * 1024 * 1024)
    assert pages.first_of(first) is first
    assert pages.first_of(bytes(bytearray(first))) is first
    others = [bytes([n]) * (2 * 1024 * 1024) for n in range(4)]
    for other in others:
        assert pages.first_of(other) is other
    again = bytes(bytearray(first))
    assert pages.first_of(again) is again  # 10 MiB > 8 MiB: the oldest went
    huge = b"h" * (3 * 1024 * 1024)
    assert pages.first_of(bytes(bytearray(huge))) is not pages.first_of(huge)  # never kept


async def test_a_streamed_head_is_injected_only_once_all_of_it_was_read() -> None:
    """In front of a ``<base>`` the point is known early, but a meta CSP further down the head
    (past what was read of a streamed page) must be seen to be edited: no tag until then."""
    head = b"<html><head><base href=//cdn.example/>" + b"<link rel=preload href=x>" * 100
    rest = b"<meta http-equiv=content-security-policy content=\"connect-src 'none'\"></head><p>x"
    for streamed, tagged in ((head, False), (head + rest, True)):
        ex = make_exchange(target="/page")
        ex.streaming_head = ex.document = streamed
        ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
        await Inject(TrackerAsset.load(), Metrics(), "'self'")(ex)
        assert ex.changed is tagged
        assert ex.document is not None and ex.document.find(b"<script") in (-1, 12)
