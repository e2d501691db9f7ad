"""The simulated visitors' world: who comes, what they prefer, and what each policy would earn.

Pure and seeded. A visitor's **context** is what the proxy can see of them over HTTP: the
device (from the ``User-Agent``) and the referrer class (from the ``Referer``). The hour cannot
differ between requests to one proxy (it comes from the proxy's clock and time zone), so the
hidden preferences are on device × referrer. The **click table** gives, for each context and
variant of the hero slot, the probability that a visitor who sees it clicks; the proxy never
sees it, it only sees the clicks. From the table follow the expected click-through rates of
every policy the learning curve compares: the variant actually served, uniform random (the mean
over variants), always the control, and the oracle (the best variant for the context).

Each visitor carries one uniform draw ``click_draw``; they click iff ``click_draw <
p(context, served variant)``, so an outcome is a pure function of the seed and the variant
served (common random numbers across policies).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

Device = Literal["mobile", "desktop"]
Referrer = Literal["search", "social", "direct"]
Context = tuple[Device, Referrer]

DEVICES: tuple[Device, ...] = ("mobile", "desktop")
REFERRERS: tuple[Referrer, ...] = ("search", "social", "direct")
VARIANTS: tuple[str, ...] = ("a", "b", "c", "d")  # as in proxy/simulate/rules/hero.yaml
CONTROL = "a"

# P(click | context, variant). Mobile visitors prefer b (the short hero), desktop visitors
# from a search engine prefer c (the specific one), everyone else the control a. The best
# variant earns about three times the others, in every context. d is deliberately bad for
# everyone (a broken call to action): the guardrail must pause it during the run.
CLICK_TABLE: Mapping[Context, Mapping[str, float]] = {
    ("mobile", "search"): {"a": 0.03, "b": 0.10, "c": 0.04, "d": 0.002},
    ("mobile", "social"): {"a": 0.03, "b": 0.11, "c": 0.03, "d": 0.002},
    ("mobile", "direct"): {"a": 0.04, "b": 0.09, "c": 0.03, "d": 0.002},
    ("desktop", "search"): {"a": 0.04, "b": 0.03, "c": 0.11, "d": 0.002},
    ("desktop", "social"): {"a": 0.09, "b": 0.04, "c": 0.03, "d": 0.002},
    ("desktop", "direct"): {"a": 0.10, "b": 0.03, "c": 0.04, "d": 0.002},
}
DEVICE_SHARE: Mapping[Device, float] = {"mobile": 0.5, "desktop": 0.5}
REFERRER_SHARE: Mapping[Referrer, float] = {"search": 0.4, "social": 0.25, "direct": 0.35}

USER_AGENTS: Mapping[Device, tuple[str, ...]] = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ),
}
# The Referer each class arrives with (direct visitors send none).
REFERERS: Mapping[Referrer, tuple[str | None, ...]] = {
    "search": ("https://www.google.com/", "https://www.bing.com/search?q=pour+over+coffee"),
    "social": ("https://t.co/x1Yq2", "https://www.facebook.com/"),
    "direct": (None,),
}


@dataclass(frozen=True, slots=True)
class Visitor:
    """One synthetic visitor: their context, the headers that reveal it, and their luck."""

    index: int
    device: Device
    referrer: Referrer
    user_agent: str
    referer: str | None
    click_draw: float  # uniform in [0, 1): clicks iff below p(context, served variant)

    @property
    def context(self) -> Context:
        return (self.device, self.referrer)

    @property
    def path(self) -> str:
        return "/"

    @property
    def headers(self) -> Mapping[str, str]:
        """Request headers besides ``User-Agent`` and ``Referer`` (none here)."""
        return {}

    # Not shown to the proxy by this world's visitors: the hour is the proxy's own clock's, and
    # no geo or language header is sent.
    hour = country = language = None


class SimVisitor(Protocol):
    """What the driver and the curve read of a visitor (this world's or a world file's)."""

    @property
    def index(self) -> int: ...
    @property
    def device(self) -> str: ...
    @property
    def referrer(self) -> str: ...
    @property
    def user_agent(self) -> str: ...
    @property
    def referer(self) -> str | None: ...
    @property
    def path(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    # the hour, country and language the visitor shows the proxy, if they show one
    @property
    def hour(self) -> int | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Expected:
    """Expected CTRs for one visitor's context (from the hidden table)."""

    served: float
    uniform: float
    control: float
    oracle: float
    oracle_variant: str


