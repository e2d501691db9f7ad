"""Vernier against nginx sub_filter and the bare origin, on loopback, in one run.

    .venv/bin/python bench/proxy_bench.py [--workers N] [--duration S] [--check] ...
    (``make bench``; ``--help`` lists every option; docs/benchmarks.md explains the numbers)

One nginx serves a temp docroot (the ORIGIN); a second nginx proxies it and inserts the tracker
tag with ``sub_filter`` (the BASELINE); Vernier proxies the same origin. Without nginx
(``/usr/sbin/nginx``) the baseline is skipped, said so on stderr and in the results, and the
origin is ``static_origin.py`` (aiohttp, slower than nginx: "direct" then measures it). For a ~100 KB and a ~1 KB
page it first checks that both proxies serve the page plus exactly one tag, then runs wrk against
each path, measures the latency Vernier and nginx add at one connection, Vernier's RSS, a 1 GiB
streamed download, and ``inject_tag`` in-process. Results go to bench/results/latest.json and are
printed as Markdown. Every child process is stopped on exit, Ctrl-C or error; the exit status is
1 when a correctness check fails (targets missed are reported, not failed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

from checks import Page, check_injected, fetch, head, pick_page, time_inject, tracker_tag
from hotspots import find_py_spy, profile_under_load
from load import RssSampler, download, run_wrk, serving_pids, vernier_memory
from report import machine, markdown, source_state, summarise, targets
from servers import (
    BENCH_DIR,
    NGINX_BIN,
    REPO_ROOT,
    Children,
    free_port,
    log,
    nginx_installed,
    run_in_temp,
    start_nginx,
    start_static_origin,
    start_vernier,
    wait_http_ok,
)

DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "pages"
NGINX_TAG = b'<script src="/__vernier/t.js" defer></script>'
BIG_FILE = "big.bin"
TARGETS = ("direct", "nginx", "vernier")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = p.add_argument
    corpus = Path(os.environ.get("VERNIER_CORPUS", DEFAULT_CORPUS))
    add("--corpus", type=Path, default=corpus, help="folder of .html pages (env VERNIER_CORPUS)")
    add("--workers", type=int, default=1, help="nginx worker_processes and Vernier --workers")
    add("--threads", type=int, default=2, help="wrk threads for the throughput runs")
    add("--connections", type=int, default=32, help="wrk connections for the throughput runs")
    add("--duration", type=float, default=10.0, help="seconds per throughput run")
    add(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of discarded load before each path's first run on a page",
    )
    add(
        "--latency-duration", type=float, default=5.0, help="seconds per one-connection latency run"
    )
    add("--repeats", type=int, default=2, help="runs per measurement; the best is reported")
    add("--targets", default=",".join(TARGETS), help="paths to measure, comma-separated")
    add("--stream-bytes", type=int, default=2**30, help="size of the streamed file (0: skip)")
    add("--stream-timeout", type=float, default=180.0, help="max seconds per streamed download")
    add("--micro-iterations", type=int, default=3000, help="inject_tag calls per round")
    add("--profile", action="store_true", help="also profile Vernier with py-spy under load")
    add("--profile-duration", type=float, default=10.0, help="seconds of py-spy sampling")
    add(
        "--check",
        action="store_true",
        help="start everything, check correctness, 1 s of load per path; write no results",
    )
    add(
        "--python",
        type=Path,
        default=REPO_ROOT / ".venv" / "bin" / "python",
        help="the interpreter that runs Vernier",
    )
    add("--config", type=Path, default=BENCH_DIR / "vernier.bench.yaml", help="Vernier config file")
    add(
        "--json",
        type=Path,
        default=BENCH_DIR / "results" / "latest.json",
        help="where to write the results",
    )
    add("--keep-tmp", action="store_true", help="keep the temp folder (configs, logs)")
    return p


class Bench:
    """One benchmark run: the temp folder, the started children, and what was measured."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.docroot = tmp / "docroot"
        self.children = Children()
        self.targets = [t for t in args.targets.split(",") if t]
        unknown = set(self.targets) - set(TARGETS)
        if unknown or "direct" not in self.targets:
            raise SystemExit(f"--targets: choose from {', '.join(TARGETS)} (direct is required)")
        self.nginx = nginx_installed()
        skipped: dict[str, str] = {}
        if not self.nginx and "nginx" in self.targets:
            self.targets.remove("nginx")
            skipped["nginx"] = f"{NGINX_BIN} is not installed"
            log(
                f"{NGINX_BIN} not found: the nginx sub_filter baseline is skipped and the origin "
                "is bench/static_origin.py (aiohttp), so 'direct' measures that slower server"
            )
        self.ports: dict[str, int] = {}
        self.vernier_pid: int | None = None
        self.raw: dict[str, Any] = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "config": {
                "workers": args.workers,
                "threads": args.threads,
                "connections": args.connections,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "latency_duration_s": args.latency_duration,
                "repeats": args.repeats,
                "stream_bytes": args.stream_bytes,
                "targets": self.targets,
                "corpus": str(args.corpus),
            },
            "origin": "nginx" if self.nginx else "static_origin.py (aiohttp; nginx not installed)",
            "skipped": skipped,
            "machine": machine(args.python),
            "source": source_state(REPO_ROOT),
        }

    # --- setup ------------------------------------------------------------------------------

    def pages(self) -> list[Page]:
        if not self.args.corpus.is_dir():
            raise SystemExit(f"--corpus {self.args.corpus}: no such folder")
        chosen = [
            pick_page(self.args.corpus, "100KB", 100 * 1024, tolerance=None),
            # "near 1 KB": within 25 %; otherwise a generated minimal page of exactly 1 KiB.
            pick_page(self.args.corpus, "1KB", 1024, tolerance=0.25),
        ]
        self.docroot.mkdir()
        for page in chosen:
            (self.docroot / page.name).write_bytes(page.body)
        if self.args.stream_bytes > 0:
            with open(self.docroot / BIG_FILE, "wb") as big:
                big.truncate(self.args.stream_bytes)  # sparse: costs no disk
        self.raw["pages"] = [p.describe() for p in chosen]
        return chosen

    def start(self, probe: str) -> None:
        workers = self.args.workers
        self.ports = {t: free_port() for t in self.targets}
        log(f"starting origin {self.raw['origin']} on 127.0.0.1:{self.ports['direct']}")
        if self.nginx:
            origin = start_nginx(
                self.children,
                "origin",
                "origin.conf.tmpl",
                self.tmp,
                port=self.ports["direct"],
                workers=workers,
                docroot=self.docroot,
            )
        else:
            origin = start_static_origin(
                self.children,
                self.tmp,
                port=self.ports["direct"],
                docroot=self.docroot,
                python=self.args.python,
            )
        wait_http_ok(origin, self.ports["direct"], probe)
        if "nginx" in self.targets:
            log(f"starting nginx sub_filter on 127.0.0.1:{self.ports['nginx']}")
            sub = start_nginx(
                self.children,
                "subfilter",
                "subfilter.conf.tmpl",
                self.tmp,
                port=self.ports["nginx"],
                workers=workers,
                origin_port=self.ports["direct"],
            )
            wait_http_ok(sub, self.ports["nginx"], probe)
        if "vernier" in self.targets:
            log(f"starting Vernier ({workers} worker(s)) on 127.0.0.1:{self.ports['vernier']}")
            vernier = start_vernier(
                self.children,
                self.tmp,
                port=self.ports["vernier"],
                workers=workers,
                upstream_port=self.ports["direct"],
                python=self.args.python,
                config=self.args.config,
            )
            wait_http_ok(vernier, self.ports["vernier"], probe, timeout_s=60)
            self.vernier_pid = vernier.pid

    def url(self, target: str, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[target]}/{name}"

    # --- measurements -------------------------------------------------------------------------

    def micro(self, pages: list[Page]) -> None:
        results: dict[str, Any] = {}
        for page in pages:
            try:
                iterations = self.args.micro_iterations if not self.args.check else 200
                results[page.label] = time_inject(
                    page.body, repo_root=REPO_ROOT, iterations=iterations
                )
            except Exception as err:
                results[page.label] = {"error": f"{type(err).__name__}: {err}"}
            log(f"inject_tag {page.label}: {results[page.label]}")
        self.raw["inject_micro"] = results

    def correctness(self, pages: list[Page]) -> list[str]:
        failures = []
        checks: dict[str, Any] = {}
        for page in pages:
            for target in self.targets:
                status, headers, body = fetch(self.ports[target], "/" + page.name)
                if target == "direct":
                    problems = (
                        []
                        if (status, body) == (200, page.body)
                        else [f"origin served status {status}, {len(body)} B (not the page)"]
                    )
                else:
                    problems = check_injected(
                        page.body, status, body, NGINX_TAG if target == "nginx" else None
                    )
                checks[f"{page.label}/{target}"] = {
                    "ok": not problems,
                    "problems": problems,
                    "bytes": len(body),
                    "content_type": headers.get("content-type"),
                    "tag": tracker_tag(body),
                }
                failures += [f"{page.label} via {target}: {p}" for p in problems]
        if self.args.stream_bytes > 0:
            for target in self.targets:
                status, headers, _ = head(self.ports[target], "/" + BIG_FILE)
                if status != 200:
                    failures.append(f"{BIG_FILE} via {target}: status {status}")
        self.raw["correctness"] = checks
        return failures

    def throughput(self, pages: list[Page]) -> None:
        a = self.args
        duration = 1.0 if a.check else a.duration
        repeats = 1 if a.check else a.repeats
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        peak: dict[str, int] = {}
        for page in pages:
            out[page.label] = {t: [] for t in self.targets}
            for target in self.targets:
                if a.warmup > 0 and not a.check:
                    run_wrk(
                        self.url(target, page.name),
                        threads=a.threads,
                        connections=a.connections,
                        duration_s=a.warmup,
                    )
            # Interleave the paths so that a noisy moment on the shared machine hits all of them.
            for attempt in range(repeats):
                for target in self.targets:
                    sampler = RssSampler(self._serving() if target == "vernier" else [], 0.5)
                    with sampler:
                        result = run_wrk(
                            self.url(target, page.name),
                            threads=a.threads,
                            connections=a.connections,
                            duration_s=duration,
                        )
                    for pid, s in sampler.summary().items():
                        peak[pid] = max(peak.get(pid, 0), s["max_kib"])
                    out[page.label][target].append(result.as_dict())
                    log(
                        f"{page.label} {target:8} run {attempt + 1}: "
                        f"{result.requests_per_s:9.0f} req/s  p50 {result.p50_ms:.2f} ms  "
                        f"p99 {result.p99_ms:.2f} ms  errors {result.errors}"
                    )
        self.raw["throughput"] = out
        self.raw.setdefault("memory", {})["peak_during_load_kib"] = peak

    def latency(self, pages: list[Page]) -> None:
        a = self.args
        duration = 1.0 if a.check else a.latency_duration
        repeats = 1 if a.check else a.repeats
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for page in pages:
            out[page.label] = {t: [] for t in self.targets}
            for attempt in range(repeats):
                for target in self.targets:
                    result = run_wrk(
                        self.url(target, page.name), threads=1, connections=1, duration_s=duration
                    )
                    out[page.label][target].append(result.as_dict())
                    log(
                        f"{page.label} {target:8} 1 conn run {attempt + 1}: "
                        f"p50 {result.p50_ms:.3f} ms  p99 {result.p99_ms:.3f} ms"
                    )
        self.raw["latency_1conn"] = out

    def memory(self) -> None:
        if self.vernier_pid is None:
            return
        tree = vernier_memory(self.vernier_pid, self.args.workers)
        self.raw.setdefault("memory", {})["after_runs"] = [vars(p) for p in tree]
        log(
            "Vernier RSS: "
            + ", ".join(f"{p.role} {p.pid} {(p.rss_kib or 0) / 1024:.1f} MiB" for p in tree)
        )

    def streaming(self) -> None:
        a = self.args
        if a.stream_bytes <= 0:
            return
        results: dict[str, Any] = {}
        for target in self.targets:
            best = None
            for _ in range(1 if a.check else a.repeats):
                pids = self._serving() if target == "vernier" else []
                got = download(
                    self.url(target, BIG_FILE), max_time_s=a.stream_timeout, sample_pids=pids
                )
                if got.bytes != a.stream_bytes:
                    raise RuntimeError(f"{target}: streamed {got.bytes} B of {a.stream_bytes}")
                log(
                    f"stream {target:8}: {got.mib_per_s:7.0f} MiB/s in {got.seconds:.2f} s "
                    f"rss {got.rss}"
                )
                if best is None:
                    best = vars(got)
                else:
                    # Best throughput, but keep the worst memory growth seen in any run.
                    rss = _merge_rss(best["rss"], got.rss)
                    if got.mib_per_s > best["mib_per_s"]:
                        best = vars(got)
                    best["rss"] = rss
            results[target] = best
        self.raw["streaming"] = results

    def profile(self, pages: list[Page]) -> None:
        py_spy = find_py_spy(self.args.python.parent)
        if py_spy is None:
            self.raw["profile"] = {"error": "py-spy not installed (.venv/bin/pip install py-spy)"}
            return
        a = self.args
        profiles: dict[str, Any] = {}
        for page in pages:
            log(f"profiling Vernier with py-spy for {a.profile_duration:g} s ({page.label})")
            out_dir = self.tmp / f"profile-{page.label}"
            out_dir.mkdir(exist_ok=True)
            profiles[page.label] = profile_under_load(
                py_spy,
                self._serving(),
                a.profile_duration,
                out_dir,
                lambda page=page: run_wrk(
                    self.url("vernier", page.name),
                    threads=a.threads,
                    connections=a.connections,
                    duration_s=a.profile_duration,
                ),
            )
        self.raw["profile"] = profiles

    def _serving(self) -> list[int]:
        if self.vernier_pid is None:
            return []
        return serving_pids(vernier_memory(self.vernier_pid, self.args.workers))


