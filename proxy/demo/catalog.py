"""The demo shop's products as plain, immutable data.

Everything here is fixed so that pages render byte-for-byte the same on every run: tests snapshot
them and personalisation rules target their markup. Prices are integer cents (no float money).
"""

from __future__ import annotations

from dataclasses import dataclass

CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class Review:
    """One customer review shown on a product page."""

    author: str
    rating: int
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Product:
    """A product with everything its card, its page and the JSON API show."""

    sku: str
    name: str
    category: str
    price_cents: int
    summary: str
    description: str
    image: str
    reviews: tuple[Review, ...]
    featured: bool = False
    badge: str | None = None

    @property
    def rating(self) -> float:
        """Mean review rating, one decimal place (0.0 without reviews)."""
        if not self.reviews:
            return 0.0
        return round(sum(r.rating for r in self.reviews) / len(self.reviews), 1)

    @property
    def url(self) -> str:
        return f"/products/{self.sku}"


@dataclass(frozen=True, slots=True)
class Catalog:
    """The products on sale and the categories they are listed under, in display order."""

    products: tuple[Product, ...]
    categories: tuple[tuple[str, str], ...]  # (slug, display name)

    def get(self, sku: str) -> Product | None:
        return next((p for p in self.products if p.sku == sku), None)

    def category_name(self, slug: str) -> str | None:
        return dict(self.categories).get(slug)

    def in_category(self, slug: str | None) -> tuple[Product, ...]:
        """Products of one category, or all of them when ``slug`` is None."""
        return tuple(p for p in self.products if slug is None or p.category == slug)

    def featured(self) -> tuple[Product, ...]:
        return tuple(p for p in self.products if p.featured)


def format_price(cents: int) -> str:
    """``1450`` → ``"$14.50"``."""
    return f"${cents // 100:,}.{cents % 100:02d}"


def decimal_amount(cents: int) -> str:
    """``1450`` → ``"14.50"``: the machine-readable form used in data attributes and JSON."""
    return f"{cents // 100}.{cents % 100:02d}"


def _r(author: str, rating: int, title: str, body: str) -> Review:
    return Review(author=author, rating=rating, title=title, body=body)


