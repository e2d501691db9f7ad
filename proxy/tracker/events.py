"""Beacon intake: bytes from the network become the event contract's types, checked once.

The types are :mod:`proxy.records.events` (``tracker_js/events.contract.json`` says the same in
words). Validation is strict and happens once, here; everything downstream (the stream, the
profile updater, the learner) trusts those types. A page view's time zone that is well formed
but names no zone the server knows is dropped here (the page view is kept). :func:`parse_batch` is the one way in: bytes
from the network become a :class:`~proxy.records.events.Batch` or an :class:`EventRejected` (a
400 with a reason), never any other exception.
"""

from __future__ import annotations

import msgspec

from proxy.errors import VernierError
from proxy.messages import duplicate_key, invalid_value, malformed_json
from proxy.records.events import Batch, PageView
from proxy.rules.clock import known_zone


class EventRejected(VernierError):
    """A beacon Vernier will not accept; ``status`` is the HTTP answer, ``reason`` says why.

    ``reason`` is short and machine-readable (``json: ...``, ``schema: $.events[0].depth: ...``),
    sent back as the answer's body so a tracker developer can see what is wrong. It never carries
    more than ``_REASON_CHARS`` characters of the sender's own input.
    """

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status} {reason}")


_REASON_CHARS = 160
_decoder = msgspec.json.Decoder(Batch)
_encoder = msgspec.json.Encoder()


def parse_batch(body: bytes) -> Batch:
    """Decode and validate one beacon body; raises only :class:`EventRejected` (status 400).

    msgspec's typed decoder already rejects what the stdlib ``json`` lets through or dies on
    (docs/reliability.md §0.13): ``NaN``/``Infinity`` are not JSON to it, integers are range-checked
    while parsing (a 5,001-digit one is "out of range", never a bignum), and every value is checked
    against its field's type as it is read, so no deep structure is ever built. Three gaps remain,
    each handled here: invalid UTF-8 raises ``UnicodeDecodeError``, a deeply nested value *before*
    an event's ``type`` tag (msgspec skips ahead to find the tag) raises ``RecursionError``, and
    duplicate keys are accepted, last one wins [measured, msgspec 0.22] — see
    :func:`_reject_duplicate_keys`.

    The reasons are Vernier's words (:mod:`proxy.messages`), never msgspec's exception text.
    """
    try:
        batch = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        path, what = invalid_value(exc, schema=Batch)
        raise EventRejected(400, _clip(f"schema: {path}: {what}")) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise EventRejected(400, f"json: {malformed_json(exc, body)}") from None
    _reject_duplicate_keys(body, batch)
    return _without_unknown_zones(batch)


def _without_unknown_zones(batch: Batch) -> Batch:
    """The batch with each page view's ``tz`` dropped where it names no zone this server knows
    (a browser's ``Etc/Unknown``, a zone newer than the database): the page view still counts,
    the visitor's clock stays unknown, and nothing downstream sees a name it cannot use."""
    if not any(isinstance(e, PageView) and e.tz and not known_zone(e.tz) for e in batch.events):
        return batch
    events = [
        msgspec.structs.replace(e, tz=None)
        if isinstance(e, PageView) and e.tz and not known_zone(e.tz)
        else e
        for e in batch.events
    ]
    return msgspec.structs.replace(batch, events=events)


def _clip(reason: str) -> str:
    return reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 3] + "..."


def _reject_duplicate_keys(body: bytes, batch: Batch) -> None:
    """Refuse ``{"depth": 0.1, "depth": 0.9}``: two parsers could read it two ways.

    The exact check (the stdlib parser with a pairs hook) costs ~30 µs for a 10-event batch, three
    times the decode (~10 µs) [measured], so it runs only when a cheap count cannot rule duplicates
    out (~3.5 µs). Count colons: the body has one per key it wrote plus
    those inside its strings; re-encoding the decoded batch gives one per distinct key (``None``
    fields as ``"key":null``) plus those inside the decoded strings. Without a backslash in the
    body every decoded string is in it byte for byte and none holds a bare ``"``, so the counts
    match, nulls aside, only if no key was written twice (an overwritten value or repeated key
    adds colons). Escapes, explicit nulls and repeated keys take the exact path.
    """
    if b"\\" not in body:
        encoded = _encoder.encode(batch)
        if body.count(b":") + encoded.count(b'":null') == encoded.count(b":"):
            return
    try:
        repeated = duplicate_key(body)
    except (ValueError, RecursionError):  # unreachable after msgspec accepted it; still a 400
        raise EventRejected(400, "json: malformed") from None
    if repeated is not None:
        raise EventRejected(400, _clip(f"json: duplicate key `{repeated}`"))
