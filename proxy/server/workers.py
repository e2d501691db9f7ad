"""Running ``vernier serve``: the store, the listeners, the worker processes, and shutdown.

One worker runs in this process. With ``--workers N > 1`` the parent starts N processes that share
the listening port through ``SO_REUSEPORT`` (the kernel spreads connections) and one store; the
parent owns the embedded store and stops it after the workers exit. The first worker serves the
admin listener, and its ``/metrics`` sums every worker's counters (``metrics_share.py``, in a
folder of the data directory that the parent empties before and removes after the run).

SIGTERM and SIGINT stop; SIGHUP reloads (the rules): a worker runs the app's ``RELOAD_ON_SIGHUP``
callbacks, and the parent of several workers forwards the signal to each of them. The parent
starts a worker that dies again (:func:`_start_and_wait`), and stops them all when one cannot
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from multiprocessing import connection
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from aiohttp import web

from proxy.app import create_admin_app, create_app, front_door
from proxy.config.load import parse_listen
from proxy.config.schema import Config
from proxy.decide.decision_sink import decision_spool
from proxy.errors import ConfigError, StartupError
from proxy.rules.live import RELOAD_ON_SIGHUP
from proxy.server.access_log import JsonAccessLogger
from proxy.server.listeners import bind, bound_address, serve_on
from proxy.server.metrics_share import MetricsShare
from proxy.server.protocol import DeadlineAppRunner
from proxy.server.safety import check_aiohttp
from proxy.store.embedded import EmbeddedStore
from proxy.tracker.spool import EventSpool

log = logging.getLogger("vernier.server")
# A worker that dies this soon after its start is started again after a growing pause; when
# none is serving and each has died so more than MAX_QUICK_RESTARTS times in a row, the serve
# stops (a crash loop is a bug or a broken machine, and the service manager should see it).
RESTART_WINDOW_S = 10.0
MAX_QUICK_RESTARTS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"  # as ``vernier serve`` sets up


def runner_for(app: web.Application, config: Config) -> DeadlineAppRunner:
    server = config.server
    return DeadlineAppRunner(
        app,
        handler=front_door(app),
        header_timeout_s=server.header_timeout_s,
        keepalive_timeout=server.keepalive_s,
        max_line_size=server.max_line_bytes,
        max_field_size=server.max_field_bytes,
        max_headers=server.max_headers,
        handler_cancellation=True,
        # a request body goes to the origin as the client encoded it (aiohttp would decode it
        # and keep Content-Encoding and Content-Length); Vernier's own endpoints refuse codings
        # with a 415 (the admin listener's runner below decodes nothing either)
        auto_decompress=False,
        access_log_class=JsonAccessLogger,
        access_log=logging.getLogger("aiohttp.access") if server.access_log else None,
        shutdown_timeout=server.shutdown_timeout_s,
    )


async def serve(
    config: Config,
    *,
    store_url: str,
    instance: str,
    reuse_port: bool,
    with_admin: bool,
    on_ready: Callable[[str], None] | None = None,
    metrics_share: MetricsShare | None = None,
    on_admin_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests (bounded) and return.

    SIGHUP runs the app's ``RELOAD_ON_SIGHUP`` callbacks instead of ending the process.
    ``on_admin_ready`` and then ``on_ready`` get the bound addresses (``http://HOST:PORT``, the
    port the system chose for a port 0).
    """
    # bound first: a port in use stops here, before the app's consumers and learner start
    listeners = bind("server.listen", config.server.listen, reuse_port=reuse_port)
    admin_listeners: list[socket.socket] = []
    try:
        if with_admin and config.admin.listen:
            admin_listeners = bind("admin.listen", config.admin.listen)
        await _serve_bound(
            config,
            listeners,
            admin_listeners,
            store_url=store_url,
            instance=instance,
            on_ready=on_ready,
            metrics_share=metrics_share,
            on_admin_ready=on_admin_ready,
        )
    finally:
        for sock in (*listeners, *admin_listeners):
            sock.close()


async def _serve_bound(
    config: Config,
    listeners: list[socket.socket],
    admin_listeners: list[socket.socket],
    *,
    store_url: str,
    instance: str,
    on_ready: Callable[[str], None] | None,
    metrics_share: MetricsShare | None,
    on_admin_ready: Callable[[str], None] | None,
) -> None:
    app = create_app(config, store_url=store_url, instance=instance, metrics_share=metrics_share)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, on_sighup, app)
    runner = runner_for(app, config)
    try:
        await runner.setup()
    except BaseException:
        await app.cleanup()  # close what the cleanup_ctx entries that did start opened
        raise
    admin_runner: web.AppRunner | None = None
    try:
        await serve_on(runner, listeners)
        if admin_listeners:
            admin_runner = web.AppRunner(
                create_admin_app(app), access_log=None, auto_decompress=False
            )
            await admin_runner.setup()
            await serve_on(admin_runner, admin_listeners)
            if on_admin_ready is not None:
                on_admin_ready(bound_address(admin_listeners))
        if on_ready is not None:
            on_ready(bound_address(listeners))
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if admin_runner is not None:
            await admin_runner.cleanup()
        await runner.cleanup()


