"""Seeded visitors of a world file (:mod:`proxy.simulate.world_file`), in process or over HTTP.

A visitor carries two things: the **key** (the world's own context fields, which the hidden
rates depend on) and the **request context** the proxy would build for them
(:func:`proxy.rules.context.build_context`'s field names). Fields the world does not list are
still there, drawn from :data:`BACKGROUND` shares (device, browser, os, referrer class, hour,
weekday, country, language): real traffic always carries them, and a learner must not be fooled
by context that does not matter. Profile fields are present only when the world lists them.

Over HTTP (``vernier simulate --world``) the proxy sees only what headers carry: the device
(``User-Agent``), the referrer class (``Referer``, or ``utm_medium=email``), the language
(``Accept-Language``), the country (a trusted geo header, :data:`GEO_HEADER`) and the hour (a
trusted time zone header, :data:`ZONE_HEADER`: a zone whose clock reads the visitor's hour when
the request is sent, :func:`zone_showing`). The weekday and the profile (earlier visits) cannot
be shown, so a world whose rates depend on those runs only in process
(:func:`http_fields_missing` names them).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from proxy.rules.context import build_context
from proxy.simulate.world import Expected
from proxy.simulate.world_file import Context, Value, WorldSpec

GEO_HEADER = "X-Vernier-Sim-Country"
ZONE_HEADER = "X-Vernier-Sim-Tz"
HTTP_FIELDS = frozenset({"device", "referrer", "country", "language", "hour"})

# Shares of the fields a world does not list (a plausible shop's traffic).
BACKGROUND: Mapping[str, Mapping[Value, float]] = {
    "device": {"mobile": 0.55, "desktop": 0.4, "tablet": 0.05},
    "referrer": {"search": 0.35, "direct": 0.3, "social": 0.2, "email": 0.05, "other": 0.1},
    "hour": {h: 1 / 24 for h in range(24)},
    "weekday": {d: 1 / 7 for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "country": {"US": 0.4, "DE": 0.2, "GB": 0.2, "FR": 0.2},
    "language": {"en": 0.6, "de": 0.2, "fr": 0.2},
}
# (browser, os, User-Agent) by device
AGENTS: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "mobile": (
        (
            "safari",
            "ios",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ),
        (
            "chrome",
            "android",
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
        ),
    ),
    "desktop": (
        (
            "chrome",
            "windows",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36",
        ),
        (
            "firefox",
            "linux",
            "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        ),
    ),
    "tablet": (
        (
            "safari",
            "ios",
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ),
    ),
}
REFERERS: Mapping[str, str | None] = {
    "search": "https://www.google.com/",
    "social": "https://t.co/x1Yq2",
    "direct": None,
    "email": None,  # mail clients send none; the link's utm_medium says it
    "other": "https://blog.example.org/best-coffee",
}


@dataclass(frozen=True, slots=True)
class SpecVisitor:
    """One visitor of a world file: the hidden key, the request context, their luck."""

    index: int
    key: Context
    context: Mapping[str, object]  # what the proxy would see (request context field names)
    user_agent: str
    referer: str | None
    path: str
    fixed_headers: Mapping[str, str]  # besides User-Agent, Referer and the time zone
    click_draw: float

    @property
    def headers(self) -> Mapping[str, str]:
        """Request headers besides ``User-Agent`` and ``Referer``, the time zone's as of now
        (read just before the request is sent)."""
        return {**self.fixed_headers, ZONE_HEADER: zone_showing(self.hour, datetime.now(UTC))}

    @property
    def device(self) -> str:
        return str(self.context["device"])

    @property
    def referrer(self) -> str:
        return str(self.context["referrer.class"])

    @property
    def hour(self) -> int:
        return int(str(self.context["hour"]))

    @property
    def country(self) -> str:
        return str(self.context["country"])

    @property
    def language(self) -> str:
        return str(self.context["language"])


class SpecWorld:
    """A world file's visitors, clicks and expected CTRs (the driver's and the bench's world)."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.variants = spec.variants
        self.control = spec.control

    def visitors(self, count: int, seed: int) -> Iterator[SpecVisitor]:
        """``count`` visitors, the same for the same seed."""
        rng = random.Random(seed)
        draws = {
            name: (tuple(shares), tuple(shares.values()))
            for name, shares in {**BACKGROUND, **self.spec.shares}.items()
        }
        for index in range(count):
            fields = {
                name: rng.choices(values, weights)[0] for name, (values, weights) in draws.items()
            }
            browser, os_name, agent = rng.choice(
                AGENTS.get(str(fields["device"]), AGENTS["desktop"])
            )
            yield _visitor(self.spec, index, fields, browser, os_name, agent, rng.random())

    def rates(self, visitor: SpecVisitor) -> dict[str, float]:
        return self.spec.rates(visitor.key, visitor.index)

    def clicks(self, visitor: SpecVisitor, served: str) -> bool:
        """Whether ``visitor`` clicks on ``served`` (unknown variants: never)."""
        rate = self.rates(visitor).get(served)
        return rate is not None and visitor.click_draw < rate

    def expected_for(self, visitor: SpecVisitor, served: str) -> Expected:
        row = self.rates(visitor)
        best = max(self.variants, key=lambda v: row[v])
        return Expected(
            served=row.get(served, 0.0),
            uniform=sum(row.values()) / len(row),
            control=row[self.control],
            oracle=row[best],
            oracle_variant=best,
        )


