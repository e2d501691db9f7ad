"""Choosing the pages, checking what the proxies serve, and timing ``inject_tag`` in-process."""

from __future__ import annotations

import gc
import http.client
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRACKER_PATH = b"/__vernier/t.js"
_SCRIPT_TAG = re.compile(rb'<script\b[^>]*\bsrc="/__vernier/t\.js[^"]*"[^>]*>\s*</script>')
# Used when no corpus page is near 1 KiB: a minimal valid HTML document padded to the size.
_MINIMAL_PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>Vernier benchmark page</title>\n</head>\n<body>\n<p>{text}</p>\n</body>\n</html>\n"
)


@dataclass(frozen=True)
class Page:
    label: str  # "100KB" / "1KB"
    name: str  # the file name in the docroot
    source: str  # where it came from, for the report
    body: bytes

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "file": self.name,
            "source": self.source,
            "bytes": len(self.body),
        }


def minimal_page(size_bytes: int) -> bytes:
    """A valid HTML5 document of exactly ``size_bytes`` (filler text in one paragraph)."""
    empty = _MINIMAL_PAGE.format(text="").encode()
    if size_bytes < len(empty):
        raise ValueError(f"a page needs at least {len(empty)} bytes")
    words = ("lorem ipsum dolor sit amet " * (size_bytes // 10 + 1))[: size_bytes - len(empty)]
    return _MINIMAL_PAGE.format(text=words).encode()


def pick_page(corpus: Path, label: str, target_bytes: int, *, tolerance: float | None) -> Page:
    """The corpus page closest to ``target_bytes`` that has a ``</head>`` (sub_filter needs one).

    With a ``tolerance`` (a fraction) and nothing that close, a generated page is used instead.
    """
    candidates = []
    for path in sorted(corpus.glob("*.html")):
        body = path.read_bytes()
        if b"</head>" in body.lower():
            candidates.append((abs(len(body) - target_bytes), path.name, body))
    if candidates:
        distance, name, body = min(candidates)
        if tolerance is None or distance <= tolerance * target_bytes:
            return Page(label, f"page-{label}.html", f"corpus:{name}", body)
    return Page(
        label,
        f"page-{label}.html",
        f"generated minimal HTML ({target_bytes} B)",
        minimal_page(target_bytes),
    )


# --- correctness ------------------------------------------------------------------------------


def fetch(port: int, path: str, timeout_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"User-Agent": "vernier-bench", "Accept": "text/html"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def head(port: int, path: str, timeout_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("HEAD", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def tracker_tag(served: bytes) -> str | None:
    """The first tracker ``<script>`` element in ``served``, for the record."""
    match = _SCRIPT_TAG.search(served)
    return match.group(0).decode("ascii", "replace") if match else None


def insertion_window(original: bytes, served: bytes) -> tuple[int, int, int] | None:
    """Where ``served`` may be ``original`` plus one contiguous insertion: (lo, hi, length).

    Any offset ``o`` in ``lo..hi`` gives ``served == original[:o] + served[o:o+length] +
    original[o:]`` (the offset is ambiguous when the insertion repeats its neighbours, as
    ``<script ...></script></head>`` does with ``<``). None when no offset works.
    """
    length = len(served) - len(original)
    if length <= 0:
        return None
    prefix = 0
    while prefix < len(original) and original[prefix] == served[prefix]:
        prefix += 1
    suffix = 0
    while suffix < len(original) and original[-1 - suffix] == served[-1 - suffix]:
        suffix += 1
    lo, hi = len(original) - suffix, prefix
    return (lo, hi, length) if lo <= hi else None


def check_injected(
    original: bytes, status: int, served: bytes, expected_tag: bytes | None = None
) -> list[str]:
    """Problems with a served page (empty when it is the original plus one tracker tag)."""
    problems = []
    if status != 200:
        problems.append(f"status {status}")
    count = served.count(TRACKER_PATH)
    if count != 1:
        problems.append(f"{count} occurrences of {TRACKER_PATH.decode()} (expected 1)")
    tags = list(_SCRIPT_TAG.finditer(served))
    window = insertion_window(original, served)
    if len(tags) != 1:
        problems.append(f"{len(tags)} tracker <script> tags (expected 1)")
    elif window is None:
        problems.append("the body is not the origin page plus one contiguous insertion")
    else:
        lo, hi, length = window
        tag = tags[0]
        # An offset o in lo..hi whose insertion served[o:o+length] holds the whole tag.
        first, last = max(lo, tag.end() - length), min(hi, tag.start())
        if first > last:
            problems.append("the one insertion does not contain the tracker tag")
        else:
            inserted = served[last : last + length]
            if expected_tag is not None and inserted != expected_tag:
                problems.append(f"inserted {inserted!r}, expected {expected_tag!r}")
    return problems


# --- the injection micro-benchmark ------------------------------------------------------------


def time_inject(
    body: bytes,
    *,
    repo_root: Path,
    iterations: int,
    rounds: int = 2,
    tag: str = '<script src="/__vernier/t.js?v=0123abcd" defer></script>',
) -> dict[str, Any]:
    """p50/p99 µs of ``proxy.html.inject.inject_tag`` on ``body``; the best of ``rounds`` rounds.

    Raises ImportError/other errors from the module unchanged, so the caller can report them.
    """
    if str(repo_root) not in sys.path:
        sys.path.insert(0, str(repo_root))
    from proxy.html.inject import inject_tag

    result = inject_tag(body, tag, header_charset="utf-8")
    if result is None:
        raise RuntimeError("inject_tag returned None (refused the page)")
    for _ in range(min(50, iterations)):
        inject_tag(body, tag, header_charset="utf-8")
    best: dict[str, Any] | None = None
    for _ in range(rounds):
        gc.collect()
        samples_us = []
        for _ in range(iterations):
            t0 = time.perf_counter_ns()
            inject_tag(body, tag, header_charset="utf-8")
            samples_us.append((time.perf_counter_ns() - t0) / 1000.0)
        samples_us.sort()
        summary = {
            "iterations": iterations,
            "p50_us": round(samples_us[len(samples_us) // 2], 2),
            "p99_us": round(samples_us[min(len(samples_us) - 1, int(len(samples_us) * 0.99))], 2),
            "mean_us": round(statistics.fmean(samples_us), 2),
            "max_us": round(samples_us[-1], 2),
        }
        if best is None or summary["p50_us"] < best["p50_us"]:
            best = summary
    assert best is not None
    best["rounds"] = rounds
    best["inserted_at"] = result.offset
    return best
