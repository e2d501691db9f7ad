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


async def test_a_repeat_page_is_served_from_the_cache_and_accounted_again(tmp_path: Path) -> None:
    health, metrics = RuleHealth(), Metrics()
    stage = Rewrite(make_config().html, health, metrics)
    served = []
    for _ in range(2):
        ex = make_exchange(target="/page")
        ex.document = bytes(bytearray(PAGE))
        ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
        ex.engine = make_engine(tmp_path)
        ex.rules = ex.engine.ruleset.rules
        await stage(ex)
        assert ex.changed and ex.rules_applied == ("greet",)
        served.append(ex.document)
    assert served[0] is served[1]  # the second page was not rewritten again
    assert metrics.rule_outcomes.labels("greet", "applied")._value.get() == 2


async def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    stage = Rewrite(make_config(**{"html.rewrite_cache_bytes": 0}).html, RuleHealth(), Metrics())
    served = []
    for _ in range(2):
        ex = make_exchange(target="/page")
        ex.document = PAGE
        ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
        ex.engine = make_engine(tmp_path)
        ex.rules = ex.engine.ruleset.rules
        await stage(ex)
        served.append(ex.document)
    assert served[0] == served[1] and served[0] is not served[1]


async def test_each_view_of_a_cached_page_carries_its_own_decision(tmp_path: Path) -> None:
    stage = Rewrite(make_config().html, RuleHealth(), Metrics())
    plain = Rewrite(make_config(**{"html.rewrite_cache_bytes": 0}).html, RuleHealth(), Metrics())
    pages = []
    for decision_id, page, rewriter in (
        ("a" * 16, PAGE, stage),
        ("b" * 16, PAGE, stage),
        ("b" * 16, PAGE, plain),
        ("c" * 16, PAGE + stage._cache.stand_ins(1)[0].encode(), stage),  # type: ignore[union-attr]
    ):
        ex = make_exchange(target="/page")
        ex.document = page
        ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
        ex.engine = make_engine(tmp_path)
        ex.slots = ex.engine.ruleset.slots
        ex.decisions = (Decision(decision_id, "hero", "b", "rule"),)
        await rewriter(ex)
        assert [d.id for d in ex.decisions] == [decision_id]
        pages.append(ex.document)
    assert pages[0] is not None and f'data-vernier-decision="{"a" * 16}"'.encode() in pages[0]
    assert pages[1] == pages[2] == pages[0].replace(b"a" * 16, b"b" * 16)
    assert pages[3] is not None and b"c" * 16 in pages[3]  # the page held a stand-in: plain