def on_sighup(app: web.Application) -> None:
    """Run what the app asked to run on SIGHUP (reload the rules); set once its runtime is up."""
    callbacks = app.get(RELOAD_ON_SIGHUP) or ()
    log.info("SIGHUP: %s", "reloading" if callbacks else "nothing to reload")
    for callback in callbacks:
        callback()


def _worker_main(config: Config, store_url: str, instance: str, share: MetricsShare) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends SIGTERM
    # SIGHUP arrives ignored (see _run_workers) until serve() handles it
    logging.basicConfig(level=config.log_level.upper(), format=LOG_FORMAT)
    try:
        run_loop(
            serve(
                config,
                store_url=store_url,
                instance=instance,
                reuse_port=True,
                with_admin=share.worker == 0,
                metrics_share=share,
            )
        )
    except (StartupError, ConfigError) as err:  # a rules file broken since the others started
        print(f"vernier: error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)


def run_loop(main: object) -> None:
    try:
        import uvloop

        uvloop.run(main)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - platforms without uvloop
        asyncio.run(main)  # type: ignore[arg-type]


def require_origin(config: Config) -> None:
    """``vernier serve`` fronts one site: refuse to start without it."""
    if not config.origin.url:
        raise StartupError("no origin: pass --upstream URL (or set origin.url in the config)")


def usable_data_dir(path: str) -> Path:
    """``data_dir``, created if need be; a :class:`StartupError` naming it when it cannot be."""
    data_dir = Path(path)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StartupError(
            f"data_dir {path}: cannot be created ({err.strerror or err}); "
            "pass --data-dir DIR (or set data_dir in the config) to a folder Vernier may write"
        ) from None
    return data_dir


def writable_spools(data_dir: Path) -> None:
    """The event and decision spools can take a record: a :class:`StartupError`
    naming one that cannot. Found now, not when the store first fails and every beacon and
    decision of the outage would find it."""
    for folder in (EventSpool.in_data_dir(data_dir).directory, decision_spool(data_dir).directory):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            probe = folder / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise StartupError(
                f"{folder}: the spool cannot be written ({err.strerror or err}); accepted events "
                "and decisions wait there while the store is away: make it a folder Vernier may "
                "write, or pass another --data-dir"
            ) from None


def run(config: Config, *, announce: Callable[[str], None] | None = None) -> int:
    """The body of ``vernier serve``; returns the process exit code."""
    check_aiohttp()
    require_origin(config)
    data_dir = usable_data_dir(config.data_dir)
    writable_spools(data_dir)
    instance = secrets.token_hex(4)
    embedded: EmbeddedStore | None = None
    store_url = config.store.url
    if store_url is None:
        embedded = EmbeddedStore(data_dir)
        embedded.start()
        embedded.keep_running()
        store_url = embedded.url
    try:
        if config.server.workers == 1:
            run_loop(
                serve(
                    config,
                    store_url=store_url,
                    instance=instance,
                    reuse_port=False,
                    with_admin=True,
                    on_ready=announce,
                )
            )
            return 0
        return _run_workers(config, store_url, instance, announce)
    finally:
        if embedded is not None:
            embedded.stop()


def _run_workers(
    config: Config, store_url: str, instance: str, announce: Callable[[str], None] | None
) -> int:
    context = multiprocessing.get_context("spawn")
    count = config.server.workers
    shares = [MetricsShare.in_data_dir(Path(config.data_dir), i, count) for i in range(count)]
    shutil.rmtree(shares[0].folder, ignore_errors=True)  # a previous run's numbers are not ours
    try:
        return _start_and_wait(config, store_url, instance, announce, context, shares)
    finally:
        shutil.rmtree(shares[0].folder, ignore_errors=True)


def _start_and_wait(
    config: Config,
    store_url: str,
    instance: str,
    announce: Callable[[str], None] | None,
    context: SpawnContext,
    shares: list[MetricsShare],
) -> int:
    """Start the workers and supervise them until SIGTERM/SIGINT.

    - A worker's first process that cannot start (exit 2: an address in use), or any death
      before the port accepts, stops them all, as one process would.
    - Once serving, a worker that dies (a crash, ``kill -9``) is started again in its place, with
      its share (the first one's: the admin listener). One that keeps dying within
      :data:`RESTART_WINDOW_S` of its start (a rules file broken on disk since the others loaded
      theirs) is started again after a growing pause (:func:`restart_delay_s`) while the others
      serve on; only when none is left serving and each has failed more than
      :data:`MAX_QUICK_RESTARTS` times does the serve stop (exit 1, or 2 for a worker's 2).
    """
    # ignored signals stay ignored across exec: a SIGHUP forwarded while a worker still imports
    # must not end it (its serve() installs the real handler); restarts set it again (spawn)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stopping = False

    def start(share: MetricsShare) -> BaseProcess:
        worker = context.Process(
            target=_worker_main,
            args=(config, store_url, instance, share),
            name=f"vernier-worker-{share.worker}",
        )
        handler = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the child inherits "ignored"
        try:
            worker.start()
        finally:
            signal.signal(signal.SIGHUP, handler)
        return worker

    workers = {share.worker: start(share) for share in shares}
    started = dict.fromkeys(workers, time.monotonic())
    quick_deaths = dict.fromkeys(workers, 0)
    due: dict[int, float] = {}  # a dead worker -> when to start it again
    restarted: set[int] = set()  # the workers started again at least once

    def send(sig: signal.Signals) -> None:
        for worker in workers.values():
            if worker.pid is not None and worker.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, sig)

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        send(signal.SIGTERM)

    def reload(signum: int, frame: object) -> None:
        send(signal.SIGHUP)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    serving = _listening(config.server.listen, workers.values())
    if serving and announce is not None:
        host, port = parse_listen(config.server.listen)
        shown = f"[{host}]" if ":" in host else host
        announce(f"http://{shown}:{port} ({len(workers)} workers)")
    code = 0
    while True:
        for index, worker in workers.items():
            if index not in started or worker.exitcode is None:
                continue
            began = started.pop(index)  # seen: a worker is handled once
            exitcode = worker.exitcode
            if stopping or exitcode in (0, -signal.SIGTERM):
                continue
            quick = time.monotonic() - began < RESTART_WINDOW_S
            quick_deaths[index] = quick_deaths[index] + 1 if quick else 0
            if (exitcode == 2 and index not in restarted) or not serving:
                log.error("worker %d exited (code %s): stopping every worker", index, exitcode)
                code = 2 if exitcode == 2 else 1
                stopping = True
                send(signal.SIGTERM)
                continue
            delay_s = restart_delay_s(quick_deaths[index])
            due[index] = time.monotonic() + delay_s
            log.error(
                "worker %d exited (code %s): starting it again%s",
                index,
                exitcode,
                f" in {delay_s:.0f} s (it died {quick_deaths[index]} times right after its "
                "start; the other workers serve on)"
                if delay_s
                else "",
            )
        none_up = not started
        if not stopping and none_up and all(n > MAX_QUICK_RESTARTS for n in quick_deaths.values()):
            log.error("no worker stays up: stopping")
            code = 2 if {w.exitcode for w in workers.values()} == {2} else 1
            stopping = True
        if stopping:
            due.clear()
        for index, at in list(due.items()):
            if at <= time.monotonic():
                del due[index]
                workers[index] = start(shares[index])
                started[index] = time.monotonic()
                restarted.add(index)
                if stopping:  # a SIGTERM between the check and the start: this one missed it
                    send(signal.SIGTERM)
        # every worker not yet seen dead: a sentinel is ready a moment before the process can
        # be reaped (its files close first), so "exitcode is None" would miss one that just died
        # and wait on the others for ever
        running = {workers[index].sentinel: workers[index] for index in started}
        if not running and not due:
            break
        wait_s = max(0.0, min(due.values()) - time.monotonic()) if due else None
        if running:
            ready = connection.wait(list(running), wait_s)
            for sentinel, worker in running.items():
                if sentinel in ready:
                    worker.join()  # it has exited: reap it, so its exit code is known
        elif wait_s:  # none running, one to start again soon: short sleeps, to see a SIGTERM
            time.sleep(min(wait_s, 0.2))
    if code:
        print("vernier: a worker could not run; every worker stopped", file=sys.stderr)
    return code


def restart_delay_s(quick_deaths: int) -> float:
    """How long a worker that died waits to start again: at once after a death that was not
    quick (or the first that was), then 1, 2, 4 … up to 30 s: a worker that cannot start does
    not spin, and is back within 30 s of the fault's end."""
    return 0.0 if quick_deaths <= 1 else float(min(30, 2 ** (quick_deaths - 2)))


def _listening(listen: str, workers: Iterable[BaseProcess]) -> bool:
    """Whether the listen address accepts connections, waited for while every worker lives (a
    spawned worker imports for seconds before it binds); False as soon as one has exited."""
    host, port = parse_listen(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # every address: this machine's
    while all(w.exitcode is None for w in workers):
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            connection.wait([w.sentinel for w in workers], timeout=0.05)
    return False
