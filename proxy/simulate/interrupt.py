"""Ctrl-C during a simulation: the first stops the run as ``--max-seconds`` does, the second
ends it at once.

The presses are read by the event loop (``loop.add_signal_handler``) rather than raised as
:class:`KeyboardInterrupt` into whatever callback runs at that moment (asyncio's default for a
second press): raised there, it came out as tracebacks and error logs from the proxy's cleanup
(aiohttp's ``CleanupError``), a transport's callback and the visitors' unclosed connectors.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import TextIO


class Interrupted(Exception):
    """Ctrl-C was pressed twice: the run ended without writing its results."""


class CtrlC:
    """Counts Ctrl-C presses while :meth:`handling`. The first sets :attr:`stop` (no visitor
    starts after it; those in flight finish and what was measured is written); the second sets
    :attr:`pressed_twice` and calls what was given to :meth:`on_second_press` (which ends the
    visits in flight), so the run ends without waiting for them and writes nothing. Only the
    visits are cut short: the proxy, the shop and the store still stop cleanly."""

    def __init__(self, report: TextIO | None) -> None:
        self.stop = asyncio.Event()
        self.pressed_twice = False
        self._report = report
        self._cancel: Callable[[], None] | None = None

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Ctrl-C is counted here instead of raised; outside, it raises again."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._pressed)
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    def on_second_press(self, cancel: Callable[[], None]) -> None:
        self._cancel = cancel

    def _pressed(self) -> None:
        if not self.stop.is_set():
            self.stop.set()
            if self._report is not None:
                print(
                    "vernier simulate: Ctrl-C: no new visitors; writing what was measured "
                    "(Ctrl-C again to quit without writing it)",
                    file=self._report,
                    flush=True,
                )
            return
        if self.pressed_twice:  # a third: the run is already ending as fast as it can
            return
        self.pressed_twice = True
        if self._cancel is not None:
            self._cancel()
