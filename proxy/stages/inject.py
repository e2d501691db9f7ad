"""inject: insert the tracker's ``<script>`` into the page by splicing bytes.

The page's Content-Security-Policy must let our element (and only it) run: each enforced policy,
in headers and in ``<meta>``, gets our per-response nonce and, where it restricts connections, our
beacon endpoint. A policy we cannot parse means no injection (fail closed where security is at
stake); ``'unsafe-inline'`` is never added.
"""

from __future__ import annotations

import logging
import re

from proxy.exchange import Exchange
from proxy.html.charset import charset_from_content_type
from proxy.html.csp import allow_tracker, edit_policies, make_nonce
from proxy.html.inject import inject_tag
from proxy.metrics import Metrics
from proxy.tracker.asset import TrackerAsset

log = logging.getLogger("vernier.inject")

_META_CSP = re.compile(rb"content-security-policy", re.IGNORECASE)
CSP = "Content-Security-Policy"
CSP_REPORT_ONLY = "Content-Security-Policy-Report-Only"


class Inject:
    name = "inject"

    def __init__(self, asset: TrackerAsset, metrics: Metrics, connect_source: str) -> None:
        self._asset = asset
        self._metrics = metrics
        self._connect_source = connect_source

    async def __call__(self, ex: Exchange) -> None:
        document = ex.document
        assert document is not None
        headers = ex.headers
        enforced = headers.getall(CSP, [])
        report_only = headers.getall(CSP_REPORT_ONLY, [])
        nonce = None
        if enforced or report_only or _META_CSP.search(document):
            nonce = make_nonce()
        edited: list[str] = []
        edited_report_only: list[str] | None = []
        if nonce is not None:
            result = edit_policies(enforced, nonce=nonce, connect_source=self._connect_source)
            if result is None:
                self._metrics.fail_open.labels(self.name, "csp_unparsable").inc()
                return
            edited = result
            edited_report_only = edit_policies(
                report_only, nonce=nonce, connect_source=self._connect_source
            )

        def edit_meta(policy: str) -> str | None:
            assert nonce is not None
            return allow_tracker(
                policy, nonce=nonce, connect_source=self._connect_source, single_policy=True
            )

        tag = self._asset.script_tag(nonce=nonce, consent_pending=ex.identity.consent_pending)
        injection = inject_tag(
            document,
            tag,
            header_charset=charset_from_content_type(headers.get("Content-Type")),
            edit_meta_csp=edit_meta if nonce is not None else None,
        )
        if injection is None:
            return
        ex.document = injection.body
        ex.encoding = injection.encoding
        ex.changed = True
        if enforced:
            headers.popall(CSP)
            for value in edited:
                headers.add(CSP, value)
        if report_only and edited_report_only is not None:
            headers.popall(CSP_REPORT_ONLY)
            for value in edited_report_only:
                headers.add(CSP_REPORT_ONLY, value)
