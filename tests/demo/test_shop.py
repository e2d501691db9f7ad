"""The demo shop over real HTTP on loopback: pages, hooks, cart, checkout and HTTP behaviour.

(selectolax 1.x removed ``selectolax.parser``; its Lexbor parser has the same selector API.)
"""

from __future__ import annotations

import gzip
import re
from typing import Any

import aiohttp
import html5lib  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from selectolax.lexbor import LexborHTMLParser

from proxy.demo.catalog import DEMO_CATALOG
from proxy.demo.shop import create_shop_app, run_shop, shop_port

Client = TestClient[web.Request, web.Application]

PAGES = ["/", "/products", "/products?category=coffee", "/cart", "/about"] + [
    p.url for p in DEMO_CATALOG.products
]


@pytest.fixture
async def client(aiohttp_client: AiohttpClient) -> Client:
    return await aiohttp_client(create_shop_app())


async def _page(client: Client, path: str, **kwargs: Any) -> LexborHTMLParser:
    async with client.get(path, **kwargs) as resp:
        assert resp.status == 200, path
        assert resp.content_type == "text/html"
        return LexborHTMLParser(await resp.text())


def _one(tree: LexborHTMLParser, selector: str) -> dict[str, str | None]:
    nodes = tree.css(selector)
    assert len(nodes) == 1, f"{selector}: {len(nodes)} matches"
    return nodes[0].attributes


def _text(tree: LexborHTMLParser, selector: str) -> str:
    _one(tree, selector)
    node = tree.css_first(selector)
    assert node is not None
    return node.text(strip=True)


async def _add(client: Client, sku: str, qty: str = "1") -> aiohttp.ClientResponse:
    return await client.post("/cart/add", data={"sku": sku, "qty": qty}, allow_redirects=False)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_is_small_valid_html5(client: Client, path: str) -> None:
    async with client.get(path) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["ETag"].startswith('W/"')
        body = await resp.read()
    assert body.startswith(b"<!doctype html>\n")
    assert len(body) < 15 * 1024
    html5lib.HTMLParser(strict=True).parse(body)  # raises on any parse error
    tree = LexborHTMLParser(body.decode())
    _one(tree, 'meta[charset="utf-8"]')
    assert "width=device-width" in str(_one(tree, 'meta[name="viewport"]')["content"])
    _one(tree, "header#site-header nav.site-nav a.cart-link span.cart-count")
    _one(tree, "main#main")
    # An ordinary site: no Vernier, no scripts, no inline styles (the strict CSP must hold).
    assert b"vernier" not in body.lower()
    assert not tree.css("script, style, [style]")


async def test_home_hooks(client: Client) -> None:
    tree = await _page(client, "/")
    _one(tree, "body.page-home")
    _one(tree, "section#hero.hero h1.hero-title")
    _one(tree, "section#hero p.hero-subtitle")
    assert str(_one(tree, "section#hero img.hero-image")["src"]).startswith("/static/hero.svg?v=")
    assert _one(tree, "section#hero a.cta#hero-cta")["href"] == "/products"
    featured = tree.css("section#featured ul.product-list > li.product-card[data-sku]")
    assert [n.attributes["data-sku"] for n in featured] == [p.sku for p in DEMO_CATALOG.featured()]
    _one(tree, "aside#promo.promo a.promo-link")
    form = _one(tree, "form#newsletter")
    assert (form["method"], form["action"]) == ("post", "/newsletter")
    assert _one(tree, 'form#newsletter input[name="email"]')["type"] == "email"
    assert not tree.css(".newsletter-status")


async def test_product_list_and_category_filter(client: Client) -> None:
    tree = await _page(client, "/products")
    cards = tree.css("ul.product-list > li.product-card")
    assert len(cards) == len(DEMO_CATALOG.products) >= 8
    assert len({c.attributes["data-category"] for c in cards}) >= 3
    for card in cards:
        sku = card.attributes["data-sku"]
        link = card.css_first("a.product-link")
        assert link is not None and link.attributes["href"] == f"/products/{sku}"
        assert card.css_first("img.product-thumb") and card.css_first("h3.product-name")
        assert card.css_first("p.product-price[data-price-cents]")
    assert len(tree.css("nav.category-filter a.category-link")) == 4
    tree = await _page(client, "/products?category=tableware")
    skus = [n.attributes["data-sku"] for n in tree.css("li.product-card")]
    assert skus == [p.sku for p in DEMO_CATALOG.in_category("tableware")]
    current = _one(tree, 'a.category-link[aria-current="page"]')
    assert current["href"] == "/products?category=tableware"
    async with client.get("/products?category=socks") as resp:
        assert resp.status == 404


