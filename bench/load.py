"""Load and memory measurements: wrk runs (parsed), process RSS from /proc, a streamed download.

The parsers are pure functions over wrk's text output so they can be checked without a server.
Every external command runs with a hard timeout a little above its own duration.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

WRK_BIN = "/usr/bin/wrk"
CURL_BIN = "/usr/bin/curl"

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"^\s*([0-9.]+)(us|ms|s|m|h)\s*$")


def duration_ms(text: str) -> float:
    """wrk's ``812.00us`` / ``1.23ms`` / ``2.00s`` → milliseconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


@dataclass
class WrkResult:
    """One wrk run. Latencies in ms; ``errors`` counts socket errors and non-2xx/3xx replies."""

    url: str
    threads: int
    connections: int
    duration_s: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_wrk(
    output: str, *, url: str, threads: int, connections: int, duration_s: float
) -> WrkResult:
    """Requests/s, the latency distribution and error counts from ``wrk --latency`` output."""
    percentiles: dict[str, float] = {}
    for match in re.finditer(r"^\s*(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE):
        percentiles[match.group(1)] = duration_ms(match.group(2))
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rps is None or total is None or len(percentiles) != 4:
        raise ValueError(f"could not parse wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        url=url,
        threads=threads,
        connections=connections,
        duration_s=duration_s,
        requests=int(total.group(1)),
        requests_per_s=float(rps.group(1)),
        p50_ms=percentiles["50"],
        p75_ms=percentiles["75"],
        p90_ms=percentiles["90"],
        p99_ms=percentiles["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
    )


def run_wrk(
    url: str, *, threads: int, connections: int, duration_s: float, cpus: str | None = None
) -> WrkResult:
    """One bounded wrk run (killed 30 s after its own duration if it hangs), on ``cpus``
    (``taskset -c``) when given."""
    argv = [
        *(["taskset", "-c", cpus] if cpus else []),
        WRK_BIN,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        "--latency",
        "--timeout",
        "5s",
        url,
    ]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=duration_s + 30,
        check=False,
        start_new_session=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(
        done.stdout, url=url, threads=threads, connections=connections, duration_s=duration_s
    )


# --- processes and memory -------------------------------------------------------------------


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, parents before children."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _ppid(int(entry))
            if parent is not None:
                parents.setdefault(parent, []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(sorted(parents.get(pid, [])))
    return found


_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(root: int) -> float:
    """User + system CPU time so far of ``root`` and every process below it (all threads), from
    /proc: unlike a sampling profile, time spent waiting for a busy CPU is not in it."""
    total = 0
    for pid in descendants(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICKS_PER_S


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def describe(pid: int) -> str:
    """A short role for a process in Vernier's tree: valkey, resource tracker, or python."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    if "valkey" in comm or "valkey-server" in cmdline:
        return "valkey"
    if "resource_tracker" in cmdline:
        return "resource_tracker"
    if "multiprocessing" in cmdline or "spawn_main" in cmdline:
        return "worker"
    return "main"


@dataclass
class ProcessMemory:
    pid: int
    role: str
    rss_kib: int | None


def vernier_memory(root: int, workers: int) -> list[ProcessMemory]:
    """The RSS of every process in Vernier's tree; with one worker the main process serves."""
    found = []
    for pid in descendants(root):
        role = describe(pid)
        if role == "main" and workers == 1:
            role = "main+worker"
        found.append(ProcessMemory(pid, role, rss_kib(pid)))
    return found


def serving_pids(tree: list[ProcessMemory]) -> list[int]:
    return [p.pid for p in tree if p.role in ("worker", "main+worker")]


class RssSampler:
    """Samples VmRSS of some pids every ``interval_s`` in a thread; start/stop around a load."""

    def __init__(self, pids: list[int], interval_s: float = 0.2) -> None:
        self._pids = pids
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.samples: dict[int, list[tuple[float, int]]] = {pid: [] for pid in pids}
        self._t0 = time.monotonic()

    def _sample(self) -> None:
        now = time.monotonic() - self._t0
        for pid in self._pids:
            value = rss_kib(pid)
            if value is not None:
                self.samples[pid].append((round(now, 3), value))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval_s)

    def __enter__(self) -> Self:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    def summary(self) -> dict[str, Any]:
        per_pid = {}
        for pid, series in self.samples.items():
            values = [v for _, v in series]
            if values:
                per_pid[str(pid)] = {
                    "start_kib": values[0],
                    "max_kib": max(values),
                    "end_kib": values[-1],
                    "samples": len(values),
                }
        return per_pid


# --- streaming a large file -------------------------------------------------------------------


@dataclass
class Download:
    url: str
    bytes: int
    seconds: float
    mib_per_s: float
    rss: dict[str, Any] = field(default_factory=dict)


def download(
    url: str, *, max_time_s: float, sample_pids: list[int] | None = None, interval_s: float = 0.2
) -> Download:
    """Stream ``url`` to /dev/null with curl (bounded); sample the given pids' RSS meanwhile."""
    argv = [
        CURL_BIN,
        "-sS",
        "-o",
        "/dev/null",
        "--max-time",
        f"{max_time_s:g}",
        "-w",
        "%{http_code} %{size_download} %{time_total}",
        url,
    ]
    sampler = RssSampler(sample_pids or [], interval_s)
    with sampler:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=max_time_s + 15,
            check=False,
            start_new_session=True,
        )
    if done.returncode != 0:
        raise RuntimeError(f"curl {url} failed ({done.returncode}): {done.stderr.strip()}")
    status, size, seconds = done.stdout.split()
    if status != "200":
        raise RuntimeError(f"curl {url}: status {status}")
    size_bytes, total_s = int(size), float(seconds)
    return Download(url, size_bytes, total_s, size_bytes / total_s / 2**20, sampler.summary())
