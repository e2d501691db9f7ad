"""The processes a benchmark run starts: nginx (origin and sub_filter proxy) and Vernier, or,
where nginx is not installed, a Python static origin (``static_origin.py``) and no sub_filter;
and workerd (an origin and the reference HTMLRewriter Workers, bench/worker/).

Every child runs in its own session (process group), so a Ctrl-C in the terminal reaches only the
benchmark, which then stops the children in its ``finally``: SIGTERM to the leader, a bounded
wait, then SIGKILL to the whole group. Nothing here listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
NGINX_BIN = "/usr/sbin/nginx"
WORKER_DIR = BENCH_DIR / "worker"
WORKERD_BIN = WORKER_DIR / "node_modules" / ".bin" / "workerd"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """One started process group, its log file, and how long it may take to stop."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    stop_timeout_s: float = 10.0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, max_bytes: int = 2000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM the leader (graceful), wait, then SIGKILL whatever is left of its group."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=self.stop_timeout_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


class Children:
    """The registry of everything started; :meth:`stop_all` is safe to call twice."""

    def __init__(self) -> None:
        self._children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stop_timeout_s: float = 10.0,
    ) -> Child:
        log = open(log_path, "ab")  # noqa: SIM115 - the child owns the descriptor after fork
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        finally:
            log.close()
        child = Child(name, popen, log_path, stop_timeout_s)
        self._children.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        if child in self._children:
            self._children.remove(child)

    def stop_all(self) -> None:
        while self._children:
            self._children.pop().stop()


def wait_http_ok(child: Child, port: int, path: str, timeout_s: float = 30.0) -> None:
    """Poll ``GET path`` until it answers 200; raise with the child's log if it never does."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited early:\n{child.log_tail()}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
            last_error = f"status {response.status}"
        except OSError as err:
            last_error = str(err)
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError(
        f"{child.name} not ready after {timeout_s:.0f} s ({last_error}):\n{child.log_tail()}"
    )


def _render(template: str, values: dict[str, str | int]) -> str:
    text = (BENCH_DIR / "nginx" / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    if "@" in "".join(line.split("#")[0] for line in text.splitlines()):
        raise ValueError(f"{template}: a placeholder was left unfilled")
    return text


def start_nginx(
    children: Children,
    name: str,
    template: str,
    prefix: Path,
    *,
    port: int,
    workers: int,
    docroot: Path | None = None,
    origin_port: int | None = None,
) -> Child:
    """Write the config for ``template`` into ``prefix``, test it, start nginx in the foreground."""
    values: dict[str, str | int] = {
        # As root, workers would drop to "nobody" and lose access to the 0700 temp docroot.
        "USER_LINE": "user root;" if os.geteuid() == 0 else "",
        "WORKERS": workers,
        "PREFIX": str(prefix),
        "PORT": port,
    }
    if docroot is not None:
        values["DOCROOT"] = str(docroot)
    if origin_port is not None:
        values["ORIGIN_PORT"] = origin_port
    conf = prefix / f"{name}.conf"
    conf.write_text(_render(template, values))
    argv = [NGINX_BIN, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    test = subprocess.run([*argv, "-t", "-q"], capture_output=True, timeout=30, check=False)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {conf}:\n{test.stderr.decode(errors='replace')}")
    return children.start(name, argv, prefix / f"{name}.out")


def nginx_installed() -> bool:
    return os.access(NGINX_BIN, os.X_OK)


def start_static_origin(
    children: Children, prefix: Path, *, port: int, docroot: Path, python: Path
) -> Child:
    """The docroot served by ``static_origin.py`` (aiohttp), for machines without nginx."""
    argv = [str(python), str(BENCH_DIR / "static_origin.py"), "--port", str(port)]
    return children.start(
        "origin", [*argv, "--docroot", str(docroot)], prefix / "origin.out", cwd=REPO_ROOT
    )


def install_workerd() -> Path:
    """workerd as pinned by bench/worker/package-lock.json (``npm ci`` once: from the npm
    registry only, the binary ships inside the registry package)."""
    if not WORKERD_BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install workerd (bench/worker/package.json)")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=WORKER_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or not WORKERD_BIN.exists():
            raise RuntimeError(f"npm ci in {WORKER_DIR} failed:\n{done.stderr[-2000:]}")
    return WORKERD_BIN


def start_workerd(
    children: Children,
    name: str,
    template: str,
    prefix: Path,
    values: dict[str, str | int],
    *,
    cpus: str | None = None,
) -> Child:
    """``workerd serve`` of bench/worker/``template`` with ``values`` filled in, from a copy of
    bench/worker/*.js in ``prefix`` (the config embeds them by relative path); on ``cpus``
    (``taskset -c``) when given."""
    text = (WORKER_DIR / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    if "@" in "".join(line.split("#")[0] for line in text.splitlines()):
        raise ValueError(f"{template}: a placeholder was left unfilled")
    for script in WORKER_DIR.glob("*.js"):
        shutil.copyfile(script, prefix / script.name)
    conf = prefix / f"{name}.capnp"
    conf.write_text(text)
    argv = [str(install_workerd()), "serve", conf.name]
    return children.start(name, pinned(argv, cpus), prefix / f"{name}.out", cwd=prefix)


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    """``argv`` under ``taskset -c cpus`` (every thread it starts stays there), or as it is."""
    return ["taskset", "-c", cpus, *argv] if cpus else argv


def vernier_data_dir(prefix: Path, name: str = "vernier") -> Path:
    """The data dir (with the embedded Valkey's files) of the Vernier started as ``name``."""
    return prefix / f"{name}-data"


def start_vernier(
    children: Children,
    prefix: Path,
    *,
    port: int,
    workers: int,
    upstream_port: int,
    python: Path,
    config: Path,
    name: str = "vernier",
    cpus: str | None = None,
) -> Child:
    """``python -m proxy serve`` from the repo root, with its own temp data dir
    (:func:`vernier_data_dir`) and output file ``<name>.out``; on ``cpus`` when given."""
    data_dir = vernier_data_dir(prefix, name)
    argv = [
        str(python),
        "-m",
        "proxy",
        "serve",
        "--upstream",
        f"http://127.0.0.1:{upstream_port}",
        "--listen",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--data-dir",
        str(data_dir),
        "--config",
        str(config),
    ]
    env = dict(os.environ)
    # The repo root first: the editable install may resolve ``proxy`` as a namespace package.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return children.start(
        name,
        pinned(argv, cpus),
        prefix / f"{name}.out",
        cwd=REPO_ROOT,
        env=env,
        stop_timeout_s=20.0,
    )


def clean_up(children: Any, prefix: Path, *, keep: bool) -> None:
    """Stop every process a benchmark started and remove its temp folder (unless kept)."""
    children.stop_all()
    if keep:
        print(f"kept {prefix}")
    else:
        shutil.rmtree(prefix, ignore_errors=True)


def log(message: str) -> None:
    """A timestamped progress line on stderr (the results go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_in_temp(prog: str, run: Callable[[Path], int], *, keep: bool) -> int:
    """``run(tmp)`` with a fresh temp folder, removed afterwards unless ``keep``. Ctrl-C and
    SIGTERM unwind through ``run``'s own ``finally`` (which stops its children); exit status
    130 when interrupted, 2 on a setup or run error."""
    # Background shells start us with SIGINT ignored; Ctrl-C and kill -INT must still clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    tmp = Path(tempfile.mkdtemp(prefix=f"vernier-{prog}-"))
    try:
        return run(tmp)
    except KeyboardInterrupt:
        print("\ninterrupted; every started process was stopped", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, ValueError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
