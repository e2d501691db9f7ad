"""Lua scripts run by their SHA1, sent in full only when the server does not have them cached.

``EVALSHA`` sends 40 bytes instead of the script on every call; a server that restarted, failed
over or ran ``SCRIPT FLUSH`` answers ``NOSCRIPT``, and the call is made once more with ``EVAL``,
which runs the script and caches it again. Every script of the store goes through
:class:`Script`, so that fallback is written once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


@dataclass(frozen=True, slots=True)
class Script:
    """One Lua script and its SHA1; :meth:`run` is one ``EVALSHA`` (``EVAL`` after NOSCRIPT)."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())

    async def run(self, client: Redis, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
        """The script's reply; raises what redis-py raises (``Store.run`` turns it into a default)."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)


APPEND_ONCE = Script(
    """
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', ARGV[3], ARGV[i + 2])
    added = added + 1
  end
end
return added
"""
)
"""Append records to a stream once each, by id. ``KEYS[1]`` is the stream, ``KEYS[2..]`` one
*seen* key per record (same hash tag as the stream); ``ARGV``: the seen keys' TTL in seconds, the
stream's ``MAXLEN ~``, the entry's field name, then the encoded records. Returns how many were new:
a retry, or a replay of a batch whose first call timed out after Redis ran it, adds nothing."""
