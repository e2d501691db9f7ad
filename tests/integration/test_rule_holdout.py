"""A rule measured against a holdout, through the real proxy, origin and store: known visitors
are split by the hash, a held-out visitor's page is the origin's bytes with the tag only, and
``vernier report --format json`` reads back exact page views, visitors, conversions and engaged
time per arm."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.rules.holdout import ARMS
from tests.integration.origin_app import PAGE
from tests.integration.report_runs import report_json, wait_folded
from tests.integration.test_csp_and_charsets import TAG_RE
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy
from tests.stats.test_poisson import binomial_two_sided_p

RULES = """
rules:
  - id: greet
    where: {paths: ["/page"]}
    holdout: 50
    then: [{op: set_text, selector: "#hero", value: "Welcome"}]
"""
pytestmark = pytest.mark.rules_file("holdout.yaml", RULES)
VISITORS = 24
PAGES = 2  # page views per visitor
MEASURES = ("decisions", "exposures", "conversions", "value", "engaged_n", "engaged_s")


async def visit(proxy: str, index: int) -> dict[str, Any]:
    """One visitor: two page views, then (by index) a conversion and an engaged-time report."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        bodies = []
        for _ in range(PAGES):
            async with client.get(proxy + "/page", headers={"User-Agent": DESKTOP}) as response:
                assert response.headers["Cache-Control"].startswith("private")
                bodies.append(await response.read())
        arms = {"applied" if b"Welcome" in body else "holdout" for body in bodies}
        assert len(arms) == 1  # sticky per visitor
        (arm,) = arms
        if arm == "holdout":  # the origin's bytes, the tag added, no marker
            assert all(TAG_RE.sub(b"", body) == PAGE for body in bodies)
        value = float(index + 1) if index % 3 == 0 else None
        engaged_s = float(index + 1) if index % 2 == 0 else None
        events: list[dict[str, Any]] = []
        if value is not None:
            events.append({"id": f"v_{secrets.token_hex(6)}", "type": "conversion", "ts": 1,
                           "name": "purchase", "value": value})  # fmt: skip
        if engaged_s is not None:
            events.append({"id": f"e_{secrets.token_hex(6)}", "type": "engaged", "ts": 1,
                           "ms": int(engaged_s * 1000)})  # fmt: skip
        if events:
            body = orjson.dumps({"v": 1, "page": f"p_{secrets.token_hex(6)}", "events": events})
            async with client.post(
                proxy + "/__vernier/e",
                data=body,
                headers={"Content-Type": "text/plain", "User-Agent": DESKTOP},
            ) as response:
                assert response.status == 202
    return {"arm": arm, "value": value, "engaged_s": engaged_s}


def expected_sums(visits: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    want: dict[tuple[str, str], float] = {}
    for arm in ARMS:
        mine = [v for v in visits if v["arm"] == arm]
        values = [v["value"] for v in mine if v["value"] is not None]
        engaged = [v["engaged_s"] for v in mine if v["engaged_s"] is not None]
        counts = (PAGES * len(mine), PAGES * len(mine), len(values), sum(values),
                  len(engaged), sum(engaged))  # fmt: skip
        want |= {(arm, m): float(n) for m, n in zip(MEASURES, counts, strict=True)}
    return want


async def test_a_holdout_rule_is_reported_per_arm_with_exact_counts(
    origin: str, start_proxy: StartProxy, rules_dir: Path, embedded_store_url: str, tmp_path: Path
) -> None:
    prefix = f"h{secrets.token_hex(4)}:"
    proxy = await start_proxy(origin, rules=str(rules_dir), **{"store.key_prefix": prefix})
    visits = [await visit(proxy, i) for i in range(VISITORS)]
    want = expected_sums(visits)
    assert want["holdout", "decisions"] and want["applied", "decisions"]  # both arms drawn

    await wait_folded(embedded_store_url, prefix, "greet", ARMS, MEASURES, want)
    report = await report_json(
        tmp_path, rules_dir, embedded_store_url, prefix, "--since", "2d", "--slot", "greet"
    )
    assert report["version"] == 2
    (rule,) = report["slots"]
    assert (rule["id"], rule["kind"], rule["policy"]) == ("greet", "rule", "holdout")
    assert rule["control"] == "holdout" and rule["srm_check"] == "srm"
    for row in rule["variants"]:
        arm = row["id"]
        mine = [v for v in visits if v["arm"] == arm]
        assert row["weight"] == 0.5 and row["is_control"] == (arm == "holdout")
        assert row["decisions"] == row["exposures"] == PAGES * len(mine)
        assert row["lost_exposures"] == 0 and row["visitors"] == len(mine)
        assert row["conversions"] == want[arm, "conversions"]
        assert row["conversion_value"] == want[arm, "value"]
        engaged = [v["engaged_s"] for v in mine if v["engaged_s"] is not None]
        mean = sum(engaged) / len(engaged) if engaged else None
        assert row["engaged_s_mean"] == pytest.approx(mean)
    # the rule's effect: conversions per visitor against the holdout's, exact p by hand
    held, applied = (next(r for r in rule["variants"] if r["id"] == arm) for arm in ARMS)
    assert applied["conversions_per_visitor"] == applied["conversions"] / applied["visitors"]
    share = applied["visitors"] / (applied["visitors"] + held["visitors"])
    total = applied["conversions"] + held["conversions"]
    p = binomial_two_sided_p(applied["conversions"], total, share)
    assert held["conversion_p"] is None and applied["conversion_p"] == pytest.approx(p)
