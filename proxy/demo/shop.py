"""The demo shop: an ordinary aiohttp website that knows nothing about Vernier.

``vernier demo`` runs it as the origin and puts the proxy in front of it. It behaves like a real
small shop so the proxy meets realistic HTTP: weak ``ETag``\\s and ``304``\\s, ``no-cache`` pages and
immutable static files, gzip when asked for, its own cart cookie, a strict Content-Security-Policy
on ``/about``, non-HTML traffic (JSON, CSS, SVG) and a conversion page. Pages are deterministic
except for order ids.

Run it alone with ``python -m proxy.demo.shop --port 8081``.
"""

from __future__ import annotations

import argparse
import re
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.demo.cart import (
    CART_COOKIE,
    CART_MAX_AGE_S,
    MAX_QTY_PER_LINE,
    Cart,
    OrderBook,
    decode_cart,
)
from proxy.demo.catalog import CURRENCY, DEMO_CATALOG, Catalog, decimal_amount
from proxy.demo.pages import Pages
from proxy.demo.serving import STATIC_DIR, StaticAsset, http_semantics, load_assets, static_response

ABOUT_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")

CATALOG_KEY = web.AppKey("catalog", Catalog)
PAGES_KEY = web.AppKey("pages", Pages)
ORDERS_KEY = web.AppKey("orders", OrderBook)
ASSETS_KEY = web.AppKey[Mapping[str, StaticAsset]]("assets")


class _PageError(Exception):
    """Ends a request with the shop's own error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@web.middleware
async def _error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render 400 and 404 as branded HTML pages instead of aiohttp's plain text."""
    try:
        return await handler(request)
    except _PageError as err:
        status, message = err.status, err.message
    except web.HTTPNotFound:
        status, message = 404, "We could not find that page."
    heading = "Page not found" if status == 404 else "Something is not right"
    text = request.app[PAGES_KEY].error(
        status, heading, message, cart_count=_cart(request).item_count
    )
    return _html(text, status=status)


