"""How Vernier launches Debian's Chromium, for the browser tests and ``bench/tracker_bench.py``.

The flags keep Chromium off the network (no background, component or sync traffic, no QUIC):
this machine has none but loopback, and a measurement must not include the browser's own chatter.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_binary() -> str:
    """``$VERNIER_CHROMIUM``, else ``chromium`` on the PATH, else Debian's ``/usr/bin/chromium``
    (which may be missing: the caller checks)."""
    return os.environ.get("VERNIER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
