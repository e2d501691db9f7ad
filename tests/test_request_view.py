"""The client's request as plain values (``proxy/request_view.py``)."""

from __future__ import annotations

import pytest

from proxy.request_view import bearer_token, token_matches


@pytest.mark.parametrize(
    ("authorization", "token"),
    [
        ("Bearer s3cret", "s3cret"),
        ("bearer s3cret", "s3cret"),  # the scheme's case does not matter (RFC 9110 §11.1)
        ("BEARER  s3cret ", "s3cret"),
        ("Basic czNjcmV0", ""),
        ("s3cret", ""),
        ("Bearer", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_bearer_token(authorization: str | None, token: str) -> None:
    assert bearer_token(authorization) == token


def test_token_matches_compares_the_bytes_sent() -> None:
    token = "caf\xe9-token".encode("latin-1")
    assert token_matches("caf\udce9-token", token)  # aiohttp's decoding of the latin-1 bytes
    assert not token_matches("caf\udce9", b"cafe")
    assert not token_matches("\udcff\udcfe", b"a-token")
    assert token_matches("a-token", b"a-token") and not token_matches("", b"a-token")
