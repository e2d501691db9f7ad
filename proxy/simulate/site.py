"""The simulated site: the demo shop as the origin, the proxy in front, the embedded store.

Everything runs in this process (the store is Valkey in a child process) on loopback ports the
OS picks, with a throw-away data directory, so a simulation never touches a real deployment.
The proxy is the production application (``create_app`` + ``runner_for``), configured as
``vernier demo`` configures it, plus an admin token so the visitors can read each decision's
reason and probability from the ``X-Vernier-Debug`` header.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiohttp import web

from proxy.app import create_app
from proxy.config.load import load_config
from proxy.demo.shop import run_shop, shop_port
from proxy.records.snapshot import SnapshotRefused
from proxy.server.workers import runner_for
from proxy.simulate.spec_world import GEO_HEADER, ZONE_HEADER
from proxy.store import control, models
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore

# The simulated visitors share the proxy's event loop, so a store call or a page's work can wait
# behind other visitors' requests: with the production budgets (50 ms each) about 1 % of pages
# were served unchanged (no slot, no decision) and store calls could trip the breaker [measured,
# 2 shared cores], under load that is the simulation's own. The simulation measures learning,
# not latency, so it allows more, and never sheds for overload (its lag is its own visitors').
# At 1 s a store call still timed out beside two test runs, a CPU hog and a benchmark (load 8 on
# 2 cores), the breaker opened and 4 % of pages went undecided: 5 s, as the tests' relaxed store.
# The rules the simulated site runs unless ``--rules``: the home ``hero`` slot as a bandit.
SIMULATION_RULES = Path(__file__).parent / "rules"
STORE_OP_TIMEOUT_MS = 5000.0
PAGE_BUDGET_MS = 1000.0
SHED_LAG_MS = 3_600_000.0


@contextlib.contextmanager
def scratch_dir(keep: bool = False) -> Iterator[Path]:
    """A short temporary directory (the store's Unix socket path must stay under ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="vsim-", dir="/tmp" if Path("/tmp").is_dir() else None))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def embedded_store(data_dir: Path) -> Iterator[str]:
    """Start Valkey on a Unix socket in ``data_dir``; yields its URL; stops it afterwards."""
    store = EmbeddedStore(data_dir)
    store.start()
    try:
        yield store.url
    finally:
        store.stop()


def listening_port(runner: web.BaseRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("not listening")


@contextlib.asynccontextmanager
async def running_site(
    rules: Path, *, data_dir: Path, store_url: str, admin_token: str
) -> AsyncIterator[str]:
    """The shop and the proxy in front of it, for the duration of the block; yields the
    proxy's base URL (``http://127.0.0.1:<port>``)."""
    shop = await run_shop("127.0.0.1", 0)
    try:
        config = load_config(
            None,
            overrides={
                "origin.url": f"http://127.0.0.1:{shop_port(shop)}",
                "data_dir": str(data_dir),
                "rules": str(rules),
                "admin.listen": "",
                "admin.token": admin_token,
                "server.access_log": False,
                "store.op_timeout_ms": STORE_OP_TIMEOUT_MS,
                "html.budget_ms": PAGE_BUDGET_MS,
                "overload.shed_changes_lag_ms": SHED_LAG_MS,
                "overload.shed_tag_lag_ms": SHED_LAG_MS,
                "log_level": "warning",
                "context.geo_header": GEO_HEADER,  # a world file's visitors send their country
                "context.time_zone_header": ZONE_HEADER,  # ... and a zone showing their hour
            },
            environ={},  # VERNIER_* variables of the shell must not change the experiment
        )
        runner = runner_for(create_app(config, store_url=store_url), config)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            yield f"http://127.0.0.1:{listening_port(runner)}"
        finally:
            await runner.cleanup()
    finally:
        await shop.cleanup()


def world_rules(variants: tuple[str, ...], control: str) -> str:
    """Rules for a world file's run: the home ``hero`` slot offering the world's variants,
    ``policy: bandit`` with **no other setting** (the defaults are what a world run measures).

    Each variant other than the control changes the hero's title (the visitors' preferences are
    hidden in the world, not in the page). The reward window is short because simulated
    visitors click at once; a longer one only delays learning.
    """
    lines = [
        "slots:",
        "  - id: hero",
        '    selector: "#hero"',
        '    where: {paths: ["/"]}',
        f"    control: {control}",
        "    variants:",
    ]
    for variant in variants:
        if variant == control:
            lines.append(f"      {variant}: []")
        else:
            lines.append(
                f'      {variant}: [{{op: set_text, selector: "#hero .hero-title", '
                f'value: "Variant {variant}"}}]'
            )
    lines += ["    policy: bandit", "    reward: {window_s: 1, click: 1}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Pause:
    """A pause found in the store's control hash after the run (the guardrail's, usually)."""

    target: str  # slot:<id>, rule:<id> or variant:<slot>:<id>
    by: str
    why: str
    at_ms: int  # wall clock


async def read_pauses(store_url: str) -> list[Pause]:
    """Every pause in the store (none if it does not answer)."""
    store = Store(store_url, StoreSettings(op_timeout_s=2.0))
    try:
        await store.open()
        entries = await control.read(store) or {}
    finally:
        await store.close()
    pauses = []
    for target, value in sorted(entries.items()):
        try:
            fields = orjson.loads(value)
            pauses.append(
                Pause(target, str(fields["by"]), str(fields["why"]), int(fields["at_ms"]))
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pauses.append(Pause(target, "?", value[:200], 0))
    return pauses


async def read_model(store_url: str, slot: str) -> bytes | None:
    """The slot's last published model (its bytes: VW's, and the cell counts under SquareCB)."""
    store = Store(store_url, StoreSettings(op_timeout_s=2.0))
    try:
        snapshot = await models.fetch(store, slot)
    except SnapshotRefused:
        return None
    finally:
        await store.close()
    return snapshot.model if snapshot is not None else None
