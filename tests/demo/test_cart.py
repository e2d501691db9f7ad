"""The cart cookie codec and the order book: pure data, no server."""

from __future__ import annotations

import pytest

from proxy.demo.cart import (
    MAX_LINES,
    MAX_QTY_PER_LINE,
    Cart,
    OrderBook,
    decode_cart,
)
from proxy.demo.catalog import DEMO_CATALOG, Catalog, Product, decimal_amount, format_price


def _product(sku: str) -> Product:
    product = DEMO_CATALOG.get(sku)
    assert product is not None
    return product


def test_round_trip_keeps_order_and_quantities() -> None:
    cart = Cart().add(_product("burr-grinder"), 1).add(_product("house-blend"), 2)
    assert cart.encode() == "burr-grinder:1|house-blend:2"
    assert decode_cart(cart.encode(), DEMO_CATALOG) == cart


def test_adding_again_merges_in_place_and_clamps() -> None:
    cart = Cart().add(_product("house-blend"), 2).add(_product("stoneware-mug"), 1)
    cart = cart.add(_product("house-blend"), 9)
    assert [(ln.product.sku, ln.qty) for ln in cart.lines] == [
        ("house-blend", MAX_QTY_PER_LINE),
        ("stoneware-mug", 1),
    ]


def test_totals_come_from_the_catalog() -> None:
    cart = decode_cart("house-blend:2|burr-grinder:1", DEMO_CATALOG)
    assert cart.total_cents == 2 * 1400 + 8900
    assert cart.item_count == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("%%%", ""),
        ("::||,,", ""),
        ('{"house-blend": 2}', ""),
        ("house-blend:abc", ""),
        ("house-blend:0", ""),
        ("house-blend:-1", ""),
        ("HOUSE-BLEND:1", ""),
        ("nope:3|house-blend:2", "house-blend:2"),
        ("house-blend:999", f"house-blend:{MAX_QTY_PER_LINE}"),
        ("house-blend:2,house-blend:3", "house-blend:5"),
        ('"house-blend:1|glass-tumbler:2"', "house-blend:1|glass-tumbler:2"),
        (" house-blend:1 | glass-tumbler:2 ", "house-blend:1|glass-tumbler:2"),
        ("house-blend:1" + "|x" * 2000, ""),
    ],
)
def test_decode_tolerates_garbage(raw: str | None, expected: str) -> None:
    assert decode_cart(raw, DEMO_CATALOG).encode() == expected


def test_line_limit() -> None:
    products = tuple(
        Product(f"p{i}", f"P{i}", "c", 100, "s", "d", "x.svg", ()) for i in range(MAX_LINES + 5)
    )
    catalog = Catalog(products=products, categories=(("c", "C"),))
    raw = "|".join(f"{p.sku}:1" for p in products)
    assert len(decode_cart(raw, catalog).lines) == MAX_LINES


def test_order_book_is_bounded_oldest_first() -> None:
    book = OrderBook(max_orders=2)
    cart = Cart().add(_product("house-blend"), 1)
    for order_id in ("a", "b", "c"):
        book.place(order_id, cart)
    assert len(book) == 2
    assert book.get("a") is None
    placed = book.get("c")
    assert placed is not None and placed.total_cents == 1400


def test_money_formatting() -> None:
    assert format_price(1450) == "$14.50"
    assert format_price(123456) == "$1,234.56"
    assert decimal_amount(5) == "0.05"
    assert decimal_amount(11700) == "117.00"


def test_catalog_shape() -> None:
    assert len(DEMO_CATALOG.products) >= 8
    assert len({p.category for p in DEMO_CATALOG.products}) >= 3
    assert len({p.sku for p in DEMO_CATALOG.products}) == len(DEMO_CATALOG.products)
    assert all(len(p.reviews) >= 3 for p in DEMO_CATALOG.products)
    assert {p.category for p in DEMO_CATALOG.products} == {s for s, _ in DEMO_CATALOG.categories}
