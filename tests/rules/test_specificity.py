import pytest

from proxy.rules.specificity import specificity


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("*", (0, 0, 0)),
        ("li", (0, 0, 1)),
        ("ul li", (0, 0, 2)),
        ("ul ol+li", (0, 0, 3)),
        ("h1 + *[rel=up]", (0, 1, 1)),
        ("ul ol li.red", (0, 1, 3)),
        ("li.red.level", (0, 2, 1)),
        ("#x34y", (1, 0, 0)),
        ("#s12:not(FOO)", (1, 0, 1)),
        (".foo :is(.bar, #baz)", (1, 1, 0)),
        (":where(#a, .b) p", (0, 0, 1)),
        ("a::before", (0, 0, 2)),
        ("a:before", (0, 0, 2)),
        ("a:hover", (0, 1, 1)),
        ("li:nth-child(2n+1 of .important)", (0, 2, 1)),
        ("main > section:has(> img.hero)", (0, 1, 3)),
        ('[data-x="a,b#c.d"]', (0, 1, 0)),
        ("p, #main .title", (1, 1, 0)),
        (r"#a\.b", (1, 0, 0)),
        ("svg|rect", (0, 0, 1)),
    ],
)
def test_specificity_follows_selectors_level_4(
    selector: str, expected: tuple[int, int, int]
) -> None:
    assert specificity(selector) == expected
