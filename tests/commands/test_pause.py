"""``vernier pauses``: one line per pause, with an ISO 8601 time a person can read."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from proxy.commands.pause import pause_line


def test_a_pause_reads_with_an_iso_time() -> None:
    at_ms = int(datetime(2026, 12, 6, 8, 10, 5, tzinfo=UTC).timestamp() * 1000) + 999
    value = orjson.dumps({"why": "broken image", "by": "ana (vernier pause)", "at_ms": at_ms})
    assert pause_line("slot:hero", value.decode()) == (
        "slot:hero  since 2026-12-06T08:10:05Z  by ana (vernier pause)  why: broken image"
    )


@pytest.mark.parametrize(
    "value",
    ["not json", "[1, 2]", '{"why": "x"}', '{"at_ms": "soon"}', '{"at_ms": 1e300}'],
)
def test_a_value_the_proxies_did_not_write_is_shown_as_it_is(value: str) -> None:
    assert pause_line("rule:promo", value) == f"rule:promo  {value}"
