"""Header bytes that are not UTF-8 (a latin-1 ``Referer``, some bots' ``User-Agent``) on a page
Vernier personalises: the visitor still gets the experiment, not the origin's page served
unchanged because the decision could not be logged (``rules/context.py``: ``_valid_text``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_visitor_clock import RULES
from tests.proxy_fixtures import StartProxy, raw_exchange

pytestmark = pytest.mark.rules_file("clock.yaml", RULES)


@pytest.mark.parametrize(
    "header",
    [
        b"Referer: http://caf\xe9.example/x",
        b"User-Agent: Mozilla \xff",
        b"Accept-Language: d\xe9",
        b"Cookie: pl\xe4n=\xff",
    ],
)
async def test_a_slot_is_decided_whatever_bytes_the_headers_carry(
    origin: str, start_proxy: StartProxy, rules_dir: Path, header: bytes
) -> None:
    proxy = await start_proxy(origin, rules=str(rules_dir))
    request = b"GET /page HTTP/1.1\r\nHost: x\r\n" + header + b"\r\nConnection: close\r\n\r\n"
    raw = await raw_exchange(proxy, request)
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    assert b"data-vernier-decision" in raw  # decided and logged, not served unchanged


TOKEN = "an-admin-token-of-some-length"


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"GET /page HTTP/1.1\r\nX-Vernier-Debug: caf\xe9", b"200"),  # the page, as to anyone
        (b"POST /__vernier/api/decide HTTP/1.1\r\nAuthorization: Bearer caf\xe9", b"401"),
        (b"GET /__vernier/api/decide HTTP/1.1\r\nAuthorization: Bearer \xff\xfe", b"401"),
    ],
)
async def test_a_token_that_is_not_utf_8_is_a_wrong_token(
    origin: str, start_proxy: StartProxy, request_head: bytes, status: bytes
) -> None:
    proxy = await start_proxy(origin, **{"admin.token": TOKEN})
    request = request_head + b"\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    raw = await raw_exchange(proxy, request)
    assert raw.startswith(b"HTTP/1.1 " + status), raw[:200]
