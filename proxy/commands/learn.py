"""``vernier learn``: the learner (:mod:`proxy.bandit.learner`) apart from the proxies.

    vernier learn [--config FILE] [--rules PATH] [--store URL] [--data-dir DIR]

For deployments with several proxy instances on one shared store: the proxies decide and log,
this process joins rewards, learns and publishes model snapshots, and the proxies load them. It
needs the proxies' store: ``--store`` or ``store.url``, or else the embedded store of a
``vernier serve`` running on the same data directory (its socket ``<data_dir>/valkey.sock``);
it never starts an embedded store itself. Rules reload on change and on SIGHUP, as in the
proxy; SIGTERM and SIGINT stop it after a last checkpoint, publication and acknowledgement.
Joined decisions are appended to ``<data_dir>/decisions.jsonl`` (the log ``vernier evaluate``
reads). Learned segments are refitted and published every ``segments.refit_every_s`` (hourly).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from proxy.config.load import flag_overrides, load_config
from proxy.config.schema import Config
from proxy.errors import UsageError
from proxy.server.workers import LOG_FORMAT


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``learn`` to the ``vernier`` subcommands (``commands`` from ``add_subparsers``)."""
    learn: argparse.ArgumentParser = commands.add_parser(
        "learn", help="join rewards, learn and publish models apart from the proxies"
    )
    learn.add_argument(
        "--config", type=Path, help="YAML config file (default: config/vernier.yaml if present)"
    )
    learn.add_argument("--rules", help="rules file or folder")
    learn.add_argument(
        "--store", help="the proxies' store: redis://, unix:// or redis+cluster:// URL"
    )
    learn.add_argument(
        "--data-dir", help="where decisions.jsonl is written (and a serve's embedded store is)"
    )
    return learn


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    """Run until SIGTERM/SIGINT; 0 after a clean stop. Errors are raised for the CLI to print."""
    config = load_config(
        config_file,
        overrides=flag_overrides(args),
    )
    url = store_url(config)
    logging.basicConfig(level=config.log_level.upper(), format=LOG_FORMAT)
    return asyncio.run(_learn(config, url))


def store_url(config: Config) -> str:
    """``store.url``, or the socket of a ``vernier serve``'s embedded store in ``data_dir``."""
    if config.store.url:
        return config.store.url
    from proxy.store.embedded import EmbeddedStore

    embedded = EmbeddedStore(config.data_dir)
    if embedded.socket_path.is_socket():
        return embedded.url
    raise UsageError(
        f"no store to learn from: pass --store URL or set store.url (the embedded store "
        f"belongs to `vernier serve`, and none runs in {embedded.data_dir})"
    )


async def _learn(config: Config, url: str) -> int:
    from proxy.bandit.learner import Learner
    from proxy.bandit.learning_slot import learning_slots
    from proxy.rules.engine import RuleEngine
    from proxy.rules.live import LiveRules
    from proxy.segments.refit import refit_every
    from proxy.store.client import Store
    from proxy.store_config import store_settings
    from proxy.tasks import BackgroundTasks

    rules = LiveRules(Path(config.rules), RuleEngine.build, missing_ok=True)
    store = Store(url, store_settings(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, rules.request_reload)
    tasks = BackgroundTasks()
    learner = Learner(
        store,
        rules,
        Path(config.data_dir),
        max_pending=config.learner.max_pending_decisions,
        results_retention_days=config.results.retention_days,
        examples_kept=config.results.examples_kept,
    )
    try:
        if not await store.open():
            print(
                f"vernier: the store at {store.url} does not answer yet; waiting for it",
                file=sys.stderr,
                flush=True,
            )
        slots = len(learning_slots(rules.ruleset))
        print(
            f"vernier: learning from {store.url} ({slots} bandit slots; "
            f"decisions to {Path(config.data_dir) / 'decisions.jsonl'})",
            file=sys.stderr,
            flush=True,
        )
        tasks.spawn(rules.watch(stop=stop), name="vernier-rules-watch")
        tasks.spawn(refit_every(store, config.segments, stop), name="vernier-segment-refit")
        await learner.run(stop)
    finally:
        await tasks.finish(stop)
        await store.close()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    print(
        f"vernier: learner stopped ({learner.learned} examples learned, "
        f"{learner.published} snapshots published)",
        file=sys.stderr,
    )
    return 0
