"""The shop's cart cookie and its orders, as pure data.

The cart lives entirely in the shop's own unsigned ``shop_cart`` cookie as ``sku:qty|sku:qty``
(``|`` and ``:`` are legal cookie octets, so the value is never quoted; ``,`` is accepted when
reading). Anyone can edit the cookie, so decoding never raises: unknown SKUs, bad quantities,
duplicates, oversize values and plain garbage are dropped or clamped, and prices always come from
the catalog, never from the cookie.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from proxy.demo.catalog import Catalog, Product

CART_COOKIE = "shop_cart"
CART_MAX_AGE_S = 7 * 24 * 3600
MAX_LINES = 20
MAX_QTY_PER_LINE = 10
MAX_COOKIE_CHARS = 1024

_ENTRY = re.compile(r"([a-z0-9][a-z0-9-]{0,63}):([0-9]{1,3})")


@dataclass(frozen=True, slots=True)
class CartLine:
    """One product and how many of it."""

    product: Product
    qty: int

    @property
    def total_cents(self) -> int:
        return self.product.price_cents * self.qty


@dataclass(frozen=True, slots=True)
class Cart:
    """The lines of a cart in the order they were first added."""

    lines: tuple[CartLine, ...] = ()

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def item_count(self) -> int:
        return sum(line.qty for line in self.lines)

    def add(self, product: Product, qty: int) -> Cart:
        """A cart with ``qty`` more of ``product`` (clamped to the per-line and line limits)."""
        qtys = {line.product.sku: line.qty for line in self.lines}
        if product.sku not in qtys and len(qtys) >= MAX_LINES:
            return self
        new_qty = min(MAX_QTY_PER_LINE, qtys.get(product.sku, 0) + max(qty, 0))
        if new_qty <= 0:
            return self
        if product.sku not in qtys:
            return Cart((*self.lines, CartLine(product, new_qty)))
        return Cart(
            tuple(
                CartLine(product, new_qty) if line.product.sku == product.sku else line
                for line in self.lines
            )
        )

    def encode(self) -> str:
        """The cookie value: ``sku:qty|sku:qty``."""
        return "|".join(f"{line.product.sku}:{line.qty}" for line in self.lines)


def decode_cart(raw: str | None, catalog: Catalog) -> Cart:
    """The cart a cookie value describes; anything unreadable is ignored rather than refused."""
    if not raw or len(raw) > MAX_COOKIE_CHARS:
        return Cart()
    cart = Cart()
    for entry in re.split(r"[|,]", raw.strip().strip('"')):
        match = _ENTRY.fullmatch(entry.strip())
        if match is None:
            continue
        product = catalog.get(match.group(1))
        if product is not None:
            cart = cart.add(product, int(match.group(2)))
    return cart


@dataclass(frozen=True, slots=True)
class Order:
    """A placed order: what was bought and what it was worth (the demo's conversion value)."""

    order_id: str
    lines: tuple[CartLine, ...]
    total_cents: int


class OrderBook:
    """The most recent orders in memory, so the confirmation page can be reloaded.

    Bounded: the oldest orders are forgotten first. The demo has no database, on purpose.
    """

    def __init__(self, max_orders: int = 1000) -> None:
        self._orders: OrderedDict[str, Order] = OrderedDict()
        self._max_orders = max_orders

    def place(self, order_id: str, cart: Cart) -> Order:
        order = Order(order_id=order_id, lines=cart.lines, total_cents=cart.total_cents)
        self._orders[order_id] = order
        while len(self._orders) > self._max_orders:
            self._orders.popitem(last=False)
        return order

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def __len__(self) -> int:
        return len(self._orders)
