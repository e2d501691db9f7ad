"""rewrite alone: the matched rules and decided variants change the page, and are accounted."""

from __future__ import annotations

from pathlib import Path

from multidict import CIMultiDict

from proxy.decide.decision import Decision
from proxy.metrics import Metrics
from proxy.rules.health import RuleHealth
from proxy.stages.rewrite import Rewrite
from tests.integration.origin_app import PAGE
from tests.stages.factory import make_config, make_engine, make_exchange


async def test_rules_and_a_decided_variant_change_the_page(tmp_path: Path) -> None:
    ex = make_exchange(target="/page")
    ex.document = PAGE
    ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
    ex.engine = make_engine(tmp_path)
    ex.rules = ex.engine.ruleset.rules
    ex.slots = ex.engine.ruleset.slots
    ex.decisions = (Decision("d" * 16, "hero", "b", "rule"),)
    health = RuleHealth()
    await Rewrite(make_config().html, health, Metrics())(ex)
    assert ex.changed and ex.rules_applied == ("greet",)
    assert ex.document is not None and b"<p>Hello phone</p>" in ex.document
    assert b'data-vernier-variant="b" data-vernier-decision="dddddddddddddddd">Hi</h1>' in (
        ex.document
    )
    assert [d.slot for d in ex.decisions] == ["hero"]


async def test_nothing_matched_leaves_the_page_alone(tmp_path: Path) -> None:
    ex = make_exchange(target="/page")
    ex.document = PAGE
    ex.engine = make_engine(tmp_path)
    await Rewrite(make_config().html, RuleHealth(), Metrics())(ex)
    assert not ex.changed and ex.document is PAGE and ex.rules_applied == ()
