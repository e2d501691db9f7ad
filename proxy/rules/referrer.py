"""Where a visit came from: the ``Referer`` header's domain and its class.

Classes: ``search``, ``social``, ``email`` (webmail), ``internal`` (one of the site's own hosts),
``direct`` (no referrer) and ``other``. The request context adds one more source of ``email``:
``utm_medium=email`` in the query, since desktop mail clients send no referrer at all.

Most browsers send only the origin cross-site (``strict-origin-when-cross-origin``), so the host
is all there is to go on. Matching is by host name, never by substring of the whole URL:

* **search** engines match as ``<brand>.<public suffix>`` with at most a short prefix
  (``www.google.co.uk``, ``cn.bing.com``, ``r.search.yahoo.com``, ``html.duckduckgo.com``), so
  ``docs.google.com`` is ``other`` and ``google.evil.example`` is not a search engine;
* **social** networks match on any sub-domain of theirs (``l.facebook.com``, ``old.reddit.com``)
  plus their link shorteners (``t.co``, ``lnkd.in``, ``youtu.be``);
* **email** is a host starting with ``mail.`` or ``webmail.`` (``mail.google.com``,
  ``mail.yahoo.com``, ``mail.proton.me``) or one of a few webmail hosts (Outlook).

Android apps send ``android-app://<package>/``; the Gmail, Google search and large social apps
are recognised by package name, which is then the domain.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

ReferrerClass = Literal["search", "social", "email", "internal", "direct", "other"]

MAX_HOST_CHARS = 253  # RFC 1035: the longest DNS name
CACHE_SIZE = 1024


class Referrer(NamedTuple):
    """``domain``: lower case, without ``www.``; empty when there is no usable referrer."""

    domain: str
    klass: ReferrerClass


DIRECT = Referrer("", "direct")

# <brand>.<tld> or <brand>.<sld>.<cc> ("google.com", "google.co.uk", "yahoo.co.jp")
_SUFFIX = r"\.(?:[a-z]{2,3}|xn--[a-z0-9-]+)(?:\.[a-z]{2})?$"
_SEARCH_BRANDS = (
    "google",
    "bing",
    "duckduckgo",
    "yahoo",
    "baidu",
    "yandex",
    "ecosia",
    "startpage",
    "qwant",
    "ask",
    "aol",
    "naver",
    "seznam",
    "sogou",
    "daum",
    "mojeek",
    "kagi",
)
_SEARCH = re.compile(
    r"^(?:(?:[a-z]{1,2}|images|news|encrypted|html|lite)\.)?(?:search\.)?(?:"
    + "|".join(_SEARCH_BRANDS)
    + ")"
    + _SUFFIX
)
_SEARCH_HOSTS = frozenset({"search.brave.com", "ya.ru", "so.com", "m.so.com", "presearch.com"})

_SOCIAL_BRANDS = (
    "facebook",
    "instagram",
    "twitter",
    "linkedin",
    "reddit",
    "pinterest",
    "tiktok",
    "youtube",
    "tumblr",
    "snapchat",
    "threads",
    "quora",
    "discord",
    "telegram",
    "whatsapp",
    "messenger",
    "weibo",
    "vk",
    "xing",
)
_SOCIAL = re.compile(r"(?:^|\.)(?:" + "|".join(_SOCIAL_BRANDS) + ")" + _SUFFIX)
_SOCIAL_HOSTS = frozenset(
    {
        "t.co",
        "x.com",
        "fb.me",
        "m.me",
        "lnkd.in",
        "youtu.be",
        "pin.it",
        "redd.it",
        "t.me",
        "wa.me",
        "bsky.app",
        "mastodon.social",
        "news.ycombinator.com",
    }
)

_EMAIL = re.compile(r"^(?:web)?mail\.")
_EMAIL_HOSTS = frozenset(
    {
        "outlook.live.com",
        "outlook.office.com",
        "outlook.office365.com",
        "app.fastmail.com",
        "e.mail.ru",
    }
)

_ANDROID_APPS: dict[str, ReferrerClass] = {
    "com.google.android.gm": "email",
    "com.microsoft.office.outlook": "email",
    "com.google.android.googlequicksearchbox": "search",
    "com.facebook.katana": "social",
    "com.facebook.orca": "social",
    "com.instagram.android": "social",
    "com.twitter.android": "social",
    "com.linkedin.android": "social",
    "com.reddit.frontpage": "social",
    "com.pinterest": "social",
    "com.zhiliaoapp.musically": "social",
    "com.google.android.youtube": "social",
}

# scheme://[userinfo@]host[:port] — the authority ends at the first / ? or #
_AUTHORITY = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#\s]*)")


def classify_referrer(referrer: str | None, *, own_hosts: frozenset[str]) -> Referrer:
    """The referrer's domain and class; never raises.

    ``own_hosts`` are the site's host names in lower case; a referrer on one of them, with or
    without ``www.``, is ``internal``.
    """
    if not referrer or not referrer.strip():
        return DIRECT
    match = _AUTHORITY.match(referrer.strip())
    if match is None:
        return Referrer("", "other")
    scheme = match.group(1).lower()
    host = _host(match.group(2))
    if not host:
        return Referrer("", "other")
    if scheme == "android-app":
        return Referrer(host, _ANDROID_APPS.get(host, "other"))
    domain = host[4:] if host.startswith("www.") else host
    if host in own_hosts or domain in own_hosts or f"www.{domain}" in own_hosts:
        return Referrer(domain, "internal")
    return Referrer(domain, _host_class(domain))


def _host(authority: str) -> str:
    """The lower-case host of an authority, without user info, port or a trailing dot."""
    host = authority.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal keeps its brackets
        host = host[: host.find("]") + 1] if "]" in host else ""
    else:
        host = host.partition(":")[0]
    return host.rstrip(".").lower()[:MAX_HOST_CHARS]


@lru_cache(maxsize=CACHE_SIZE)
def _host_class(domain: str) -> ReferrerClass:
    if domain in _EMAIL_HOSTS or _EMAIL.match(domain):
        return "email"
    if _suffix_in(domain, _SOCIAL_HOSTS) or _SOCIAL.search(domain):
        return "social"
    if domain in _SEARCH_HOSTS or _SEARCH.match(domain):
        return "search"
    return "other"


def _suffix_in(domain: str, hosts: frozenset[str]) -> bool:
    """``domain`` is one of ``hosts`` or a sub-domain of one (``mobile.x.com``)."""
    while True:
        if domain in hosts:
            return True
        dot = domain.find(".")
        if dot < 0:
            return False
        domain = domain[dot + 1 :]
