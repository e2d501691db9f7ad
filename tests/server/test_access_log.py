"""The access log: one JSON line per request, whatever bytes the request carried."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import cast

import orjson
import pytest
from aiohttp import web

from proxy.server.access_log import JsonAccessLogger


@pytest.mark.parametrize(
    ("agent", "logged"),
    [
        ("Mozilla/5.0\nforged line", "Mozilla/5.0\nforged line"),
        # a User-Agent of bytes that are not UTF-8 (b"caf\xe9"): aiohttp keeps a lone surrogate
        ("Mozilla caf\udce9", "Mozilla caf\\udce9"),
    ],
)
def test_every_request_is_one_json_line(
    agent: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("test.access")
    caplog.set_level(logging.INFO, logger="test.access")
    # the fields the logger reads, as aiohttp parsed them (its test helper cannot build a request
    # from bytes that are not UTF-8)
    request = SimpleNamespace(
        remote="127.0.0.1", method="GET", raw_path="/page", headers={"User-Agent": agent}
    )
    JsonAccessLogger(logger, "").log(cast(web.BaseRequest, request), web.Response(), 0.0012)
    [record] = caplog.records
    line = record.getMessage()
    assert "\n" not in line
    entry = orjson.loads(line)
    assert (entry["ua"], entry["path"], entry["status"]) == (logged, "/page", 200)
