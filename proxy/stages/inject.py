"""inject: insert the tracker's ``<script>`` into the page by splicing bytes.

The page's Content-Security-Policy must let our element (and only it) run: each enforced policy,
in headers and in ``<meta>``, gets our per-response nonce and, where it restricts connections, our
beacon endpoint. A policy we cannot parse means no injection (fail closed where security is at
stake); ``'unsafe-inline'`` is never added.
"""

from __future__ import annotations

import logging

from multidict import CIMultiDict

from proxy.content.offload import on_cpu_clock, run_sized
from proxy.exchange import Exchange
from proxy.html.charset import charset_from_content_type
from proxy.html.csp import allow_tracker, edit_policies, make_nonce
from proxy.html.inject import inject_tag
from proxy.metrics import Metrics
from proxy.tracker.asset import TrackerAsset
from proxy.upstream.etag import served_etag

log = logging.getLogger("vernier.inject")

CSP = "Content-Security-Policy"
CSP_REPORT_ONLY = "Content-Security-Policy-Report-Only"


class Inject:
    name = "inject"

    def __init__(self, asset: TrackerAsset, metrics: Metrics, connect_source: str) -> None:
        self._asset = asset
        self._metrics = metrics
        self._connect = connect_source

    async def __call__(self, ex: Exchange) -> None:
        document = ex.document
        assert document is not None
        if (
            ex.owns_validator and ex.streaming_head is None
        ):  # named before the tag: its CSP nonce is new on every response
            consent = "consent-pending" if ex.identity.consent_pending else "consent-given"
            ex.served_etag = await run_sized(
                len(document), served_etag, document, self._asset.tag_digest, consent
            )
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

        injection, cpu_s = on_cpu_clock(
            inject_tag,
            document,
            make_tag,
            header_charset=charset_from_content_type(headers.get("Content-Type")),
            edit_meta_csp=edit_meta,
        )
        ex.work_cpu_s += cpu_s
        if injection is None:
            return
        if ex.streaming_head is not None and injection.offset >= len(document):
            return  # the head may run on past what was read: the point is not known yet
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


def _replace_all(headers: CIMultiDict[str], name: str, values: list[str]) -> None:
    headers.popall(name)
    for value in values:
        headers.add(name, value)