def _html(text: str, *, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _cart(request: web.Request) -> Cart:
    return decode_cart(request.cookies.get(CART_COOKIE), request.app[CATALOG_KEY])


def _category(request: web.Request) -> str | None:
    category = request.query.get("category") or None
    if category is not None and request.app[CATALOG_KEY].category_name(category) is None:
        raise _PageError(404, "We do not sell anything in that category.")
    return category


async def home(request: web.Request) -> web.Response:
    subscribed = {"1": True, "0": False}.get(request.query.get("subscribed", ""))
    cart_count = _cart(request).item_count
    text = request.app[PAGES_KEY].home(
        request.app[CATALOG_KEY], subscribed=subscribed, cart_count=cart_count
    )
    return _html(text)


async def product_list(request: web.Request) -> web.Response:
    text = request.app[PAGES_KEY].product_list(
        request.app[CATALOG_KEY], _category(request), cart_count=_cart(request).item_count
    )
    return _html(text)


async def product_page(request: web.Request) -> web.Response:
    catalog = request.app[CATALOG_KEY]
    product = catalog.get(request.match_info["sku"])
    if product is None:
        raise _PageError(404, "We could not find that product.")
    cart_count = _cart(request).item_count
    return _html(request.app[PAGES_KEY].product(catalog, product, cart_count=cart_count))


async def cart_page(request: web.Request) -> web.Response:
    return _html(request.app[PAGES_KEY].cart(_cart(request)))


async def cart_add(request: web.Request) -> web.Response:
    form = await request.post()
    sku, qty_text = form.get("sku"), form.get("qty", "1")
    product = request.app[CATALOG_KEY].get(sku) if isinstance(sku, str) else None
    if product is None:
        raise _PageError(400, "That product is not for sale.")
    qty = int(qty_text) if isinstance(qty_text, str) and qty_text.strip().isdigit() else 0
    if not 1 <= qty <= MAX_QTY_PER_LINE:
        raise _PageError(400, f"Please choose a quantity from 1 to {MAX_QTY_PER_LINE}.")
    response = _see_other("/cart")
    response.set_cookie(
        CART_COOKIE,
        _cart(request).add(product, qty).encode(),
        max_age=CART_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="Lax",
    )
    return response


async def checkout(request: web.Request) -> web.Response:
    cart = _cart(request)
    if not cart.lines:
        return _see_other("/cart")
    order = request.app[ORDERS_KEY].place(secrets.token_hex(6), cart)
    return _see_other(f"/checkout/done?order={order.order_id}")


async def checkout_done(request: web.Request) -> web.Response:
    """The conversion page: shows the order's value and empties the cart."""
    order = request.app[ORDERS_KEY].get(request.query.get("order", ""))
    if order is None:
        raise _PageError(404, "We could not find that order.")
    response = _html(request.app[PAGES_KEY].confirmation(order))
    response.headers["Cache-Control"] = "no-store"
    response.del_cookie(CART_COOKIE, path="/")
    return response


async def newsletter(request: web.Request) -> web.Response:
    email = (await request.post()).get("email")
    ok = isinstance(email, str) and len(email) <= 254 and _EMAIL.fullmatch(email.strip())
    return _see_other(f"/?subscribed={1 if ok else 0}")


async def about(request: web.Request) -> web.Response:
    response = _html(request.app[PAGES_KEY].about(cart_count=_cart(request).item_count))
    response.headers["Content-Security-Policy"] = ABOUT_CSP
    return response


async def static_file(request: web.Request) -> web.Response:
    asset = request.app[ASSETS_KEY].get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    return static_response(asset)


async def products_json(request: web.Request) -> web.Response:
    catalog, assets = request.app[CATALOG_KEY], request.app[ASSETS_KEY]
    category = request.query.get("category") or None
    if category is not None and catalog.category_name(category) is None:
        return web.json_response({"error": "unknown category"}, status=404)
    products: list[dict[str, Any]] = [
        {
            "sku": p.sku,
            "name": p.name,
            "category": p.category,
            "price": decimal_amount(p.price_cents),
            "price_cents": p.price_cents,
            "currency": CURRENCY,
            "url": p.url,
            "image": f"/static/{p.image}?v={assets[p.image].version}",
            "rating": p.rating,
            "review_count": len(p.reviews),
            "featured": p.featured,
            "badge": p.badge,
        }
        for p in catalog.in_category(category)
    ]
    return web.json_response(
        {"currency": CURRENCY, "products": products},
        headers={"Cache-Control": "public, max-age=60"},
    )


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok", headers={"Cache-Control": "no-store"})


def create_shop_app(catalog: Catalog = DEMO_CATALOG) -> web.Application:
    """The shop as an aiohttp application (templates and static files are read here, once)."""
    assets = load_assets()
    missing = sorted({p.image for p in catalog.products} - assets.keys())
    if missing:
        raise ValueError(f"catalog images missing from {STATIC_DIR}: {', '.join(missing)}")
    app = web.Application(middlewares=[http_semantics, _error_pages])
    app[CATALOG_KEY] = catalog
    app[ASSETS_KEY] = assets
    app[PAGES_KEY] = Pages.load(
        {name: f"/static/{name}?v={a.version}" for name, a in assets.items()}
    )
    app[ORDERS_KEY] = OrderBook()
    app.router.add_get("/", home)
    app.router.add_get("/products", product_list)
    app.router.add_get("/products/{sku}", product_page)
    app.router.add_get("/cart", cart_page)
    app.router.add_post("/cart/add", cart_add)
    app.router.add_post("/checkout", checkout)
    app.router.add_get("/checkout/done", checkout_done)
    app.router.add_post("/newsletter", newsletter)
    app.router.add_get("/about", about)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/api/products.json", products_json)
    app.router.add_get("/healthz", healthz)
    return app


async def run_shop(host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
    """Start the shop on ``host:port`` (0 picks a free port; see :func:`shop_port`).

    The caller stops it with ``await runner.cleanup()``. ``OSError`` (port in use) propagates.
    """
    runner = web.AppRunner(create_shop_app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def shop_port(runner: web.AppRunner) -> int:
    """The TCP port a started runner listens on."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the shop is not listening")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Vernier demo shop on its own.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    web.run_app(create_shop_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
