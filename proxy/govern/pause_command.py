"""``vernier pause TARGET``, ``vernier resume TARGET`` and ``vernier pauses``: the kill switch.

TARGET is a slot id, a rule id, or ``SLOT/VARIANT``, checked against the rules files; the pause
is written to the store every proxy polls (it takes effect everywhere within a second) and stays
until resumed by hand — also when the guardrail paused a variant.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from pathlib import Path

from proxy.config.load import load_config
from proxy.config.schema import Config
from proxy.errors import ConfigError
from proxy.rules.load import RuleSet, load_rules
from proxy.store import control
from proxy.store.client import Store
from proxy.store.embedded import EmbeddedStore


def control_field(target: str, ruleset: RuleSet) -> str:
    """The control hash field for ``target``; ``ConfigError`` naming what exists otherwise."""
    slots = {slot.id: slot for slot in ruleset.slots}
    rules = {rule.id for rule in ruleset.rules}
    slot_id, slash, variant = target.partition("/")
    if slash:
        slot = slots.get(slot_id)
        if slot is None or variant not in slot.variants:
            raise ConfigError(f"no variant '{target}' in the rules (SLOT/VARIANT)")
        if variant == slot.control:
            raise ConfigError(f"'{variant}' is the control of '{slot_id}': pause the slot instead")
        return f"variant:{slot_id}:{variant}"
    if target in slots:
        return f"slot:{target}"
    if target in rules:
        return f"rule:{target}"
    known = ", ".join(sorted([*slots, *rules])) or "none"
    raise ConfigError(f"no slot or rule '{target}' in the rules (known: {known})")


def store_for(config: Config, url: str | None) -> Store:
    """The live proxies' store: ``--store``, the config's, or the embedded one in data_dir."""
    from proxy.app import store_settings

    return Store(
        url or config.store.url or EmbeddedStore(config.data_dir).url, store_settings(config)
    )


def add_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, what in (("pause", "switch a slot, rule or variant off"), ("resume", "undo a pause")):
        sub = commands.add_parser(name, help=f"{what} on every proxy within a second")
        sub.add_argument("target", help="a slot id, a rule id, or SLOT/VARIANT")
        if name == "pause":
            sub.add_argument("--why", default="paused by hand", help="recorded with the pause")
        _common(sub)
    _common(commands.add_parser("pauses", help="list what is paused, and why"))


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--config", type=Path, help="YAML config file")
    sub.add_argument("--rules", help="rules file or folder")
    sub.add_argument("--store", help="the proxies' store URL (default: from the config)")


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    config = load_config(config_file, overrides={"rules": args.rules})
    rules_path = Path(config.rules)
    ruleset = load_rules(rules_path) if rules_path.exists() else RuleSet()
    return asyncio.run(_run(args, config, ruleset))


async def _run(args: argparse.Namespace, config: Config, ruleset: RuleSet) -> int:
    store = store_for(config, args.store)
    try:
        if args.command == "pauses":
            fields = await control.read(store)
            if fields is None:
                raise ConfigError(f"cannot read the store at {store.url}")
            for field, value in sorted(fields.items()):
                print(f"{field}  {value}")
            if not fields:
                print("nothing is paused")
            return 0
        field = control_field(args.target, ruleset)
        if args.command == "pause":
            by = f"{getpass.getuser()} (vernier pause)"
            if not await control.pause(store, field, why=args.why, by=by):
                raise ConfigError(f"cannot write to the store at {store.url}")
            print(f"paused {field}")
            return 0
        lifted = await control.resume(store, field)
        if lifted is None:
            raise ConfigError(f"cannot write to the store at {store.url}")
        print(f"resumed {field}" if lifted else f"{field} was not paused")
        return 0
    finally:
        await store.close()
