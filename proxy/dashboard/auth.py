"""Who may use the dashboard: the admin token, then a signed cookie; CSRF tokens for actions.

Stateless, so any worker (and a restart) accepts what another issued: the cookie is
``<expiry s>.<HMAC-SHA256(token, "session|<expiry>")>`` (``HttpOnly``, ``SameSite=Strict``,
``Path=/__vernier/admin/``, :data:`SESSION_S` long), and an action's CSRF token is
``HMAC(token, "csrf|<cookie>")``, embedded in each form. Changing ``admin.token`` signs everyone
out. A request may instead carry ``Authorization: Bearer <token>`` (scripts, the benchmark); it
is not ambient, so it needs no CSRF token. A cookie-carrying POST must also come from the same
origin (``Origin``/``Sec-Fetch-Site``), the browser's own cross-site signal.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from proxy.request_view import bearer_token, token_matches

COOKIE = "vernier_admin"
SESSION_S = 12 * 3600
PATH = "/__vernier/admin/"


class AdminAuth:
    def __init__(self, token: str) -> None:
        self._key = token.encode()

    def _sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def token_matches(self, given: str) -> bool:
        return token_matches(given, self._key)

    def new_session(self, now_s: float) -> str:
        expiry = int(now_s) + SESSION_S
        return f"{expiry}.{self._sign(f'session|{expiry}')}"

    def session_valid(self, value: str, now_s: float) -> bool:
        expiry, dot, signature = value.partition(".")
        if not dot or not expiry.isdigit() or int(expiry) < now_s:
            return False
        return hmac.compare_digest(signature, self._sign(f"session|{expiry}"))

    def csrf_for(self, session: str) -> str:
        return self._sign(f"csrf|{session}")[:32]

    def csrf_valid(self, session: str, given: str) -> bool:
        return token_matches(given, self.csrf_for(session).encode())

    def signed_in(self, request: web.Request, now_s: float) -> tuple[bool, str | None]:
        """(allowed, the session cookie if that is how): a valid bearer token or session."""
        token = bearer_token(request.headers.get("Authorization"))
        if token and self.token_matches(token):
            return True, None
        session = request.cookies.get(COOKIE)
        if session is not None and self.session_valid(session, now_s):
            return True, session
        return False, None


def same_origin(request: web.Request) -> bool:
    """The POST came from a page of this listener (or from no browser at all): a browser's
    ``Sec-Fetch-Site`` says so, else its ``Origin`` is this listener's (or absent)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def session_cookie(response: web.StreamResponse, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=SESSION_S, path=PATH, httponly=True, samesite="Strict"
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path=PATH)
