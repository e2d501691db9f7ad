"""The variants a visitor was last shown, in a cookie, for when the store cannot answer.

Then nothing may change (docs/design.md §8): each slot shows the variant this cookie names, under
its decision id, or else the control. The cookie is not signed: editing it can only pick another
existing variant while the store is down, and such page views are never learning examples. Format:
``slot:variant:decision`` entries joined by ``.`` (RFC 6265 cookie-octets only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

COOKIE_NAME = "vernier_seen"
MAX_ENTRIES = 20
_ENTRY = re.compile(r"([a-z0-9-]{1,64}):([a-z0-9-]{1,64}):([A-Za-z0-9_-]{8,64})")


def parse(value: str | None) -> dict[str, tuple[str, str]]:
    """``slot -> (variant, decision id)``; malformed entries are skipped."""
    shown: dict[str, tuple[str, str]] = {}
    for entry in (value or "").split(".")[:MAX_ENTRIES]:
        match = _ENTRY.fullmatch(entry)
        if match is not None:
            shown[match[1]] = (match[2], match[3])
    return shown


def render(shown: Mapping[str, tuple[str, str]]) -> str:
    entries = [f"{slot}:{variant}:{decision}" for slot, (variant, decision) in shown.items()]
    return ".".join(entries[-MAX_ENTRIES:])
