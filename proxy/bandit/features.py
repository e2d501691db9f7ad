"""Context and variant features, and VW's ``cb_explore_adf`` text format; pure functions.

A decision is one multi-line VW example: a ``shared`` line with the context's namespaces, then
one line per offered variant (namespace ``A``), in the order offered::

    shared |D dev=mobile br=safari os=ios |T dp=evening wd=sat we=1 |U eng=10+ eng=30+ v7=1+
    |A id=a
    0:-1:0.25 |A id=b tone=urgent price:12.5
    |A id=c

A learning example carries ``0:<cost>:<probability>`` on the chosen line (the leading action
number is ignored in ADF mode). Context features are categorical ``name=value`` tokens;
numeric profile fields are bucketed (:data:`PROFILE_BUCKETS`) so one visitor with 3,000 engaged
seconds does not dominate a weight, and the buckets are cumulative ("thermometer" coding: 6
visits this week is ``v7=1+ v7=2+ v7=3+ v7=5+``, none is ``v7=0+``), so "3 or more" is one weight
shared by every visitor past the edge instead of one per bucket, each learned from its own few
clicks (the world suite's profile world: 17 → 20 of 20 seeds at 0.90 of the oracle).
Namespaces (see :mod:`proxy.bandit.policy_config`):

====  =============================================================================
 D    device, browser, os
 T    hour of day (``h=``) and part of day (``dp=``), weekday (``wd=``), weekend (``we=``)
 G    country (``cc=``), language (``lang=``)
 R    referrer class (``ref=``), UTM source/medium/campaign (``us= um= uc=``),
      landing page flag (``land=``) and, on a landing page, its first path segment (``lp=``)
 U    profile: engaged time, scroll depth, visits, recency, purchases, conversions, clicks
      per slot (``clk.<slot>=``); absent when the profile is unknown (never a stand-in 0)
 S    segments (opt-in group ``segments``): each named segment (``seg=``), the learned
      cluster (``cl=``), the bucketed RFM score (``rfm=``)
 A    the variant: ``id=<variant>`` plus its declared features
====  =============================================================================

**Nothing a visitor sends can break the format.** Every token goes through :func:`sanitize`:
characters outside a small safe ASCII set (which excludes space, ``|``, ``:``, ``%`` and every
control character) are percent-encoded as UTF-8 (lone surrogates included), and a token longer
than :data:`MAX_TOKEN_CHARS` is cut and suffixed with a hash of the whole, so distinct inputs
stay distinct features.
"""

from __future__ import annotations

import hashlib
import math
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote

from proxy.bandit.policy_config import ACTION_NAMESPACE, BanditPolicy, FeatureValue

SharedFeatures = Mapping[str, Sequence[str]]

MAX_TOKEN_CHARS = 64
MAX_CLICK_SLOTS = 16
_SAFE_CHARS = "_.-~=+/@,!*()"
_SAFE = re.compile(r"[A-Za-z0-9_.\-~=+/@,!*()]*")
_DIGEST_CHARS = 16

# (profile field, feature name, lower bucket edges): the token is name=<largest edge <= value>.
PROFILE_BUCKETS: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("engaged_s", "eng", (0, 10, 30, 60, 180, 600, 1800)),
    ("engaged_ema", "ema", (0, 5, 15, 30, 60, 120)),
    ("max_scroll", "scr", (0, 0.25, 0.5, 0.75, 0.9)),
    ("visits", "vis", (0, 1, 2, 3, 5, 10, 30)),
    ("visits_7d", "v7", (0, 1, 2, 3, 5, 10)),
    ("visits_30d", "v30", (0, 1, 2, 3, 5, 10, 20)),
    ("pageviews", "pv", (0, 1, 2, 3, 5, 10, 30, 100)),
    ("purchases_30d", "p30", (0, 1, 2, 5)),
    ("conversions", "conv", (0, 1, 2, 5)),
)
CLICK_EDGES: tuple[float, ...] = (0, 1, 2, 3, 5)
# seconds since the profile was last updated (``last_seen_ms``), needs ``now_ms``
RECENCY_EDGES: tuple[tuple[int, str], ...] = (
    (0, "0"),
    (600, "10m"),
    (3600, "1h"),
    (86400, "1d"),
    (7 * 86400, "7d"),
    (30 * 86400, "30d"),
)
_DAYPARTS = ("night",) * 6 + ("morning",) * 6 + ("afternoon",) * 6 + ("evening",) * 6


class Label(NamedTuple):
    """The outcome of a logged decision, in VW's terms: cost = -reward."""

    chosen: int
    cost: float
    probability: float


