"""Referrer classification: domain normalisation and the search/social/email/internal table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.rules.referrer import Referrer, ReferrerClass, classify_referrer

OWN = frozenset({"shop.example", "www.shop.example", "blog.shop.example"})

# (Referer header, domain, class)
TABLE: list[tuple[str | None, str, ReferrerClass]] = [
    # search
    ("https://www.google.com/", "google.com", "search"),
    ("https://www.google.co.uk/", "google.co.uk", "search"),
    ("https://www.google.de/search?q=kaffee", "google.de", "search"),
    ("https://www.google.com.au/", "google.com.au", "search"),
    ("https://images.google.com/", "images.google.com", "search"),
    ("https://www.bing.com/search?q=coffee", "bing.com", "search"),
    ("https://cn.bing.com/", "cn.bing.com", "search"),
    ("https://duckduckgo.com/", "duckduckgo.com", "search"),
    ("https://html.duckduckgo.com/", "html.duckduckgo.com", "search"),
    ("https://search.yahoo.com/", "search.yahoo.com", "search"),
    ("https://r.search.yahoo.com/_ylt=abc", "r.search.yahoo.com", "search"),
    ("https://www.baidu.com/link?url=x", "baidu.com", "search"),
    ("https://yandex.ru/", "yandex.ru", "search"),
    ("https://ya.ru/", "ya.ru", "search"),
    ("https://www.ecosia.org/", "ecosia.org", "search"),
    ("https://www.startpage.com/", "startpage.com", "search"),
    ("https://www.qwant.com/", "qwant.com", "search"),
    ("https://search.brave.com/", "search.brave.com", "search"),
    (
        "android-app://com.google.android.googlequicksearchbox/",
        "com.google.android.googlequicksearchbox",
        "search",
    ),
    # social
    ("https://www.facebook.com/", "facebook.com", "social"),
    ("https://l.facebook.com/l.php?u=x", "l.facebook.com", "social"),
    ("https://m.facebook.com/", "m.facebook.com", "social"),
    ("https://www.instagram.com/", "instagram.com", "social"),
    ("https://t.co/AbCdEf", "t.co", "social"),
    ("https://twitter.com/", "twitter.com", "social"),
    ("https://x.com/someone/status/1", "x.com", "social"),
    ("https://www.linkedin.com/feed/", "linkedin.com", "social"),
    ("https://lnkd.in/abc", "lnkd.in", "social"),
    ("https://old.reddit.com/r/coffee/", "old.reddit.com", "social"),
    ("https://www.pinterest.co.uk/", "pinterest.co.uk", "social"),
    ("https://www.tiktok.com/", "tiktok.com", "social"),
    ("https://www.youtube.com/", "youtube.com", "social"),
    ("https://youtu.be/xyz", "youtu.be", "social"),
    ("https://news.ycombinator.com/item?id=1", "news.ycombinator.com", "social"),
    ("android-app://com.facebook.katana/", "com.facebook.katana", "social"),
    # email
    ("https://mail.google.com/", "mail.google.com", "email"),
    ("https://outlook.live.com/", "outlook.live.com", "email"),
    ("https://outlook.office.com/mail/", "outlook.office.com", "email"),
    ("https://mail.yahoo.com/", "mail.yahoo.com", "email"),
    ("https://mail.proton.me/", "mail.proton.me", "email"),
    ("https://webmail.example-isp.net/", "webmail.example-isp.net", "email"),
    ("android-app://com.google.android.gm/", "com.google.android.gm", "email"),
    # internal (own hosts, with or without www.)
    ("https://shop.example/products/1", "shop.example", "internal"),
    ("https://www.shop.example/", "shop.example", "internal"),
    ("https://blog.shop.example/post", "blog.shop.example", "internal"),
    ("https://SHOP.EXAMPLE:8443/", "shop.example", "internal"),
    # direct
    (None, "", "direct"),
    ("", "", "direct"),
    ("   ", "", "direct"),
    # other
    ("https://docs.google.com/document/d/1", "docs.google.com", "other"),
    ("https://google.evil.example/", "google.evil.example", "other"),
    ("https://notfacebook.com/", "notfacebook.com", "other"),
    ("https://coffee-blog.example/review", "coffee-blog.example", "other"),
    ("https://user:pw@WWW.Partner.Example.:8080/path?q=1#frag", "partner.example", "other"),
    ("http://[2001:db8::1]:8080/", "[2001:db8::1]", "other"),
    ("android-app://com.example.someapp/", "com.example.someapp", "other"),
    ("not a url", "", "other"),
    ("https:///nohost", "", "other"),
]


@pytest.mark.parametrize(("referer", "domain", "klass"), TABLE)
def test_classify_referrer(referer: str | None, domain: str, klass: ReferrerClass) -> None:
    assert classify_referrer(referer, own_hosts=OWN) == Referrer(domain, klass)


def test_own_hosts_empty_means_nothing_is_internal() -> None:
    assert classify_referrer("https://shop.example/", own_hosts=frozenset()).klass == "other"


@given(st.text(max_size=300))
def test_arbitrary_referrer_never_raises(referer: str) -> None:
    result = classify_referrer(referer, own_hosts=OWN)
    assert result.klass in {"search", "social", "email", "internal", "direct", "other"}


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-:@[]", max_size=80))
def test_arbitrary_authority_never_raises(authority: str) -> None:
    classify_referrer(f"https://{authority}/x", own_hosts=OWN)
