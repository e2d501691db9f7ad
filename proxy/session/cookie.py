"""Signed first-party identifiers in cookies.

The contract: docs/design.md §2 step 1; the cases: docs/reliability.md SE-06, EV-07.

A cookie value is ``v1.<key id>.<id>.<issued>.<mac>``:

- ``id``: 128 random bits from :mod:`secrets`, 32 lower-case hex digits (OWASP Session Management
  cheat sheet: ≥ 64 bits of entropy);
- ``issued``: issue time, Unix seconds in lower-case base 36, so the server can expire an id
  whatever ``Max-Age`` the browser honoured;
- ``mac``: the first 16 bytes of HMAC-SHA256(secret, ``v1|key id|id|issued``), base64url without
  padding. 128 bits of tag is beyond any online forgery budget, and keeps values ~90 bytes.

The key id names the secret, so keys rotate without logging anyone out: the first key signs, every
key in the ring verifies until it is removed. Verification fails closed and quietly: anything that
is not exactly a value we signed, with a key we still hold, within its age, yields ``None`` (the
caller issues a fresh id), so an attacker-chosen id never reaches the store (EV-07).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from proxy.records.http_token import HTTP_TOKEN

__all__ = ["CookieSigner", "SigningKey", "cookie_header", "cookie_name", "id_in_value", "new_id"]

MAX_VALUE_CHARS: Final = 200
"""Longer values are rejected before any parsing or hashing (an 8 KB cookie costs nothing)."""

MAX_CLOCK_SKEW_S: Final = 300
"""An id issued up to this far in the future still verifies: workers' clocks differ slightly."""

MAX_COOKIE_AGE_S: Final = 400 * 24 * 3600
"""Browsers cap ``Max-Age`` at 400 days (RFC 6265bis §5.6.2, "cookie lifetime limits")."""

MIN_SECRET_BYTES: Final = 16

_VERSION: Final = "v1"
_MAC_BYTES: Final = 16
_KEY_ID = re.compile(r"[A-Za-z0-9]{1,8}")
_ID_HEX = re.compile(r"[0-9a-f]{32}")
_BASE36 = re.compile(r"0|[1-9a-z][0-9a-z]{0,12}")  # canonical: no leading zeros, < 36**13
_MAC_B64 = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")  # 16 bytes, unpadded, unused bits zero
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")  # RFC 6265 §4.1.1
_SAME_SITE: Final = {"strict": "Strict", "lax": "Lax", "none": "None"}
_HOST_PREFIX: Final = "__Host-"
_DIGITS36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def id_in_value(text: str, base_name: str) -> str | None:
    """The id in a cookie value of ours: ``text`` is the value, or ``name=value`` pairs as a
    browser's tools copy a Cookie header (the pair of the cookie named ``base_name``, with or
    without its ``__Host-`` prefix, is read). Unverified: for commands an operator runs against
    their own store, where a signature would prove nothing. ``None`` for anything else."""
    value = text.strip()
    if "=" in value:  # base64url unpadded: a value of ours holds no "="
        pairs = (pair.strip().partition("=") for pair in value.split(";"))
        names = (base_name, _HOST_PREFIX + base_name)
        value = next((v for name, _, v in pairs if name in names), "")
    parts = value.split(".")
    if len(parts) == 5 and parts[0] == _VERSION and _ID_HEX.fullmatch(parts[2]):
        return parts[2]
    return None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One HMAC key of the ring. ``secret`` is kept out of ``repr`` so it never reaches a log."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            raise ValueError(f"signing key id {self.key_id!r} must be 1-8 ASCII letters/digits")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"signing key {self.key_id!r}: secret under {MIN_SECRET_BYTES} bytes")


def new_id() -> str:
    """A fresh 128-bit identifier as 32 lower-case hex digits."""
    return secrets.token_hex(16)


