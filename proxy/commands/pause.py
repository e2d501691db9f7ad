"""``vernier pause TARGET``, ``vernier resume TARGET`` and ``vernier pauses``: the kill switch.

TARGET is a slot id, a rule id, or ``SLOT/VARIANT``, checked against the rules files; the pause
is written to the store every proxy polls (it takes effect everywhere within a second) and stays
until resumed by hand — also when the guardrail paused a variant.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from proxy.commands.preflight import WHICH_STORE, add_store_flags, load_required_rules
from proxy.config.load import flag_overrides, load_config
from proxy.config.schema import Config
from proxy.errors import UsageError
from proxy.govern.control import control_field
from proxy.rules.compiled import RuleSet
from proxy.store import control
from proxy.store_config import store_for


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
    add_store_flags(sub)


def pause_line(field: str, value: str) -> str:
    """One pause as ``vernier pauses`` prints it: the target, when (ISO 8601, UTC), by whom, why.

    A value that is not the JSON the proxies write is shown as it is rather than hidden.
    """
    try:
        record = orjson.loads(value)
        at = datetime.fromtimestamp(int(record["at_ms"]) / 1000, UTC)
        by, why = str(record.get("by", "?")), str(record.get("why", ""))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError, OSError):
        return f"{field}  {value}"
    stamp = at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{field}  since {stamp}  by {by}  why: {why}"


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    config = load_config(config_file, overrides=flag_overrides(args))
    # `pauses` lists what the store holds; pause and resume check the target against the rules
    ruleset = RuleSet() if args.command == "pauses" else load_required_rules(config)
    return asyncio.run(_run(args, config, ruleset))


async def _run(args: argparse.Namespace, config: Config, ruleset: RuleSet) -> int:
    store = store_for(config, args.store)
    try:
        if args.command == "pauses":
            fields = await control.read(store)
            if fields is None:
                raise UsageError(f"cannot read the store at {store.url}; {WHICH_STORE}")
            for field, value in sorted(fields.items()):
                print(pause_line(field, value))
            if not fields:
                print("nothing is paused")
            return 0
        field = control_field(args.target, ruleset)
        if args.command == "pause":
            by = f"{getpass.getuser()} (vernier pause)"
            if not await control.pause(store, field, why=args.why, by=by):
                raise UsageError(f"cannot write to the store at {store.url}; {WHICH_STORE}")
            print(f"paused {field}")
            return 0
        lifted = await control.resume(store, field)
        if lifted is None:
            raise UsageError(f"cannot write to the store at {store.url}; {WHICH_STORE}")
        print(f"resumed {field}" if lifted else f"{field} was not paused")
        return 0
    finally:
        await store.close()