def _visitor(
    spec: WorldSpec,
    index: int,
    fields: Mapping[str, Value],
    browser: str,
    os_name: str,
    agent: str,
    click_draw: float,
) -> SpecVisitor:
    referrer = str(fields["referrer"])
    context: dict[str, object] = {
        "device": fields["device"],
        "browser": browser,
        "os": os_name,
        "hour": fields["hour"],
        "weekday": fields["weekday"],
        "country": fields["country"],
        "language": fields["language"],
        "referrer.class": referrer,
        "landing": True,
        "path": "/",
    }
    for name, value in fields.items():
        if name not in context and name != "referrer":
            context[name] = value  # profile fields
    path = "/?utm_medium=email" if referrer == "email" else "/"
    if referrer == "email":
        context["utm.medium"] = "email"
    headers = {
        "Accept-Language": f"{fields['language']},en;q=0.5",
        GEO_HEADER: str(fields["country"]),
    }
    key = tuple(sorted((name, fields[name]) for name in spec.shares))
    return SpecVisitor(
        index=index,
        key=key,
        context=context,
        user_agent=agent,
        referer=REFERERS.get(referrer),
        path=path,
        fixed_headers=headers,
        click_draw=click_draw,
    )


def zone_showing(hour: int, now: datetime) -> str:
    """An IANA zone whose wall clock reads ``hour`` at the aware instant ``now``: ``UTC`` or
    ``Etc/GMT-N`` (which is UTC+N: the POSIX sign) for an offset of -11 to +12 hours."""
    offset = (hour - now.astimezone(UTC).hour) % 24
    if offset > 12:
        offset -= 24
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def http_fields_missing(spec: WorldSpec) -> list[str]:
    """The world's context fields a visitor cannot show the proxy over HTTP."""
    return [name for name in spec.shares if name not in HTTP_FIELDS]


def http_values_unseen(spec: WorldSpec) -> list[str]:
    """The world's values a visitor cannot show the proxy over HTTP as they are (``device
    'watch'``: the visitor would be sent as a desktop, and the proxy would see another world)."""
    unseen = []
    for name, values in spec.shares.items():
        for value in values:
            if name == "device":
                seen = value in AGENTS
            elif name == "referrer":
                seen = value in REFERERS
            elif name in ("country", "language"):
                seen = _proxy_reads(name, str(value)) == value
            else:
                continue
            if not seen:
                unseen.append(f"{name} {value!r}")
    return unseen


def _proxy_reads(name: str, value: str) -> object:
    """What the proxy's request context makes of the header a visitor sends for ``value``."""
    context = build_context(
        method="GET", host="127.0.0.1", path="/", query={},
        headers={"accept-language": f"{value},en;q=0.5"} if name == "language" else {},
        cookies={}, profile={}, now=datetime.now(UTC), time_zone=ZoneInfo("UTC"),
        geo_header=value if name == "country" else None, own_hosts=frozenset(), landing=True,
        page_type="home",
    )  # fmt: skip
    return context.get(name)
