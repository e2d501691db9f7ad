"""inject alone: the tracker's script goes into the page, allowed by the page's CSP."""

from __future__ import annotations

from multidict import CIMultiDict

from proxy.exchange import Exchange
from proxy.metrics import Metrics
from proxy.stages.inject import Inject
from proxy.tracker.asset import TrackerAsset
from tests.integration.origin_app import PAGE
from tests.stages.factory import make_exchange


async def injected(headers: dict[str, str]) -> Exchange:
    ex = make_exchange(target="/page")
    ex.document = PAGE
    ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8", **headers})
    await Inject(TrackerAsset.load(), Metrics(), "'self'")(ex)
    return ex


async def test_the_script_is_inserted() -> None:
    ex = await injected({})
    assert ex.changed and ex.document is not None
    assert b'<script src="/__vernier/t.js' in ex.document and b"nonce=" not in ex.document


async def test_an_enforced_policy_gets_the_scripts_nonce() -> None:
    ex = await injected({"Content-Security-Policy": "script-src 'self'"})
    assert ex.document is not None and b'nonce="' in ex.document
    nonce = ex.document.split(b'nonce="', 1)[1].split(b'"', 1)[0].decode()
    assert f"'nonce-{nonce}'" in ex.headers["Content-Security-Policy"]


async def test_a_policy_that_does_not_parse_means_no_script() -> None:
    metrics = Metrics()
    ex = make_exchange(target="/page")
    ex.document = PAGE
    ex.headers = CIMultiDict({"Content-Security-Policy": "script-src 'nonce-\x00'"})
    await Inject(TrackerAsset.load(), metrics, "'self'")(ex)
    assert not ex.changed and ex.document is PAGE
    assert metrics.fail_open.labels("inject", "csp_unparsable")._value.get() == 1