def sanitize(token: str, max_chars: int = MAX_TOKEN_CHARS) -> str:
    """``token`` as a VW-safe string of at most ``max_chars`` printable ASCII characters.

    Distinct tokens stay distinct (percent-encoding is injective; a cut token keeps a 64-bit
    hash of the whole). Safe tokens, the common case, are returned as they are.
    """
    if len(token) <= max_chars and _SAFE.fullmatch(token):
        return token
    encoded = quote(token, safe=_SAFE_CHARS, errors="surrogatepass")
    if len(encoded) <= max_chars:
        return encoded
    digest = hashlib.blake2b(
        token.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_CHARS // 2
    ).hexdigest()
    return f"{encoded[: max(0, max_chars - _DIGEST_CHARS - 1)]}~{digest}"[-max_chars:]


def bucket(value: float, edges: Sequence[float]) -> str:
    """The largest edge not above ``value`` followed by ``+`` (``30+``); the first if below."""
    return f"{edges[_bucket_index(value, edges)]:g}+"


def _bucket_index(value: float, edges: Sequence[float]) -> int:
    return max(0, bisect_right(edges, value) - 1)


# (field, edges, tokens): tokens[i] is "name=<edges[i]>+", formatted once
_PROFILE: tuple[tuple[str, tuple[float, ...], tuple[str, ...]], ...] = tuple(
    (field, edges, tuple(f"{name}={edge:g}+" for edge in edges))
    for field, name, edges in PROFILE_BUCKETS
)


def _number(value: object) -> float | None:
    """A finite int or float as ``float``; ``None`` for anything else (bools included)."""
    if type(value) is int:
        return float(value)
    if type(value) is float and math.isfinite(value):
        return value
    return None


@lru_cache(maxsize=4096)
def _token(name: str, value: str) -> str:
    """``name=<sanitised lower-case value>``; cached: most context values repeat (devices,
    referrer classes, campaigns), and the cache bounds the cost of the ones that do not."""
    return f"{name}={sanitize(value.lower())}"


def context_features(
    context: Mapping[str, object], policy: BanditPolicy, *, now_ms: int | None = None
) -> dict[str, list[str]]:
    """The shared namespaces for a request context (``proxy.rules.context``).

    Only the policy's feature groups are used; a field absent from the context gives no token.
    ``now_ms`` (wall clock, ms) enables the recency bucket (``rec=``) from ``last_seen_ms``.
    """
    groups = policy.features
    device: list[str] = []
    time: list[str] = []
    geo: list[str] = []
    source: list[str] = []
    for group, field, name, target in (
        ("device", "device", "dev", device),
        ("browser", "browser", "br", device),
        ("os", "os", "os", device),
        ("country", "country", "cc", geo),
        ("language", "language", "lang", geo),
        ("referrer", "referrer.class", "ref", source),
    ):
        value = context.get(field)
        if isinstance(value, str) and group in groups:
            target.append(_token(name, value))
    hour = context.get("hour")
    if "hour" in groups and isinstance(hour, int) and 0 <= hour <= 23:
        time += (f"h={hour}", f"dp={_DAYPARTS[hour]}")
    weekday = context.get("weekday")
    if "weekday" in groups and isinstance(weekday, str):
        time += (_token("wd", weekday), "we=1" if weekday in ("sat", "sun") else "we=0")
    if "utm" in groups:
        for field, name in (("utm.source", "us"), ("utm.medium", "um"), ("utm.campaign", "uc")):
            value = context.get(field)
            if isinstance(value, str):
                source.append(_token(name, value.strip()))
    if "landing_path" in groups:
        landing = context.get("landing")
        if isinstance(landing, bool):
            source.append("land=1" if landing else "land=0")
            path = context.get("path")
            if landing and isinstance(path, str):
                segment = path.lstrip("/").partition("/")[0].partition("?")[0]
                source.append(_token("lp", segment or "home"))
    features = {"D": device, "T": time, "G": geo, "R": source}
    if "profile" in groups:
        features["U"] = _profile_features(context, now_ms)
    if "segments" in groups:
        features["S"] = _segment_features(context)
    return {ns: tokens for ns, tokens in features.items() if tokens}


