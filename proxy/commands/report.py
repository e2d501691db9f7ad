"""``vernier report [--slot S] [--since 7d] [--format text|json|csv|md]``: what each variant did.

Reads the results aggregates of the live proxies' store (``proxy/store/results.py``) over the
period — ``Nh`` reads hour buckets (up to 72), ``Nd`` UTC-day buckets including today (up to the
retention) — and prints the report of ``proxy/results/report.py``; the JSON is the versioned
contract of ``docs/report-format.md``. An unknown slot, a malformed ``--since`` or a period with
no data is a one-line error and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from proxy.config.load import load_config
from proxy.config.schema import Config
from proxy.errors import ConfigError
from proxy.records.results_buckets import Period
from proxy.results.period import period_of
from proxy.results.render import as_csv, as_markdown, as_text
from proxy.results.report import SlotInfo, report, slot_info
from proxy.rules.load import RuleSet, load_rules
from proxy.store.results import read_slot
from proxy.store_config import store_for


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub = commands.add_parser("report", help="what each variant of each slot did, with statistics")
    sub.add_argument("--slot", help="only this slot")
    sub.add_argument("--since", default="7d", help="the period: Nh (hours) or Nd (days); 7d")
    sub.add_argument("--format", choices=("text", "json", "csv", "md"), default="text")
    sub.add_argument("--config", type=Path, help="YAML config file")
    sub.add_argument("--rules", help="rules file or folder")
    sub.add_argument("--store", help="the proxies' store URL (default: from the config)")


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    config = load_config(config_file, overrides={"rules": args.rules})
    rules_path = Path(config.rules)
    ruleset = load_rules(rules_path) if rules_path.exists() else RuleSet()
    now_ms = int(time.time() * 1000)
    period = period_of(args.since, now_ms, config.results.retention_days)
    slots = [s for s in ruleset.slots if args.slot in (None, s.id)]
    if args.slot is not None and not slots:
        known = ", ".join(s.id for s in ruleset.slots) or "none"
        raise ConfigError(f"--slot: no slot {args.slot!r} in {rules_path} (slots: {known})")
    if not slots:
        raise ConfigError(f"no slots in {rules_path}: nothing to report")
    data = asyncio.run(_read(config, args.store, [slot_info(s) for s in slots], period))
    if not any(
        slot["exposures"] or any(v["decisions"] for v in slot["variants"]) for slot in data["slots"]
    ):
        raise ConfigError(f"no exposures or decisions in the last {args.since}: nothing to report")
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        print({"text": as_text, "csv": as_csv, "md": as_markdown}[args.format](data), end="")
    return 0


async def _read(
    config: Config, url: str | None, infos: list[SlotInfo], period: Period
) -> dict[str, Any]:
    store = store_for(config, url)
    try:
        found = []
        for info in infos:
            buckets = await read_slot(store, info.id, info.variants, period, timeout_s=10.0)
            if buckets is None:
                raise ConfigError(f"cannot read the store at {store.url}")
            found.append((info, buckets))
    finally:
        await store.close()
    return report(
        found,
        bucket=period.kind,
        first=period.first,
        last=period.last,
        now_ms=int(time.time() * 1000),
    )
