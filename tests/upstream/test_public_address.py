"""Origin addresses in Location and Set-Cookie become the public ones.

The cases: docs/reliability.md PX-09, PX-10.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from proxy.upstream.public_address import PublicAddress

ORIGIN = "http://127.0.0.1:8000"
PUBLIC = "https://shop.example"

with_public = PublicAddress(ORIGIN, PUBLIC)
without_public = PublicAddress(ORIGIN, None)


# --- Location ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:8000/x?y=1#z", "https://shop.example/x?y=1#z"),
        ("http://127.0.0.1:8000", "https://shop.example/"),
        ("http://127.0.0.1:8000?q=1", "https://shop.example?q=1"),
        ("HTTP://127.0.0.1:8000/Path", "https://shop.example/Path"),
        ("/relative", "/relative"),
        ("relative/too", "relative/too"),
        ("https://other.example/", "https://other.example/"),
        ("https://127.0.0.1:8000/x", "https://127.0.0.1:8000/x"),
        ("http://127.0.0.1:80001/x", "http://127.0.0.1:80001/x"),
        ("http://127.0.0.1:8000.evil.example/x", "http://127.0.0.1:8000.evil.example/x"),
        ("http://127.0.0.1:8000@evil.example/x", "http://127.0.0.1:8000@evil.example/x"),
        ("http://127.0.0.1/x", "http://127.0.0.1/x"),
        ("//127.0.0.1:8000/x?y=1", "https://shop.example/x?y=1"),
        ("//127.0.0.1:8000", "https://shop.example/"),
        ("//127.0.0.1:8000.evil.example/x", "//127.0.0.1:8000.evil.example/x"),
        ("//other.example/x", "//other.example/x"),
    ],
)
def test_location_with_public_url(location: str, expected: str) -> None:
    assert with_public.location(location) == expected


def test_public_url_trailing_slash_is_not_doubled() -> None:
    assert PublicAddress(ORIGIN, PUBLIC + "/").location(ORIGIN + "/a") == PUBLIC + "/a"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:8000/x?y", "/x?y"),
        ("http://127.0.0.1:8000", "/"),
        ("http://127.0.0.1:8000?y=1", "/?y=1"),
        ("http://127.0.0.1:8000#top", "/#top"),
        ("//127.0.0.1:8000/x?y", "/x?y"),
        ("//127.0.0.1:8000//evil.example/", "/.//evil.example/"),
        ("/\\127.0.0.1:8000/x", "/x"),  # browsers read /\ as //
        ("\t//127.0.0.1:8000/x", "/x"),
        ("http:\\\\127.0.0.1:8000\\x", "\\x"),  # and \x as /x (not "/\x": that is //x)
        ("/\\127.0.0.1:8000\\\\evil.example/", "/.\\\\evil.example/"),
        ("//127.0.0.1:8000\t//evil.example/", "/.\t//evil.example/"),
        ("//127.0.0.1:8000\\/evil.example/", "/.\\/evil.example/"),
        ("https://other.example/x", "https://other.example/x"),
    ],
)
def test_location_without_public_url_becomes_origin_relative(location: str, expected: str) -> None:
    assert without_public.location(location) == expected


@pytest.mark.parametrize("path", ["//evil.example/x", "/\\evil.example/", "/\t/evil.example/"])
def test_origin_path_that_looks_like_another_host_stays_a_path(path: str) -> None:
    relative = without_public.location(ORIGIN + path)
    # resolved against the page the visitor is on, it still names that page's host
    resolved = URL("https://shop.example/cart/").join(URL(relative.replace("\t", "")))
    assert resolved.host == "shop.example"
    assert relative.endswith(path)


@pytest.mark.parametrize(
    ("origin", "location", "expected"),
    [
        ("http://origin.internal", "http://origin.internal:80/x", "https://shop.example/x"),
        ("http://origin.internal", "http://ORIGIN.internal/x", "https://shop.example/x"),
        ("http://origin.internal:80", "http://origin.internal/x", "https://shop.example/x"),
        ("https://origin.internal", "https://origin.internal:443/x", "https://shop.example/x"),
        ("https://origin.internal", "http://origin.internal/x", "http://origin.internal/x"),
        (
            "http://origin.internal",
            "http://origin.internal:8080/x",
            "http://origin.internal:8080/x",
        ),
        (
            "http://origin.internal",
            "http://origin.internal.evil/x",
            "http://origin.internal.evil/x",
        ),
        ("http://127.0.0.1:80", "http://127.0.0.1:80001/", "http://127.0.0.1:80001/"),
        ("http://[::1]:8000", "http://[::1]:8000/x", "https://shop.example/x"),
    ],
)
def test_location_default_ports_and_case(origin: str, location: str, expected: str) -> None:
    assert PublicAddress(origin, PUBLIC).location(location) == expected


@given(
    st.sampled_from(["http://127.0.0.1:8000", "//127.0.0.1:8000", "/\\127.0.0.1:8000"]),
    st.text(alphabet=st.sampled_from("/\\\t\n?#.:@ae"), max_size=12),
)
def test_no_form_of_the_origin_becomes_another_host(origin: str, tail: str) -> None:
    """Whatever follows the origin, the relative form resolves (as a browser would: tabs and
    newlines dropped, backslashes as slashes) to the visitor's own host."""
    relative = without_public.location(origin + tail)
    if relative == origin + tail:
        return  # not the origin (e.g. a longer host or another port): left as it is
    resolved = URL("https://shop.example/cart/").join(
        URL(relative.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/"))
    )
    assert resolved.host == "shop.example", relative


@given(st.text(max_size=40))
def test_rewritten_location_never_names_another_host(tail: str) -> None:
    relative = without_public.location(ORIGIN + "/" + tail)
    cleaned = relative.replace("\t", "").replace("\n", "").replace("\r", "")
    assert cleaned.startswith("/") and cleaned[1:2] not in ("/", "\\")
    absolute = with_public.location(ORIGIN + "/" + tail)
    assert absolute == PUBLIC + "/" + tail


# --- Set-Cookie --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("a=1; Domain=127.0.0.1; Path=/", "a=1; Domain=shop.example; Path=/"),
        ("a=1; domain=.127.0.0.1; Secure", "a=1; Domain=shop.example; Secure"),
        ("a=1;DOMAIN = 127.0.0.1 ;HttpOnly", "a=1;Domain=shop.example;HttpOnly"),
        ("a=1;   Domain=127.0.0.1", "a=1;   Domain=shop.example"),
        (
            "sid=x; Path=/; Domain=127.0.0.1; Secure; HttpOnly; SameSite=Lax; Max-Age=60",
            "sid=x; Path=/; Domain=shop.example; Secure; HttpOnly; SameSite=Lax; Max-Age=60",
        ),
        ("a=1; Domain=other.example; Path=/", "a=1; Domain=other.example; Path=/"),
        ("a=1; Domain=127.0.0.10", "a=1; Domain=127.0.0.10"),
        ("a=1; Path=/", "a=1; Path=/"),
        ("Domain=127.0.0.1; Path=/", "Domain=127.0.0.1; Path=/"),
        ("a=Domain=127.0.0.1", "a=Domain=127.0.0.1"),
        ("a=1; Domain", "a=1; Domain"),
    ],
)
def test_set_cookie_domain_is_rewritten_to_the_public_host(cookie: str, expected: str) -> None:
    assert with_public.set_cookie(cookie) == expected


def test_public_port_is_not_part_of_the_cookie_domain() -> None:
    public = PublicAddress(ORIGIN, "https://shop.example:8443")
    assert public.set_cookie("a=1; Domain=127.0.0.1") == "a=1; Domain=shop.example"


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("a=1; Domain=127.0.0.1; Path=/; Secure", "a=1; Path=/; Secure"),
        ("a=1; Path=/; domain=.127.0.0.1", "a=1; Path=/"),
        ("a=1; Domain=other.example", "a=1; Domain=other.example"),
    ],
)
def test_set_cookie_domain_is_removed_without_a_public_url(cookie: str, expected: str) -> None:
    assert without_public.set_cookie(cookie) == expected


def test_cookie_domain_matching_is_case_insensitive_on_the_origin_host() -> None:
    public = PublicAddress("http://Origin.Internal:8000", PUBLIC)
    assert public.set_cookie("a=1; Domain=ORIGIN.internal") == "a=1; Domain=shop.example"
