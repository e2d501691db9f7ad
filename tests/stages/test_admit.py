"""admit alone: what is refused before the origin is asked, and the target it keeps."""

from __future__ import annotations

from aiohttp import HttpVersion, HttpVersion10

from proxy.stages.admit import Admit
from tests.stages.factory import make_exchange, make_policy


async def status_of(**request: object) -> int | None:
    ex = make_exchange(**request)  # type: ignore[arg-type]
    await Admit(make_policy())(ex)
    return ex.reply.status if ex.reply is not None else None


async def test_an_ordinary_request_passes_with_its_origin_form_target() -> None:
    ex = make_exchange("GET", "/shop?q=1")
    await Admit(make_policy())(ex)
    assert ex.reply is None and ex.target == "/shop?q=1"


async def test_an_absolute_form_target_keeps_only_its_path() -> None:
    ex = make_exchange("GET", "http://elsewhere.test/shop?q=1")
    await Admit(make_policy())(ex)
    assert ex.reply is None and ex.target == "/shop?q=1"


async def test_what_a_reverse_proxy_must_not_forward_is_refused() -> None:
    assert await status_of(claimed_version=HttpVersion(2, 0)) == 505
    assert await status_of(version=HttpVersion(0, 9)) == 505
    assert await status_of(version=HttpVersion10, headers={"Transfer-Encoding": "chunked"}) == 400
    assert await status_of(method="CONNECT", target="/") == 405
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    assert await status_of(headers=upgrade, body_exists=True) == 400
    assert await status_of(headers=upgrade) is None
    assert await status_of(target="*") == 400
    assert await status_of(headers={"Via": "1.1 vernier-test"}) == 508
