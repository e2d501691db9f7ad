"""Signed first-party ids: forgery, rotation, expiry, hostile values (EV-07) and attributes (SE-06)."""

from __future__ import annotations

import base64
import re
import statistics
import time
from http.cookies import SimpleCookie

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.session import cookie as cookie_module
from proxy.session.cookie import (
    MAX_CLOCK_SKEW_S,
    MAX_COOKIE_AGE_S,
    CookieSigner,
    SigningKey,
    cookie_header,
    cookie_name,
    id_in_value,
    new_id,
)

K1 = SigningKey("k1", b"one-secret-of-32-bytes-----------")
K2 = SigningKey("k2", b"two-secret-of-32-bytes-----------")
OTHER_K1 = SigningKey("k1", b"an-attackers-guess-at-the-secret")
NOW = 1_732_250_000
DAY = 24 * 3600
ID = "0123456789abcdef0123456789abcdef"
VALUE_SHAPE = re.compile(r"v1\.k1\.[0-9a-f]{32}\.[0-9a-z]+\.[A-Za-z0-9_-]{22}")


def verify(signer: CookieSigner, value: str | None, *, now_s: int = NOW) -> str | None:
    return signer.verify(value, now_s=now_s, max_age_s=DAY)


# --- round trip --------------------------------------------------------------------------------


def test_round_trip() -> None:
    signer = CookieSigner([K1])
    value = signer.issue(NOW)
    assert VALUE_SHAPE.fullmatch(value)
    assert len(value) < 100
    id_hex = verify(signer, value)
    assert id_hex is not None and re.fullmatch(r"[0-9a-f]{32}", id_hex)
    assert value.split(".")[2] == id_hex


def test_issue_with_id_and_sign() -> None:
    signer = CookieSigner([K1])
    id_hex, value = signer.issue_with_id(NOW)
    assert verify(signer, value) == id_hex
    assert verify(signer, signer.sign(ID, now_s=NOW)) == ID
    assert signer.sign(ID, now_s=NOW) == signer.sign(ID, now_s=NOW)


