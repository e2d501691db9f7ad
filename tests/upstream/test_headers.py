"""Header policy: hop-by-hop fields go before ours are added (docs/reliability.md PX-01..PX-08,
§0.4)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.upstream.headers import (
    HOP_BY_HOP,
    ForwardingPolicy,
    connection_named,
    end_to_end,
    response_headers,
)

PEER = "203.0.113.7"
PROXY_PEER = "10.1.2.3"


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def policy(**changes: object) -> ForwardingPolicy:
    settings: dict[str, object] = {
        "via_token": "1.1 vernier-3fa2c1",
        "trusted": (ipaddress.ip_network("10.0.0.0/8"),),
        "public_host": None,
        "public_scheme": None,
        "origin_host": "127.0.0.1:8000",
        "preserve_host": False,
    }
    settings.update(changes)
    return ForwardingPolicy(**settings)  # type: ignore[arg-type]


def forward(
    incoming: CIMultiDictProxy[str], *, peer: str = PEER, **changes: object
) -> CIMultiDict[str]:
    return policy(**changes).request_headers(incoming, peer=peer, scheme="http")


# --- hop-by-hop --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Proxy-Authorization",
        "Proxy-Authenticate",
    ],
)
def test_static_hop_by_hop_fields_never_reach_the_origin(name: str) -> None:
    out = forward(headers(("Host", "shop"), (name, "x"), ("Accept", "*/*")))
    assert name not in out
    assert out["Accept"] == "*/*"


def test_fields_named_in_connection_are_removed() -> None:
    out = end_to_end(
        headers(
            ("Connection", "keep-alive, X-Secret ,  ,x-other"),
            ("connection", "Cookie"),
            ("X-Secret", "1"),
            ("X-Other", "2"),
            ("Cookie", "a=1"),
            ("Accept", "a"),
        )
    )
    assert list(out.items()) == [("Accept", "a")]


def test_connection_named_lowercases_and_merges_every_connection_field() -> None:
    named = connection_named(headers(("Connection", "Close, X-A"), ("Connection", "x-b")))
    assert named == {"close", "x-a", "x-b"}


def test_connection_cannot_strip_the_fields_we_add() -> None:
    incoming = headers(
        ("Host", "shop"),
        ("Connection", "close, X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, Via, Host"),
        ("X-Forwarded-For", "1.2.3.4"),
    )
    out = forward(incoming)
    assert out["X-Forwarded-For"] == PEER
    assert out["X-Forwarded-Host"] == "shop"
    assert out["X-Forwarded-Proto"] == "http"
    assert out["Via"].endswith("1.1 vernier-3fa2c1")
    assert out["Host"] == "127.0.0.1:8000"


def test_underscore_names_are_dropped() -> None:
    out = forward(
        headers(
            ("Host", "s"),
            ("X_Forwarded_For", "1.2.3.4"),
            ("X_Real_IP", "x"),
            ("My_Header", "y"),
            ("X-Fine", "z"),
        )
    )
    assert not [name for name in out if "_" in name]
    assert out["X-Fine"] == "z"
    assert out["X-Forwarded-For"] == PEER


def test_expect_and_host_are_not_copied() -> None:
    out = forward(headers(("Host", "visitor.example"), ("Expect", "100-continue")))
    assert "Expect" not in out
    assert out.getall("Host") == ["127.0.0.1:8000"]


# --- X-Forwarded-* -----------------------------------------------------------------------------


def test_untrusted_peer_overwrites_forwarding_fields() -> None:
    incoming = headers(
        ("Host", "shop"),
        ("X-Forwarded-For", "1.2.3.4"),
        ("X-Forwarded-For", "5.6.7.8"),
        ("X-Forwarded-Host", "evil"),
        ("X-Forwarded-Proto", "https"),
        ("Forwarded", "for=1.2.3.4"),
    )
    out = forward(incoming, public_host="shop.example", public_scheme="https")
    assert out.getall("X-Forwarded-For") == [PEER]
    assert out.getall("X-Forwarded-Host") == ["shop.example"]
    assert out.getall("X-Forwarded-Proto") == ["https"]
    assert "Forwarded" not in out


def test_untrusted_peer_without_public_url_reports_the_request_host_and_scheme() -> None:
    out = policy().request_headers(headers(("Host", "shop:8080")), peer=PEER, scheme="https")
    assert (out["X-Forwarded-Host"], out["X-Forwarded-Proto"]) == ("shop:8080", "https")


def test_trusted_peer_appends_to_forwarded_for_and_keeps_host_and_proto() -> None:
    incoming = headers(
        ("Host", "shop"),
        ("X-Forwarded-For", "1.2.3.4"),
        ("X-Forwarded-For", "5.6.7.8"),
        ("X-Forwarded-Host", "front.example"),
        ("X-Forwarded-Proto", "https"),
    )
    out = forward(incoming, peer=PROXY_PEER, public_host="shop.example", public_scheme="http")
    assert out.getall("X-Forwarded-For") == [f"1.2.3.4, 5.6.7.8, {PROXY_PEER}"]
    assert out.getall("X-Forwarded-Host") == ["front.example"]
    assert out.getall("X-Forwarded-Proto") == ["https"]


def test_trusted_peer_without_forwarding_fields_gets_ours() -> None:
    out = forward(
        headers(("Host", "shop")),
        peer=PROXY_PEER,
        public_host="shop.example",
        public_scheme="https",
    )
    assert (out["X-Forwarded-For"], out["X-Forwarded-Host"], out["X-Forwarded-Proto"]) == (
        PROXY_PEER,
        "shop.example",
        "https",
    )


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [("10.9.9.9", True), ("11.0.0.1", False), (None, False), ("not-an-ip", False), ("", False)],
)
def test_is_trusted(peer: str | None, trusted: bool) -> None:
    assert policy().is_trusted(peer) is trusted


def test_nobody_is_trusted_without_trusted_networks() -> None:
    assert not policy(trusted=()).is_trusted(PROXY_PEER)


# --- Via, loops, Host --------------------------------------------------------------------------


def test_via_is_added() -> None:
    assert forward(headers(("Host", "s")))["Via"] == "1.1 vernier-3fa2c1"


def test_via_is_appended_to_every_existing_via() -> None:
    out = forward(headers(("Via", "1.0 cdn"), ("Via", "1.1 lb (x)")))
    assert out.getall("Via") == ["1.0 cdn, 1.1 lb (x), 1.1 vernier-3fa2c1"]


def test_loop_detection() -> None:
    p = policy()
    assert p.is_loop(headers(("Via", "1.0 cdn, 1.1 vernier-3fa2c1")))
    assert p.is_loop(headers(("Via", "1.0 cdn"), ("Via", "1.1 vernier-3fa2c1")))
    assert not p.is_loop(headers(("Via", "1.1 vernier-aaaaaa")))
    assert not p.is_loop(headers())


def test_what_we_forward_is_a_loop_when_it_comes_back() -> None:
    p = policy()
    assert p.is_loop(CIMultiDictProxy(p.request_headers(headers(), peer=PEER, scheme="http")))


def test_preserve_host() -> None:
    assert forward(headers(("Host", "shop")), preserve_host=True)["Host"] == "shop"
    assert forward(headers(), preserve_host=True)["Host"] == "127.0.0.1:8000"


# --- responses ---------------------------------------------------------------------------------


def test_response_keeps_multi_valued_fields_in_order_and_drops_framing() -> None:
    incoming = headers(
        ("Set-Cookie", "a=1"),
        ("Link", "</a>; rel=preload"),
        ("Set-Cookie", "b=2; Path=/"),
        ("Vary", "Accept"),
        ("Content-Length", "10"),
        ("Transfer-Encoding", "chunked"),
        ("Link", "</b>; rel=preload"),
        ("Set-Cookie", "c=3"),
        ("Vary", "Cookie"),
        ("Connection", "X-Internal"),
        ("X-Internal", "1"),
        ("Keep-Alive", "timeout=5"),
    )
    out = response_headers(incoming)
    assert out.getall("Set-Cookie") == ["a=1", "b=2; Path=/", "c=3"]
    assert out.getall("Link") == ["</a>; rel=preload", "</b>; rel=preload"]
    assert out.getall("Vary") == ["Accept", "Cookie"]
    for gone in ("Content-Length", "Transfer-Encoding", "Connection", "X-Internal", "Keep-Alive"):
        assert gone not in out


# --- properties --------------------------------------------------------------------------------

_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
    min_size=1,
    max_size=12,
)
_NAME = st.one_of(_TOKEN, st.sampled_from(sorted(HOP_BY_HOP)).map(str.title))
_FIELDS = st.lists(
    st.tuples(_NAME, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126))),
    max_size=12,
)


@given(fields=_FIELDS, named=st.lists(_TOKEN, max_size=4))
def test_end_to_end_never_emits_a_hop_by_hop_or_connection_named_field(
    fields: list[tuple[str, str]], named: list[str]
) -> None:
    incoming = headers(*fields, ("Connection", ", ".join(named)))
    out = end_to_end(incoming)
    removed = HOP_BY_HOP | {n.lower() for n in named} | connection_named(incoming)
    assert not {name.lower() for name in out} & removed
    kept = [(k, v) for k, v in incoming.items() if k.lower() not in removed]
    assert list(out.items()) == kept


@given(fields=_FIELDS, named=st.lists(_TOKEN, max_size=4), trusted=st.booleans())
def test_request_headers_always_carry_our_forwarding_fields(
    fields: list[tuple[str, str]], named: list[str], trusted: bool
) -> None:
    incoming = headers(*fields, ("Connection", ", ".join(named)))
    out = forward(incoming, peer=PROXY_PEER if trusted else PEER)
    assert not {name.lower() for name in out} & HOP_BY_HOP
    assert not [name for name in out if "_" in name]
    assert out.getall("Via")[-1].endswith("1.1 vernier-3fa2c1")
    assert out.getall("Host") == ["127.0.0.1:8000"]
    assert out.getall("X-Forwarded-For")[0].endswith(PROXY_PEER if trusted else PEER)
