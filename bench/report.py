"""Turning measurements into the summary, the target verdicts, and the printed/Markdown tables.

Pure functions over the plain dicts that end up in ``bench/results/latest.json``.
"""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

TARGET_LABELS = {"direct": "direct origin", "nginx": "nginx sub_filter", "vernier": "Vernier"}
FLAT_GROWTH_KIB = 16 * 1024  # "flat": a serving process grows by at most 16 MiB over 1 GiB
RSS_LIMIT_KIB = 150 * 1024


def _version(argv: list[str], pattern: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "missing"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def machine(python: Path) -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": int(
            subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
            or 0
        ),
        "cpu": cpu,
        "kernel": platform.release(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "nginx": _version(["/usr/sbin/nginx", "-v"], r"nginx/(\S+)"),
        "wrk": _version(["/usr/bin/wrk", "-v"], r"wrk (\S+)"),
        "curl": _version(["/usr/bin/curl", "--version"], r"curl (\S+)"),
        "python": _version([str(python), "-V"], r"Python (\S+)"),
        "aiohttp": _version(
            [str(python), "-c", "import aiohttp; print(aiohttp.__version__)"], r"(\S+)"
        ),
        "uvloop": _version(
            [str(python), "-c", "import uvloop; print(uvloop.__version__)"], r"^(\d\S*)"
        ),
    }


def source_state(repo: Path) -> dict[str, Any]:
    """The commit and a digest of the proxy's sources, so a result names the code it measured."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *argv], capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout.strip()

    digest = hashlib.sha256()
    for path in sorted((repo / "proxy").rglob("*.py")):
        digest.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    changed = git("status", "--porcelain", "--", "proxy").splitlines()
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "proxy_sources_sha256": digest.hexdigest()[:16],
        "proxy_uncommitted_files": len(changed),
    }


def best_throughput(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Of repeated runs, the one with the most requests/s (the machine is shared and noisy)."""
    return max(runs, key=lambda r: r["requests_per_s"])