async def test_product_page_hooks(client: Client) -> None:
    tree = await _page(client, "/products/burr-grinder")
    assert _one(tree, "article#product.product-detail")["data-sku"] == "burr-grinder"
    _one(tree, "img.product-image")
    _one(tree, "h1.product-title")
    assert _one(tree, ".product-detail p.product-price")["data-price-cents"] == "8900"
    _one(tree, "div.product-description")
    reviews = tree.css("section#reviews.reviews > article.review[data-rating]")
    assert len(reviews) >= 3
    assert all(r.css_first(".review-body") and r.css_first(".review-author") for r in reviews)
    form = _one(tree, "form#add-to-cart.add-to-cart")
    assert (form["method"], form["action"]) == ("post", "/cart/add")
    assert _one(tree, 'form#add-to-cart input[name="sku"]')["value"] == "burr-grinder"
    _one(tree, 'form#add-to-cart input[name="qty"]')


async def test_unknown_product_and_path_are_404_pages(client: Client) -> None:
    for path in ("/products/no-such-thing", "/nowhere"):
        async with client.get(path) as resp:
            assert resp.status == 404
            assert resp.content_type == "text/html"
            tree = LexborHTMLParser(await resp.text())
        assert _one(tree, "section#error")["data-status"] == "404"


async def test_add_to_cart_then_cart_shows_items(client: Client) -> None:
    resp = await _add(client, "house-blend", "2")
    assert resp.status == 303 and resp.headers["Location"] == "/cart"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("shop_cart=house-blend:2;") and "Path=/" in cookie
    await _add(client, "burr-grinder")
    await _add(client, "house-blend")
    tree = await _page(client, "/cart")
    rows = tree.css("section#cart table.cart-items tr.cart-item")
    assert [(r.attributes["data-sku"], r.attributes["data-qty"]) for r in rows] == [
        ("house-blend", "3"),
        ("burr-grinder", "1"),
    ]
    assert _one(tree, "p.cart-total")["data-total-cents"] == str(3 * 1400 + 8900)
    assert _text(tree, "span.cart-count") == "4"
    form = _one(tree, "form#checkout-form")
    assert (form["method"], form["action"]) == ("post", "/checkout")
    _one(tree, "button#checkout-button.checkout-button")


@pytest.mark.parametrize(
    ("sku", "qty"), [("nope", "1"), ("house-blend", "0"), ("house-blend", "x")]
)
async def test_add_to_cart_rejects_bad_input(client: Client, sku: str, qty: str) -> None:
    resp = await _add(client, sku, qty)
    assert resp.status == 400
    assert "Set-Cookie" not in resp.headers


async def test_checkout_converts_and_clears_cart(client: Client) -> None:
    await _add(client, "stoneware-mug", "2")
    await _add(client, "ethiopia-guji")
    resp = await client.post("/checkout", allow_redirects=False)
    assert resp.status == 303
    location = resp.headers["Location"]
    assert re.fullmatch(r"/checkout/done\?order=[0-9a-f]{12}", location)
    async with client.get(location) as done:
        assert done.status == 200
        assert done.headers["Cache-Control"] == "no-store"
        assert "ETag" not in done.headers
        cleared = done.headers["Set-Cookie"]
        tree = LexborHTMLParser(await done.text())
    assert cleared.startswith("shop_cart=") and "Max-Age=0" in cleared
    section = _one(tree, "section#order-confirmation.confirmation")
    assert section["data-order-value"] == "62.50"  # 2 x 22.00 + 18.50
    assert section["data-order-id"] == location.rsplit("=", 1)[1]
    assert section["data-currency"] == "USD"
    assert len(tree.css("tr.cart-item")) == 2
    cart = await _page(client, "/cart")
    _one(cart, "p.cart-empty")
    assert not cart.css("tr.cart-item")


