"""The local spool: records that could not reach Redis wait here, on disk, until it is back.

202 means stored (docs/design.md §6), so when ``EventLog.append`` cannot answer, the batch is
appended to a segment file and ``fsync``-ed *before* the intake acknowledges it. Layout, in
``<data_dir>/spool``::

    seg-<time_ns>-<pid>-<seq>.log    one encoded EventRecord per line (JSON never holds a raw LF)

:class:`RecordSpool` is the spool of any record type with a one-line codec; :class:`EventSpool`
holds events, and the decision sink (``proxy/decide/decision_sink.py``) spools decisions the same
way in ``<data_dir>/decision-spool``.

* **Bounded.** All segments together stay under ``max_bytes`` (default 256 MB); a batch that would
  pass it is refused, and the intake answers 503 (the tracker keeps it and retries). Several
  processes check the bound without a shared lock, so it may be passed by one batch per process.
* **Per-process segments.** Each process appends to its own segment and holds an exclusive
  ``flock`` on it while it does, so replay (which locks a segment before reading it) never reads a
  segment that is being written. A segment is sealed (closed, unlocked) when it reaches
  ``segment_bytes`` or when its own process starts a replay; a crashed process's locks die with it,
  so any process replays what it left behind.
* **Replay** reads sealed segments oldest first, hands their records to ``write`` in chunks, and
  deletes a segment only after every chunk was written. A crash in between re-sends the segment
  later; the event log's dedupe by event id keeps the stream exactly-once. A torn last line (crash
  mid-append: never acknowledged) is skipped and counted.
* **Its own thread, group commit.** Appends are written and fsync-ed by the spool's own writer
  thread, never the default executor: there, big-page compression, rewriting and the learner
  queued ahead of the fsync and a 4 ms write took over 2 s at 2× CPU load, so beacons got 503
  (issue #17). Batches that arrive while a write is in flight wait in a bounded queue
  (``max_queued_bytes``; past it, ``append`` refuses at once) and go out together in the next
  write with one ``fsync``, so the thread keeps up however many beacons arrive at once. Every
  waiter learns the outcome of the write that carried its batch. Replay and the size check read
  in the default executor; they are not on the acknowledgement path.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from proxy.durable import fsync_directory
from proxy.records.event_record import EventRecord, decode_record, encode_record

log = logging.getLogger(__name__)

R = TypeVar("R")
WriteBatch = Callable[[list[R]], Awaitable[bool]]


# An unchanged spool error is logged again after this many seconds (RecordSpool._log_once).
REPEAT_LOG_S = 60.0


class RecordSpool(Generic[R]):
    """Bounded, fsync-ed, multi-process-safe disk queue of records, one line each.

    ``encode`` must never put a raw LF in a line (JSON does not); ``decode`` raises
    ``msgspec.DecodeError``/``ValidationError`` for a line that is not a record (a torn one).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        encode: Callable[[R], bytes],
        decode: Callable[[bytes], R],
        max_bytes: int = 256 * 1024 * 1024,
        segment_bytes: int = 4 * 1024 * 1024,
        replay_chunk: int = 100,
        max_queued_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        if min(max_bytes, segment_bytes, replay_chunk, max_queued_bytes) < 1:
            raise ValueError("spool sizes must be positive")
        self._encode = encode
        self._decode_line = decode
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.replay_chunk = replay_chunk
        self.max_queued_bytes = max_queued_bytes
        self.refused_total = 0
        self.torn_lines_total = 0
        self.writes_total = 0  # fsync-ed writes; fewer than appends when batches were grouped
        self._queue: list[tuple[bytes, asyncio.Future[bool]]] = []
        self._queued_bytes = 0
        self._writer: ThreadPoolExecutor | None = None
        self._committer: asyncio.Task[None] | None = None
        self._fd: int | None = None
        self._fd_bytes = 0
        self._seq = itertools.count()
        self._thread_lock = threading.RLock()  # a cancelled caller's thread may still be writing
        self._lock = asyncio.Lock()
        self._last_error, self._last_error_at = "", 0.0  # the last error logged (_log_once)

    async def append(self, records: Sequence[R]) -> bool:
        """Write and fsync the records; ``False`` if the spool or its queue is full or the disk
        failed. A cancelled caller's batch may still be written (a retry is deduplicated)."""
        if not records:
            return True
        data = b"".join(self._encode(r) + b"\n" for r in records)
        if self._queued_bytes + len(data) > self.max_queued_bytes:
            self.refused_total += 1
            return False
        written = asyncio.get_running_loop().create_future()
        self._queue.append((data, written))
        self._queued_bytes += len(data)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit(), name="vernier-spool-commit")
        return await asyncio.shield(written)

    async def _commit(self) -> None:
        """Write what is queued, one group (one fsync) at a time, until the queue is empty."""
        loop = asyncio.get_running_loop()
        while self._queue:
            group, self._queue, self._queued_bytes = self._queue, [], 0
            ok = False
            try:
                async with self._lock:
                    data = b"".join(data for data, _ in group)
                    ok = await loop.run_in_executor(self._writer_thread(), self._append_sync, data)
            finally:
                for _, written in group:
                    if not written.done():
                        written.set_result(ok)

    def _writer_thread(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="vernier-spool")
        return self._writer

    async def pending_bytes(self) -> int:
        """Bytes in all segments (of every process), sealed or not."""
        return await asyncio.to_thread(self._total_bytes)

    async def replay(self, write: WriteBatch[R]) -> int:
        """Send spooled records to ``write`` oldest first; how many left the spool.

        Stops at the first chunk ``write`` refuses (``False``): that segment stays, to be replayed
        whole next time, so only the records of segments written whole and removed are counted —
        a record is counted once however many attempts it took. Segments locked by a live writer
        are skipped.
        """
        async with self._lock:
            await asyncio.to_thread(self._seal_sync)
        replayed = 0
        for path in await asyncio.to_thread(self._segments):
            opened = await self._open_for_replay(path)
            if opened is None:
                continue
            fd, records = opened
            try:
                for start in range(0, len(records), self.replay_chunk):
                    if not await write(records[start : start + self.replay_chunk]):
                        return replayed
                await asyncio.to_thread(_unlink, path)
                replayed += len(records)
            finally:
                os.close(fd)  # releases the flock
        return replayed

    async def _open_for_replay(self, path: Path) -> tuple[int, list[R]] | None:
        """``_lock_and_read`` in a thread; a cancelled caller still closes what it opened."""
        reading = asyncio.ensure_future(asyncio.to_thread(self._lock_and_read, path))
        try:
            return await asyncio.shield(reading)
        except asyncio.CancelledError:
            reading.add_done_callback(_close_when_done)
            raise

    async def close(self) -> None:
        """Finish queued writes, seal the current segment (it becomes replayable by any
        process) and stop the writer thread; a later append starts a new one."""
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        async with self._lock:
            await asyncio.to_thread(self._seal_sync)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=False)

    # -- blocking parts, run in a worker thread -------------------------------------------------

    def _append_sync(self, data: bytes) -> bool:
        with self._thread_lock:
            try:
                if self._total_bytes() + len(data) > self.max_bytes:
                    self.refused_total += 1
                    return False
                if self._fd is None or self._fd_bytes >= self.segment_bytes:
                    self._seal_sync()
                    self._open_segment()
                assert self._fd is not None
                self.writes_total += 1
                return self._write_all(self._fd, data)
            except OSError as err:
                self._log_once(f"spool {self.directory}: cannot open a segment: {err}")
                self.refused_total += 1
                return False

    def _log_once(self, message: str) -> None:
        """An error, logged again only when it changes or after :data:`REPEAT_LOG_S` (a broken
        disk refuses every batch: hundreds a second; ``refused_total`` counts each)."""
        now = time.monotonic()
        if message != self._last_error or now - self._last_error_at >= REPEAT_LOG_S:
            log.error("%s", message)
            self._last_error, self._last_error_at = message, now

    def _write_all(self, fd: int, data: bytes) -> bool:
        start = self._fd_bytes
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as err:
            self._log_once(f"spool {self.directory}: write failed ({err}); batch refused")
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)  # no torn line before the next segment's records
            self._seal_sync()
            self.refused_total += 1
            return False
        self._fd_bytes = start + len(data)
        return True

    def _open_segment(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"seg-{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}.log"
        fd = os.open(
            self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600
        )
        fcntl.flock(fd, fcntl.LOCK_EX)  # new file: nobody else can hold it
        fsync_directory(self.directory)  # the new name survives a host crash too
        self._fd, self._fd_bytes = fd, 0

    def _seal_sync(self) -> None:
        with self._thread_lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    def _segments(self) -> list[Path]:
        try:
            return sorted(self.directory.glob("seg-*.log"))
        except OSError:
            return []

    def _total_bytes(self) -> int:
        total = 0
        for path in self._segments():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def _lock_and_read(self, path: Path) -> tuple[int, list[R]] | None:
        """Open and lock a sealed segment, or ``None`` if it is in use or already replayed."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_nlink == 0:  # another replayer deleted it while we waited
                os.close(fd)
                return None
            with os.fdopen(os.dup(fd), "rb") as file:
                records = list(self._decode(file))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd, records

    def _decode(self, lines: Iterator[bytes]) -> Iterator[R]:
        for line in lines:
            try:
                yield self._decode_line(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self.torn_lines_total += 1


class EventSpool(RecordSpool[EventRecord]):
    """The spool of accepted event records."""

    def __init__(self, directory: str | os.PathLike[str], **options: int) -> None:
        super().__init__(directory, encode=encode_record, decode=decode_record, **options)

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str], **options: int) -> EventSpool:
        """The spool of a Vernier data directory: ``<data_dir>/spool``."""
        return cls(Path(data_dir) / "spool", **options)


def _close_when_done(reading: asyncio.Future[tuple[int, list[R]] | None]) -> None:
    if not reading.cancelled() and reading.exception() is None:
        opened = reading.result()
        if opened is not None:
            os.close(opened[0])


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
