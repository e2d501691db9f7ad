"""Synthetic visitors over HTTP: the page through the proxy, then the tracker's beacon.

Each visitor is a new aiohttp cookie jar (a new session and visitor id). They ``GET /`` with
their ``User-Agent`` and ``Referer``, read the hero slot's ``data-vernier-*`` marks, and send
one beacon to ``POST /__vernier/e`` as the tracker would: a pageview, the slot's impression and,
when the hidden table says so, a click on it. The proxy's ``X-Vernier-Debug`` header (the run's
admin token) says why the variant was served and with what probability.

**Client addresses.** The collector limits events per client address (1,200 a minute, a flood
guard). The simulated visitors are many clients, so their connections come from many loopback
addresses (``127.0.1.1`` … on Linux, where all of ``127.0.0.0/8`` is local); where that is not
possible they share ``127.0.0.1`` and a refused beacon (429) is retried after its
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import aiohttp
import orjson

from proxy.simulate.world import Expected, Outcome, SimVisitor

V = TypeVar("V", bound=SimVisitor)
V_contra = TypeVar("V_contra", bound=SimVisitor, contravariant=True)


class SimWorld(Protocol[V_contra]):
    """What the driver needs of a world: whether a visitor clicks, and the expected CTRs."""

    def clicks(self, visitor: V_contra, served: str) -> bool: ...
    def expected_for(self, visitor: V_contra, served: str) -> Expected: ...


SLOT = "hero"
SOURCE_ADDRESSES = 64  # x 1,200 events/min: far above what one process can drive
BEACON_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 5.0
VISIT_TIMEOUT_S = 30.0
# stop when this many visits failed and they are more than a tenth of those tried
ABORT_AFTER_FAILURES = 20

_MARKED = re.compile(r"<[a-zA-Z][^>]*\bdata-vernier-slot=\"(?P<slot>[^\"]*)\"[^>]*>")
_ATTRIBUTE = re.compile(r"\bdata-vernier-(variant|decision)=\"([^\"]*)\"")


class VisitFailed(Exception):
    """A visit could not be completed (an HTTP error, a page without the slot's marks)."""


class TooManyFailures(Exception):
    """So many visits failed that the curve would mean nothing; the message says the first."""


def slot_marks(html: str, slot: str = SLOT) -> tuple[str, str] | None:
    """``(variant, decision id)`` from the element marked ``data-vernier-slot="<slot>"``."""
    for element in _MARKED.finditer(html):
        if element.group("slot") == slot:
            found = dict(_ATTRIBUTE.findall(element.group(0)))
            if "variant" in found and "decision" in found:
                return found["variant"], found["decision"]
    return None


def debug_facts(header: str | None, slot: str = SLOT) -> tuple[str, float | None]:
    """``(reason, probability)`` of ``slot`` in an ``X-Vernier-Debug`` value (``?`` if absent)."""
    if header is None:
        return "?", None
    try:
        report: Any = orjson.loads(header)
        for entry in report["slots"]:
            if entry["slot"] == slot:
                probability = entry.get("probability")
                return str(entry["reason"]), None if probability is None else float(probability)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    return "?", None


def source_addresses(count: int = SOURCE_ADDRESSES) -> list[str | None]:
    """Loopback addresses to connect from (``[None]``: the OS's choice, when they cannot be
    bound)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.1.1", 0))
    except OSError:
        return [None]
    return [f"127.0.1.{i}" for i in range(1, min(count, 254) + 1)]


@dataclass(slots=True)
class Progress:
    """Counts while the run goes (read by the progress reporter)."""

    started: float = field(default_factory=time.monotonic)
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    done: int = 0
    failed: int = 0
    clicks: int = 0
    retried_beacons: int = 0
    first_failure: str | None = None


class Driver(Generic[V]):
    """Runs visitors against ``proxy_url`` with at most ``concurrency`` in flight and, with a
    ``rate``, at most ``rate`` starting a second: each one ``1 / rate`` seconds after the one
    before, or later (no burst to catch up after a stall). That is a site's pace: the learning
    loop's delay then spans as many visitors as it would there."""

    def __init__(
        self,
        proxy_url: str,
        world: SimWorld[V],
        *,
        admin_token: str,
        concurrency: int,
        run_id: str,
        addresses: list[str | None] | None = None,
        rate: float | None = None,
    ) -> None:
        self.proxy_url = proxy_url
        self.world = world
        self.admin_token = admin_token
        self.concurrency = concurrency
        self.run_id = run_id
        self.rate = rate
        self.progress = Progress()
        self._addresses = addresses if addresses is not None else source_addresses()
        self._event_ids = itertools.count()
        self._workers: list[asyncio.Task[None]] = []

    async def run(
        self,
        visitors: Iterator[V],
        *,
        deadline: float,
        stop: asyncio.Event | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Visit until ``visitors`` run out, ``time.monotonic()`` passes ``deadline`` or
        ``stop`` is set (the visits in flight then finish, unless :meth:`cancel_visits`); the
        outcomes in visitor order. Raises :class:`TooManyFailures`."""
        stop = stop if stop is not None else asyncio.Event()
        outcomes: list[Outcome] = []
        connectors = [
            aiohttp.TCPConnector(
                limit=self.concurrency,
                local_addr=(address, 0) if address else None,
                keepalive_timeout=30,
            )
            for address in self._addresses
        ]
        self.progress = Progress()
        next_start = time.monotonic()

        async def work() -> None:
            nonlocal next_start
            for visitor in visitors:  # shared iterator: each visitor is taken once
                if self.rate is not None:  # read and moved with no await between: one order
                    now = time.monotonic()
                    starts_at = max(next_start, now)
                    next_start = starts_at + 1 / self.rate
                    with contextlib.suppress(TimeoutError):  # the pace's wait, or a stop
                        async with asyncio.timeout(starts_at - now):
                            await stop.wait()
                if time.monotonic() >= deadline or stop.is_set():
                    return
                connector = connectors[visitor.index % len(connectors)]
                try:
                    outcome = await self.visit(visitor, connector)
                except (VisitFailed, aiohttp.ClientError, TimeoutError) as err:
                    self._failed(visitor, str(err) or type(err).__name__)
                    continue
                except Exception as err:  # a bug: counted and named, the run goes on
                    self._failed(visitor, f"{type(err).__name__}: {err}")
                    continue
                outcomes.append(outcome)
                self.progress.done += 1
                self.progress.clicks += outcome.clicked
                if on_outcome is not None:
                    on_outcome(outcome)

        try:
            async with asyncio.TaskGroup() as group:  # a cancelled worker only ends itself
                self._workers = [
                    group.create_task(work(), name=f"vernier-simulate-visitor-{n}")
                    for n in range(self.concurrency)
                ]
        except* TooManyFailures as failures:
            raise failures.exceptions[0] from None
        finally:
            for connector in connectors:
                await connector.close()
        outcomes.sort(key=lambda o: o.visitor.index)
        return outcomes

    def cancel_visits(self) -> None:
        """End the visits in flight now: :meth:`run` returns the outcomes it has."""
        for worker in self._workers:
            worker.cancel()

    def _failed(self, visitor: V, what: str) -> None:
        progress = self.progress
        progress.failed += 1
        if progress.first_failure is None:
            progress.first_failure = f"visitor {visitor.index}: {what}"
        tried = progress.failed + progress.done
        if progress.failed >= ABORT_AFTER_FAILURES and progress.failed * 10 > tried:
            raise TooManyFailures(
                f"{progress.failed} of {tried} visits failed; the first: {progress.first_failure}"
            )

    async def visit(self, visitor: V, connector: aiohttp.BaseConnector) -> Outcome:
        headers = {
            **visitor.headers,
            "User-Agent": visitor.user_agent,
            "X-Vernier-Debug": self.admin_token,
        }
        if visitor.referer is not None:
            headers["Referer"] = visitor.referer
        async with aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for an IP address host
            timeout=aiohttp.ClientTimeout(total=VISIT_TIMEOUT_S),
        ) as client:
            url = f"{self.proxy_url}{visitor.path}"
            async with client.get(url, headers=headers) as response:
                if response.status != 200:
                    raise VisitFailed(f"GET {visitor.path} answered {response.status}")
                html = await response.text()
                reason, probability = debug_facts(response.headers.get("X-Vernier-Debug"))
            marks = slot_marks(html)
            if marks is None:
                raise VisitFailed(f'the page has no data-vernier-slot="{SLOT}" element')
            variant, decision = marks
            clicked = self.world.clicks(visitor, variant)
            await self._beacon(client, visitor, variant, decision, clicked)
        return Outcome(
            visitor=visitor,
            variant=variant,
            decision=decision,
            reason=reason,
            probability=probability,
            clicked=clicked,
            expected=self.world.expected_for(visitor, variant),
            elapsed_s=time.monotonic() - self.progress.started,
        )

    async def _beacon(
        self,
        client: aiohttp.ClientSession,
        visitor: V,
        variant: str,
        decision: str,
        clicked: bool,
    ) -> None:
        now_ms = int(time.time() * 1000)
        url = f"{self.proxy_url}/"
        events: list[dict[str, Any]] = [
            self._event("pageview", now_ms, url=url, ref=visitor.referer),
            self._event("impression", now_ms, slot=SLOT, variant=variant, decision=decision),
        ]
        if clicked:
            events.append(
                self._event(
                    "click",
                    now_ms + 1,
                    target="#hero-cta",
                    slot=SLOT,
                    variant=variant,
                    decision=decision,
                )
            )
        body = orjson.dumps(
            {"v": 1, "page": f"{self.run_id}-p{visitor.index}", "events": events},
            option=orjson.OPT_OMIT_MICROSECONDS,
        )
        headers = {
            "Content-Type": "text/plain;charset=UTF-8",  # what sendBeacon sends
            "User-Agent": visitor.user_agent,
            "Origin": self.proxy_url,
        }
        for attempt in range(BEACON_ATTEMPTS):
            async with client.post(
                f"{self.proxy_url}/__vernier/e", data=body, headers=headers
            ) as response:
                if response.status == 202:
                    return
                text = (await response.text())[:200]
                if response.status not in (429, 503) or attempt == BEACON_ATTEMPTS - 1:
                    raise VisitFailed(f"the beacon was answered {response.status} {text}")
                retry_after = response.headers.get("Retry-After", "1")
            self.progress.retried_beacons += 1
            delay_s = 1.0
            with contextlib.suppress(ValueError):
                delay_s = float(retry_after)
            await asyncio.sleep(min(max(delay_s, 0.05), MAX_RETRY_AFTER_S))

    def _event(self, kind: str, ts_ms: int, **fields: Any) -> dict[str, Any]:
        event = {"id": f"{self.run_id}-e{next(self._event_ids)}", "type": kind, "ts": ts_ms}
        event.update({k: v for k, v in fields.items() if v is not None})
        return event
