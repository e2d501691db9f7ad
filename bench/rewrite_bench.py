"""CPU time of ``proxy.html.rewrite.rewrite`` against bare selectolax, in one run.

Target (issue): a 100 KB page, 3 operations on 3 selectors, splice mode: <= 1.5 ms p50 CPU.

Pages: every corpus page within 30 % of 100 KiB (``--corpus``, default the shared corpus; at
most ``--pages``, the largest first). Per page, three operations on three different elements,
chosen from the page itself (and printed): ``set_text`` on the first ``h1`` (else ``h2``),
``add_class`` on the first element with a plain ``id`` that is neither of the others,
``set_attr`` on the first ``article``/``main``/``nav``/``footer``/``header``/``img``. Then one
``move`` (the ``set_text`` element before the ``id`` element, else after it).

Variants, timed in the same run and interleaved (round after round: every page, every variant)
so that a noisy moment hits all of them:

- **rewrite**: ``rewrite(page, "utf-8", ops)`` (splice mode), what Vernier runs per response;
- **selectolax**: ``LexborHTMLParser(page)``, the same three changes with selectolax's API
  (``css``, ``inner_html``/``insert_child``, ``attrs``), then ``.html`` (the str; encoding it
  back to bytes is not counted): the reference an edit costs without byte fidelity;
- **move**: ``rewrite`` with the one ``move`` operation.

Each sample is the CPU time (``time.process_time_ns``) of one call; p50/p90 over every sample of
a (page, variant). The run stops starting rounds after ``--max-seconds``.

    .venv/bin/python bench/rewrite_bench.py                   # ~1 minute
    .venv/bin/python bench/rewrite_bench.py --rounds 3 --iterations 100

Writes ``bench/results/rewrite.json`` (git-ignored) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT))

from selectolax.lexbor import LexborHTMLParser, LexborNode  # noqa: E402

from proxy.html.ops.registry import AddClass, Move, Op, SetAttr, SetText  # noqa: E402
from proxy.html.rewrite import rewrite  # noqa: E402

TARGET_P50_MS = 1.5
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "pages"
_PLAIN_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def pick_pages(corpus: Path, count: int) -> list[Path]:
    """The largest corpus pages within 30 % of 100 KiB."""
    near = [p for p in corpus.glob("*.html") if 0.7 * 102_400 <= p.stat().st_size <= 1.3 * 102_400]
    return sorted(near, key=lambda p: p.stat().st_size, reverse=True)[:count]


def pick_ops(page: bytes) -> tuple[list[Op], Op] | None:
    """Three ops on three different elements of ``page``, and one move; None if it has none."""
    tree = LexborHTMLParser(page, scripting=True)
    heading = next((s for s in ("h1", "h2") if tree.css_first(s) is not None), None)
    other = next(
        (s for s in ("article", "main", "nav", "footer", "header", "img") if tree.css_first(s)),
        None,
    )
    if heading is None or other is None:
        return None
    taken = {node.mem_id for s in (heading, other) for node in tree.css(s)[:1]}
    with_id = None
    for node in tree.css("body [id]:not(svg *):not(math *)"):
        ident = node.attributes.get("id") or ""
        plain = _PLAIN_ID.fullmatch(ident) and node.mem_id not in taken
        if plain and len(tree.css(f"#{ident}")) == 1:
            with_id = f"#{ident}"
            break
    if with_id is None:
        return None
    ops: list[Op] = [
        SetText(heading, "Hello, Vernier"),
        AddClass(with_id, "vernier-b"),
        SetAttr(other, "data-vernier", "1"),
    ]
    for move in (Move(heading, before=with_id), Move(heading, after=with_id)):
        if rewrite(page, "utf-8", [move]).applied:
            return ops, move
    return ops, Move(other, after=with_id)


def selectolax_reference(page: bytes, ops: list[Op]) -> str:
    """Bare selectolax: parse, the same three changes, serialise."""
    tree = LexborHTMLParser(page, scripting=True)
    for op in ops:
        nodes: list[LexborNode] = list(tree.css(op.selector))
        for node in nodes:
            if isinstance(op, SetText):
                node.inner_html = ""
                node.insert_child(op.value)
            elif isinstance(op, AddClass):
                node.attrs["class"] = f"{node.attributes.get('class') or ''} {op.value}".strip()
            elif isinstance(op, SetAttr):
                node.attrs[op.name] = op.value
    return tree.html or ""


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1e6


def measure(args: argparse.Namespace) -> dict[str, Any]:
    pages = pick_pages(Path(args.corpus), args.pages)
    if not pages:
        raise SystemExit(f"no corpus page near 100 KiB in {args.corpus}")
    cases: list[dict[str, Any]] = []
    calls: dict[tuple[str, str], Callable[[], object]] = {}
    for path in pages:
        page = path.read_bytes()
        picked = pick_ops(page)
        if picked is None:
            continue
        ops, move = picked
        result, moved = rewrite(page, "utf-8", ops), rewrite(page, "utf-8", [move])
        cases.append(
            {
                "page": path.name,
                "bytes": len(page),
                "ops": [repr(op) for op in ops],
                "mode": result.mode,
                "applied": list(result.applied),
                "move": repr(move),
                "move_mode": moved.mode,
            }
        )
        calls[path.name, "rewrite"] = partial(rewrite, page, "utf-8", ops)
        calls[path.name, "selectolax"] = partial(selectolax_reference, page, ops)
        calls[path.name, "move"] = partial(rewrite, page, "utf-8", [move])
    samples: dict[tuple[str, str], list[int]] = {key: [] for key in calls}
    for call in calls.values():  # warm-up
        for _ in range(20):
            call()
    started = time.monotonic()
    rounds = 0
    for _ in range(args.rounds):
        if time.monotonic() - started > args.max_seconds:
            break
        rounds += 1
        for key, call in calls.items():
            gc.collect()
            out = samples[key]
            for _ in range(args.iterations):
                t0 = time.process_time_ns()
                call()
                out.append(time.process_time_ns() - t0)
    for case in cases:
        for variant in ("rewrite", "selectolax", "move"):
            ns = sorted(samples[case["page"], variant])
            case[f"{variant}_p50_ms"] = round(percentile(ns, 0.5), 3)
            case[f"{variant}_p90_ms"] = round(percentile(ns, 0.9), 3)
            case[f"{variant}_samples"] = len(ns)
        case["ratio_p50"] = round(case["rewrite_p50_ms"] / case["selectolax_p50_ms"], 2)
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rounds": rounds,
        "iterations": args.iterations,
        "seconds": round(time.monotonic() - started, 1),
        "loadavg_at_end": Path("/proc/loadavg").read_text().split()[:3],
        "nproc": os.cpu_count(),
        "target_p50_ms": TARGET_P50_MS,
        "cases": cases,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| page | bytes | rewrite p50 / p90 ms | selectolax p50 / p90 ms | ratio (p50) "
        "| move p50 / p90 ms | modes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in report["cases"]:
        lines.append(
            f"| {c['page']} | {c['bytes']:,} | {c['rewrite_p50_ms']:.2f} / {c['rewrite_p90_ms']:.2f} "
            f"| {c['selectolax_p50_ms']:.2f} / {c['selectolax_p90_ms']:.2f} | {c['ratio_p50']:.2f} "
            f"| {c['move_p50_ms']:.2f} / {c['move_p90_ms']:.2f} | {c['mode']}, {c['move_mode']} |"
        )
    lines.append("")
    for c in report["cases"]:
        lines.append(f"- {c['page']}: {', '.join(c['ops'])}; {c['move']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", default=os.environ.get("VERNIER_CORPUS_PAGES", DEFAULT_CORPUS))
    parser.add_argument("--pages", type=int, default=4, help="at most this many pages")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=200, help="calls per variant per round")
    parser.add_argument("--max-seconds", type=float, default=90.0, help="no new round after this")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "rewrite.json"))
    args = parser.parse_args(argv)
    report = measure(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))
    print(
        f"\n{report['rounds']} rounds x {report['iterations']} calls per variant, "
        f"{report['seconds']} s; load average at the end {' '.join(report['loadavg_at_end'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