def _profile_features(context: Mapping[str, object], now_ms: int | None) -> list[str]:
    tokens: list[str] = []
    for field, edges, labels in _PROFILE:
        value = _number(context.get(field))
        if value is not None:
            index = _bucket_index(value, edges)
            tokens.extend(labels[1 : index + 1] if index else labels[:1])  # cumulative
    last_seen = _number(context.get("last_seen_ms"))
    if now_ms is not None and last_seen is not None and last_seen > 0:
        age_s = max(0.0, (now_ms - last_seen) / 1000)
        label = RECENCY_EDGES[0][1]
        for edge, edge_label in RECENCY_EDGES:
            if age_s >= edge:
                label = edge_label
        tokens.append(f"rec={label}")
    clicks = sorted(
        (key[7:], value)
        for key, raw in context.items()
        if key.startswith("clicks.") and (value := _number(raw)) is not None
    )
    for slot, value in clicks[:MAX_CLICK_SLOTS]:
        tokens.append(_click_token(slot, _bucket_index(value, CLICK_EDGES)))
    return tokens


RFM_EDGES: tuple[float, ...] = (0, 0.2, 0.4, 0.6, 0.8)


def _segment_features(context: Mapping[str, object]) -> list[str]:
    held = context.get("segments")
    tokens = [_token("seg", s) for s in held if isinstance(s, str)] if type(held) is tuple else []
    cluster = context.get("cluster")
    if isinstance(cluster, str):
        tokens.append(_token("cl", cluster))
    rfm = _number(context.get("score.rfm"))
    if rfm is not None:
        tokens.append(f"rfm={bucket(rfm, RFM_EDGES)}")
    return tokens


@lru_cache(maxsize=1024)
def _click_token(slot: str, index: int) -> str:
    return f"clk.{sanitize(slot, 32)}={CLICK_EDGES[index]:g}+"


def action_line(variant_id: str, features: Mapping[str, FeatureValue] | None = None) -> str:
    """One unlabelled action line: ``|A id=<variant> name=value ... name:weight``.

    Strings and booleans are categorical; finite numbers become weights of a feature named by
    the key (non-finite ones are dropped).
    """
    tokens = [f"id={sanitize(variant_id)}"]
    for name, value in (features or {}).items():
        key = sanitize(name)
        if isinstance(value, bool):
            tokens.append(f"{key}={'true' if value else 'false'}")
        elif isinstance(value, int | float):
            if math.isfinite(value):
                tokens.append(f"{key}:{float(value)!r}")
        else:
            tokens.append(f"{key}={sanitize(value)}")
    return f"|{ACTION_NAMESPACE} {' '.join(tokens)}"


def shared_line(shared: SharedFeatures) -> str:
    """The ``shared`` line; namespaces in sorted order, empty ones left out.

    Without any namespace the line is ``shared |``: a bare ``shared`` is read by VW as one more
    action (the pmf would have an extra entry).
    """
    parts = ["shared"]
    for namespace in sorted(shared):
        tokens = shared[namespace]
        if tokens:
            parts.append(f"|{namespace} {' '.join(tokens)}")
    return " ".join(parts) if len(parts) > 1 else "shared |"


def label_prefix(label: Label) -> str:
    """``0:<cost>:<probability> `` for the chosen action's line."""
    return f"0:{float(label.cost)!r}:{float(label.probability)!r} "


def adf_lines(shared: str, actions: Sequence[str], label: Label | None = None) -> list[str]:
    """Pre-formatted shared and action lines as one example, ``label`` on its action."""
    lines = [shared, *actions]
    if label is not None:
        lines[label.chosen + 1] = label_prefix(label) + lines[label.chosen + 1]
    return lines


def adf_example(
    shared: SharedFeatures,
    actions: Sequence[tuple[str, Mapping[str, FeatureValue]]],
    label: Label | None = None,
) -> list[str]:
    """The lines of one ``cb_explore_adf`` example: shared first, then the actions in order."""
    if label is not None and not 0 <= label.chosen < len(actions):
        raise IndexError(f"label index {label.chosen} outside 0..{len(actions) - 1}")
    return adf_lines(shared_line(shared), [action_line(v, f) for v, f in actions], label)


class ActionSet:
    """A slot's offered variants, formatted once (at load) and reused for every decision."""

    __slots__ = ("ids", "lines")

    def __init__(self, variants: Sequence[tuple[str, Mapping[str, FeatureValue]]]) -> None:
        if not variants:
            raise ValueError("an action set needs at least one variant")
        self.ids: tuple[str, ...] = tuple(v for v, _ in variants)
        self.lines: tuple[str, ...] = tuple(action_line(v, f) for v, f in variants)

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, variant_id: str) -> int:
        """Position of ``variant_id``; ``ValueError`` if it is not offered."""
        return self.ids.index(variant_id)