class CookieSigner:
    """Issues and verifies signed identifiers; the first key signs, all keys verify (rotation)."""

    __slots__ = ("_keys", "_signing")

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._keys: dict[str, bytes] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ValueError(f"signing key id {key.key_id!r} appears twice")
            self._keys[key.key_id] = key.secret
        self._signing = keys[0]

    def issue(self, now_s: int) -> str:
        """A cookie value for a new random id (see :meth:`issue_with_id` to learn the id)."""
        return self.sign(new_id(), now_s=now_s)

    def issue_with_id(self, now_s: int) -> tuple[str, str]:
        """``(id, cookie value)`` for a new random id."""
        if now_s < 0:
            raise ValueError("now_s must be >= 0")
        id_hex = new_id()
        return id_hex, self._signed(id_hex, _to_base36(now_s))

    def sign(self, id_hex: str, *, now_s: int) -> str:
        """The cookie value for ``id_hex`` issued at ``now_s``, signed with the first key."""
        if not _ID_HEX.fullmatch(id_hex):
            raise ValueError("an id is 32 lower-case hex digits")
        if now_s < 0:
            raise ValueError("now_s must be >= 0")
        return self._signed(id_hex, _to_base36(now_s))

    def _signed(self, id_hex: str, issued: str) -> str:
        key = self._signing
        mac = _mac(key.secret, key.key_id, id_hex, issued)
        encoded = base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
        return f"{_VERSION}.{key.key_id}.{id_hex}.{issued}.{encoded}"

    def verify(self, value: str | None, *, now_s: int, max_age_s: int) -> str | None:
        """The id in ``value`` if we signed it with a key still in the ring and it was issued at
        most ``max_age_s`` seconds before ``now_s``; otherwise ``None``. Never raises.

        The MAC is compared in constant time (:func:`hmac.compare_digest`); what is rejected
        earlier (length, shape, unknown key) reveals nothing secret.
        """
        if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS or not value.isascii():
            return None
        parts = value.split(".")
        if len(parts) != 5:
            return None
        version, key_id, id_hex, issued, mac_text = parts
        if (
            version != _VERSION
            or not _ID_HEX.fullmatch(id_hex)
            or not _BASE36.fullmatch(issued)
            or not _MAC_B64.fullmatch(mac_text)
        ):
            return None
        secret = self._keys.get(key_id)
        if secret is None:
            return None
        try:
            mac = base64.urlsafe_b64decode(mac_text + "==")
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, _mac(secret, key_id, id_hex, issued)):
            return None
        age_s = now_s - int(issued, 36)
        if age_s > max_age_s or age_s < -MAX_CLOCK_SKEW_S:
            return None
        return id_hex


def _mac(secret: bytes, key_id: str, id_hex: str, issued: str) -> bytes:
    message = f"{_VERSION}|{key_id}|{id_hex}|{issued}".encode("ascii")
    return hmac.digest(secret, message, hashlib.sha256)[:_MAC_BYTES]  # one-shot: no HMAC object


@functools.lru_cache(maxsize=4)  # every id issued in the same second has the same issue time
def _to_base36(number: int) -> str:
    digits = []
    while True:
        number, digit = divmod(number, 36)
        digits.append(_DIGITS36[digit])
        if number == 0:
            return "".join(reversed(digits))


def cookie_name(base: str, *, secure: bool) -> str:
    """``__Host-<base>`` over HTTPS: the browser then guarantees the cookie was set by this host
    over a secure channel for the whole site (Secure, ``Path=/``, no ``Domain``), so a sibling
    subdomain cannot plant or shadow it (RFC 6265bis §4.1.3.2)."""
    if not HTTP_TOKEN.fullmatch(base) or base.lower().startswith(("__host-", "__secure-")):
        raise ValueError(f"cookie base name {base!r} must be a plain token without a prefix")
    return _HOST_PREFIX + base if secure else base


def cookie_header(
    name: str,
    value: str,
    *,
    max_age_s: int | None,
    secure: bool,
    http_only: bool = True,
    same_site: str = "Lax",
) -> str:
    """A ``Set-Cookie`` value: ``Path=/``, never ``Domain`` (host-only: the cookie stays on the
    proxied host and cannot collide with the site's own domain cookies).

    ``max_age_s=None`` makes a session cookie; ``0`` deletes. Raises :class:`ValueError` for a
    name or value outside RFC 6265 §4.1.1, a ``Max-Age`` outside 0-400 days, an unknown
    ``SameSite``, ``SameSite=None`` without ``Secure`` (browsers drop such cookies), and a
    ``__Host-``/``__Secure-`` name (prefixes are matched case-insensitively) without ``Secure``.
    """
    if not HTTP_TOKEN.fullmatch(name):
        raise ValueError(f"cookie name {name!r} is not a token")
    if not _COOKIE_OCTETS.fullmatch(value):
        raise ValueError("cookie value has characters outside RFC 6265 cookie-octets")
    if name.lower().startswith(("__host-", "__secure-")) and not secure:
        raise ValueError(f"cookie {name!r}: the __Host-/__Secure- prefix requires Secure")
    site = _SAME_SITE.get(same_site.lower())
    if site is None:
        raise ValueError(f"SameSite must be Strict, Lax or None, not {same_site!r}")
    if site == "None" and not secure:
        raise ValueError("SameSite=None requires Secure")
    attributes = [f"{name}={value}", "Path=/"]
    if max_age_s is not None:
        if not 0 <= max_age_s <= MAX_COOKIE_AGE_S:
            raise ValueError(f"Max-Age must be 0-{MAX_COOKIE_AGE_S} s, not {max_age_s}")
        attributes.append(f"Max-Age={max_age_s}")
    if secure:
        attributes.append("Secure")
    if http_only:
        attributes.append("HttpOnly")
    attributes.append(f"SameSite={site}")
    return "; ".join(attributes)
