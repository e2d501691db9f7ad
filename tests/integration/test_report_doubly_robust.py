"""A bandit slot with a pin, through the proxy: decisions asked and rewards posted over HTTP,
joined by the embedded learner, then ``vernier report --format json`` read back. The IPS of
every variant, of the served policy and of the YAML rules in its ``doubly_robust`` section
equal the same formulas computed here from what the proxy answered; the DR values lie in
their intervals, inside the reward range."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.cli import main
from tests.integration.report_runs import SLOW_MACHINE, post_api, report_json
from tests.proxy_fixtures import StartProxy
from tests.waiting import until

TOKEN = "dr-report-token-0123456789abcdef"
RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    bandit: {explorer: {type: epsilon, epsilon: 1.0}}
    reward: {window_s: 1}
    guardrail: off
    pin:
      - {when: "device == 'mobile'", variant: c}
    variants: {a: [], b: [{op: hide, selector: p}], c: [{op: hide, selector: h1}]}
"""
pytestmark = pytest.mark.rules_file("hero.yaml", RULES)
VISITORS = 60


def reward_of(i: int, device: str, variant: str) -> float:
    """A deterministic pattern: b earns on desktop every other visitor, c on mobile often."""
    if device == "desktop":
        return float((variant == "b" and i % 2 == 0) or (variant == "a" and i % 5 == 0))
    return float(variant == "c" and i % 3 != 0)


def ips(decisions: list[dict[str, Any]], target: Callable[[dict[str, Any]], str]) -> float:
    """The mean of w·r for a deterministic target, w = 1/p where it chose the logged variant."""
    total = sum(
        float(d["reward"]) / float(d["probability"]) for d in decisions if target(d) == d["variant"]
    )
    return total / len(decisions)


async def test_report_gives_dr_of_each_variant_and_policy(
    origin: str, start_proxy: StartProxy, rules_dir: Path, tmp_path: Path, embedded_store_url: str
) -> None:
    prefix = f"d{secrets.token_hex(4)}:"
    proxy = await start_proxy(
        origin,
        rules=str(rules_dir),
        **{"admin.token": TOKEN, "store.key_prefix": prefix, **SLOW_MACHINE},
    )
    decisions = []
    async with aiohttp.ClientSession() as client:
        for i in range(VISITORS):
            device = "mobile" if i % 3 == 0 else "desktop"
            ask = {"slot": "hero", "session": f"visitor-{i}", "context": {"device": device}}
            decision = await post_api(client, proxy + "/__vernier/api/decide", ask, TOKEN)
            reward = reward_of(i, device, decision["variant"])
            noted = {"decision": decision["decision"], "reward": reward}
            await post_api(client, proxy + "/__vernier/api/reward", noted, TOKEN)
            decisions.append({**decision, "device": device, "reward": reward})
    assert {d["reason"] for d in decisions} == {"bandit", "rule"}
    log = tmp_path / "decisions.jsonl"

    def all_joined() -> bool:
        return log.exists() and log.read_bytes().count(b"\n") >= VISITORS

    await until(all_joined, "the learner to join and keep every example", 30.0)

    report = await report_json(tmp_path, rules_dir, embedded_store_url, prefix, "--since", "1d")
    assert report["version"] == 2 and report["minor_version"] >= 1
    (slot,) = report["slots"]
    section = slot["doubly_robust"]
    assert section["examples"] == VISITORS and section["sampled"] is False
    assert section["message"] is None and section["warnings"] == []
    policies = {p["id"]: p for p in section["policies"]}
    assert list(policies) == ["served", "model", "uniform", "control (a)", "rules"]
    arms = {v["id"]: v for v in section["variants"]}

    for variant in ("a", "b", "c"):
        always = functools.partial(lambda v, d: v, variant)
        assert arms[variant]["ips"] == pytest.approx(ips(decisions, always))
    rules = ips(decisions, lambda d: "c" if d["device"] == "mobile" else "a")
    assert policies["rules"]["ips"] == pytest.approx(rules)
    mean = sum(d["reward"] for d in decisions) / VISITORS
    assert policies["served"]["ips"] == pytest.approx(mean)
    assert policies["control (a)"]["dr"] == arms["a"]["dr"]
    for row in [*policies.values(), *arms.values()]:
        low, high = row["dr_ci"]
        assert 0.0 <= low <= high <= 1.0, row  # intervals are clipped to the reward range
        if not low <= row["dr"] <= high:  # a DR point may leave it (r̂ corrected by IPS): flagged
            assert "outside_range" in {w["code"] for w in row["warnings"]}, row
    for row in slot["variants"]:
        assert row["dr"] == arms[row["id"]]["dr"]

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        args = ["report", "--config", str(tmp_path / "vernier.yaml"), "--store", embedded_store_url,
                "--since", "1d", "--dr-sample", "5"]  # fmt: skip
        assert await asyncio.to_thread(main, args) == 0
    assert "doubly robust: only 5 joined examples of the sample (its limit)" in text.getvalue()


def test_a_dr_sample_beyond_what_the_store_keeps_is_refused(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "vernier.yaml"
    config.write_text(f"rules: {rules_dir}\nresults: {{examples_kept: 100}}\n")
    for sample in ("101", "-1"):
        assert main(["report", "--config", str(config), "--dr-sample", sample]) == 2
        err = capsys.readouterr().err
        assert "--dr-sample" in err and "expected 0 to 100" in err and "Traceback" not in err
