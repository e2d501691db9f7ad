"""debug alone: only the admin token turns the report on; the report says what was done."""

from __future__ import annotations

import orjson

from proxy.decide.decision import Decision
from proxy.stages.debug import Debug, debug_report
from tests.stages.factory import make_exchange


async def test_only_the_right_token_asks_for_the_report() -> None:
    for token, sent, asked in [
        ("s3cret", "s3cret", True),
        ("s3cret", "guess", False),
        ("s3cret", None, False),
        (None, "s3cret", False),
    ]:
        ex = make_exchange(headers={"X-Vernier-Debug": sent} if sent else None)
        await Debug(token)(ex)
        assert ex.debug is asked, (token, sent)


def test_the_report_names_rules_slots_and_a_failure() -> None:
    ex = make_exchange()
    ex.rules_applied = ("greet",)
    ex.decisions = (Decision("d" * 16, "hero", "b", "rule"),)
    ex.fail_open = "rewrite: TimeoutError"
    report = orjson.loads(debug_report(ex))
    assert report["rules"] == ["greet"] and report["rules_version"] is None
    assert report["slots"][0] == {
        "slot": "hero",
        "variant": "b",
        "reason": "rule",
        "probability": 1.0,
        "decision": "d" * 16,
        "triggers": [],
    }
    assert report["fail_open"] == "rewrite: TimeoutError" and report["changed"] is False


def test_the_report_names_the_hour_and_time_zone_the_page_was_decided_on() -> None:
    ex = make_exchange()
    report = orjson.loads(debug_report(ex))
    assert (report["hour"], report["time_zone"]) == (None, None)  # no context was needed
    ex.context = {"hour": 21, "weekday": "fri", "tz": "Asia/Kathmandu"}
    ex.time_zone = "Asia/Kathmandu"
    report = orjson.loads(debug_report(ex))
    assert (report["hour"], report["time_zone"]) == (21, "Asia/Kathmandu")
