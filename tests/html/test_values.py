"""The values operations write: placeholders, the attribute safety check, style merging."""

from __future__ import annotations

import pytest

from proxy.html.values import attribute_allowed, fill, merge_style


def test_fill_escapes_html_values_and_blanks_missing_names() -> None:
    values = {"name": '<Ann & "Bo">'}
    assert fill("Hi {{ name }}{{missing}}!", values, escape=True) == (
        "Hi &lt;Ann &amp; &quot;Bo&quot;&gt;!"
    )
    assert fill("{{name}}", values, escape=False) == '<Ann & "Bo">'
    assert fill("{{ name }}", None, escape=True) == "{{ name }}"


def test_fill_drops_characters_no_html_page_may_hold() -> None:
    values = {"source": "a\x00b\x1bc\x7fd\ud800e\tf\ng"}
    for escape in (True, False):
        assert fill("[{{ source }}]", values, escape=escape) == "[abcde\tf\ng]"


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("title", "x", True),
        ("onclick", "x", False),
        ("ONerror", "x", False),
        ("href", "javascript:alert(1)", False),
        ("href", " \tJAVA\nscript:alert(1)", False),
        ("src", "vbscript:x", False),
        ("action", "/ok", True),
        ("href", "https://example.com/javascript:", True),
        ("bad name", "x", False),
        ('x"', "x", False),
    ],
)
def test_attribute_allowed(name: str, value: str, allowed: bool) -> None:
    assert attribute_allowed(name, value) is allowed


def test_merge_style_replaces_and_appends() -> None:
    assert merge_style("color: red; Margin:1px", "margin: 0; display:none") == (
        "color: red; margin: 0; display: none"
    )
    assert merge_style(None, "display:none") == "display: none"


def test_merge_style_keeps_semicolons_inside_values_and_custom_property_case() -> None:
    image = "url(data:image/png;base64,iVBO)"
    assert merge_style(f"background-image:{image};height:80px", "color: white") == (
        f"background-image: {image}; height: 80px; color: white"
    )
    quoted = "content: 'a;b'; font-family: \"x;y\", serif"
    assert merge_style(quoted, "display:none") == f"{quoted}; display: none"
    assert merge_style("--Brand: red; COLOR: var(--Brand)", "color: blue") == (
        "--Brand: red; color: blue"
    )
    assert merge_style(r"content: '\';'; x: 1", "y: 2") == r"content: '\';'; x: 1; y: 2"


def test_merge_style_never_writes_a_declaration_that_swallows_the_new_ones() -> None:
    assert merge_style("color:red /* a; b */; margin:0", "display:none") == (
        "color: red; margin: 0; display: none"
    )
    for broken in ("color: red; content: 'open", "color: red; x: f(a", "color: red /* open"):
        assert merge_style(broken, "display:none") == "color: red; display: none", broken
