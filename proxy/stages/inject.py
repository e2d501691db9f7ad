"""inject: insert the tracker's ``<script>`` into the page by splicing bytes.

The page's Content-Security-Policy must let our element (and only it) run: each enforced policy,
in headers and in ``<meta>``, gets our per-response nonce and, where it restricts connections, our
beacon endpoint. A policy we cannot parse means no injection (fail closed where security is at
stake); ``'unsafe-inline'`` is never added.
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

from multidict import CIMultiDict

from proxy.content.offload import on_cpu_clock, run_sized
from proxy.exchange import Exchange
from proxy.html.charset import charset_from_content_type
from proxy.html.csp import CSP, CSP_REPORT_ONLY, allow_tracker, edit_policies, make_nonce
from proxy.html.inject import Injection, inject_tag
from proxy.metrics import Metrics
from proxy.tracker.asset import TrackerAsset
from proxy.upstream.etag import served_etag

log = logging.getLogger("vernier.inject")
T = TypeVar("T")


class Inject:
    name = "inject"

    def __init__(self, asset: TrackerAsset, metrics: Metrics, connect_source: str) -> None:
        self._asset = asset
        self._metrics = metrics
        self._connect = connect_source
        self._etags: RecentByPage[str] = RecentByPage()
        self._injections: RecentByPage[Injection] = RecentByPage()
        self._pages = SamePages()

    async def __call__(self, ex: Exchange) -> None:
        document = ex.document
        assert document is not None
        if ex.streaming_head is None:
            document = self._pages.first_of(document)
        if (
            ex.owns_validator and ex.streaming_head is None
        ):  # named before the tag: its CSP nonce is new on every response
            consent = "consent-pending" if ex.identity.consent_pending else "consent-given"
            context = (self._asset.tag_digest, consent)
            etag = self._etags.get(document, context)
            if etag is None:
                etag = await run_sized(len(document), served_etag, document, *context)
                self._etags.put(document, context, etag, len(document))
            ex.served_etag = etag
        headers = ex.headers
        enforced = headers.getall(CSP, [])
        report_only = headers.getall(CSP_REPORT_ONLY, [])
        # a nonce only when some policy restricts scripts: header policies are known now,
        # <meta> policies only once the scan found them (never search the whole page for them)
        nonce: list[str] = [make_nonce()] if enforced or report_only else []
        edited = (
            edit_policies(enforced, nonce=nonce[0], connect_source=self._connect) if nonce else []
        )
        if edited is None:
            self._metrics.fail_open.labels(self.name, "csp_unparsable").inc()
            return

        def edit_meta(policy: str) -> str | None:
            if not nonce:
                nonce.append(make_nonce())
            return allow_tracker(
                policy, nonce=nonce[0], connect_source=self._connect, single_policy=True
            )

        def make_tag() -> str:
            return self._asset.script_tag(
                nonce=nonce[0] if nonce else None, consent_pending=ex.identity.consent_pending
            )

        charset = charset_from_content_type(headers.get("Content-Type"))
        # Without a nonce the tag and its place depend on the page, its charset and consent
        # only, so a page object seen before gets the same injection.
        same_as = (
            (self._asset.tag_digest, charset or "", str(ex.identity.consent_pending))
            if not nonce and ex.streaming_head is None
            else None
        )
        injection = self._injections.get(document, same_as) if same_as else None
        if injection is None:
            injection, cpu_s = on_cpu_clock(
                inject_tag, document, make_tag, header_charset=charset, edit_meta_csp=edit_meta
            )
            ex.work_cpu_s += cpu_s
            if injection is None:
                return
            if same_as and not nonce:  # no <meta> policy asked for a nonce either
                self._injections.put(
                    document, same_as, injection, len(document) + len(injection.body)
                )
        if ex.streaming_head is not None and injection.head_end >= len(document):
            return  # the head may run on past what was read: its meta CSPs are not all known
        ex.document = injection.body
        ex.encoding = injection.encoding
        ex.changed = True
        if enforced:
            _replace_all(headers, CSP, edited)
        if report_only:
            edited_report_only = edit_policies(
                report_only, nonce=nonce[0], connect_source=self._connect
            )
            if edited_report_only is not None:
                _replace_all(headers, CSP_REPORT_ONLY, edited_report_only)


class RecentByPage(Generic[T]):
    """What was worked out for the last few page objects: a page from the rewrite cache
    (``proxy/html/rewrite_cache.py``) is the same ``bytes`` object on every view, so its ETag
    digest (~90 µs for 87 KB) and its tag's place (~45 µs) are found once. Keyed by identity,
    and the page is held, so an id is never another page's; at most 64 pages and 8 MiB are held
    (pages from the cache are held there anyway, others only until newer ones push them out)."""

    _KEEP = 64
    _KEEP_BYTES = 8 * 1024 * 1024

    def __init__(self) -> None:
        self._found: dict[tuple[int, tuple[str, ...]], tuple[bytes, T, int]] = {}
        self._bytes = 0

    def get(self, document: bytes, context: tuple[str, ...]) -> T | None:
        found = self._found.get((id(document), context))
        return found[1] if found is not None and found[0] is document else None

    def put(self, document: bytes, context: tuple[str, ...], value: T, size_bytes: int) -> None:
        """Keep ``value`` for ``document`` (``size_bytes``: what keeping it holds in memory)."""
        if size_bytes > self._KEEP_BYTES:
            return
        while self._found and (
            len(self._found) >= self._KEEP or self._bytes + size_bytes > self._KEEP_BYTES
        ):
            oldest = next(iter(self._found))
            self._bytes -= self._found.pop(oldest)[2]
        self._found[(id(document), context)] = (document, value, size_bytes)
        self._bytes += size_bytes


class SamePages:
    """The first ``bytes`` object seen with each recent page's content.

    :class:`RecentByPage` knows pages by object, which a page from the rewrite cache keeps on
    every view; a page no rule changes is a new object on every response, even when the origin
    sends the same bytes. Looking it up here (one hash and one ``memcmp``: ~0.3 µs for 1.2 KB,
    ~17 µs for 87 KB) turns it into the object seen before, so its tag's place and the spliced
    page (7–15 µs for 1.2 KB, ~47 µs for 87 KB) and its ETag digest are not worked out again.
    Holds at most 64 pages and 8 MiB, oldest out first; a page over 2 MiB is not kept."""

    _KEEP = 64
    _KEEP_BYTES = 8 * 1024 * 1024
    _MAX_PAGE_BYTES = 2 * 1024 * 1024

    def __init__(self) -> None:
        self._pages: dict[bytes, bytes] = {}
        self._bytes = 0

    def first_of(self, document: bytes) -> bytes:
        """The object first seen with ``document``'s content (``document`` itself if new)."""
        if len(document) > self._MAX_PAGE_BYTES:
            return document
        seen = self._pages.get(document)
        if seen is not None:
            return seen
        while self._pages and (
            len(self._pages) >= self._KEEP or self._bytes + len(document) > self._KEEP_BYTES
        ):
            self._bytes -= len(self._pages.pop(next(iter(self._pages))))
        self._pages[document] = document
        self._bytes += len(document)
        return document


def _replace_all(headers: CIMultiDict[str], name: str, values: list[str]) -> None:
    headers.popall(name)
    for value in values:
        headers.add(name, value)
