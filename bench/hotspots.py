"""A short py-spy profile of Vernier under load, summarised as "where the time goes".

py-spy (``pip install py-spy``) samples the serving process(es) from outside while wrk runs; the
raw collapsed stacks are summarised here as self time per area (a ``proxy/`` module, aiohttp,
logging, the event loop, ...), self time per source line, and inclusive time per function of
Vernier's own (``proxy/``) code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def find_py_spy(venv_bin: Path) -> str | None:
    candidate = venv_bin / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def _short(path: str) -> str:
    """``proxy/html/inject.py``, ``aiohttp/web_protocol.py``, or the bare file name."""
    if "/proxy/" in path:
        return "proxy/" + path.rsplit("/proxy/", 1)[1]
    if "/site-packages/" in path:
        return path.rsplit("/site-packages/", 1)[1]
    if "/lib/python3" in path:
        tail = path.rsplit("/lib/python3", 1)[1]
        return tail.split("/", 1)[1] if "/" in tail else tail
    return path.rsplit("/", 1)[-1] or "?"


_BOOTSTRAP = (
    "/proxy/cli.py",
    "/proxy/entry.py",
    "/proxy/__main__.py",
    "/proxy/server/workers.py",
)


def _is_own(path: str) -> bool:
    return "/proxy/" in path and not path.endswith(_BOOTSTRAP)


def _area(path: str) -> str:
    if "/proxy/" in path:
        return "proxy/" + path.rsplit("/proxy/", 1)[1].removesuffix(".py")
    for name in (
        "aiohttp",
        "multidict",
        "yarl",
        "redis",
        "valkey",
        "orjson",
        "msgspec",
        "selectolax",
        "uvloop",
    ):
        if f"/{name}/" in path:
            return name
    for name in ("logging", "asyncio", "http", "json", "ssl"):
        if f"/{name}/" in path or path.endswith(f"/{name}.py"):
            return f"stdlib {name}"
    return "other"


def summarise(raw_stacks: str, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares (percent of samples) from py-spy's ``--format raw`` output."""
    total = 0
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in raw_stacks.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        leaf = ""
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            func, path, line_no = (
                (match["func"], match["file"], match["line"]) if match else (frame, "", None)
            )
            frames.append((f"{func} ({_short(path)})", path))
            leaf = f"{func} ({_short(path)}:{line_no})" if line_no else frames[-1][0]
        if frames:
            # Self time by line: time in C code (a regex, bytes.find) shows as its Python caller.
            self_time[leaf] += count
        # Inclusive time only for Vernier's own functions: coroutines resumed by uvloop's C loop
        # have no Python caller, so frames above them (runpy, cli, the loop) are not comparable.
        for name in {name for name, path in frames if _is_own(path)}:
            inclusive[name] += count
        if frames:
            areas[_area(frames[-1][1])] += count
    if total == 0:
        return {"samples": 0}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100.0 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "self": share(self_time),
        "inclusive": share(inclusive),
        "areas": share(areas),
    }


def profile_under_load(
    py_spy: str, pids: list[int], duration_s: float, out_dir: Path, load: Any
) -> dict[str, Any]:
    """Run ``load()`` (a wrk run) while py-spy records each pid; return the merged summary."""
    outputs = []
    threads = []
    errors: list[str] = []

    def record(pid: int, out: Path) -> None:
        argv = [
            py_spy,
            "record",
            "-p",
            str(pid),
            "-d",
            f"{int(duration_s)}",
            "-r",
            "200",
            "--format",
            "raw",
            "--full-filenames",
            "-o",
            str(out),
            "--nonblocking",
        ]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
            check=False,
            start_new_session=True,
        )
        if done.returncode != 0:
            errors.append(f"py-spy -p {pid}: {done.stderr.strip()[-300:]}")

    for pid in pids:
        out = out_dir / f"py-spy-{pid}.txt"
        outputs.append(out)
        thread = threading.Thread(target=record, args=(pid, out), daemon=True)
        thread.start()
        threads.append(thread)
    load_result = load()
    for thread in threads:
        thread.join(timeout=duration_s + 90)
    text = "\n".join(p.read_text() for p in outputs if p.exists())
    summary = summarise(text)
    summary["errors"] = errors
    summary["load"] = load_result.as_dict() if hasattr(load_result, "as_dict") else None
    return summary
