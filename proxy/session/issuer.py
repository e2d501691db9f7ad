"""Issuing and clearing Vernier's first-party ids as ``Set-Cookie`` values.

Used where ids may start: pages Vernier injects into (``stages/encode.py``) and the consent
endpoint. The cookie attributes are fixed by config, so they are validated and built once.
"""

from __future__ import annotations

import time

from proxy.config.schema import SessionConfig
from proxy.exchange import Identity
from proxy.govern.fallback import COOKIE_NAME as SHOWN_COOKIE
from proxy.session.cookie import CookieSigner, cookie_header, cookie_name


def _template(name: str, max_age_s: int, secure: bool) -> str:
    """A ``str.format`` template of the Set-Cookie value; signed values need no escaping."""
    sample = cookie_header(name, "VALUE", max_age_s=max_age_s, secure=secure)
    return sample.replace("{", "{{").replace("}", "}}").replace("=VALUE", "={}", 1)


class IdIssuer:
    def __init__(self, config: SessionConfig, signer: CookieSigner, *, secure: bool) -> None:
        self.config = config
        self.signer = signer
        self.secure = secure
        self.session_cookie = cookie_name(config.cookie_name, secure=secure)
        self.visitor_cookie = cookie_name(config.visitor_cookie_name, secure=secure)
        self._session = _template(self.session_cookie, config.idle_timeout_s, secure)
        self._visitor = _template(self.visitor_cookie, config.visitor_max_age_s, secure)

    def issue_missing(self, identity: Identity) -> list[str]:
        """Set-Cookie values for whichever of the two ids ``identity`` lacks (updated in place)."""
        cookies: list[str] = []
        now = int(time.time())
        if identity.session_id is None:
            identity.session_id, value = self.signer.issue_with_id(now)
            identity.new_session = True
            cookies.append(self._session.format(value))
        if identity.visitor_id is None:
            identity.visitor_id, value = self.signer.issue_with_id(now)
            identity.new_visitor = True
            cookies.append(self._visitor.format(value))
        return cookies

    def clear_all(self) -> list[str]:
        """Set-Cookie values that delete both ids and the variants shown, which name decisions
        (consent withdrawn, visitor forgotten)."""
        return [
            cookie_header(name, "", max_age_s=0, secure=self.secure)
            for name in (self.session_cookie, self.visitor_cookie, SHOWN_COOKIE)
        ]

    def consent_cookie(self, granted: bool) -> str:
        return cookie_header(
            self.config.consent_cookie_name,
            "1" if granted else "0",
            max_age_s=self.config.visitor_max_age_s,
            secure=self.secure,
            http_only=False,  # the site's own consent banner may read it
        )
