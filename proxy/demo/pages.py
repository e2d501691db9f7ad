"""Server-side rendering of the demo shop: pure functions from plain data to HTML text.

Templates are ``string.Template`` files in ``templates/``, read once when the app is built. Every
value is HTML-escaped on the way in unless it is :class:`Html` (a fragment this module rendered
itself), so forgetting to escape is not possible by accident. The markup is deliberately stable
(ids, classes, ``data-sku``...) because personalisation rules select on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from string import Template

from proxy.demo.cart import Cart, CartLine, Order
from proxy.demo.catalog import CURRENCY, Catalog, Product, decimal_amount, format_price

TEMPLATE_DIR = Path(__file__).parent / "templates"

_NAV = (("home", "/", "Home"), ("products", "/products", "Shop"), ("about", "/about", "About"))


class Html(str):
    """Markup that is already safe and is inserted verbatim."""


def _join(parts: Iterable[Html]) -> Html:
    return Html("\n".join(parts))


@dataclass(frozen=True, slots=True)
class Pages:
    """Renders each page of the shop; ``asset_urls`` maps a static file name to its versioned URL."""

    templates: Mapping[str, Template]
    asset_urls: Mapping[str, str]

    @classmethod
    def load(cls, asset_urls: Mapping[str, str], template_dir: Path = TEMPLATE_DIR) -> Pages:
        templates = {
            path.stem: Template(path.read_text(encoding="utf-8"))
            for path in sorted(template_dir.glob("*.html"))
        }
        return cls(templates=templates, asset_urls=dict(asset_urls))

    def _fill(self, template: str, /, **values: str | int) -> Html:
        safe = {k: v if isinstance(v, Html) else escape(str(v)) for k, v in values.items()}
        return Html(self.templates[template].substitute(safe))

    def _layout(
        self, *, page: str, title: str, description: str, content: Html, cart_count: int
    ) -> str:
        links = [
            Html(
                f'      <a class="nav-link" href="{href}"'
                + (' aria-current="page"' if key == page else "")
                + f">{label}</a>"
            )
            for key, href, label in _NAV
        ]
        current = ' aria-current="page"' if page == "cart" else ""
        links.append(
            Html(
                f'      <a class="nav-link cart-link" href="/cart"{current}>Cart '
                f'<span class="cart-count">{cart_count}</span></a>'
            )
        )
        return self._fill(
            "base",
            page=page,
            title=title,
            description=description,
            css_url=self.asset_urls["shop.css"],
            logo_url=self.asset_urls["logo.svg"],
            nav=_join(links),
            content=content,
        )

    def _card(self, product: Product) -> Html:
        return self._fill(
            "card",
            sku=product.sku,
            category=product.category,
            url=product.url,
            image_url=self.asset_urls[product.image],
            name=product.name,
            badge=_badge(product),
            summary=product.summary,
            price_cents=product.price_cents,
            price=format_price(product.price_cents),
        )

    def home(self, catalog: Catalog, *, subscribed: bool | None, cart_count: int) -> str:
        status = Html("")
        if subscribed is not None:
            text = "Thanks! You are on the list." if subscribed else "Please check that address."
            css = "newsletter-status" + ("" if subscribed else " is-error")
            status = Html(f'  <p class="{css}" role="status">{text}</p>')
        content = self._fill(
            "home",
            hero_url=self.asset_urls["hero.svg"],
            cards=_join(self._card(p) for p in catalog.featured()),
            newsletter_status=status,
        )
        return self._layout(
            page="home",
            title="Fresh coffee and brewing gear",
            description="Small-batch coffee, brewing gear and tableware from Slow Pour.",
            content=content,
            cart_count=cart_count,
        )

    def product_list(self, catalog: Catalog, category: str | None, *, cart_count: int) -> str:
        heading = catalog.category_name(category) if category else None
        filters = [("", "/products", "All")]
        filters += [(slug, f"/products?category={slug}", name) for slug, name in catalog.categories]
        links = _join(
            Html(
                f'    <a class="category-link" href="{escape(href)}"'
                + (' aria-current="page"' if slug == (category or "") else "")
                + f">{escape(name)}</a>"
            )
            for slug, href, name in filters
        )
        content = self._fill(
            "products",
            heading=heading or "All products",
            filters=links,
            cards=_join(self._card(p) for p in catalog.in_category(category)),
        )
        return self._layout(
            page="products",
            title=heading or "Shop",
            description="Coffee, brewing gear and tableware, roasted and chosen with care.",
            content=content,
            cart_count=cart_count,
        )

    def product(self, catalog: Catalog, product: Product, *, cart_count: int) -> str:
        reviews = _join(
            self._fill(
                "review",
                rating=r.rating,
                title=r.title,
                stars="★" * r.rating + "☆" * (5 - r.rating),
                author=r.author,
                body=r.body,
            )
            for r in product.reviews
        )
        content = self._fill(
            "product",
            sku=product.sku,
            category=product.category,
            category_name=catalog.category_name(product.category) or product.category,
            image_url=self.asset_urls[product.image],
            name=product.name,
            badge=_badge(product),
            rating=f"{product.rating:.1f}",
            review_count=len(product.reviews),
            price_cents=product.price_cents,
            price=format_price(product.price_cents),
            summary=product.summary,
            description=product.description,
            reviews=reviews,
        )
        return self._layout(
            page="product",
            title=product.name,
            description=product.summary,
            content=content,
            cart_count=cart_count,
        )

    def _rows(self, lines: Iterable[CartLine]) -> Html:
        return _join(
            self._fill(
                "cart_row",
                sku=line.product.sku,
                qty=line.qty,
                url=line.product.url,
                name=line.product.name,
                line_total=format_price(line.total_cents),
            )
            for line in lines
        )

    def cart(self, cart: Cart) -> str:
        if cart.lines:
            body = self._fill(
                "cart_items",
                rows=self._rows(cart.lines),
                total_cents=cart.total_cents,
                total=format_price(cart.total_cents),
            )
        else:
            body = Html(
                '  <p class="cart-empty">Your cart is empty. '
                '<a href="/products">Browse the shop</a>.</p>'
            )
        content = self._fill("cart", item_count=cart.item_count, body=body)
        return self._layout(
            page="cart",
            title="Your cart",
            description="Your Slow Pour shopping cart.",
            content=content,
            cart_count=cart.item_count,
        )

    def confirmation(self, order: Order) -> str:
        content = self._fill(
            "confirmation",
            order_id=order.order_id,
            order_value=decimal_amount(order.total_cents),
            currency=CURRENCY,
            rows=self._rows(order.lines),
            total=format_price(order.total_cents),
        )
        return self._layout(
            page="confirmation",
            title="Order confirmed",
            description="Your Slow Pour order is confirmed.",
            content=content,
            cart_count=0,
        )

    def about(self, *, cart_count: int) -> str:
        content = self._fill("about", image_url=self.asset_urls["mug.svg"])
        return self._layout(
            page="about",
            title="About us",
            description="Who roasts your coffee at Slow Pour.",
            content=content,
            cart_count=cart_count,
        )

    def error(self, status: int, heading: str, message: str, *, cart_count: int) -> str:
        content = self._fill("error", status=status, heading=heading, message=message)
        return self._layout(
            page="error",
            title=heading,
            description=message,
            content=content,
            cart_count=cart_count,
        )


def _badge(product: Product) -> Html:
    if product.badge is None:
        return Html("")
    return Html(f'<span class="badge">{escape(product.badge)}</span>\n      ')
