"""The dashboard's requests over a real redis-server: sign-in, pages, the live view, pausing with
CSRF and a confirmation, and bad input answered with a 4xx page (never a 500)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy.records.decision import encode_record
from proxy.results.html import STANDING_TITLE
from proxy.results.pages import LIVE_NOTE, SEGMENTS_TITLE
from proxy.store import control
from proxy.store.learner_state import save_checkpoint
from tests.dashboard.conftest import RESULTS, TOKEN, Running
from tests.results.test_by_segment import decisions, reference, welch

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{32})"')
DATA = re.compile(r'<script type="application/json" id="vn-data">(.*?)</script>', re.S)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def sign_in(client: aiohttp.ClientSession, base: str) -> None:
    async with client.post(
        base + "login", data={"token": TOKEN}, allow_redirects=False
    ) as response:
        assert response.status == 303
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/__vernier/admin/" in cookie


async def test_without_a_session_pages_answer_401_with_the_sign_in_form(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    for path in ("", "slots/hero", "slots/nope?since=bad"):
        async with client.get(dashboard.url + path) as response:
            assert response.status == 401
            assert 'name="token"' in await response.text()
    async with client.get(dashboard.url + "live/hero") as response:
        assert response.status == 401
    async with client.post(dashboard.url + "act", data={"action": "pause"}) as response:
        assert response.status == 401
    async with client.post(dashboard.url + "login", data={"token": "wrong"}) as response:
        assert response.status == 401
        assert "not the admin token" in await response.text()


async def test_assets_are_served_from_the_admin_listener(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    async with client.get(dashboard.url + "static/dashboard.js") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "uPlot" in await response.text()
    async with client.get(dashboard.url + "static/dashboard.css") as response:
        assert response.status == 200 and ".uplot" in await response.text()
    async with client.get(dashboard.url + "static/other.js") as response:
        assert response.status == 404


async def test_overview_lists_slots_and_rules(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    await sign_in(client, dashboard.url)
    async with client.get(dashboard.url) as response:
        assert response.status == 200
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        page = await response.text()
    assert 'href="/__vernier/admin/slots/hero"' in page
    assert "greeting" in page
    assert ">200<" in page  # the slot's exposures over the period
    assert ">60<" in page  # impressions in the last 60 minutes
    assert "b <span" in page  # the leader (b: twice a's CTR) with its P(best)
    assert ">40<" in page  # the holdout rule's page views, both arms
    assert "no holdout" in page  # the plain rule has nothing to measure


async def test_slot_page_carries_the_reports_numbers_and_charts(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    await sign_in(client, dashboard.url)
    async with client.get(dashboard.url + "slots/hero?since=24h") as response:
        assert response.status == 200
        page = await response.text()
    found = DATA.search(page)
    assert found is not None
    data = json.loads(found[1])
    charts = {chart["id"]: chart for chart in data["charts"]}
    assert set(charts) == {"exposures", "ctr", "lift", "allocation", "live"}
    exposures = {s["label"]: s["values"][-1] for s in charts["exposures"]["series"]}
    assert exposures == {v: counts[1] for v, counts in RESULTS.items()}
    ctr = {s["label"]: s["values"][-1] for s in charts["ctr"]["series"]}
    assert ctr == {v: counts[2] / counts[1] for v, counts in RESULTS.items()}
    assert data["live"]["url"] == "/__vernier/admin/live/hero"
    assert "No evidence yet" in page  # the learner has not checkpointed
    assert "No joined examples in the period" in page
    standing = [{
        "variant": "b", "decisions": 40, "served": 20, "variant_rate": 0.1, "control_rate": 0.3,
        "per_decision": -0.05, "wealth": 12.5, "threshold": 1000.0, "paused_at_ms": None,
    }]  # fmt: skip
    assert await save_checkpoint(
        dashboard.store, b"x", timeout_s=2.0, guardrail=json.dumps({"hero": standing}).encode()
    )
    async with client.get(dashboard.url + "slots/hero?since=24h") as response:
        page = await response.text()
    assert STANDING_TITLE in page
    assert '<td>b</td><td class="num">40</td><td class="num">20</td>' in page
    assert "12.5" in page and "judging" in page
    async with client.get(dashboard.url + "live/hero") as response:
        assert response.status == 200
        live = await response.json()
    assert "control chart" in live["html"]
    (chart,) = live["charts"]
    assert {s["label"]: s["values"][-1] for s in chart["series"]} == {"a": 30, "b": 30}


async def test_slot_page_breaks_the_slot_down_by_segment_from_the_decision_log(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    await sign_in(client, dashboard.url)

    async def slot_page() -> str:
        async with client.get(dashboard.url + "slots/hero") as response:
            assert response.status == 200
            return await response.text()

    page = await slot_page()  # no decision log yet: the page says so, the rest is there
    assert SEGMENTS_TITLE in page and "No decision log at" in page and "vn-live" in page
    assert LIVE_NOTE in page  # why the live counts can be fractional
    records, rewards = decisions()
    dashboard.decision_log.write_bytes(b"\n".join(encode_record(r) for r in records) + b"\n")
    page = await slot_page()
    assert "By named segment (frozen at first exposure)" in page and "By learned segment" in page
    lift, variance = welch(rewards["readers"]["b"], rewards["readers"]["a"])
    assert f"{lift:+.4f} (± {variance**0.5:.4f})" in page
    assert f"p {reference(rewards).p_value:.3g}, I2" in page


@pytest.mark.parametrize(
    ("log", "message"),
    [
        (b'{"id": "d1"\n', "The decision log cannot be read:"),
        (b"\n", "No seen decisions of this slot in the decision log"),
    ],
)
async def test_a_decision_log_without_a_breakdown_is_said_on_the_page(
    dashboard: Running, client: aiohttp.ClientSession, log: bytes, message: str
) -> None:
    dashboard.decision_log.write_bytes(log)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with client.get(dashboard.url + "slots/hero", headers=headers) as response:
        assert response.status == 200
        page = await response.text()
    assert message in page and "Traceback" not in page


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("slots/nope", 404, "no slot"),
        ("live/nope", 404, "no slot"),
        ("slots/hero?since=7x", 400, "since"),
        ("slots/hero?since=999d", 400, "kept 90 days"),
        ("?since=100h", 400, "at most 72h"),
        ("static/dashboard.js.map", 404, "no such asset"),
    ],
)
async def test_bad_input_answers_a_4xx_page(
    dashboard: Running, client: aiohttp.ClientSession, path: str, status: int, message: str
) -> None:
    async with client.get(
        dashboard.url + path, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as response:
        assert response.status == status
        assert response.headers["Content-Type"].startswith("text/html")
        assert message in await response.text()


async def test_pause_and_resume_need_the_csrf_token_and_a_confirmation(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    await sign_in(client, dashboard.url)
    async with client.get(dashboard.url + "slots/hero") as response:
        found = CSRF.search(await response.text())
    assert found is not None
    csrf = found[1]
    act = dashboard.url + "act"
    form = {"action": "pause", "target": "hero/b"}
    async with client.post(act, data={**form, "csrf": "0" * 32}) as response:
        assert response.status == 403
        assert "CSRF token is missing or stale" in await response.text()
    for foreign in ({"Origin": "http://attacker.example"}, {"Sec-Fetch-Site": "cross-site"}):
        # a valid token, sent by another site's page: said so, not blamed on the token
        async with client.post(act, data={**form, "csrf": csrf}, headers=foreign) as response:
            assert response.status == 403
            text = await response.text()
            assert "refused as cross-site" in text and "stale" not in text
    async with client.post(act, data={**form, "csrf": csrf}) as response:
        assert response.status == 200
        assert "Yes, pause" in await response.text()
    assert await control.read(dashboard.store) == {}  # not before the confirmation
    confirmed = {**form, "csrf": csrf, "confirmed": "yes"}
    async with client.post(act, data=confirmed, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/__vernier/admin/slots/hero"
    paused = await control.read(dashboard.store)
    assert paused is not None and set(paused) == {"variant:hero:b"}
    assert json.loads(paused["variant:hero:b"])["by"] == "dashboard"
    async with client.get(dashboard.url + "slots/hero") as response:
        assert "resume b" in await response.text()
    resume = {**confirmed, "action": "resume"}
    async with client.post(act, data=resume, allow_redirects=False) as response:
        assert response.status == 303
    assert await control.read(dashboard.store) == {}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "delete", "target": "hero"}, "expected pause or resume"),
        ({"action": "pause", "target": "nope"}, "no slot or rule"),
        ({"action": "pause", "target": "hero/a"}, "control"),
    ],
)
async def test_bad_actions_answer_400(
    dashboard: Running, client: aiohttp.ClientSession, form: dict[str, str], message: str
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with client.post(dashboard.url + "act", data=form, headers=headers) as response:
        assert response.status == 400
        assert message in await response.text()


async def test_a_store_that_cannot_answer_gives_a_503_page(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    dashboard.server.kill()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("", "slots/hero"):
        async with client.get(dashboard.url + path, headers=headers) as response:
            assert response.status == 503
            assert "cannot answer" in await response.text()


async def test_sign_out_clears_the_session(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    await sign_in(client, dashboard.url)
    async with client.post(dashboard.url + "logout", allow_redirects=False) as response:
        assert response.status == 303
    async with client.get(dashboard.url) as response:
        assert response.status == 401


async def test_a_form_that_is_not_utf_8_is_a_400_not_a_500(
    dashboard: Running, client: aiohttp.ClientSession
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client.post(dashboard.url + "login", data=b"token=\xe9", headers=form) as response:
        assert response.status == 400
        assert "UTF-8" in await response.text()
    await sign_in(client, dashboard.url)
    async with client.post(dashboard.url + "act", data=b"action=\xff", headers=form) as response:
        assert response.status == 400
        assert "UTF-8" in await response.text()
