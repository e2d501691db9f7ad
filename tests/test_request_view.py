"""The client's request as plain values (``proxy/request_view.py``)."""

from __future__ import annotations

import pytest

from proxy.request_view import bearer_token


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