DEMO_CATALOG = Catalog(
    categories=(("coffee", "Coffee"), ("brewing", "Brewing gear"), ("tableware", "Tableware")),
    products=(
        Product(
            sku="house-blend",
            name="House Blend Beans",
            category="coffee",
            price_cents=1400,
            summary="Chocolate, hazelnut and a clean finish. 250 g, whole bean.",
            description="Our everyday blend of Brazilian and Colombian beans, roasted medium so it "
            "is forgiving in a drip machine and sweet as espresso. Roasted to order every Monday.",
            image="bag-amber.svg",
            featured=True,
            badge="Bestseller",
            reviews=(
                _r(
                    "Maya R.", 5, "My daily cup", "Smooth, sweet and never bitter. On subscription."
                ),
                _r("Tom B.", 4, "Solid all-rounder", "Great in the moka pot, fine as pour-over."),
                _r(
                    "Priya S.",
                    5,
                    "Fresh every time",
                    "Arrives a few days off roast, smells amazing.",
                ),
            ),
        ),
        Product(
            sku="ethiopia-guji",
            name="Ethiopia Guji Light Roast",
            category="coffee",
            price_cents=1850,
            summary="Jasmine, peach and bergamot. 250 g, whole bean.",
            description="A washed heirloom lot from smallholders in Guji, roasted light to keep its "
            "floral top notes. Best brewed as pour-over at 93 °C.",
            image="bag-teal.svg",
            badge="New",
            reviews=(
                _r("Jonas K.", 5, "Like tea, in a good way", "Bright and floral. Wonderful iced."),
                _r("Ana P.", 4, "Lovely but delicate", "Needs a fine grind to shine."),
                _r("Lee W.", 5, "Stunning", "The peach note is real. Ordering again."),
            ),
        ),
        Product(
            sku="swiss-water-decaf",
            name="Swiss Water Decaf",
            category="coffee",
            price_cents=1500,
            summary="Caramel and red apple, no caffeine. 250 g, whole bean.",
            description="Decaffeinated with water only, then roasted medium-dark. An evening coffee "
            "that still tastes like coffee.",
            image="bag-plum.svg",
            reviews=(
                _r("Grace H.", 4, "Best decaf I have had", "Honestly hard to tell it is decaf."),
                _r(
                    "Omar F.", 4, "Good after dinner", "Sweet and round, a little flat as espresso."
                ),
                _r("Ruth D.", 3, "Decent", "Fine, but I prefer the house blend."),
            ),
        ),
        Product(
            sku="gooseneck-kettle",
            name="Gooseneck Kettle",
            category="brewing",
            price_cents=6400,
            summary="A slow, steady pour. 0.9 l, stainless steel, any hob.",
            description="A narrow spout and a balanced handle give you full control of the pour. "
            "Built-in thermometer, works on gas, electric and induction.",
            image="kettle.svg",
            featured=True,
            reviews=(
                _r(
                    "Sam T.", 5, "Changed my pour-over", "So much easier to pour slowly and evenly."
                ),
                _r("Iris M.", 4, "Pretty and practical", "The thermometer is handy. Lid is snug."),
                _r("Ben C.", 5, "Worth it", "Feels solid and looks great on the stove."),
            ),
        ),
        Product(
            sku="ceramic-dripper",
            name="Ceramic Pour-Over Dripper",
            category="brewing",
            price_cents=2800,
            summary="Holds heat, brews one or two cups. Fits standard #2 filters.",
            description="Glazed porcelain with spiral ribs for an even flow. Heavy enough to hold its "
            "temperature through the whole brew.",
            image="dripper.svg",
            reviews=(
                _r("Kai L.", 5, "Simple and perfect", "Rinse it with hot water first and enjoy."),
                _r("Nora V.", 4, "Nice weight", "Consistent brews, easy to clean."),
                _r("Ed G.", 4, "Good value", "Does exactly what it should."),
            ),
        ),
        Product(
            sku="burr-grinder",
            name="Hand Burr Grinder",
            category="brewing",
            price_cents=8900,
            summary="Steel conical burrs, 40 click settings, espresso to French press.",
            description="A consistent grind is the biggest upgrade for home coffee. Stainless conical "
            "burrs, a smooth crank and a catch cup that holds 30 g.",
            image="grinder.svg",
            featured=True,
            badge="Staff pick",
            reviews=(
                _r("Lucia N.", 5, "Huge upgrade", "My coffee tastes like the café's now."),
                _r(
                    "Pete A.", 4, "Takes a minute", "Very even grind; a little effort for espresso."
                ),
                _r("Zoe Q.", 5, "Beautifully made", "Smooth crank, tight tolerances."),
            ),
        ),
        Product(
            sku="stoneware-mug",
            name="Stoneware Mug",
            category="tableware",
            price_cents=2200,
            summary="Hand-glazed, 350 ml, keeps coffee warm. Dishwasher safe.",
            description="Thrown and glazed by a small studio; every mug is slightly different. A "
            "thick wall keeps your coffee warm and the handle fits three fingers.",
            image="mug.svg",
            featured=True,
            reviews=(
                _r(
                    "Hana O.", 5, "My favourite mug", "Lovely glaze and a great weight in the hand."
                ),
                _r("Dan E.", 5, "Bought four", "They make a great gift."),
                _r("Mia J.", 4, "Beautiful", "Slightly smaller than I expected, still love it."),
            ),
        ),
        Product(
            sku="espresso-cups",
            name="Espresso Cup Pair",
            category="tableware",
            price_cents=2600,
            summary="Two 90 ml porcelain cups with saucers.",
            description="Thick porcelain that holds the heat of a fresh shot. Two cups, two saucers, "
            "in matte white with a glazed rim.",
            image="cup.svg",
            reviews=(
                _r("Luca R.", 5, "Just right", "Perfect size for a double shot."),
                _r("Eve S.", 4, "Elegant", "Pretty and sturdy. Saucers are a bit small."),
                _r("Ivan P.", 4, "Nice pair", "Good quality for the price."),
            ),
        ),
        Product(
            sku="glass-tumbler",
            name="Double-Wall Glass Tumbler",
            category="tableware",
            price_cents=1900,
            summary="Borosilicate, 300 ml, cool to the touch. Made for iced coffee.",
            description="Two layers of heat-resistant glass keep hot drinks hot and cold drinks "
            "from sweating onto the table.",
            image="tumbler.svg",
            reviews=(
                _r("Ola B.", 5, "Iced coffee heaven", "No condensation at all. Looks great."),
                _r("Chris Y.", 3, "Handle with care", "Lovely, but I already chipped one."),
                _r("Fay M.", 4, "Great for lattes", "Shows off the layers nicely."),
            ),
        ),
    ),
)
