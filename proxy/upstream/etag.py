"""Entity tags of bodies Vernier changed.

A changed body is not byte-identical to the origin's representation, so a strong validator must not
survive (RFC 9110 §8.8.3; nginx weakens it since 1.7.3). We serve ``W/"<origin-tag>-vn<digest>"``,
where ``digest`` names what Vernier inserted and in which state (:func:`tracker_mark`), and
translate it back in ``If-None-Match`` so the
origin can still answer 304 for an unchanged page.

A page some rule or slot could change is different: there Vernier owns the validator
(``upstream/conditional.py``) and serves :func:`served_etag`, a digest of the body it served.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')
# one entity-tag of a list; opaque tags may contain commas (RFC 9110 §8.8.3: etagc)
_LIST_ITEM = re.compile(r'(W/)?"([^"]*)"')


TrackerState = Literal["active", "pending", "absent"]
_STATE_SUFFIX: dict[TrackerState, str] = {"active": "", "pending": "-pending", "absent": "-off"}


def tracker_mark(digest: str, state: TrackerState) -> str:
    """What our validators name after ``-vn``: the tracker's digest and its state in the page.

    The same origin bytes are served three ways — with the tracker running, with it waiting
    for consent, without it (the visitor opted out) — and each needs its own validator, or a
    304 would keep the visitor on the state they left: a tracker that never starts after
    consent, or one still running after an opt-out. The tag of the active state is unchanged
    from before, so browsers' copies stay valid. ``absent`` marks the origin's own bytes,
    weakened, on a page that would otherwise get the tracker.
    """
    return digest + _STATE_SUFFIX[state]


def changed_etag(origin_etag: str | None, digest: str) -> str | None:
    """The validator for a body Vernier changed, or None if the origin sent none/unparsable."""
    if not origin_etag:
        return None
    match = _TAG.fullmatch(origin_etag)
    if match is None:
        return None
    return f'W/"{match.group(2)}-vn{digest}"'


def origin_if_none_match(value: str, digest: str) -> str:
    """Rewrite our validators in an ``If-None-Match`` list back to the origin's.

    Tags with another digest (an older tracker or rule set) are dropped: the origin never issued
    them and the body they name is gone. ``*`` and the origin's own tags pass unchanged.
    """
    if value.strip() == "*":
        return value
    out: list[str] = []
    suffix = f"-vn{digest}"
    for match in _LIST_ITEM.finditer(value):
        weak, opaque = match.group(1) or "", match.group(2)
        if weak and "-vn" in opaque:  # ours are always weak; a strong "-vn" tag is the origin's
            if not opaque.endswith(suffix):
                continue
            out.append(f'"{opaque[: -len(suffix)]}"')
        else:
            out.append(f'{weak}"{opaque}"')
    return ", ".join(out)


SERVED_PREFIX = "vs-"


def served_etag(document: bytes, *context: str) -> str:
    """A weak validator naming the page Vernier served: its bytes before the tracker tag, plus
    what decided that tag (``context``: the asset digest, the consent state).

    The digest covers the decision marks, rule edits, pauses and profile-filled text as they
    appear in the page, so any of them changing changes the tag; only the tag's per-response CSP
    nonce is left out, which would otherwise make every response new. ``vs-`` tags are never the
    origin's, so they are never sent to it.
    """
    digest = hashlib.blake2b(document, digest_size=12)
    for part in context:
        digest.update(b"\0" + part.encode())
    return f'W/"{SERVED_PREFIX}{digest.hexdigest()}"'


def as_the_client_holds(origin_etag: str | None, if_none_match: str | None) -> str | None:
    """The ETag of a 304 the origin answered, as the client's stored response names it.

    A representation Vernier compressed carries the origin's tag weakened (``W/"x"``,
    ``content/compress.py``); when its holder revalidates, the origin matches ``W/"x"`` weakly
    and answers 304 with its strong ``"x"``. Passed on as is, that would make the browser store a
    strong tag for bytes the origin never sent — the 304 must carry what the 200 did. So a strong
    tag the client asked about only in its weak form is weakened again; anything else is kept.
    """
    if origin_etag is None or if_none_match is None:
        return origin_etag
    match = _TAG.fullmatch(origin_etag)
    if match is None or match.group(1):
        return origin_etag
    opaque = match.group(2)
    held = [(m.group(1) or "", m.group(2)) for m in _LIST_ITEM.finditer(if_none_match)]
    if ("W/", opaque) in held and ("", opaque) not in held:
        return f'W/"{opaque}"'
    return origin_etag
