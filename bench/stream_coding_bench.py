"""What injecting the tracker into a big compressed page costs: decoding it as it streams and
re-encoding it in the origin's coding (``content/stream_coding.py``, issue #14).

Bodies: the shared corpus's pages, each compressed as an origin would (gzip 6, br 5, zstd 3),
fed in the relay's 64 KiB chunks to :class:`StreamDecoder` and every decoded piece to the
:class:`StreamCompressor` Vernier streams with (its default level for that coding), flushed per
piece. CPU is ``time.process_time_ns`` summed over pages, median over interleaved rounds, as a
ratio to compressing the same identity pages whole at gzip level 6 in the same run (the
reference of ``bench/compression_bench.py``), with MB/s of decoded page for scale and the CPU
of one decoded piece (≤ 64 KiB; brotli's are ≤ 32 KiB): what one turn of the event loop carries.

    nice -n 10 .venv/bin/python bench/stream_coding_bench.py         # ~10 s
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import brotli  # type: ignore[import-untyped]  # brotli ships no type information

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from proxy.config.schema import CompressionConfig  # noqa: E402
from proxy.content.compress import Coding, StreamCompressor, level_of  # noqa: E402
from proxy.content.stream_coding import StreamDecoder  # noqa: E402

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "pages"
CHUNK_BYTES = 64 * 1024
ORIGIN: dict[Coding, Callable[[bytes], bytes]] = {
    "gzip": lambda b: gzip.compress(b, compresslevel=6, mtime=0),
    "br": lambda b: brotli.compress(b, quality=5),
    "zstd": lambda b: zstd.compress(b, level=3),
}


def relay(body: bytes, coding: Coding, level: int) -> int:
    """Decode ``body`` chunk by chunk and re-encode every piece; how many pieces there were."""
    decoder, encoder, pieces = StreamDecoder((coding,)), StreamCompressor(coding, level), 0
    for start in range(0, len(body), CHUNK_BYTES):
        for piece in decoder.feed(body[start : start + CHUNK_BYTES]):
            encoder.feed(piece)
            pieces += 1
    decoder.finish()
    encoder.finish()
    return pieces


def reference_ns(pages: list[bytes]) -> int:
    """CPU nanoseconds of compressing every page whole at gzip 6."""
    spent = 0
    for page in pages:
        started = time.process_time_ns()
        gzip.compress(page, compresslevel=6, mtime=0)
        spent += time.process_time_ns() - started
    return spent


def relay_all(bodies: list[bytes], coding: Coding, level: int) -> tuple[int, int]:
    """CPU nanoseconds and pieces of relaying every body."""
    spent = pieces = 0
    for body in bodies:
        started = time.process_time_ns()
        pieces += relay(body, coding, level)
        spent += time.process_time_ns() - started
    return spent, pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pages = [p.read_bytes() for p in sorted(args.corpus.glob("*.html"))]
    total = sum(len(p) for p in pages)
    policy = CompressionConfig()
    encoded = {c: [ORIGIN[c](p) for p in pages] for c in ORIGIN}
    runs: dict[str, list[int]] = {"reference": [], **{c: [] for c in ORIGIN}}
    pieces: dict[str, int] = {}
    for _ in range(args.rounds):  # interleaved: a noisy moment hits every setting
        runs["reference"].append(reference_ns(pages))
        for coding in ORIGIN:
            spent, pieces[coding] = relay_all(encoded[coding], coding, level_of(policy, coding))
            runs[coding].append(spent)
    reference = statistics.median(runs["reference"])
    print(f"{len(pages)} pages, {total / 1e6:.1f} MB decoded, {args.rounds} rounds, median\n")
    print("| origin's coding | re-encoded at | CPU / gzip-6 whole | MB/s | CPU per decoded piece |")
    print("|---|---|---|---|---|")
    print(f"| (reference: gzip 6, whole) | — | 1.00 | {total / reference * 1e3:.0f} | — |")
    for coding in ORIGIN:
        median = statistics.median(runs[coding])
        print(
            f"| {coding} | {coding} {level_of(policy, coding)} | {median / reference:.2f} "
            f"| {total / median * 1e3:.0f} | {median / pieces[coding] / 1e6:.2f} ms |"
        )


if __name__ == "__main__":
    main()
