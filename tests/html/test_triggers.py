"""Rendering a slot's triggered variant into a <template> right after the slot's element."""

from __future__ import annotations

import html as html_lib

import orjson
from selectolax.lexbor import LexborHTMLParser

from proxy.html.ops.registry import AddClass, SetText
from proxy.html.triggers import insert_templates, render_variant, slot_elements, template
from proxy.rules.schema import Trigger

PAGE = (
    b"<!DOCTYPE html><html><head><title>t</title></head><body>\r\n"
    b"<section id=hero data-vernier-slot=hero data-vernier-variant=a data-vernier-decision=D1>"
    b"<h1 class=title>Hello</h1></section>\r\n<p>after &amp; more</p></body></html>"
)
NEW = {
    "data-vernier-slot": "hero",
    "data-vernier-variant": "b",
    "data-vernier-decision": "D2",
}


def test_the_variant_renders_from_the_slot_element() -> None:
    [element] = slot_elements(PAGE, "utf-8", ["D1", "missing"]).values()
    rendered = render_variant(
        element, [SetText(".title", "{{ who }}"), AddClass("h1", "x")], NEW, {"who": "<you>"}
    )
    assert rendered is not None
    node = LexborHTMLParser(rendered).css_first("section")
    assert node is not None
    assert node.attributes["data-vernier-decision"] == "D2"
    assert node.attributes["data-vernier-variant"] == "b"
    assert '<h1 class="title x">&lt;you&gt;</h1>' in rendered  # filled values are escaped


def test_a_bare_table_row_cannot_be_rendered_alone() -> None:
    row = '<tr data-vernier-slot="s" data-vernier-decision="D1"><td>x</td></tr>'
    assert render_variant(row, [], NEW, None) is None


def test_template_carries_the_contract_attributes() -> None:
    trigger = Trigger(
        id="bored", variant="b", after_s=1.5, hover=".img", max_scroll=0.25, without_click="#buy"
    )
    markup = template(trigger, NEW, "<section>x</section>")
    node = LexborHTMLParser(markup).css_first("template")
    assert node is not None
    attrs = node.attributes
    assert attrs["data-vernier-trigger"] == "bored"
    assert attrs["data-vernier-decision"] == "D2"
    assert orjson.loads(html_lib.unescape(attrs["data-vernier-when"] or "")) == {
        "after_ms": 1500,
        "hover": ".img",
        "max_scroll": 0.25,
        "without_click": "#buy",
    }
    minimal = template(Trigger(id="t", variant="b", after_s=30), NEW, "<p></p>")
    assert "{&quot;after_ms&quot;:30000}" in minimal


def test_templates_go_right_after_the_element_and_nothing_else_moves() -> None:
    body, changed = insert_templates(PAGE, "utf-8", {"D1": "<template>T</template>"})
    assert changed
    assert body == PAGE.replace(b"</section>", b"</section><template>T</template>")
