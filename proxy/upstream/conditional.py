"""Conditional GETs for pages Vernier may personalise: Vernier, not the origin, decides 304.

The origin's validators describe the origin's bytes. On a page some rule, slot or trigger could
change, what the visitor sees also depends on the decision, the rule set, the pauses and the
visitor's profile, none of which the origin knows: its 304 would keep a stale variant in the
browser (issue #14). So for such a page the client's ``If-None-Match``/``If-Modified-Since`` are
kept aside (:func:`take_conditions`), the origin always sends the page, and the conditions are
evaluated here against the response Vernier is about to serve (:func:`not_modified`,
RFC 9110 §13.2.2: ``If-None-Match`` wins over ``If-Modified-Since``, weak comparison for GET).

A 304 carries only the fields RFC 9110 §15.4.5 lists (:func:`not_modified_headers`): a browser
merges them into its stored response, and a fresh ``Content-Security-Policy`` nonce there would no
longer match the nonce in the stored body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from multidict import CIMultiDict

CONDITION_HEADERS = ("If-None-Match", "If-Modified-Since")
# RFC 9110 §15.4.5: what a 304 sends (that a 200 would have); Expires and Cache-Control update
# the stored response's freshness
NOT_MODIFIED_HEADERS = ("Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary")
_LIST_ITEM = re.compile(r'(?:W/)?"([^"]*)"')


@dataclass(frozen=True, slots=True)
class Conditions:
    """The client's conditions on a GET or HEAD, withheld from the origin."""

    if_none_match: str | None = None
    if_modified_since: str | None = None


def take_conditions(headers: CIMultiDict[str]) -> Conditions:
    """Remove the conditions from an origin request's headers; what they were."""
    values = [", ".join(headers.popall(name, ())) or None for name in CONDITION_HEADERS]
    return Conditions(if_none_match=values[0], if_modified_since=values[1])


def without_dates_beside_tags(headers: CIMultiDict[str]) -> None:
    """Drop ``If-Modified-Since`` from an origin request that has ``If-None-Match``.

    RFC 9110 §13.1.3: a recipient must ignore ``If-Modified-Since`` when ``If-None-Match`` is
    present. Forward may drop the client's tags that name a body Vernier no longer serves (an
    older tracker, ``upstream/etag.py``); the date left alone would then decide, and the origin's
    304 would keep the stale body in the browser for good. Called before the tags are rewritten.
    """
    if "If-None-Match" in headers:
        headers.popall("If-Modified-Since", None)


def opaque_tags(value: str) -> set[str]:
    """The opaque parts of an entity-tag list (weak comparison ignores ``W/``)."""
    return {match.group(1) for match in _LIST_ITEM.finditer(value)}


def not_modified(conditions: Conditions, etag: str | None, last_modified: str | None) -> bool:
    """Whether a GET with ``conditions`` is answered 304 for a 200 with these validators."""
    if conditions.if_none_match is not None:
        if conditions.if_none_match.strip() == "*":
            return True
        if etag is None:
            return False
        served = opaque_tags(etag)
        return bool(served) and bool(served & opaque_tags(conditions.if_none_match))
    if conditions.if_modified_since is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(conditions.if_modified_since)
        modified = parsedate_to_datetime(last_modified)
    except (TypeError, ValueError, IndexError):
        return False  # an invalid date is ignored (RFC 9110 §13.1.3)
    if since.tzinfo is None or modified.tzinfo is None:
        return False
    return modified <= since


def not_modified_headers(headers: CIMultiDict[str]) -> CIMultiDict[str]:
    """The fields of a 200's header block that its 304 carries."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.title() in NOT_MODIFIED_HEADERS or name.lower() == "etag":
            out.add(name, value)
    return out


# Sec-Fetch-Dest of a browser's navigation (Fetch Metadata); older browsers say Accept: text/html
_PAGE_DESTINATIONS = frozenset({"document", "iframe", "frame"})


def asks_for_a_page(headers: Mapping[str, str]) -> bool:
    """Whether a request is a browser's navigation: what it gets back is a page to show."""
    destination = headers.get("Sec-Fetch-Dest")
    if destination is not None:
        return destination.strip().lower() in _PAGE_DESTINATIONS
    return "text/html" in headers.get("Accept", "").lower()


def only_our_validators(headers: CIMultiDict[str]) -> None:
    """Keep in an origin request only the validators Vernier issues for pages it changes: its
    weak ``-vn`` tags (and ``*``); drop the origin's own tags and any ``If-Modified-Since`` (a
    page with the tracker has no date). Those name a copy from before Vernier, or one served
    unchanged when something failed: a 304 would keep it, without the tracker, for good."""
    headers.popall("If-Modified-Since", None)
    value = ", ".join(headers.popall("If-None-Match", ()))
    if value.strip() == "*":
        headers["If-None-Match"] = value
        return
    ours = [
        m.group(0)
        for m in _LIST_ITEM.finditer(value)
        if m.group(0).startswith("W/") and "-vn" in m.group(1)
    ]
    if ours:
        headers["If-None-Match"] = ", ".join(ours)