async def test_checkout_edge_cases(client: Client) -> None:
    resp = await client.post("/checkout", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/cart")
    async with client.get("/checkout/done?order=deadbeef") as resp:
        assert resp.status == 404


@pytest.mark.parametrize(
    "raw", ["%%%", "{}", "house-blend:abc", "::||", "x" * 3000, '"unterminated', "nope:2"]
)
async def test_garbage_cart_cookie_is_tolerated(client: Client, raw: str) -> None:
    tree = await _page(client, "/cart", headers={"Cookie": f"shop_cart={raw}"})
    _one(tree, "p.cart-empty")
    assert await _page(client, "/", headers={"Cookie": f"shop_cart={raw}"})


async def test_newsletter(client: Client) -> None:
    for email, flag in (("ada@example.com", "1"), ("not-an-email", "0")):
        resp = await client.post("/newsletter", data={"email": email}, allow_redirects=False)
        assert (resp.status, resp.headers["Location"]) == (303, f"/?subscribed={flag}")
    tree = await _page(client, "/?subscribed=1")
    _one(tree, "#newsletter-signup p.newsletter-status")


async def test_static_types_and_cache_headers(client: Client) -> None:
    tree = await _page(client, "/products")
    urls = {str(n.attributes["href"]) for n in tree.css('link[rel="stylesheet"]')}
    urls |= {str(n.attributes["src"]) for n in tree.css("img")}
    assert urls and all(u.startswith("/static/") for u in urls)
    for url in urls:
        async with client.get(url) as resp:
            assert resp.status == 200, url
            assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            expected = "text/css; charset=utf-8" if ".css" in url else "image/svg+xml"
            assert resp.headers["Content-Type"] == expected
    for missing in ("/static/nope.css", "/static/..%2Fshop.py", "/static/"):
        async with client.get(missing) as resp:
            assert resp.status == 404


@pytest.mark.parametrize("path", ["/", "/products/house-blend", "/static/shop.css"])
async def test_gzip_only_when_asked(client: Client, path: str) -> None:
    async with client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"}) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Vary"] == "Accept-Encoding"
        decoded = await resp.read()
    async with client.get(path, headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as resp:
        assert gzip.decompress(await resp.read()) == decoded
    async with client.get(path, headers={"Accept-Encoding": "identity"}) as resp:
        assert "Content-Encoding" not in resp.headers
        assert await resp.read() == decoded


async def test_etag_revalidation(client: Client) -> None:
    async with client.get("/products") as resp:
        etag = resp.headers["ETag"]
    async with client.get("/products", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
        assert resp.headers["ETag"] == etag
        assert await resp.read() == b""


async def test_csp_only_on_about(client: Client) -> None:
    async with client.get("/about") as resp:
        assert resp.headers["Content-Security-Policy"] == (
            "default-src 'self'; img-src 'self' data:; style-src 'self'"
        )
    async with client.get("/") as resp:
        assert "Content-Security-Policy" not in resp.headers


async def test_products_json_schema(client: Client) -> None:
    async with client.get("/api/products.json") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        data = await resp.json()
    assert data["currency"] == "USD"
    assert len(data["products"]) == len(DEMO_CATALOG.products)
    expected_keys = {
        "sku", "name", "category", "price", "price_cents", "currency", "url", "image", "rating",
        "review_count", "featured", "badge",
    }  # fmt: skip
    for item in data["products"]:
        assert set(item) == expected_keys
        assert isinstance(item["price_cents"], int)
        assert re.fullmatch(r"\d+\.\d\d", item["price"])
        assert item["url"] == f"/products/{item['sku']}"
    async with client.get("/api/products.json?category=coffee") as resp:
        assert {p["category"] for p in (await resp.json())["products"]} == {"coffee"}
    async with client.get("/api/products.json?category=socks") as resp:
        assert resp.status == 404


async def test_healthz_and_head(client: Client) -> None:
    async with client.get("/healthz") as resp:
        assert (resp.status, await resp.text()) == (200, "ok")
    async with client.head("/") as resp:
        assert resp.status == 200 and await resp.read() == b""


async def test_pages_are_deterministic(aiohttp_client: AiohttpClient) -> None:
    first = await aiohttp_client(create_shop_app())
    second = await aiohttp_client(create_shop_app())
    for path in PAGES:
        async with first.get(path) as a, second.get(path) as b:
            assert await a.read() == await b.read(), path


async def test_run_shop_on_port_zero() -> None:
    runner = await run_shop("127.0.0.1", 0)
    try:
        port = shop_port(runner)
        assert port > 0
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as resp,
        ):
            assert await resp.text() == "ok"
    finally:
        await runner.cleanup()
