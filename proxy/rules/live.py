"""Rules that change while Vernier runs: reloaded on file change and on SIGHUP, never half-way.

:class:`LiveRules` holds the last good rule set, built into what requests use (a ``RuleEngine``).
A reload loads and validates the files from scratch. If they are refused (a ``ConfigError`` naming
``file:line $.key``), the error is logged and counted and the last good rule set stays live, so a
bad edit never takes personalisation down. A good one replaces it with one attribute assignment:
a request that reads ``current`` once sees the old rule set or the new one, never a mix.

Watching is polling, which needs no dependency and works on every filesystem and in containers.
Each interval the rule files are stat'ed (names, inode, mtime_ns, size). Once a new stat has held
for one interval (so a save in progress is not loaded), or while the newest mtime is too recent
to trust the filesystem's timestamp granularity, their bytes are hashed, and only new content
reloads. Editors that truncate and then write leave an empty or half file for a moment: it is
rarely seen at all, and if it is, it is refused like any bad edit (or, if it happens to parse,
replaced) once the completed file has held for an interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from aiohttp import web

from proxy.config.yaml_strict import MAX_FILE_BYTES
from proxy.errors import ConfigError
from proxy.metrics import Metrics
from proxy.rules.compiled import RuleSet
from proxy.rules.load import load_rules, rule_files

log = logging.getLogger("vernier.rules")

T = TypeVar("T")

# Callbacks ``serve()`` runs on SIGHUP (e.g. ``LiveRules.request_reload``), set in ``cleanup_ctx``.
RELOAD_ON_SIGHUP = web.AppKey("reload_on_sighup", tuple[Callable[[], None], ...])

# A write this soon after the one we saw can keep the same mtime (coarse kernel clocks tick every
# 1-10 ms, some filesystems every 1-2 s) and the same size; until then, content is compared.
RACY_NS = 2_000_000_000

FileStat = tuple[str, int, int, int]  # name, inode, mtime_ns, size


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the rule files looked like when they were last loaded (or refused)."""

    stats: tuple[FileStat, ...] | None  # None: the path does not exist
    taken_ns: int
    digest: bytes

    @property
    def racy(self) -> bool:
        newest_ns = max((stat[2] for stat in self.stats or ()), default=0)
        return self.taken_ns - newest_ns < RACY_NS