def best_latency(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda r: r["p50_ms"])


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Best-of-N per (page, target), ratios, added latency."""
    summary: dict[str, Any] = {}
    for label, by_target in raw["throughput"].items():
        best = {t: best_throughput(runs) for t, runs in by_target.items()}
        page: dict[str, Any] = {
            "throughput": {
                t: {
                    "requests_per_s": r["requests_per_s"],
                    "p50_ms": r["p50_ms"],
                    "p99_ms": r["p99_ms"],
                    "errors": r["non_2xx"] + r["socket_errors"],
                    "all_requests_per_s": [x["requests_per_s"] for x in by_target[t]],
                }
                for t, r in best.items()
            }
        }
        rps = {t: r["requests_per_s"] for t, r in best.items()}
        if "vernier" in rps and "nginx" in rps:
            page["vernier_over_nginx"] = round(rps["vernier"] / rps["nginx"], 3)
        if "vernier" in rps and "direct" in rps:
            page["vernier_over_direct"] = round(rps["vernier"] / rps["direct"], 3)
        if "nginx" in rps and "direct" in rps:
            page["nginx_over_direct"] = round(rps["nginx"] / rps["direct"], 3)
        summary[label] = page
    for label, by_target in raw.get("latency_1conn", {}).items():
        best = {t: best_latency(runs) for t, runs in by_target.items()}
        one = {
            t: {
                "p50_ms": r["p50_ms"],
                "p99_ms": r["p99_ms"],
                "requests_per_s": r["requests_per_s"],
                "all_p50_ms": [x["p50_ms"] for x in by_target[t]],
            }
            for t, r in best.items()
        }
        if "direct" in best:
            for t in best:
                if t != "direct":
                    one[t]["added_p50_ms"] = round(best[t]["p50_ms"] - best["direct"]["p50_ms"], 3)
        summary.setdefault(label, {})["latency_1conn"] = one
    return summary


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def targets(summary: dict[str, Any], raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets from the brief, each with the measured value and met / NOT met / n/a."""
    big, small = summary.get("100KB", {}), summary.get("1KB", {})
    rows: list[dict[str, Any]] = []

    def add(name: str, goal: str, value: Any, ok: bool | None) -> None:
        rows.append({"target": name, "goal": goal, "measured": value, "verdict": _verdict(ok)})

    ratio = big.get("vernier_over_nginx")
    add(
        "100 KB page req/s vs nginx sub_filter",
        ">= 1.0x",
        f"{ratio:.2f}x" if ratio is not None else "-",
        None if ratio is None else ratio >= 1.0,
    )
    added = big.get("latency_1conn", {}).get("vernier", {}).get("added_p50_ms")
    add(
        "100 KB page added p50 (1 connection)",
        "<= 0.25 ms",
        f"{added:.3f} ms" if added is not None else "-",
        None if added is None else added <= 0.25,
    )
    ratio = small.get("vernier_over_nginx")
    add(
        "1 KB page req/s vs nginx sub_filter",
        ">= 0.3x",
        f"{ratio:.2f}x" if ratio is not None else "-",
        None if ratio is None else ratio >= 0.3,
    )
    micro = raw.get("inject_micro", {}).get("100KB", {})
    p50 = micro.get("p50_us")
    add(
        "inject_tag on the 100 KB page (p50)",
        "<= 50 us",
        f"{p50:.1f} us (p99 {micro.get('p99_us', 0):.1f})"
        if p50 is not None
        else micro.get("error", "-"),
        None if p50 is None else p50 <= 50.0,
    )
    memory = raw.get("memory", {})
    serving = [p for p in memory.get("after_runs", []) if p["role"] in ("worker", "main+worker")]
    if serving:
        worst = max(p["rss_kib"] or 0 for p in serving)
        add(
            "RSS per worker after the runs",
            "<= 150 MiB",
            f"{worst / 1024:.1f} MiB",
            worst <= RSS_LIMIT_KIB,
        )
    else:
        add("RSS per worker after the runs", "<= 150 MiB", "-", None)
    stream = raw.get("streaming", {}).get("vernier")
    if stream and stream.get("rss"):
        growth = max(s["max_kib"] - s["start_kib"] for s in stream["rss"].values())
        add(
            "RSS flat while streaming 1 GiB",
            f"growth <= {FLAT_GROWTH_KIB // 1024} MiB",
            f"+{growth / 1024:.1f} MiB",
            growth <= FLAT_GROWTH_KIB,
        )
    else:
        add("RSS flat while streaming 1 GiB", f"growth <= {FLAT_GROWTH_KIB // 1024} MiB", "-", None)
    return rows


# --- output -----------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [
            line(header),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in rows),
        ]
    )


