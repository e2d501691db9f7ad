"""Vernier against a Cloudflare Worker doing the same edits with HTMLRewriter, on loopback, in one run.

    .venv/bin/python bench/edge_bench.py [--workers N] [--duration S] [--pin] [--check] ...
    (``make bench``; ``--help`` lists every option; docs/benchmarks.md explains the numbers)

What a site owner would otherwise run for server-side personalisation is a Worker that rewrites
the page with HTMLRewriter (lol-html) on ``workerd``, Cloudflare's open-source runtime (npm,
pinned in bench/worker/package-lock.json). One workerd serves the pages from memory (the ORIGIN:
nginx is not needed); a second runs bench/worker/worker.js twice, injection only and injection
plus three edits (``set_text h1``, ``set_attr article``, ``hide article > p:first-of-type``);
two Vernier instances proxy the same origin, one with no rules and one with bench/edits/. For the
87 KB lemonde-1 and the 1.2 KB rtl-1 pages it first checks that Vernier serves byte for byte what
the Worker serves (the tag's ``?v=`` aside), then runs wrk against every path (interleaved, best
of ``--repeats``) and at one connection, and prints the table with Vernier's ratio to the Worker.
Results go to bench/results/edge.json. Every child is stopped on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from checks import fetch
from hotspots import find_py_spy, profile_under_load
from load import cpu_seconds, run_wrk, serving_pids, vernier_memory
from report import best_latency, best_throughput, machine, source_state
from servers import (
    BENCH_DIR,
    REPO_ROOT,
    Children,
    free_port,
    install_workerd,
    log,
    run_in_temp,
    start_vernier,
    start_workerd,
    wait_http_ok,
)

DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "pages"
PAGES = ("lemonde-1.html", "rtl-1.html")
# (path, what it is, the reference it is compared with)
PATHS = (
    ("origin", "origin (workerd, from memory)", None),
    ("worker", "Worker, injection only", None),
    ("vernier", "Vernier, injection only", "worker"),
    ("worker-3", "Worker + 3 edits", None),
    ("vernier-3", "Vernier + 3 edits", "worker-3"),
    # the rewrite cache off: what a page that differs on every view costs (and Vernier before it)
    ("vernier-3-new", "Vernier + 3 edits, every view a new page", "worker-3"),
)
VERNIER_CONFIGS = {
    "vernier": "vernier.bench.yaml",
    "vernier-3": "vernier.edits.yaml",
    "vernier-3-new": "vernier.edits-uncached.yaml",
    "vernier-scaled": "vernier.bench.yaml",
}
SHORT = {"worker": "Worker", "worker-3": "Worker", "vernier": "Vernier, 1 worker"}


def paths(scale: int) -> list[tuple[str, str, str | None]]:
    """The paths measured; with ``scale`` N > 1, also Vernier injecting with N workers (compared
    with Vernier's one: the ``--workers N`` scaling goal is ≥ 0.9 × N)."""
    scaled = ("vernier-scaled", f"Vernier, injection only, {scale} workers", "vernier")
    return [*PATHS, *([scaled] if scale > 1 else [])]


_TAG_QUERY = re.compile(rb'(src="/__vernier/t\.js)\?v=[0-9a-f]+"')


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = p.add_argument
    corpus = Path(os.environ.get("VERNIER_CORPUS", DEFAULT_CORPUS))
    add("--corpus", type=Path, default=corpus, help="folder with the pages (env VERNIER_CORPUS)")
    add("--pages", default=",".join(PAGES), help="corpus pages to serve, comma-separated")
    add("--workers", type=int, default=1, help="Vernier --workers")
    add("--scale", type=int, default=0, help="also Vernier injecting with this many workers")
    add("--connections", type=int, default=32, help="wrk connections for the throughput runs")
    add("--duration", type=float, default=8.0, help="seconds per throughput run")
    add("--warmup", type=float, default=1.0, help="seconds of discarded load per path and page")
    add("--latency-duration", type=float, default=3.0, help="seconds per one-connection run")
    add("--repeats", type=int, default=2, help="runs per measurement; the best is reported")
    add(
        "--pin",
        default="",
        metavar="SERVERS:LOAD",
        help="taskset CPU lists: the servers on SERVERS, wrk and the origin on LOAD (e.g. 0:1, "
        "0-3:4-7); off by default on a shared machine",
    )
    add(
        "--profile",
        default="",
        help="also profile these Vernier paths with py-spy, comma-separated (e.g. vernier-3)",
    )
    add("--profile-duration", type=float, default=8.0, help="seconds of py-spy sampling")
    add("--check", action="store_true", help="correctness and 1 s of load per path; no results")
    add("--python", type=Path, default=REPO_ROOT / ".venv" / "bin" / "python")
    add("--json", type=Path, default=BENCH_DIR / "results" / "edge.json")
    add("--keep-tmp", action="store_true", help="keep the temp folder (configs, logs)")
    return p


def pin_sets(pin: str) -> tuple[str | None, str | None]:
    """``--pin SERVERS:LOAD`` as the two taskset CPU lists (None, None when not pinned)."""
    if not pin:
        return None, None
    servers, colon, load = pin.partition(":")
    if not (colon and servers and load):
        raise ValueError(f"--pin {pin!r}: expected SERVERS:LOAD, e.g. 0:1")
    return servers, load


def same_page(served: bytes, reference: bytes) -> bool:
    """Whether Vernier served the reference's bytes: the same page, edits and tag (Vernier's tag
    carries the asset version as ``?v=``, the Worker's none)."""
    return _TAG_QUERY.sub(rb'\1"', served) == _TAG_QUERY.sub(rb'\1"', reference)


def start(
    args: argparse.Namespace, children: Children, tmp: Path, docroot: Path
) -> tuple[dict[str, int], dict[str, int]]:
    """Every path's server; the ports and the server's pid by path."""
    chosen = paths(args.scale)
    ports = {name: free_port() for name, _, _ in chosen}
    server_cpus, origin_cpus = pin_sets(args.pin)
    origin = start_workerd(
        children,
        "origin",
        "origin.capnp.tmpl",
        tmp,
        {"DOCROOT": str(docroot), "PORT": ports["origin"]},
        cpus=origin_cpus,
    )
    probe = "/" + args.pages.split(",")[0]
    wait_http_ok(origin, ports["origin"], probe)
    workers = start_workerd(
        children,
        "workers",
        "worker.capnp.tmpl",
        tmp,
        {
            "ORIGIN_PORT": ports["origin"],
            "INJECT_PORT": ports["worker"],
            "EDITS_PORT": ports["worker-3"],
        },
        cpus=server_cpus,
    )
    pids = {"origin": origin.pid, "worker": workers.pid, "worker-3": workers.pid}
    for name, config in VERNIER_CONFIGS.items():
        if name not in ports:
            continue
        child = start_vernier(
            children,
            tmp,
            port=ports[name],
            workers=args.scale if name == "vernier-scaled" else args.workers,
            upstream_port=ports["origin"],
            python=args.python,
            config=BENCH_DIR / config,
            name=name,
            cpus=server_cpus,
        )
        wait_http_ok(child, ports[name], probe, timeout_s=60)
        pids[name] = child.pid
    wait_http_ok(workers, ports["worker"], probe)
    return ports, pids


def correctness(ports: dict[str, int], pages: list[str], scale: int) -> list[str]:
    failures = []
    for page in pages:
        served = {name: fetch(ports[name], "/" + page) for name, _, _ in paths(scale)}
        for name, _, reference in paths(scale):
            status, _, body = served[name]
            if status != 200:
                failures.append(f"{page} via {name}: status {status}")
            elif reference is not None and not same_page(body, served[reference][2]):
                failures.append(f"{page} via {name}: not the bytes {reference} serves")
    return failures


def measure(
    args: argparse.Namespace, ports: dict[str, int], pids: dict[str, int], pages: list[str]
) -> dict[str, Any]:
    """Throughput (with the server's CPU time per request) and one-connection latency."""
    wrk_cpus = pin_sets(args.pin)[1]
    threads = 1 if wrk_cpus is not None and wrk_cpus.isdigit() else 2  # one thread per CPU
    duration = 1.0 if args.check else args.duration
    repeats = 1 if args.check else args.repeats
    out: dict[str, Any] = {"throughput": {}, "latency_1conn": {}}
    for page in pages:
        names = [name for name, _, _ in paths(args.scale)]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        one: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        url = {name: f"http://127.0.0.1:{ports[name]}/{page}" for name in names}
        for name in names:
            if args.warmup > 0 and not args.check:
                run_wrk(url[name], threads=threads, connections=args.connections,
                        duration_s=args.warmup, cpus=wrk_cpus)  # fmt: skip
        # Interleaved, so that a noisy moment on the shared machine hits every path.
        for attempt in range(repeats):
            for name in names:
                cpu_s = cpu_seconds(pids[name])
                result = run_wrk(url[name], threads=threads, connections=args.connections,
                                 duration_s=duration, cpus=wrk_cpus)  # fmt: skip
                cpu_s = cpu_seconds(pids[name]) - cpu_s
                runs[name].append({**result.as_dict(), "cpu_ms_per_request": 1000 * cpu_s /
                                   max(1, result.requests)})  # fmt: skip
                log(f"{page} {name:9} run {attempt + 1}: {result.requests_per_s:8.0f} req/s "
                     f"p50 {result.p50_ms:.2f} ms errors {result.errors}")  # fmt: skip
            for name in names:
                result = run_wrk(url[name], threads=1, connections=1,
                                 duration_s=1.0 if args.check else args.latency_duration,
                                 cpus=wrk_cpus)  # fmt: skip
                one[name].append(result.as_dict())
        out["throughput"][page] = runs
        out["latency_1conn"][page] = one
    return out


def profile(
    args: argparse.Namespace, port: int, pages: list[str], pid: int, tmp: Path
) -> dict[str, Any]:
    """py-spy on the Vernier at ``port`` under the throughput load, per page
    (bench/hotspots.py)."""
    py_spy = find_py_spy(args.python.parent)
    if py_spy is None:
        return {"error": "py-spy not installed (the dev extra)"}
    serving = serving_pids(vernier_memory(pid, args.workers))
    found: dict[str, Any] = {}
    for page in pages:
        url = f"http://127.0.0.1:{port}/{page}"
        out_dir = tmp / f"profile-{page}"
        out_dir.mkdir(parents=True, exist_ok=True)
        found[page] = profile_under_load(
            py_spy,
            serving,
            args.profile_duration,
            out_dir,
            lambda url=url: run_wrk(
                url, threads=2, connections=args.connections, duration_s=args.profile_duration
            ),
        )
        print(f"\nWhere Vernier ({tmp.name}) spends its time on {page} ({found[page]['samples']} "
              "py-spy samples, % of them):")  # fmt: skip
        for title in ("areas", "self", "inclusive"):
            print(f"  {title}:")
            for name, share in found[page].get(title, [])[:12]:
                print(f"    {share:5.1f}%  {name}")
    return found


def table(raw: dict[str, Any], pages: list[str], scale: int) -> str:
    """The issue's table: req/s (best run) and Vernier's ratio to the Worker doing the same; CPU
    time per request of the server's process tree (least of the runs), which on a shared
    machine is steadier than req/s (waiting for a busy CPU is not in it); and the p50 each path
    adds over the origin at one connection."""
    lines = [
        "| page | path | req/s | ratio | CPU µs/request (ratio) | p50 at 1 conn | added p50 |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for page in pages:
        best = {n: best_throughput(r) for n, r in raw["throughput"][page].items()}
        p50 = {n: best_latency(r)["p50_ms"] for n, r in raw["latency_1conn"][page].items()}
        cpu = {
            n: min(x["cpu_ms_per_request"] for x in r) for n, r in raw["throughput"][page].items()
        }
        for name, label, reference in paths(scale):
            rps = best[name]["requests_per_s"]
            ratio = (
                f"{rps / best[reference]['requests_per_s']:.2f}× {SHORT[reference]}"
                if reference
                else ""
            )
            cpu_us = f"{1000 * cpu[name]:,.0f}"
            if reference:
                cpu_us += f" ({cpu[name] / cpu[reference]:.2f}×)"
            added = "—" if name == "origin" else f"+{p50[name] - p50['origin']:.2f} ms"
            errors = sum(r["non_2xx"] + r["socket_errors"] for r in raw["throughput"][page][name])
            flag = f" ({errors} errors)" if errors else ""
            lines.append(
                f"| {page} | {label} | {rps:,.0f}{flag} | {ratio} | {cpu_us} | {p50[name]:.2f} ms "
                f"| {added} |"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace, tmp: Path) -> int:
    pages = [p for p in args.pages.split(",") if p]
    docroot = tmp / "docroot"
    docroot.mkdir()
    for page in pages:
        shutil.copyfile(args.corpus / page, docroot / page)
    raw: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": {k: str(v) for k, v in vars(args).items()},
        "machine": machine(args.python),
        "source": source_state(REPO_ROOT),
    }
    install_workerd()
    children = Children()
    try:
        ports, vernier_pids = start(args, children, tmp, docroot)
        failures = correctness(ports, pages, args.scale)
        if failures:
            print("CORRECTNESS CHECK FAILED:", *failures, sep="\n  ", file=sys.stderr)
            return 1
        log("correctness: Vernier serves the Worker's bytes on every page, with and without edits")
        raw.update(measure(args, ports, vernier_pids, pages))
        if args.profile:
            raw["profile"] = {
                name: profile(args, ports[name], pages, vernier_pids[name], tmp / name)
                for name in args.profile.split(",")
            }
    finally:
        children.stop_all()
    text = table(raw, pages, args.scale)
    print("\n" + text)
    if args.check:
        print("\n--check: correctness passed; numbers above are 1 s smoke runs, not results.")
    else:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(raw, indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_in_temp("edge_bench", lambda tmp: run(args, tmp), keep=args.keep_tmp)


if __name__ == "__main__":
    sys.exit(main())