def test_ids_are_random() -> None:
    signer = CookieSigner([K1])
    ids = {verify(signer, signer.issue(NOW)) for _ in range(1000)}
    assert len(ids) == 1000
    assert len({new_id() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("bad_id", ["", "0123", ID.upper(), ID + "0", "g" * 32])
def test_sign_rejects_bad_ids(bad_id: str) -> None:
    with pytest.raises(ValueError):
        CookieSigner([K1]).sign(bad_id, now_s=NOW)


def test_sign_rejects_negative_time() -> None:
    with pytest.raises(ValueError):
        CookieSigner([K1]).sign(ID, now_s=-1)


def test_issued_time_zero_is_canonical() -> None:
    signer = CookieSigner([K1])
    value = signer.sign(ID, now_s=0)
    assert value.split(".")[3] == "0"
    assert signer.verify(value, now_s=10, max_age_s=DAY) == ID


# --- forgery -----------------------------------------------------------------------------------


def _tampered(value: str) -> list[str]:
    """Every single-field change an attacker might try."""
    version, key_id, id_hex, issued, mac = value.split(".")
    flip = {"0": "1", "a": "b", "A": "B", "Q": "R", "g": "h", "w": "x"}
    out = []
    for index, part in enumerate((version, key_id, id_hex, issued, mac)):
        for position in (0, len(part) - 1):
            char = part[position]
            changed = (
                part[:position] + flip.get(char, "0" if char != "0" else "1") + part[position + 1 :]
            )
            fields = [version, key_id, id_hex, issued, mac]
            fields[index] = changed
            out.append(".".join(fields))
    fields = [version, key_id, id_hex, _later(issued), mac]
    out.append(".".join(fields))
    return [t for t in out if t != value]


def _later(issued: str) -> str:
    return base36(int(issued, 36) + 3600)


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text


def test_every_tampered_field_is_rejected() -> None:
    signer = CookieSigner([K1, K2])
    value = signer.sign(ID, now_s=NOW)
    tampered = _tampered(value)
    assert len(tampered) >= 10
    for forged in tampered:
        assert verify(signer, forged) is None, forged


def test_non_canonical_mac_encoding_is_rejected() -> None:
    signer = CookieSigner([K1])
    value = signer.sign(ID, now_s=NOW)
    head, mac = value.rsplit(".", 1)
    # Same 16 bytes, different unused low bits in the last character.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(mac[-1])
    sibling = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last + 1]
    assert base64.urlsafe_b64decode(mac[:-1] + sibling + "==") == base64.urlsafe_b64decode(
        mac + "=="
    )
    assert verify(signer, f"{head}.{mac[:-1]}{sibling}") is None


def test_non_canonical_issued_time_is_rejected() -> None:
    signer = CookieSigner([K1])
    version, key_id, id_hex, issued, mac = signer.sign(ID, now_s=NOW).split(".")
    for variant in ("0" + issued, issued.upper()):
        assert verify(signer, f"{version}.{key_id}.{id_hex}.{variant}.{mac}") is None


def test_value_signed_with_another_secret_is_rejected() -> None:
    forged = CookieSigner([OTHER_K1]).sign(ID, now_s=NOW)
    assert verify(CookieSigner([K1]), forged) is None


def test_unknown_key_id_is_rejected() -> None:
    value = CookieSigner([SigningKey("k9", K1.secret)]).sign(ID, now_s=NOW)
    assert verify(CookieSigner([K1]), value) is None


def test_mac_binds_the_key_id() -> None:
    # Two key ids with the same secret: a value cannot be moved from one id to the other.
    twin = SigningKey("k2", K1.secret)
    signer = CookieSigner([K1, twin])
    moved = signer.sign(ID, now_s=NOW).replace("v1.k1.", "v1.k2.", 1)
    assert verify(signer, moved) is None


# --- rotation ----------------------------------------------------------------------------------


def test_rotation() -> None:
    old_value = CookieSigner([K1]).sign(ID, now_s=NOW)
    rotated = CookieSigner([K2, K1])  # new key signs, old key still verifies
    assert verify(rotated, old_value) == ID
    new_value = rotated.sign(ID, now_s=NOW)
    assert new_value.startswith("v1.k2.")
    assert verify(rotated, new_value) == ID
    retired = CookieSigner([K2])  # old key removed after its cookies expired
    assert verify(retired, old_value) is None
    assert verify(retired, new_value) == ID


def test_keyring_validation() -> None:
    with pytest.raises(ValueError):
        CookieSigner([])
    with pytest.raises(ValueError):
        CookieSigner([K1, OTHER_K1])


@pytest.mark.parametrize("key_id", ["", "123456789", "k-1", "k_1", "ké", "k 1", "k.1"])
def test_key_id_rules(key_id: str) -> None:
    with pytest.raises(ValueError):
        SigningKey(key_id, K1.secret)


def test_short_secret_is_refused_and_secrets_stay_out_of_repr() -> None:
    with pytest.raises(ValueError):
        SigningKey("k1", b"short")
    assert "secret" not in repr(K1).replace("secret=", "")
    assert K1.secret.decode() not in repr(K1)
    assert SigningKey("12345678", K1.secret).key_id == "12345678"


# --- expiry ------------------------------------------------------------------------------------


def test_expiry_boundaries() -> None:
    signer = CookieSigner([K1])
    value = signer.sign(ID, now_s=NOW)
    assert signer.verify(value, now_s=NOW + DAY, max_age_s=DAY) == ID
    assert signer.verify(value, now_s=NOW + DAY + 1, max_age_s=DAY) is None
    assert signer.verify(value, now_s=NOW - MAX_CLOCK_SKEW_S, max_age_s=DAY) == ID
    assert signer.verify(value, now_s=NOW - MAX_CLOCK_SKEW_S - 1, max_age_s=DAY) is None
    assert signer.verify(value, now_s=NOW, max_age_s=0) == ID


# --- hostile values ----------------------------------------------------------------------------


def _hostile() -> list[str | None]:
    valid = CookieSigner([K1]).sign(ID, now_s=NOW)
    return [
        None,
        "",
        ".",
        "....",
        "v1",
        valid[:-1],  # truncated
        valid[: len(valid) // 2],
        valid + ".",
        valid + "x",
        "x" * 8192,
        valid + "x" * 8192,
        valid.replace("a", "á", 1),  # non-ASCII
        "v1.k1.é" + "0" * 31 + ".0.AAAAAAAAAAAAAAAAAAAAAA",
        valid.replace(".", " ", 1),
        valid.replace("v1", "v2", 1),
        valid.replace("v1", "V1", 1),
        "v1.k1." + ID + ".zzzzzzzzzzzzzz.AAAAAAAAAAAAAAAAAAAAAA",  # time past 36**13
        "v1.k1." + ID + ".-1.AAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1." + ID + ".1.AAAAAAAAAAAAAAAAAAAAA=",
        "v1.k1." + ID + ".1.AAAAAAAAAAAAAAAAAAAAAAAA",
        "v1..." + ID + ".1",
        "\x00" * 50,
        "v1.k1." + ID + ".1." + "A" * 21 + "\x00",
    ]


@pytest.mark.parametrize("value", _hostile())
def test_hostile_values_are_rejected(value: str | None) -> None:
    assert verify(CookieSigner([K1]), value) is None


def test_oversize_is_rejected_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = CookieSigner([K1])
    valid = signer.sign(ID, now_s=NOW)

    def no_work(*args: object) -> bytes:
        raise AssertionError("an oversize value reached the MAC")

    monkeypatch.setattr(cookie_module, "_mac", no_work)
    for value in (valid + "." * (201 - len(valid)), "v1." + "a" * 8192, valid * 100):
        assert len(value) > 200
        assert verify(signer, value) is None


def test_non_string_input_is_rejected() -> None:
    signer = CookieSigner([K1])
    for value in (b"v1.k1", 12, ["v1"]):
        assert signer.verify(value, now_s=NOW, max_age_s=DAY) is None  # type: ignore[arg-type]


@settings(max_examples=1000)
@given(value=st.one_of(st.none(), st.text(max_size=300)), now_s=st.integers(0, 2**40))
def test_verify_never_raises_on_text(value: str | None, now_s: int) -> None:
    assert CookieSigner([K1, K2]).verify(value, now_s=now_s, max_age_s=DAY) is None


_parts = st.tuples(
    st.sampled_from(["v1", "v2", "", "V1"]),
    st.sampled_from(["k1", "k2", "k9", "", "k1k1k1k1k"]),
    st.one_of(st.just(ID), st.text("0123456789abcdefABCDEF", max_size=40)),
    st.text("0123456789abcdefghijklmnopqrstuvwxyz-", max_size=16),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/", max_size=30),
)


@settings(max_examples=1000)
@given(parts=_parts)
def test_verify_never_raises_on_plausible_values(parts: tuple[str, str, str, str, str]) -> None:
    assert CookieSigner([K1, K2]).verify(".".join(parts), now_s=NOW, max_age_s=DAY) is None


@settings(max_examples=300)
@given(position=st.integers(0, 200), char=st.characters(max_codepoint=0x7F))
def test_verify_single_character_mutations(position: int, char: str) -> None:
    signer = CookieSigner([K1])
    value = signer.sign(ID, now_s=NOW)
    position %= len(value)
    mutated = value[:position] + char + value[position + 1 :]
    assert verify(signer, mutated) == (ID if mutated == value else None)


# --- Set-Cookie attributes (SE-06) -------------------------------------------------------------


def _parse(header: str) -> tuple[str, str, dict[str, str | bool]]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    assert len(jar) == 1
    (name, morsel), *_ = jar.items()
    attributes: dict[str, str | bool] = {k: v for k, v in morsel.items() if v}
    return name, morsel.value, attributes


def test_secure_tracking_cookie_attributes() -> None:
    signer = CookieSigner([K1])
    value = signer.issue(NOW)
    name = cookie_name("trk", secure=True)
    header = cookie_header(name, value, max_age_s=30 * 60, secure=True)
    assert header == f"__Host-trk={value}; Path=/; Max-Age=1800; Secure; HttpOnly; SameSite=Lax"
    parsed_name, parsed_value, attributes = _parse(header)
    assert parsed_name == "__Host-trk"
    assert parsed_value == value
    assert verify(signer, parsed_value) is not None
    assert attributes == {
        "path": "/",
        "max-age": "1800",
        "secure": True,
        "httponly": True,
        "samesite": "Lax",
    }
    assert "domain" not in attributes and "Domain" not in header


def test_plain_http_cookie_attributes() -> None:
    name = cookie_name("trk", secure=False)
    assert name == "trk"
    header = cookie_header(name, "abc", max_age_s=None, secure=False)
    assert header == "trk=abc; Path=/; HttpOnly; SameSite=Lax"
    assert _parse(header)[2] == {"path": "/", "httponly": True, "samesite": "Lax"}


def test_optional_attributes() -> None:
    header = cookie_header(
        "__Host-v", "x", max_age_s=0, secure=True, http_only=False, same_site="strict"
    )
    assert header == "__Host-v=x; Path=/; Max-Age=0; Secure; SameSite=Strict"
    assert cookie_header("v", "x", max_age_s=MAX_COOKIE_AGE_S, secure=True, same_site="None") == (
        f"v=x; Path=/; Max-Age={MAX_COOKIE_AGE_S}; Secure; HttpOnly; SameSite=None"
    )


@pytest.mark.parametrize(
    ("name", "value", "kwargs"),
    [
        ("__Host-trk", "x", {"secure": False}),  # prefix requires Secure
        ("__host-trk", "x", {"secure": False}),  # prefixes match case-insensitively
        ("__Secure-trk", "x", {"secure": False}),
        ("trk", "x", {"secure": False, "same_site": "None"}),  # SameSite=None requires Secure
        ("trk", "x", {"secure": True, "same_site": "Sometimes"}),
        ("trk", "x", {"secure": True, "max_age_s": -1}),
        ("trk", "x", {"secure": True, "max_age_s": MAX_COOKIE_AGE_S + 1}),
        ("", "x", {"secure": True}),
        ("t k", "x", {"secure": True}),
        ("t;k", "x", {"secure": True}),
        ("trk", "a;b", {"secure": True}),
        ("trk", "a b", {"secure": True}),
        ("trk", 'a"b', {"secure": True}),
        ("trk", "a,b", {"secure": True}),
        ("trk", "á", {"secure": True}),
        ("trk", "a\r\nSet-Cookie: evil=1", {"secure": True}),
    ],
)
def test_cookie_header_refuses(name: str, value: str, kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"max_age_s": 60, **kwargs}
    with pytest.raises(ValueError):
        cookie_header(name, value, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("base", ["", "a b", "__Host-trk", "__secure-trk", "tr;k"])
def test_cookie_name_refuses(base: str) -> None:
    with pytest.raises(ValueError):
        cookie_name(base, secure=True)


def test_mac_comparison_time_does_not_depend_on_where_it_differs() -> None:
    """EV-07: a MAC wrong in its first byte and one wrong in its last take the same time (medians
    of 10 000 interleaved trials within 5 %; best of three rounds against scheduler noise)."""
    signer = CookieSigner([K1])
    head, mac_text = signer.sign(ID, now_s=NOW).rsplit(".", 1)
    mac = base64.urlsafe_b64decode(mac_text + "==")

    def with_mac(raw: bytes) -> str:
        return head + "." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    early = with_mac(bytes([mac[0] ^ 1]) + mac[1:])
    late = with_mac(mac[:-1] + bytes([mac[-1] ^ 1]))
    ratios = []
    for _ in range(3):
        early_ns, late_ns = [], []
        for _ in range(10_000):
            started = time.perf_counter_ns()
            signer.verify(early, now_s=NOW, max_age_s=DAY)
            early_ns.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            signer.verify(late, now_s=NOW, max_age_s=DAY)
            late_ns.append(time.perf_counter_ns() - started)
        ratios.append(statistics.median(late_ns) / statistics.median(early_ns))
        if abs(ratios[-1] - 1) <= 0.05:
            return
    pytest.fail(f"timing differs by position of the wrong byte: ratios {ratios}")


def test_the_id_in_a_value_for_operator_commands() -> None:
    value = CookieSigner([K1]).sign(ID, now_s=NOW)
    other_id = CookieSigner([K1]).sign("f" * 32, now_s=NOW)
    assert id_in_value(value, "vernier_vid") == ID
    assert (
        id_in_value(f" vernier_vid={value}\n", "vernier_vid") == ID
    )  # as a browser's tools copy it
    header = f"vernier_sid={other_id}; __Host-vernier_vid={value}; theme=dark"
    assert id_in_value(header, "vernier_vid") == ID  # the named cookie's, not the last one's
    assert id_in_value(f"vernier_sid={value}", "vernier_vid") is None
    for text in (ID, "", "v1.k1.x.y.z", value.replace("v1.", "v2.", 1), "a.b.c.d.e.f"):
        assert id_in_value(text, "vernier_vid") is None