class World:
    """A click table with the share of each context; validated once."""

    def __init__(
        self,
        table: Mapping[Context, Mapping[str, float]] = CLICK_TABLE,
        *,
        devices: Mapping[Device, float] = DEVICE_SHARE,
        referrers: Mapping[Referrer, float] = REFERRER_SHARE,
        variants: tuple[str, ...] = VARIANTS,
        control: str = CONTROL,
    ) -> None:
        if control not in variants:
            raise ValueError(f"the control {control!r} is not one of the variants {variants}")
        for context in ((d, r) for d in DEVICES for r in REFERRERS):
            row = table.get(context)
            if row is None or set(row) != set(variants):
                raise ValueError(f"the click table needs every variant for {context}")
            if not all(0.0 <= p <= 1.0 for p in row.values()):
                raise ValueError(f"click probabilities must be in [0, 1] for {context}")
        for name, shares in (("device", devices), ("referrer", referrers)):
            if any(s < 0 for s in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-9:
                raise ValueError(f"{name} shares must be non-negative and sum to 1")
        self.table = table
        self.devices = devices
        self.referrers = referrers
        self.variants = variants
        self.control = control

    def click_probability(self, context: Context, variant: str) -> float:
        return self.table[context][variant]

    def oracle(self, context: Context) -> tuple[str, float]:
        """The best variant for ``context`` and its CTR (ties: the first in variant order)."""
        row = self.table[context]
        best = max(self.variants, key=lambda v: row[v])
        return best, row[best]

    def expected(self, context: Context, served: str) -> Expected:
        row = self.table[context]
        best, best_ctr = self.oracle(context)
        return Expected(
            served=row[served],
            uniform=sum(row[v] for v in self.variants) / len(self.variants),
            control=row[self.control],
            oracle=best_ctr,
            oracle_variant=best,
        )

    def mean_ctr(self, policy: Literal["uniform", "control", "oracle"]) -> float:
        """A policy's expected CTR over the context mix (what a long run converges to)."""
        total = 0.0
        for device, p_device in self.devices.items():
            for referrer, p_referrer in self.referrers.items():
                e = self.expected((device, referrer), self.control)
                value = {"uniform": e.uniform, "control": e.control, "oracle": e.oracle}[policy]
                total += p_device * p_referrer * value
        return total

    def visitors(self, count: int, seed: int) -> Iterator[Visitor]:
        """``count`` visitors, the same for the same seed."""
        rng = random.Random(seed)
        devices, device_weights = zip(*self.devices.items(), strict=True)
        referrers, referrer_weights = zip(*self.referrers.items(), strict=True)
        for index in range(count):
            device: Device = rng.choices(devices, device_weights)[0]
            referrer: Referrer = rng.choices(referrers, referrer_weights)[0]
            yield Visitor(
                index=index,
                device=device,
                referrer=referrer,
                user_agent=rng.choice(USER_AGENTS[device]),
                referer=rng.choice(REFERERS[referrer]),
                click_draw=rng.random(),
            )

    def clicks(self, visitor: Visitor, served: str) -> bool:
        """Whether ``visitor`` clicks on ``served`` (unknown variants: never)."""
        row = self.table[visitor.context]
        return served in row and visitor.click_draw < row[served]

    def expected_for(self, visitor: Visitor, served: str) -> Expected:
        return self.expected(visitor.context, served)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one visitor: the variant the proxy served, and whether they clicked.

    ``reason`` and ``probability`` are the proxy's own account of the decision (its debug
    header): ``bandit`` with the probability of the draw, or ``default``, ``held`` … when the
    bandit did not choose.
    """

    visitor: SimVisitor
    variant: str
    decision: str
    reason: str
    probability: float | None
    clicked: bool
    expected: Expected
    elapsed_s: float  # since the run started, when the visit ended
