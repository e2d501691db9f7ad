"""rewrite alone: the matched rules and decided variants change the page, and are accounted."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import time
from pathlib import Path

import pytest
from multidict import CIMultiDict

from proxy.decide.decision import Decision
from proxy.exchange import Exchange
from proxy.html.ops.set_text import SetText
from proxy.metrics import Metrics
from proxy.rules.health import RuleHealth
from proxy.stages.rewrite import Rewrite
from tests.integration.origin_app import PAGE
from tests.stages.factory import make_config, make_engine, make_exchange


async def test_rules_and_a_decided_variant_change_the_page(tmp_path: Path) -> None:
    ex = slot_page_exchange(tmp_path, PAGE)
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


def slot_page_exchange(tmp_path: Path, document: bytes) -> Exchange:
    """A page in the ``greet`` rule's and the ``hero`` slot's scope, slot decided."""
    ex = make_exchange(target="/page")
    ex.document = document
    ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
    ex.engine = make_engine(tmp_path)
    ex.rules = ex.engine.ruleset.rules
    ex.slots = ex.engine.ruleset.slots
    ex.decisions = (Decision("d" * 16, "hero", "b", "rule"),)
    return ex


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_operation_that_raises_opens_its_breaker_and_a_probe_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    health = RuleHealth(failures_to_trip=3, open_s=5, clock=clock)
    stage = Rewrite(make_config().html, health, Metrics())

    def broken(self: SetText, tree: object, node: object) -> bool:
        raise RuntimeError("a bug in set_text")

    with monkeypatch.context() as patched:
        patched.setattr(SetText, "apply_to", broken)
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await stage(slot_page_exchange(tmp_path, PAGE))
    assert health.is_open("greet") and health.is_open("hero")
    clock.now += 5  # seconds, not minutes: the next page probes, and the fixed op succeeds
    assert not health.is_open("greet") and not health.is_open("hero")
    ex = slot_page_exchange(tmp_path, PAGE)
    await stage(ex)
    assert ex.changed and health.tripped() == {}


# big enough to be rewritten in a thread (proxy/content/offload.py)
BIG_PAGE = PAGE.replace(b"</body>", b"<div>filler</div>" * 9_000 + b"</body>")


async def test_a_stalled_event_loop_is_not_the_rules_fault(tmp_path: Path) -> None:
    """Wall clock far past the budget, CPU well within it: the page is served rewritten."""
    health = RuleHealth(failures_to_trip=1)
    stage = Rewrite(make_config(**{"html.budget_ms": 50.0}).html, health, Metrics())
    ex = slot_page_exchange(tmp_path, BIG_PAGE)

    async def stall_the_loop() -> None:
        time.sleep(0.3)  # another request hogging the loop while the rewrite runs in its thread

    started = time.perf_counter()
    await asyncio.gather(stage(ex), stall_the_loop())
    assert (time.perf_counter() - started) * 1000.0 > 50.0  # the stall did cover the rewrite
    assert ex.changed and [d.slot for d in ex.decisions] == ["hero"]
    assert ex.work_cpu_s * 1000.0 < 50.0 and health.tripped() == {}


def burn_cpu(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


async def test_a_busy_machine_does_not_open_breakers(tmp_path: Path) -> None:
    """Twice as many CPU-burning processes as cores beside 30 slot pages: none loses its slot."""
    health = RuleHealth(failures_to_trip=1)
    stage = Rewrite(make_config(**{"html.budget_ms": 50.0}).html, health, Metrics())
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    burners = [
        context.Process(target=burn_cpu, args=(stop,), daemon=True)
        for _ in range(2 * (os.cpu_count() or 1))
    ]
    for burner in burners:
        burner.start()
    try:
        for _ in range(30):
            ex = slot_page_exchange(tmp_path, BIG_PAGE)
            await stage(ex)
            assert ex.changed and [d.slot for d in ex.decisions] == ["hero"]
    finally:
        stop.set()
        for burner in burners:
            burner.join(timeout=10)
            if burner.is_alive():
                burner.kill()
    assert health.tripped() == {} and health.totals["hero", "failed"] == 0


def decided_exchange(tmp_path: Path, rules: str, decisions: tuple[Decision, ...]) -> Exchange:
    """The origin's test page under ``rules``, its slots decided as ``decisions``."""
    ex = make_exchange(target="/page")
    ex.document = PAGE
    ex.headers = CIMultiDict({"Content-Type": "text/html; charset=utf-8"})
    ex.engine = make_engine(tmp_path, rules)
    ex.slots = ex.engine.ruleset.slots
    ex.decisions = decisions
    return ex


STRAY_RULES = """
slots:
  - id: hero
    selector: "#promo"
    control: a
    variants: {a: [], b: [{op: set_text, selector: "h1", value: "Changed"}]}
  - id: side
    selector: "p"
    control: a
    variants: {a: [], b: [{op: set_attr, selector: "p", name: class, value: "side"}]}
"""


async def test_a_slot_not_on_the_page_changes_nothing_in_it(tmp_path: Path) -> None:
    """A variant's operations apply only where its slot's element is in the page: a slot with
    no element there is not on the page, so neither are its variant's changes elsewhere."""
    for cache_bytes in (0, 1 << 20):
        # no #promo in the page: the hero slot is not on it; the side slot is
        decided = (Decision("d" * 16, "hero", "b", "rule"), Decision("e" * 16, "side", "b", "rule"))
        ex = decided_exchange(tmp_path, STRAY_RULES, decided)
        metrics = Metrics()
        await Rewrite(
            make_config(**{"html.rewrite_cache_bytes": cache_bytes}).html, RuleHealth(), metrics
        )(ex)
        assert ex.document is not None
        assert b"<h1 id=hero>Hello</h1>" in ex.document  # the hero variant's change is not made
        assert b'<p class="side" data-vernier-slot="side"' in ex.document
        assert [d.slot for d in ex.decisions] == ["side"]
        assert metrics.rule_outcomes.labels("hero", "missed")._value.get() == 1


SHARED_RULES = """
slots:
  - id: headline
    selector: "#hero"
    control: a
    variants: {a: [], b: [{op: set_text, selector: "h1", value: "Headline"}]}
  - id: button
    selector: "#hero"
    priority: 5
    control: a
    variants: {a: [], b: [{op: add_class, selector: "p", value: "cta"}]}
"""


async def test_of_two_slots_on_one_element_the_higher_ranked_is_shown(tmp_path: Path) -> None:
    for order in ((0, 1), (1, 0)):
        both = (
            Decision("d" * 16, "headline", "b", "rule"),
            Decision("e" * 16, "button", "b", "rule"),
        )
        ex = decided_exchange(tmp_path, SHARED_RULES, tuple(both[i] for i in order))
        metrics = Metrics()
        await Rewrite(make_config().html, RuleHealth(), metrics)(ex)
        assert ex.document is not None
        assert b"Headline" not in ex.document and b'class="cta"' in ex.document
        assert b'data-vernier-slot="button"' in ex.document
        assert [d.slot for d in ex.decisions] == ["button"]
        assert metrics.rule_conflicts.labels("button", "headline")._value.get() == 1
