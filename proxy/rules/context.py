"""The request context: the flat ``{field: value}`` dict that rule conditions and placeholders read.

Built once per request that Vernier may change, from the request line, headers, cookies, the
visitor's profile and the clock; a pure function, no I/O. ``hour`` and ``weekday`` are on the
visitor's clock when their profile holds the time zone the tracker reported (``tz``), else on
the configured zone's (:mod:`proxy.rules.clock`). Field names are those of
``docs/rules-spec.md`` ("Context fields"). A field that cannot be known is **absent**, never a
zero or an empty string standing in for "unknown": a missing field compares false, so
``visits_7d < 3`` does not match a visitor whose profile could not be read.

Values are ``str``, ``int``, ``float`` or ``bool``. Request-derived fields win over profile
fields of the same name.

**Headers are allow-listed.** ``header.<name>`` exposes only :data:`SAFE_HEADERS` plus the
configured ``extra_headers``: request headers carry secrets (``Authorization``, ``Cookie``,
``Proxy-Authorization``, API keys in ``X-*`` headers, forwarded client addresses), and anything
in the context can be written into the page by a ``{{ header.… }}`` placeholder — and from there
into a shared cache. Cookies are exposed (``cookie.<name>``) because rules need them, within
bounds: at most :data:`MAX_COOKIES`, names of at most :data:`MAX_COOKIE_NAME_CHARS` characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from proxy.rules.clock import WEEKDAYS as WEEKDAYS  # re-exported: `vernier preview --weekday`
from proxy.rules.clock import local_time, visitor_zone
from proxy.rules.referrer import classify_referrer
from proxy.rules.user_agent import classify

Context = dict[str, object]

MAX_COOKIES = 50
MAX_COOKIE_NAME_CHARS = 64
MAX_VALUE_CHARS = 1024  # header, cookie and utm values longer than this are cut

# Safe to show a rule: they describe the browser, never the user's credentials or address.
SAFE_HEADERS: tuple[str, ...] = (
    "accept-language",
    "user-agent",
    "dnt",
    "sec-gpc",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "sec-ch-ua-platform-version",
    "sec-ch-ua-model",
    "sec-ch-ua-arch",
    "sec-ch-ua-bitness",
    "sec-ch-ua-wow64",
    "sec-ch-ua-full-version",
    "sec-ch-ua-full-version-list",
    "sec-ch-ua-form-factors",
)

UTM_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f"utm_{part}", f"utm.{part}") for part in ("source", "medium", "campaign", "term", "content")
)

# ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision ("US", "US-CA", "GB-ENG"); a
# digit is allowed second for Cloudflare's "T1" (Tor). ASCII only: "ß".upper() is "SS".
_GEO = re.compile(r"([A-Z][A-Z0-9])(?:-([A-Z0-9]{1,3}))?", re.ASCII | re.IGNORECASE)
_UNKNOWN_COUNTRIES = frozenset({"XX", "ZZ"})  # Cloudflare's and CLDR's "unknown"
_LANGUAGE = re.compile(r"[a-z]{1,8}")
_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?(?:[eE][-+]?[0-9]{1,3})?")


def build_context(
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    profile: Mapping[str, str],
    now: datetime,
    time_zone: ZoneInfo,
    geo_header: str | None,
    own_hosts: frozenset[str],
    landing: bool,
    page_type: str,
    extra_headers: tuple[str, ...] = (),
    hidden_cookies: frozenset[str] = frozenset(),
    zone_header: str | None = None,
) -> Context:
    """The context for one request; never raises on anything the client sent.

    ``headers`` must be case-insensitive (aiohttp's ``CIMultiDictProxy``); a plain ``dict`` works
    with lower-case keys. ``geo_header`` is the value of the configured trusted geo header,
    ``host`` the request's host (lower case; a referrer from it is ``internal`` like one from
    ``own_hosts``), ``page_type`` the current page's type (picks ``max_scroll``),
    ``extra_headers`` the configured lower-case names added to :data:`SAFE_HEADERS`,
    ``hidden_cookies`` cookies rules must not read (Vernier's own signed ids), ``zone_header``
    the value of the configured trusted time zone header (the clock when the profile has no
    zone the tracker reported; ``proxy.rules.clock``). ``method``
    is accepted for symmetry with ``where`` matching and is not a context field.

    Raises ``ValueError`` if ``now`` is naive (a programming error: the hour would silently be
    the server's local time).
    """
    if now.tzinfo is None:
        raise ValueError("build_context: `now` must be timezone-aware")
    ctx: Context = profile_fields(profile, page_type) if profile else {}

    device = classify(
        headers.get("user-agent"),
        ch_mobile=headers.get("sec-ch-ua-mobile"),
        ch_platform=headers.get("sec-ch-ua-platform"),
    )
    ctx["device"] = device.device
    ctx["browser"] = device.browser
    ctx["os"] = device.os

    reported = profile.get("tz") if profile else None
    zone = visitor_zone(reported) if reported else None
    if zone is None:
        ctx.pop("tz", None)  # a name this server's database does not know: not the clock used
        edge_zone = zone_header.strip() if zone_header else ""
        if edge_zone and (zone := visitor_zone(edge_zone)) is not None:
            ctx["tz"] = edge_zone
    ctx["hour"], ctx["weekday"] = local_time(now, zone or time_zone)

    if geo_header:
        _add_geo(ctx, geo_header)

    referrer = classify_referrer(headers.get("referer"), own_hosts=own_hosts)
    klass: str = referrer.klass
    if klass != "internal" and referrer.domain and referrer.domain == _strip_www(host.lower()):
        klass = "internal"
    for key, field in UTM_FIELDS:
        value = query.get(key)
        if value is not None:
            ctx[field] = value[:MAX_VALUE_CHARS]
    # desktop mail clients send no referrer; a tagged link is the only sign of an email visit
    if klass != "internal" and query.get("utm_medium", "").strip().lower() == "email":
        klass = "email"
    ctx["referrer.domain"] = referrer.domain
    ctx["referrer.class"] = klass

    _add_cookies(ctx, cookies, hidden_cookies)
    for name in SAFE_HEADERS:
        value = headers.get(name)
        if value is not None:
            ctx[f"header.{name}"] = value[:MAX_VALUE_CHARS]
    for name in extra_headers:
        value = headers.get(name)
        if value is not None:
            ctx[f"header.{name}"] = value[:MAX_VALUE_CHARS]

    language = _language(headers.get("accept-language"))
    if language is not None:
        ctx["language"] = language
    ctx["path"] = path
    ctx["landing"] = landing
    return _valid_text(ctx)


def _valid_text(ctx: Context) -> Context:
    """``ctx`` with text that is valid Unicode: a client's bytes that are not UTF-8 (a latin-1
    ``Referer``) reach here as lone surrogates (aiohttp decodes with ``surrogateescape``), which
    no log, JSON or VW line can hold; each such byte becomes U+FFFD. Keys and values alike."""
    if all(
        key.isascii() and (not isinstance(value, str) or value.isascii())
        for key, value in ctx.items()
    ):
        return ctx
    return {
        _text(key): _text(value) if isinstance(value, str) else value for key, value in ctx.items()
    }


def _text(value: str) -> str:
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate no decoding made
        return value.encode("utf-8", "replace").decode("utf-8")


def _strip_www(host: str) -> str:
    host = host.partition(":")[0] if not host.startswith("[") else host
    return host[4:] if host.startswith("www.") else host


def _add_geo(ctx: Context, value: str) -> None:
    """``country`` ("US") and ``region`` (ISO 3166-2, "US-CA") from ``US`` or ``US-CA``."""
    match = _GEO.fullmatch(value.strip())
    if match is None:
        return
    country = match.group(1).upper()
    if country in _UNKNOWN_COUNTRIES:
        return
    ctx["country"] = country
    if match.group(2) is not None:
        ctx["region"] = match.group(0).upper()


def _add_cookies(ctx: Context, cookies: Mapping[str, str], hidden: frozenset[str]) -> None:
    taken = 0
    for name, value in cookies.items():
        if taken >= MAX_COOKIES:
            break
        if not name or len(name) > MAX_COOKIE_NAME_CHARS or name in hidden:
            continue
        ctx[f"cookie.{name}"] = value[:MAX_VALUE_CHARS]
        taken += 1


def _language(accept_language: str | None) -> str | None:
    """The primary subtag of the first Accept-Language entry: ``de`` from ``de-CH, en;q=0.8``."""
    if not accept_language:
        return None
    first = accept_language.partition(",")[0].partition(";")[0].strip()
    primary = first.partition("-")[0].partition("_")[0].lower()
    return primary if primary.isascii() and _LANGUAGE.fullmatch(primary) else None


def profile_fields(profile: Mapping[str, str], page_type: str) -> Context:
    """Every profile field as a number where it is one; ``a:b`` also as ``a.b``.

    The profile hash stores ``clicks:hero`` and ``max_scroll:<type>``; the rule language uses dots
    (``clicks.hero``). ``max_scroll`` is the current page type's.
    """
    ctx: Context = {}
    for name, raw in profile.items():
        value = _number(raw)
        ctx[name] = value
        if ":" in name:
            ctx[name.replace(":", ".")] = value
    current = ctx.get(f"max_scroll:{page_type}")
    if current is not None:
        ctx["max_scroll"] = current
    return ctx


def _number(raw: str) -> int | float | str:
    """``int`` or finite ``float`` when ``raw`` is one in plain notation, else ``raw``.

    Stricter than ``int()``/``float()``, which also take ``1_000``, `` 7 ``, ``nan`` and ``inf``.
    """
    if _INT.fullmatch(raw):
        return int(raw)
    if _FLOAT.fullmatch(raw):
        number = float(raw)
        if math.isfinite(number):
            return number
    return raw