def _merge_rss(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = dict(a)
    for pid, s in b.items():
        if pid not in merged or s["max_kib"] - s["start_kib"] > (
            merged[pid]["max_kib"] - merged[pid]["start_kib"]
        ):
            merged[pid] = s
    return merged


def _print_profile(profiles: dict[str, Any]) -> None:
    if not profiles or "error" in profiles:
        print(f"\nprofile: {profiles.get('error') if profiles else 'not run (--profile)'}")
        return
    for label, profile in profiles.items():
        print(
            f"\nWhere Vernier's time goes, {label} page under load "
            f"({profile.get('samples', 0)} py-spy samples; % of samples):"
        )
        for title in ("areas", "self", "inclusive"):
            print(f"  {title}:")
            for name, share in profile.get(title, [])[:12]:
                print(f"    {share:5.1f}%  {name}")
        if profile.get("errors"):
            print("  py-spy errors:", *profile["errors"], sep="\n    ")


def run(args: argparse.Namespace, tmp: Path) -> int:
    bench = Bench(args, tmp)
    try:
        pages = bench.pages()
        for p in bench.raw["pages"]:
            log(f"page {p['label']}: {p['source']} ({p['bytes']} B)")
        bench.micro(pages)  # before any server runs: the quietest the machine will be
        bench.start("/" + pages[0].name)
        failures = bench.correctness(pages)
        if failures:
            print("CORRECTNESS CHECK FAILED:", *failures, sep="\n  ", file=sys.stderr)
            bench.raw["failures"] = failures
            if not args.check:
                _write_json(args.json, bench.raw)
            return 1
        log("correctness: every path serves the page plus exactly one tracker tag")
        bench.throughput(pages)
        bench.latency(pages)
        bench.memory()
        bench.streaming()
        if args.profile and "vernier" in bench.targets:
            bench.profile(pages)
    finally:
        bench.children.stop_all()
    summary = summarise(bench.raw)
    verdicts = targets(summary, bench.raw)
    bench.raw["summary"] = summary
    bench.raw["targets"] = verdicts
    text = markdown(bench.raw, summary, verdicts)
    print("\n" + text)
    _print_profile(bench.raw.get("profile", {}))
    if args.check:
        print(
            "\n--check: correctness passed and every path answered under load; "
            "numbers above are 1 s smoke runs, not results."
        )
    else:
        _write_json(args.json, bench.raw)
        log(f"wrote {args.json}")
    return 0


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for tool, why in (("/usr/bin/wrk", "generates the load"), ("/usr/bin/curl", "downloads")):
        if not os.access(tool, os.X_OK):  # nginx is optional: see Bench
            raise SystemExit(
                f"proxy_bench: {tool} is required ({why}); on Debian: apt-get install {Path(tool).name}"
            )
    return run_in_temp("bench", lambda tmp: run(args, tmp), keep=args.keep_tmp)


if __name__ == "__main__":
    sys.exit(main())
