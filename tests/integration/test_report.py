"""Known visitors through the proxy, exact counts back from ``vernier report --format json``:
a split slot assigns and logs every visitor, the tracker's impressions (sent twice by some) and
clicks are folded once per decision, and visitors who never saw the slot are lost exposures."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import aiohttp
import orjson
import pytest

from proxy.cli import main
from tests.integration.report_runs import report_json, wait_folded
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy

RULES = """
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/page"]}
    control: a
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Welcome"}]
    policy: split
    split: {a: 50, b: 50}
"""
pytestmark = pytest.mark.rules_file("split.yaml", RULES)
MARK = re.compile(rb'data-vernier-variant="(\w)" data-vernier-decision="([\w-]{16})"')
VISITORS = 24


async def visit(proxy: str, index: int) -> tuple[str, str, bool, bool]:
    """One visitor: a page view, then (by index) impressions, a click, or nothing."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(proxy + "/page", headers={"User-Agent": DESKTOP}) as response:
            found = MARK.search(await response.read())
        assert found is not None
        variant, decision = found[1].decode(), found[2].decode()
        seen, clicked = index % 4 != 0, index % 3 == 0 and index % 4 != 0
        events = []
        if seen:
            events.append({"id": f"i_{secrets.token_hex(6)}", "type": "impression", "ts": 1,
                           "slot": "hero", "variant": variant, "decision": decision})  # fmt: skip
            events.append({**events[0], "id": f"i_{secrets.token_hex(6)}"})  # seen again
        if clicked:
            events.append({"id": f"c_{secrets.token_hex(6)}", "type": "click", "ts": 1,
                           "target": "#hero", "slot": "hero", "variant": variant,
                           "decision": decision})  # fmt: skip
        if events:
            body = orjson.dumps({"v": 1, "page": f"p_{secrets.token_hex(6)}", "events": events})
            async with client.post(
                proxy + "/__vernier/e",
                data=body,
                headers={"Content-Type": "text/plain", "User-Agent": DESKTOP},
            ) as response:
                assert response.status == 202
    return variant, decision, seen, clicked


async def test_report_reads_back_exact_counts(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str, tmp_path: Path
) -> None:
    prefix = f"r{secrets.token_hex(4)}:"
    proxy = await start_proxy(origin, rules=str(rules_dir), **{"store.key_prefix": prefix})
    visits = [await visit(proxy, i) for i in range(VISITORS)]
    expected = {
        v: {
            "decisions": sum(1 for x in visits if x[0] == v),
            "exposures": sum(1 for x in visits if x[0] == v and x[2]),
            "clicks": sum(1 for x in visits if x[0] == v and x[3]),
        }
        for v in ("a", "b")
    }
    assert all(e["decisions"] for e in expected.values())  # both variants were assigned

    want = {(v, m): n for v, e in expected.items() for m, n in e.items()}
    measures = ("decisions", "exposures", "clicks")
    await wait_folded(embedded_store_url, prefix, "hero", ["a", "b"], measures, want)
    report = await report_json(tmp_path, rules_dir, embedded_store_url, prefix, "--since", "2d")
    (slot,) = report["slots"]
    assert slot["id"] == "hero" and slot["policy"] == "split" and slot["srm_check"] == "srm"
    for row in slot["variants"]:
        counts = expected[row["id"]]
        assert row["decisions"] == counts["decisions"]
        assert row["exposures"] == counts["exposures"]
        assert row["clicks"] == counts["clicks"]
        assert row["lost_exposures"] == counts["decisions"] - counts["exposures"]
        assert row["weight"] == 0.5


def test_report_bad_input_is_one_line_and_exit_2(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "vernier.yaml"
    config.write_text(f"rules: {rules_dir}\n")
    for args, message in [
        (["--slot", "nope"], "no slot 'nope'"),
        (["--since", "7x"], "--since: expected"),
        (["--since", "100h"], "at most 72h"),
    ]:
        assert main(["report", "--config", str(config), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
