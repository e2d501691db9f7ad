"""session: who is asking, from Vernier's signed first-party cookies, and whether we may know.

A cookie that fails its signature is treated as absent (a new id is issued later, only on pages
Vernier injects into), so an attacker-chosen id never reaches the store. ``Sec-GPC: 1`` and
``DNT: 1`` (when honoured) and a required-but-missing consent mean: no ids, no tracker.
"""

from __future__ import annotations

import time

from aiohttp import web
from multidict import CIMultiDictProxy

from proxy.config.schema import SessionConfig
from proxy.exchange import Exchange, Identity
from proxy.request_view import RequestView
from proxy.session.issuer import IdIssuer

# an absolute cap on one session, whatever the browser keeps (idle expiry is the cookie's Max-Age)
SESSION_MAX_LIFETIME_S = 24 * 3600


def opt_out_fields(config: SessionConfig) -> tuple[str, ...]:
    """The request fields that decide whether a page gets the tracker, and which: ``Sec-GPC``
    and ``DNT`` as honoured (:meth:`Session.privacy_opt_out`), and under ``consent: required``
    the cookie that carries the consent (the tag says "pending" without it). A page varies on
    them."""
    fields = ("Sec-GPC",) * config.honor_gpc + ("DNT",) * config.honor_dnt
    return fields + ("Cookie",) * (config.consent == "required")


class Session:
    name = "session"

    def __init__(self, issuer: IdIssuer) -> None:
        self._config = issuer.config
        self._signer = issuer.signer
        self.session_cookie = issuer.session_cookie
        self.visitor_cookie = issuer.visitor_cookie

    def privacy_opt_out(self, headers: CIMultiDictProxy[str]) -> bool:
        get = headers.get
        if self._config.honor_gpc and get("Sec-GPC", "").strip() == "1":
            return True
        return bool(self._config.honor_dnt and get("DNT", "").strip() == "1")

    def identify(self, request: web.BaseRequest | RequestView) -> Identity:
        """Who sent ``request``, as far as the visitor's choices let Vernier know."""
        if self.privacy_opt_out(request.headers):
            return Identity(trackable=False)
        consent = request.cookies.get(self._config.consent_cookie_name)
        if consent == "0":  # withdrawn with vernier.consent(false), whatever the mode
            return Identity(trackable=False)
        if self._config.consent == "required" and consent != "1":
            return Identity(trackable=False, consent_pending=True)
        now = int(time.time())
        session_id = self._signer.verify(
            request.cookies.get(self.session_cookie), now_s=now, max_age_s=SESSION_MAX_LIFETIME_S
        )
        visitor_id = self._signer.verify(
            request.cookies.get(self.visitor_cookie),
            now_s=now,
            max_age_s=self._config.visitor_max_age_s,
        )
        return Identity(session_id=session_id, visitor_id=visitor_id)

    async def __call__(self, ex: Exchange) -> None:
        ex.identity = self.identify(ex.request)
