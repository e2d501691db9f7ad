"""The behavioural vector of one visitor, from their profile fields; a pure function.

Twelve features, chosen from what the profile updater keeps (``proxy/tracker/profile_update.py``)
to describe *how* someone uses the site rather than who they are:

==================  =========================================================================
``visits_7d``       visits in the last 7 days (log1p)
``visits_30d``      visits in the last 30 days (log1p)
``pageviews``       page views (log1p)
``engaged_s``       total engaged seconds (log1p)
``engaged_ema``     moving average of engaged seconds per page (log1p)
``scroll``          mean of the deepest scroll per page type (0..1)
``click_rate``      clicks on slots per slot impression (0..1 mostly)
``conversions``     conversions (log1p)
``conversion_value``  their summed value (log1p)
``score:recency``   the decayed scores of ``proxy/tracker/scores.py`` (0..1)
``score:frequency``
``score:monetary``
==================  =========================================================================

Counts are log-scaled so one heavy visitor does not stretch a whole axis; the fit standardises
every feature afterwards. A visitor without a profile (no ``visits`` field) has no vector. The
same function reads the stored profile (strings) and the request context (numbers), so a model
fitted on profiles assigns the same way at request time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

FEATURES: tuple[str, ...] = (
    "visits_7d",
    "visits_30d",
    "pageviews",
    "engaged_s",
    "engaged_ema",
    "scroll",
    "click_rate",
    "conversions",
    "conversion_value",
    "score:recency",
    "score:frequency",
    "score:monetary",
)
_LOGGED = ("visits_7d", "visits_30d", "pageviews", "engaged_s", "engaged_ema")
_LOGGED_VALUE = ("conversions", "conversion_value")
_SCORES = ("score:recency", "score:frequency", "score:monetary")
LOG1P_FEATURES = frozenset(_LOGGED + _LOGGED_VALUE)  # stored as log1p of the profile's number


def _number(value: object) -> float:
    """A finite number from a profile string or a context number; 0.0 otherwise."""
    if type(value) is int or type(value) is float:
        number = float(value)
    elif type(value) is str:
        try:
            number = float(value)
        except ValueError:
            return 0.0
    else:
        return 0.0
    return number if math.isfinite(number) else 0.0


def vector_of(fields: Mapping[str, object]) -> list[float] | None:
    """The visitor's vector in :data:`FEATURES` order, or None without a profile."""
    if "visits" not in fields:
        return None
    scroll_sum = 0.0
    scroll_types = 0
    clicks = 0.0
    impressions = 0.0
    for name, value in fields.items():
        if ":" not in name:  # most context fields; one C-level check instead of three
            continue
        if name.startswith("max_scroll:"):
            scroll_sum += _number(value)
            scroll_types += 1
        elif name.startswith("clicks:"):
            clicks += _number(value)
        elif name.startswith("impressions:"):
            impressions += _number(value)
    log1p = math.log1p
    out = [log1p(max(0.0, _number(fields.get(name)))) for name in _LOGGED]
    out.append(scroll_sum / scroll_types if scroll_types else 0.0)
    out.append(clicks / impressions if impressions > 0 else 0.0)
    out += [log1p(max(0.0, _number(fields.get(name)))) for name in _LOGGED_VALUE]
    out += [_number(fields.get(name)) for name in _SCORES]
    return out
