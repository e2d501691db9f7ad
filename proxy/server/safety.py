"""Refuse to run on an aiohttp that is known to be unsafe in front of a site.

Most aiohttp request-smuggling CVEs (2023-47627, 2024-23829, 2024-52304, 2025-53643, 2025-69224,
PYSEC-2026-4371) hit only the pure-Python HTTP parser, and 3.14.4 fixed ambiguous framing and
quadratic decompression. So: the C parser must be loaded and the version must be ≥ 3.14.4.
"""

from __future__ import annotations

import importlib
import os
import re

import aiohttp

from proxy.errors import StartupError

MINIMUM_AIOHTTP = (3, 14, 4)


def _version_tuple(version: str) -> tuple[int, ...]:
    # leading digits only: "3.14.3rc5" is 3.14.3 (joining every digit made it 3.14.35)
    parts: list[int] = []
    for piece in version.split(".")[:3]:
        digits = re.match(r"[0-9]*", piece)
        parts.append(int(digits.group() or 0) if digits else 0)
    return tuple(parts)


def check_aiohttp() -> None:
    if _version_tuple(aiohttp.__version__) < MINIMUM_AIOHTTP:
        raise StartupError(
            f"aiohttp {aiohttp.__version__} has known request-smuggling bugs; "
            "install aiohttp>=3.14.4"
        )
    if os.environ.get("AIOHTTP_NO_EXTENSIONS"):
        raise StartupError(
            "AIOHTTP_NO_EXTENSIONS is set: aiohttp's pure-Python parser is not safe in front of "
            "a site; unset it"
        )
    try:
        importlib.import_module("aiohttp._http_parser")
    except ImportError:
        raise StartupError(
            "aiohttp's C HTTP parser is not available (pure-Python build); "
            "reinstall aiohttp from a wheel for this platform"
        ) from None
