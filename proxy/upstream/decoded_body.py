"""A content-coded origin body, decoded as it is read (``content/stream_coding.py``).

``decode`` reads the decoded pieces until it has the whole page or enough of its head; the same
iterator then goes on, from where it stopped, as the rest of the response (``encode``). Until
the response starts, the origin's own bytes read so far are kept: whatever fails before then,
they and the unread rest are what the client gets (``pipeline.py``'s fail-open).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from proxy.content.stream_coding import StreamDecoder
from proxy.upstream.origin_pool import OriginResponse


class DecodedBody:
    """``pieces`` yields the decoded body (each piece ≤ 64 KiB, produced only when asked for, so
    memory stays flat); a corrupt or truncated body raises :class:`~proxy.errors.BodyError`."""

    def __init__(self, upstream: OriginResponse, codings: tuple[str, ...]) -> None:
        self._upstream = upstream
        self._decoder = StreamDecoder(codings)
        self._raw: list[bytes] | None = []
        self.raw_bytes = 0
        self.pieces = self._decode()

    def raw(self) -> bytes:
        """The origin's bytes read so far (until :meth:`stop_keeping_raw`)."""
        return b"".join(self._raw or ())

    def stop_keeping_raw(self) -> None:
        """The response is about to start: the origin's bytes are no longer needed."""
        self._raw = None

    async def _decode(self) -> AsyncIterator[bytes]:
        while chunk := await self._upstream.content.readany():
            self.raw_bytes += len(chunk)
            if self._raw is not None:
                self._raw.append(chunk)
            for piece in self._decoder.feed(chunk):
                yield piece
        self._decoder.finish()
