"""Which compression level Vernier uses by default: bytes saved against CPU spent, in one run.

Bodies: every page of the shared corpus (``--corpus``) plus the demo shop's stylesheet and SVGs —
the HTML, CSS and SVG a site sends. For each (coding, level), every body is compressed the way
Vernier sends it when it streams (``StreamCompressor``, fed in the relay's 64 KiB chunks and
flushed after each) and whole (``compress_whole``, for pages it rewrote); rounds are interleaved
so that a noisy moment hits every setting. CPU is ``time.process_time_ns`` per body, summed over
bodies, median over rounds, and reported as a ratio to gzip level 6 measured in the same run (the
reference: zlib's default and what most origins use), with MB/s of input for scale.

    nice -n 10 .venv/bin/python bench/compression_bench.py          # ~1 minute

Prints a Markdown table (for docs/benchmarks.md) and writes ``bench/results/compression.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from proxy.content.compress import Coding, StreamCompressor, compress_whole  # noqa: E402

DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "pages"
DEMO_STATIC = REPO_ROOT / "proxy" / "demo" / "static"
CHUNK_BYTES = 64 * 1024
GRID: tuple[tuple[Coding, int], ...] = (
    ("gzip", 1),
    ("gzip", 4),
    ("gzip", 6),
    ("gzip", 9),
    ("br", 1),
    ("br", 3),
    ("br", 4),
    ("br", 5),
    ("br", 6),
    ("br", 9),
    ("zstd", 1),
    ("zstd", 3),
    ("zstd", 6),
    ("zstd", 9),
)
REFERENCE = ("gzip", 6)


def streamed(body: bytes, coding: Coding, level: int) -> int:
    compressor = StreamCompressor(coding, level)
    size = 0
    for start in range(0, len(body), CHUNK_BYTES):
        size += len(compressor.feed(body[start : start + CHUNK_BYTES]))
    return size + len(compressor.finish())


def measure(bodies: list[bytes], coding: Coding, level: int, mode: str) -> tuple[int, int]:
    """(CPU ns, compressed bytes) for all bodies."""
    cpu = 0
    size = 0
    for body in bodies:
        started = time.process_time_ns()
        if mode == "stream":
            size += streamed(body, coding, level)
        else:
            size += len(compress_whole(body, coding, level))
        cpu += time.process_time_ns() - started
    return cpu, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(args.corpus.glob("*.html")) + sorted(DEMO_STATIC.glob("*.*"))
    bodies = [p.read_bytes() for p in paths]
    total = sum(len(b) for b in bodies)
    samples: dict[tuple[str, int, str], list[int]] = {}
    sizes: dict[tuple[str, int, str], int] = {}
    for _ in range(args.rounds):
        for coding, level in GRID:
            for mode in ("stream", "whole"):
                cpu, size = measure(bodies, coding, level, mode)
                samples.setdefault((coding, level, mode), []).append(cpu)
                sizes[coding, level, mode] = size
    reference = statistics.median(samples[(*REFERENCE, "whole")])
    rows = []
    print(f"{len(bodies)} bodies, {total / 1e6:.1f} MB identity; CPU relative to gzip 6 (whole)\n")
    print("| coding | level | mode | size / identity | CPU / gzip-6 | MB/s |")
    print("|---|---|---|---|---|---|")
    for key, cpus in samples.items():
        median_cpu = statistics.median(cpus)
        row: dict[str, object] = {
            "coding": key[0],
            "level": key[1],
            "mode": key[2],
            "size_ratio": sizes[key] / total,
            "cpu_ratio": median_cpu / reference,
            "mb_per_s": total / 1e6 / (median_cpu / 1e9),
        }
        rows.append(row)
        print(
            f"| {key[0]} | {key[1]} | {key[2]} | {row['size_ratio']:.3f} | "
            f"{row['cpu_ratio']:.2f} | {row['mb_per_s']:.0f} |"
        )
    out = REPO_ROOT / "bench" / "results" / "compression.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"bodies": len(bodies), "identity_bytes": total, "rows": rows}))


if __name__ == "__main__":
    main()
