"""The values the context gives its closed fields, so a condition that compares one with a value
it never takes (``device == 'Mobile'``, ``country == 'us'``) is refused at load instead of never
holding. Pure."""

from __future__ import annotations

import difflib
import re
from typing import get_args

from proxy.rules.clock import WEEKDAYS
from proxy.rules.referrer import ReferrerClass
from proxy.rules.user_agent import BrowserFamily, DeviceClass, OperatingSystem

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "device": get_args(DeviceClass),
    "browser": get_args(BrowserFamily),
    "os": get_args(OperatingSystem),
    "referrer.class": get_args(ReferrerClass),
    "weekday": WEEKDAYS,
}
# the forms of the fields the context normalises (proxy.rules.context): upper-case ISO 3166
# codes, and the language's primary subtag in lower case
_FORMS: dict[str, tuple[re.Pattern[str], str]] = {
    "country": (re.compile(r"[A-Z][A-Z0-9]"), "an upper-case ISO 3166 code such as 'US'"),
    "region": (re.compile(r"[A-Z][A-Z0-9]-[A-Z0-9]{1,3}"), "an ISO 3166-2 code such as 'US-CA'"),
    "language": (re.compile(r"[a-z]{1,8}"), "a lower-case primary subtag such as 'de'"),
}

VALUE_CHECKED = frozenset((*VOCABULARIES, *_FORMS))


def value_problem(field: str, value: object) -> str | None:
    """Why ``field`` never equals ``value`` in any context, or None when it may."""
    allowed = VOCABULARIES.get(field)
    if allowed is not None and value not in allowed:
        close = difflib.get_close_matches(str(value).lower(), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{field} is one of {', '.join(allowed)}, never {value!r}{hint}"
    form = _FORMS.get(field)
    if form is not None and not (isinstance(value, str) and form[0].fullmatch(value)):
        return f"{field} is {form[1]}, never {value!r}"
    return None
