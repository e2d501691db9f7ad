"""What a simulated visitor reads from the proxy's answer (pure parts of the driver)."""

from __future__ import annotations

from proxy.simulate.driver import debug_facts, slot_marks, source_addresses


def test_the_slot_marks_are_read_from_the_marked_element() -> None:
    html = (
        '<section id="promo" data-vernier-slot="promo" data-vernier-variant="x" '
        'data-vernier-decision="d_other0001">'
        '<section id="hero" class="hero" data-vernier-slot="hero" data-vernier-variant="b" '
        'data-vernier-decision="d_abcdef12">'
    )
    assert slot_marks(html) == ("b", "d_abcdef12")
    assert slot_marks(html, "promo") == ("x", "d_other0001")
    assert slot_marks('<section id="hero" class="hero">') is None
    assert slot_marks('<div data-vernier-slot="hero" data-vernier-variant="b">') is None


def test_the_reason_and_probability_come_from_the_debug_header() -> None:
    header = (
        '{"rules_version":"r1","rules":[],"slots":[{"slot":"hero","variant":"c",'
        '"reason":"bandit","probability":0.8,"decision":"d_1234abcd","triggers":[]}],'
        '"changed":true}'
    )
    assert debug_facts(header) == ("bandit", 0.8)
    assert debug_facts(header.replace("0.8", "null")) == ("bandit", None)
    assert debug_facts(None) == ("?", None)
    assert debug_facts("not json") == ("?", None)
    assert debug_facts('{"slots":[{"slot":"other","reason":"rule"}]}') == ("?", None)


def test_visitors_connect_from_many_loopback_addresses_where_possible() -> None:
    addresses = source_addresses(8)
    assert addresses == [None] or addresses == [f"127.0.1.{i}" for i in range(1, 9)]