def stat_files(path: Path) -> tuple[FileStat, ...] | None:
    try:
        files = rule_files(path)
    except (ConfigError, OSError):
        return None
    stats: list[FileStat] = []
    for file in files:
        try:
            st = file.stat()
        except OSError:  # removed between listing and stat
            stats.append((file.name, -1, -1, -1))
        else:
            stats.append((file.name, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(stats)


def content_digest(path: Path) -> bytes:
    """A hash of the rule files' names and bytes (each read up to the loader's size cap)."""
    digest = hashlib.sha256()
    try:
        files = rule_files(path)
    except (ConfigError, OSError):
        return b"absent"
    for file in files:
        try:
            with file.open("rb") as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            data = f"unreadable: {err.errno}".encode()
        name = file.name.encode()
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.digest()


def fingerprint(path: Path) -> Fingerprint:
    taken_ns = time.time_ns()  # before the stat: errs towards "racy"
    return Fingerprint(stat_files(path), taken_ns, content_digest(path))


@dataclass(frozen=True, slots=True)
class _Live(Generic[T]):
    ruleset: RuleSet
    built: T


class LiveRules(Generic[T]):
    """The live rule set of one worker, built by ``build`` (e.g. ``RuleEngine.build``).

    Request handlers read :attr:`current` once per request. ``reload`` is synchronous (load work
    is CPU-bound); :meth:`watch` runs it in the default executor, one reload at a time. With
    ``missing_ok``, an absent path means no rules, as for ``vernier validate``, until the path
    appears; a path that was loaded and then disappears is refused like a bad file (the last
    good rules stay live).
    """

    def __init__(
        self,
        path: Path,
        build: Callable[[RuleSet], T],
        metrics: Metrics | None = None,
        *,
        missing_ok: bool = False,
    ) -> None:
        self.path = path
        self._build = build
        self._metrics = metrics
        self._missing_ok = missing_ok
        self._existed = False  # once the path was loaded, its disappearance is refused
        self._seen = fingerprint(path)  # before loading: a write during the load is seen later
        self._last_stats = self._seen.stats  # at the previous poll
        ruleset = self._load()  # a ConfigError here refuses to start
        self._live = _Live(ruleset, build(ruleset))
        self._existed = path.exists()
        self.last_error: str | None = None  # why the files on disk are refused, for health checks
        self._reloading = threading.Lock()  # reload() may be called from any thread
        self._lock = asyncio.Lock()  # keeps waiting reloads off the executor's threads
        self._wake = asyncio.Event()
        self._pending: str | None = None
        if metrics is not None:
            metrics.rules_info.labels(version=_label(ruleset)).set(1)
            metrics.rules_refused.set(0)

    @property
    def current(self) -> T:
        """What the live rule set was built into; read it once per request."""
        return self._live.built

    @property
    def ruleset(self) -> RuleSet:
        return self._live.ruleset

    @property
    def version(self) -> str:
        return self._live.ruleset.version

    def _load(self) -> RuleSet:
        if not self.path.exists():
            if self._existed:  # deleted or renamed while serving: a mistake more often than not
                raise ConfigError(
                    f"rules path {self.path} no longer exists; restore it, or restart to serve "
                    "without rules"
                )
            if self._missing_ok:
                return RuleSet()
        return load_rules(self.path)

    def reload(self, reason: str) -> bool:
        """Load and build the files now; ``False`` (old rules kept) if they are refused."""
        with self._reloading:
            return self._reload(reason)

    def _reload(self, reason: str) -> bool:
        seen = fingerprint(self.path)
        old = self._live.ruleset
        try:
            ruleset = self._load()
            built = self._build(ruleset)
        except ConfigError as err:
            return self._refuse(seen, reason, str(err))
        except Exception as err:  # a bug while building must not stop reloading: keep the old
            log.exception("rules reload (%s): building the rule set failed", reason)
            return self._refuse(seen, reason, f"{type(err).__name__}: {err}")
        self._seen = seen
        self._existed = self._existed or self.path.exists()
        was_refused, self.last_error = self.last_error is not None, None
        if self._metrics is not None:
            self._metrics.rules_refused.set(0)
        if ruleset.version == old.version:  # e.g. only comments changed, or a SIGHUP
            again = "files valid again, " if was_refused else ""
            log.info("rules (%s): %sversion %s unchanged", reason, again, _label(old))
            self._count("unchanged")
            return True
        self._live = _Live(ruleset, built)  # the swap: one assignment
        log.info(
            "rules reloaded (%s): version %s → %s (%d rules, %d slots in %d files)",
            reason,
            _label(old),
            _label(ruleset),
            len(ruleset.rules),
            len(ruleset.slots),
            len(ruleset.files),
        )
        if self._metrics is not None:
            with contextlib.suppress(KeyError):
                self._metrics.rules_info.remove(_label(old))
            self._metrics.rules_info.labels(version=_label(ruleset)).set(1)
        self._count("ok")
        return True

    def _refuse(self, seen: Fingerprint, reason: str, error: str) -> bool:
        self._seen = seen  # refused content is not retried until it changes (or SIGHUP)
        self.last_error = error
        log.error(
            "rules reload (%s) refused, version %s stays live: %s",
            reason,
            _label(self._live.ruleset),
            error,
        )
        if self._metrics is not None:
            self._metrics.rules_refused.set(1)
        self._count("refused")
        return False

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.rules_reloads.labels(result=result).inc()

    def _changed(self) -> bool:
        """Whether the files' content differs from what was last loaded (cheap when it does not)."""
        seen = self._seen
        taken_ns = time.time_ns()
        stats = stat_files(self.path)
        previous, self._last_stats = self._last_stats, stats
        if stats != previous:  # still being written, perhaps: look again next poll
            return False
        if stats == seen.stats and not seen.racy:
            return False
        digest = content_digest(self.path)
        if digest != seen.digest:
            return True
        self._seen = Fingerprint(stats, taken_ns, digest)  # same bytes: trust this stat from now
        return False

    def _poll(self, reason: str | None) -> None:
        with self._reloading:
            if reason is None:
                if not self._changed():
                    return
                reason = "file change"
            self._reload(reason)

    async def reload_async(self, reason: str) -> bool:
        """:meth:`reload` in the default executor, after any reload already under way."""
        async with self._lock:
            return await asyncio.get_running_loop().run_in_executor(None, self.reload, reason)

    def request_reload(self, reason: str = "SIGHUP") -> None:
        """Make the running :meth:`watch` reload now, whatever the files' stat says.

        Call it on the event loop's thread (a loop signal handler is); several requests before
        the reload starts make one reload, which reads the files as they are then.
        """
        self._pending = reason
        self._wake.set()

    async def watch(self, interval_s: float = 1.0, stop: asyncio.Event | None = None) -> None:
        """Poll the files every ``interval_s`` and reload when their content has changed and held
        for one interval (so within two); runs until ``stop`` is set or it is cancelled. Start it
        through ``BackgroundTasks``."""
        loop = asyncio.get_running_loop()
        while stop is None or not stop.is_set():
            await self._idle(interval_s, stop)
            if stop is not None and stop.is_set():
                return
            self._wake.clear()
            reason, self._pending = self._pending, None
            async with self._lock:
                await loop.run_in_executor(None, self._poll, reason)

    async def _idle(self, interval_s: float, stop: asyncio.Event | None) -> None:
        """Until ``interval_s`` passes, a reload is requested, or ``stop`` is set."""
        events = [self._wake] if stop is None else [self._wake, stop]
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait(waiters, timeout=interval_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


def _label(ruleset: RuleSet) -> str:
    return ruleset.version or "none"
