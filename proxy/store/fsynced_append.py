"""Append-once to a stream and answer only once the store's AOF is fsync-ed (issue #17).

With ``appendfsync everysec`` Redis answers a write before its AOF is fsync-ed, and may postpone
even the ``write()`` while an earlier fsync is slow: a ``kill -9`` then loses what was already
acknowledged. :meth:`FsyncedAppend.append` sends, on one connection (a pipeline): the append
script (``scripts.APPEND_ONCE``), a ``SET`` of the stream's fsync mark, and ``WAITAOF 1 0 <ms>``,
which returns once the local AOF fsync covers this connection's last write. The mark is a write
every time, so a batch whose records were all seen before (a retry, or the decision sink's
confirmation of decisions already appended on another connection) still waits for an fsync that
covers everything written before it. Valkey's own once-a-second fsync commits every waiting
batch at once (group commit by the store).

If the fsync does not come within ``WAITAOF_TIMEOUT_MS``, ``append`` answers ``None`` (the caller
spools the batch; replay then finds it seen). A server without WAITAOF (Redis < 7.2) or without an
AOF answers it with an error: appends then go on without waiting, said once in the log.

**Redis Cluster.** redis-py's cluster pipeline routes each command by its key and cannot carry a
keyless ``WAITAOF`` to the shard that holds the stream, and a ``WAITAOF`` sent on any other
connection waits for nothing (it covers only that connection's writes). So a Cluster store appends
without waiting: an append is acknowledged once it is in the primary's memory and written to its
AOF (the ``write()`` Valkey does before it answers); a ``kill -9`` of the primary loses it only if
its fsync had been stalled for over a second, a crash of its machine up to ~2 s of appends, and
a failover what had not reached the replica (docs/reliability.md, "Durability").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from proxy.store.client import Store
from proxy.store.scripts import APPEND_ONCE

WAITAOF_TIMEOUT_MS = 1000  # everysec fsyncs once a second; a slower disk means "spool it"
MARK_TTL_MS = 60_000
log = logging.getLogger(__name__)


class FsyncedAppend:
    """``APPEND_ONCE`` to one stream, answered once fsync-ed where the store can confirm it.

    ``waits`` is ``False`` on a Cluster store and once the server said it cannot confirm an
    fsync; ``unfsynced_total`` counts batches whose fsync did not come in time.
    """

    def __init__(self, store: Store, stream_key: str, what: str) -> None:
        self.store = store
        self.stream_key = stream_key
        self.mark_key = store.keys.fsync_mark_key(stream_key)
        self.what = what
        self.waits = not store.is_cluster
        self.unfsynced_total = 0

    async def append(self, keys: Sequence[str], args: Sequence[Any]) -> int | None:
        """Run the append script over ``keys`` (the stream, then one seen key per record) and
        ``args``; how many records were new, or ``None`` if unavailable or not fsync-ed in time."""

        async def run(client: Redis) -> int | None:
            if self.waits:
                return await self._append_fsynced(client, keys, args)
            return int(await APPEND_ONCE.run(client, keys, args))

        timeout_s = self.store.settings.op_timeout_s
        if self.waits:
            timeout_s += WAITAOF_TIMEOUT_MS / 1000.0
        return await self.store.run(run, default=None, timeout_s=timeout_s)

    async def _append_fsynced(
        self, client: Redis, keys: Sequence[str], args: Sequence[Any]
    ) -> int | None:
        for by_sha in (True, False):
            pipe = client.pipeline(transaction=False)
            if by_sha:
                pipe.evalsha(APPEND_ONCE.sha, len(keys), *keys, *args)
            else:
                pipe.eval(APPEND_ONCE.source, len(keys), *keys, *args)
            pipe.set(self.mark_key, 1, px=MARK_TTL_MS)
            pipe.execute_command("WAITAOF", 1, 0, WAITAOF_TIMEOUT_MS)
            added, _, fsynced = await pipe.execute(raise_on_error=False)
            if isinstance(added, NoScriptError):
                continue
            if isinstance(added, BaseException):
                raise added
            if isinstance(fsynced, ResponseError):
                self.waits = False
                log.warning(
                    "the store cannot confirm fsync (%s): %s are acknowledged once in its "
                    "memory, and a store crash may lose the last second of them",
                    fsynced,
                    self.what,
                )
                return int(added)
            if isinstance(fsynced, BaseException):
                raise fsynced
            if int(fsynced[0]) >= 1:
                return int(added)
            self.unfsynced_total += 1
            return None
        raise NoScriptError("the append script vanished twice")
