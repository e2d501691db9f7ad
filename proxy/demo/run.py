"""``vernier demo``: the bundled shop as the origin, Vernier in front, the embedded store.

Everything the demo keeps (the store, the signing keys, the decision log) lives in a data
directory outside the work tree — ``$XDG_STATE_HOME/vernier/demo``, else
``~/.local/state/vernier/demo`` — so trying the demo from a clone leaves nothing in it. There the
demo also writes ``vernier.yaml``: the running demo's origin, rules, store and a fresh admin token,
so the commands it prints (``vernier pause hero --config …``) reach this demo and no other.

The admin listener (pauses, metrics, health, the dashboard) is on a loopback port the system
chooses — a fixed one such as 9901 may be taken — printed at start and written to that file.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

import msgspec

from proxy.config.load import load_config
from proxy.demo.shop import run_shop, shop_port
from proxy.rules.load import load_rules
from proxy.server.safety import check_aiohttp
from proxy.server.workers import run_loop, serve
from proxy.store.embedded import EmbeddedStore

DEMO_RULES = Path(__file__).parent / "rules"  # the five scenarios of rules/README.md
CONFIG_NAME = "vernier.yaml"


def default_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the demo keeps its state when ``--data-dir`` is not given (XDG base directories)."""
    state_home = environ.get("XDG_STATE_HOME", "")
    if state_home and Path(state_home).is_absolute():
        return Path(state_home) / "vernier" / "demo"
    home = environ.get("HOME", "") or str(Path.home())
    return Path(home) / ".local" / "state" / "vernier" / "demo"


ADMIN_LISTEN = "127.0.0.1:0"  # loopback only; the port is the system's choice


def demo_config_text(
    *, origin: str, rules: Path, data_dir: Path, store_url: str, token: str, admin_listen: str = ""
) -> str:
    """The running demo's settings as a config file for the other commands (JSON strings are
    YAML scalars, so any path or URL is quoted safely)."""
    quoted = {
        "origin": json.dumps(origin),
        "rules": json.dumps(str(rules.resolve())),
        "data_dir": json.dumps(str(data_dir.resolve())),
        "store": json.dumps(store_url),
        "token": json.dumps(token),
        "admin_listen": json.dumps(admin_listen),
    }
    return (
        "# Written by `vernier demo` at each start: the running demo's settings, for\n"
        "# `vernier pause|resume|pauses|preview|validate --config <this file>`.\n"
        f"origin:\n  url: {quoted['origin']}\n"
        f"rules: {quoted['rules']}\n"
        f"data_dir: {quoted['data_dir']}\n"
        f"store:\n  url: {quoted['store']}\n"
        f"admin:\n  listen: {quoted['admin_listen']}\n  token: {quoted['token']}\n"
    )


def example_slot(rules: Path) -> tuple[str, str]:
    """The slot and variant the printed commands pause and preview: ``hero`` and ``simple`` in
    the demo's scenarios, else the first slot of the rules given with ``--rules`` and its first
    variant other than the control (``hero``, ``simple`` if they have no slot)."""
    if rules == DEMO_RULES:
        return "hero", "simple"
    for slot in load_rules(rules).slots:
        others = [v for v in slot.variants if v != slot.control]
        return slot.id, (others or [slot.control])[0]
    return "hero", "simple"


def instructions(
    *,
    where: str,
    origin: str,
    admin: str,
    config_file: Path,
    token: str,
    command: str,
    example: tuple[str, str] = ("hero", "simple"),
) -> str:
    """What the demo prints once it serves: where to look, and commands that reach it."""
    use = f"--config {shlex.quote(str(config_file))}"
    command = shlex.quote(command)
    slot, variant = (shlex.quote(part) for part in example)
    return (
        f"Vernier demo: open {where}/ in a browser\n"
        f"  the shop without Vernier: {origin}/   (Ctrl-C stops both)\n"
        f"  admin listener: {admin}/   (metrics, health, pauses; loopback only)\n"
        f"  dashboard: {admin}/__vernier/admin/   (sign in with the admin token)\n"
        f"  admin token: {token}\n"
        f"  state and settings: {config_file.parent}\n"
        "  in another terminal:\n"
        f"    {command} pause {slot} {use}   # the {slot} slot off everywhere within a second\n"
        f"    {command} pauses {use}\n"
        f"    {command} resume {slot} {use}\n"
        f"    {command} preview / --device mobile --hour 20 {use}\n"
        f"    {command} preview / --variant {slot}={variant} {use}\n"
        f"    curl -s -o /dev/null -D - -H 'X-Vernier-Debug: {token}' {where}/"
        "   # why the page looks as it does\n"
        f"    curl -s -H 'Authorization: Bearer {token}' {admin}/__vernier/admin/pauses\n"
    )


async def _demo(listen: str, data_dir: Path, store_url: str, rules: Path, command: str) -> None:
    shop = await run_shop("127.0.0.1", 0)
    origin = f"http://127.0.0.1:{shop_port(shop)}"
    token = secrets.token_urlsafe(24)
    config_file = data_dir / CONFIG_NAME
    config_text = functools.partial(
        demo_config_text,
        origin=origin,
        rules=rules,
        data_dir=data_dir,
        store_url=store_url,
        token=token,
    )
    write_private(config_file, config_text())
    config = load_config(
        config_file,
        overrides={"server.listen": listen, "admin.listen": ADMIN_LISTEN},
        environ={},
    )
    # The file names the store for the other commands, but it is this process's embedded one:
    # served as `vernier serve` without --store serves it, with the learner in the proxy (a
    # store URL in the config means a shared store, whose learner is `vernier learn`).
    config = msgspec.structs.replace(config, store=msgspec.structs.replace(config.store, url=None))
    admin: list[str] = []

    def announce(where: str) -> None:
        # now that the port is known, the file names it for the commands (and the dashboard)
        admin_listen = admin[0].removeprefix("http://")
        write_private(config_file, config_text(admin_listen=admin_listen))
        print(
            instructions(
                where=where,
                origin=origin,
                admin=admin[0],
                config_file=config_file,
                token=token,
                command=command,
                example=example_slot(rules),
            ),
            file=sys.stderr,
            flush=True,
        )

    try:
        await serve(
            config,
            store_url=store_url,
            instance=secrets.token_hex(4),
            reuse_port=False,
            with_admin=True,
            on_ready=announce,
            on_admin_ready=admin.append,
        )
    finally:
        await shop.cleanup()


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only (it holds the admin token)."""
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(path)


def run_demo(
    *, listen: str, data_dir: Path, rules: Path = DEMO_RULES, command: str = "vernier"
) -> int:
    """Serve the demo until Ctrl-C. ``command`` is how the user runs Vernier, for the printed
    commands (``.venv/bin/vernier`` under ``make demo``)."""
    check_aiohttp()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = EmbeddedStore(data_dir / "store")
    store.start()
    try:
        run_loop(_demo(listen, data_dir, store.url, rules, command))
    finally:
        store.stop()
    return 0