def markdown(raw: dict[str, Any], summary: dict[str, Any], verdicts: list[dict[str, Any]]) -> str:
    """The results as Markdown tables, ready to paste into docs/benchmarks.md."""
    cfg = raw["config"]
    origin = raw.get("origin", "nginx")
    skipped = "".join(f" Skipped: {t} ({why})." for t, why in raw.get("skipped", {}).items())
    out = [
        (
            f"Run {raw['date']} on {raw['machine']['nproc']} × {raw['machine']['cpu']}; "
            f"origin: {origin};{skipped} "
            f"{cfg['workers']} worker(s) each for "
            f"{'nginx and ' if origin == 'nginx' else ''}Vernier; "
            f"wrk -t{cfg['threads']} -c{cfg['connections']} -d{cfg['duration_s']:g}s, "
            f"best of {cfg['repeats']} runs. Code: commit {raw['source']['commit']}, "
            f"proxy/ sources {raw['source']['proxy_sources_sha256']} "
            f"({raw['source']['proxy_uncommitted_files']} uncommitted files)."
        ),
        "",
    ]
    pages = {p["label"]: p for p in raw["pages"]}
    rows = []
    for label, page in summary.items():
        for target, r in page.get("throughput", {}).items():
            over_nginx = page.get("vernier_over_nginx")
            ratio = {
                "vernier": (f"{over_nginx:.2f}× nginx, " if over_nginx is not None else "")
                + f"{page.get('vernier_over_direct', 0):.2f}× direct",
                "nginx": f"{page.get('nginx_over_direct', 0):.2f}× direct",
            }.get(target, "")
            rows.append(
                [
                    f"{label} ({pages[label]['bytes']:,} B)",
                    TARGET_LABELS[target],
                    f"{r['requests_per_s']:,.0f}",
                    f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    ratio,
                ]
            )
    out += [
        "Throughput:",
        "",
        _table(["page", "path", "req/s", "p50 ms", "p99 ms", "ratio"], rows),
        "",
    ]
    rows = []
    for label, page in summary.items():
        for target, r in page.get("latency_1conn", {}).items():
            added = r.get("added_p50_ms")
            rows.append(
                [
                    label,
                    TARGET_LABELS[target],
                    f"{r['p50_ms']:.3f}",
                    f"{r['p99_ms']:.3f}",
                    "—" if added is None else f"{added:+.3f}",
                ]
            )
    if rows:
        out += [
            (
                f"Latency at one connection (wrk -t1 -c1 -d{cfg['latency_duration_s']:g}s, "
                f"lowest p50 of {cfg['repeats']}):"
            ),
            "",
            _table(["page", "path", "p50 ms", "p99 ms", "added p50 ms"], rows),
            "",
        ]
    micro = raw.get("inject_micro", {})
    if micro:
        rows = [
            [label, str(m.get("iterations", "-")), f"{m['p50_us']:.1f}", f"{m['p99_us']:.1f}"]
            if "p50_us" in m
            else [label, "-", m.get("error", "error"), ""]
            for label, m in micro.items()
        ]
        out += [
            "`inject_tag` micro-benchmark (µs per call):",
            "",
            _table(["page", "iterations", "p50 µs", "p99 µs"], rows),
            "",
        ]
    memory = raw.get("memory", {})
    if memory.get("after_runs"):
        rows = [
            [
                str(p["pid"]),
                p["role"],
                "-" if p["rss_kib"] is None else f"{p['rss_kib'] / 1024:.1f}",
                f"{memory.get('peak_during_load_kib', {}).get(str(p['pid']), 0) / 1024:.1f}",
            ]
            for p in memory["after_runs"]
        ]
        out += [
            "Vernier memory (VmRSS):",
            "",
            _table(["pid", "role", "after runs MiB", "peak under load MiB"], rows),
            "",
        ]
    stream = raw.get("streaming", {})
    if stream:
        rows = []
        for target, d in stream.items():
            rss = ""
            if d.get("rss"):
                rss = "; ".join(
                    f"{v['start_kib'] / 1024:.1f} → max {v['max_kib'] / 1024:.1f}"
                    for v in d["rss"].values()
                )
            rows.append(
                [TARGET_LABELS[target], f"{d['mib_per_s']:,.0f}", f"{d['seconds']:.2f}", rss]
            )
        size = raw["config"]["stream_bytes"]
        size_text = f"{size / 2**30:g} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
        out += [
            (
                f"Streaming a {size_text} file "
                "(curl -o /dev/null, best of the runs; RSS sampled every 200 ms):"
            ),
            "",
            _table(["path", "MiB/s", "seconds", "worker RSS MiB start → max"], rows),
            "",
        ]
    profiles = raw.get("profile", {})
    if profiles and "error" not in profiles:
        rows = []
        for label, prof in profiles.items():
            areas = ", ".join(f"{name} {share:.0f}%" for name, share in prof.get("areas", [])[:4])
            rows.append([label, str(prof.get("samples", 0)), areas])
            rows += [["", f"{share:.1f}%", name] for name, share in prof.get("self", [])[:5]]
        out += [
            (
                "Profile of Vernier under the same load (py-spy, self time; C code such as a "
                "regex search counts as its Python line):"
            ),
            "",
            _table(["page", "share", "area / line"], rows),
            "",
        ]
    if verdicts:
        out += [
            "Targets:",
            "",
            _table(
                ["target", "goal", "measured", "verdict"],
                [[v["target"], v["goal"], str(v["measured"]), v["verdict"]] for v in verdicts],
            ),
            "",
        ]
    return "\n".join(out)
