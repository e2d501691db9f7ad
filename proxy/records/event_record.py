"""One accepted event as it is stored: the event plus who sent it and when it arrived.

This is the unit of the event stream (one stream entry per record, field ``r``), of the local
spool (one line per record) and of everything that consumes them (profile updater, learner).
``session``/``visitor`` come from Vernier's signed cookies, never from the beacon body.
"""

from __future__ import annotations

import msgspec

from proxy.records.events import Event


class EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    event: Event
    page: str  # page view id
    session: str
    visitor: str
    received_ms: int  # server time at intake
    bot: bool = False  # flagged as automated: stored, but excluded from learning and statistics


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(EventRecord)


def encode_record(record: EventRecord) -> bytes:
    return _encoder.encode(record)


def decode_record(data: bytes) -> EventRecord:
    """Raises ``msgspec.DecodeError``/``ValidationError`` for bytes that are not a record."""
    return _decoder.decode(data)
