"""``POST /__vernier/consent``: the visitor's own choice, sent by ``vernier.consent(true|false)``.

Granting sets the consent cookie and issues the session and visitor ids at once, so the tracker's
first beacon already has a session. Withdrawing sets consent to "0" (tracking stays off in every
consent mode) and deletes both ids.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from proxy.exchange import Identity
from proxy.session.issuer import IdIssuer
from proxy.tracker.same_origin import cross_site_reason

MAX_BODY_BYTES = 256


class ConsentChoice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    granted: bool


_decode = msgspec.json.Decoder(ConsentChoice).decode


def _answer(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=reason, headers={"Cache-Control": "no-store"})


async def handle_consent(
    request: web.Request,
    identity: Identity,
    issuer: IdIssuer,
    *,
    privacy_opt_out: bool,
    public_hosts: frozenset[str] | None,
) -> web.Response:
    if request.method != "POST":
        return _answer(405, "method not allowed")
    reason = cross_site_reason(request.headers, request.host, public_hosts)
    if reason is not None:
        return _answer(403, reason)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _answer(413, "body too large")
    if "Content-Encoding" in request.headers:  # a beacon never encodes; nothing is decoded
        return _answer(415, "content-encoding not accepted")
    try:
        body = await request.content.read(MAX_BODY_BYTES + 1)
        choice = _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return _answer(400, 'expected {"granted": true|false}')
    response = web.Response(status=204, headers={"Cache-Control": "no-store"})
    response.headers.add("Set-Cookie", issuer.consent_cookie(choice.granted))
    if not choice.granted:
        for cookie in issuer.clear_all():
            response.headers.add("Set-Cookie", cookie)
    elif not privacy_opt_out:
        # a consenting visitor with Sec-GPC/DNT still gets no ids: the browser signal wins
        fresh = Identity(session_id=identity.session_id, visitor_id=identity.visitor_id)
        for cookie in issuer.issue_missing(fresh):
            response.headers.add("Set-Cookie", cookie)
    return response
