"""``vernier report [--slot S] [--since 7d] [--format text|json|csv|md|html]``: what each variant
did. ``--by segment [--log FILE]``: each slot broken down by named and learned segment, from the
decision log (``proxy/results/by_segment.py``), as text or JSON.

Reads the results aggregates of the live proxies' store (``proxy/store/results.py``) over the
period — ``Nh`` reads hour buckets (up to 72), ``Nd`` UTC-day buckets including today (up to the
retention) — and prints the report of ``proxy/results/report.py``; the JSON is the versioned
contract of ``docs/report-format.md``; ``html`` is one self-contained page with the plots and the
guardrail's state now (``proxy/results/html.py``), to keep or send. Bandit slots also get doubly
robust estimates from their most recent joined examples in the period (``--dr-sample N``, at most
``results.examples_kept``; ``proxy/results/doubly_robust.py``). An unknown slot, a malformed
``--since`` or a bad ``--dr-sample`` is a one-line error and exit 2. A period with no data (a
fresh install) is an ordinary result, exit 0: the text says there is nothing yet and why, the
other formats are the usual report with every count 0; ``--by segment`` over a log with no seen
decision likewise, and over the default log before the learner has written it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from proxy.bandit.learner import DECISIONS_FILE
from proxy.commands.preflight import WHICH_STORE, add_store_flags
from proxy.config.load import flag_overrides, load_config
from proxy.config.schema import Config
from proxy.dashboard.assets import DashboardAssets
from proxy.dashboard.reads import STORE_READ_TIMEOUT_S, read_pauses, read_report, read_windows
from proxy.errors import UsageError
from proxy.evaluate.log import LogError
from proxy.records.results_buckets import Period
from proxy.results.by_segment import as_text as segments_text
from proxy.results.by_segment import has_seen, read_breakdowns
from proxy.results.html import report_file
from proxy.results.live import guardrail_rows
from proxy.results.period import period_of
from proxy.results.render import as_csv, as_markdown, as_text
from proxy.results.report import SlotInfo, reported
from proxy.rules.compiled import RuleSet
from proxy.rules.load import load_rules
from proxy.store_config import store_for


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub = commands.add_parser("report", help="what each variant of each slot did, with statistics")
    sub.add_argument("--slot", help="only this slot")
    sub.add_argument("--since", default="7d", help="the period: Nh (hours) or Nd (days); 7d")
    sub.add_argument("--format", choices=("text", "json", "csv", "md", "html"), default="text")
    sub.add_argument("--config", type=Path, help="YAML config file")
    sub.add_argument("--rules", help="rules file or folder")
    add_store_flags(sub)
    sub.add_argument(
        "--dr-sample",
        type=int,
        metavar="N",
        help="bandit slots: doubly robust estimates over the most recent N joined examples of "
        "the period (default and most: results.examples_kept, 500; 0: none)",
    )
    sub.add_argument(
        "--by",
        choices=("segment",),
        help="segment: each slot by named and learned segment, from the decision log",
    )
    sub.add_argument(
        "--log", type=Path, help="decision log for --by (default: <data_dir>/decisions.jsonl)"
    )


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    config = load_config(config_file, overrides=flag_overrides(args))
    rules_path = Path(config.rules)
    ruleset = load_rules(rules_path) if rules_path.exists() else RuleSet()
    now_ms = int(time.time() * 1000)
    period = period_of(args.since, now_ms, config.results.retention_days)
    everything = reported(ruleset)
    infos = [info for info in everything if args.slot in (None, info.id)]
    if args.slot is not None and not infos:
        known = ", ".join(info.id for info in everything) or "none"
        raise UsageError(
            f"--slot: no slot {args.slot!r} in {rules_path} (slots and holdout rules: {known})"
        )
    if not infos:
        raise UsageError(f"no slots or holdout rules in {rules_path}: nothing to report")
    if args.by == "segment":  # from decisions.jsonl, the learner's: slots only
        return _by_segment(args, config, [info for info in infos if info.kind == "slot"])
    kept = config.results.examples_kept
    limit = kept if args.dr_sample is None else args.dr_sample
    if not 0 <= limit <= kept:
        raise UsageError(
            f"--dr-sample {limit}: expected 0 to {kept} (results.examples_kept: the store keeps "
            "no more per slot)"
        )
    data, guardrail = asyncio.run(
        _read(config, args.store, infos, period, args.format == "html", limit)
    )
    empty = not any(
        slot["exposures"] or any(v["decisions"] for v in slot["variants"]) for slot in data["slots"]
    )
    if empty and args.format == "text":  # a fresh install: an answer, not an error
        slots = ", ".join(info.id for info in infos)
        print(
            f"nothing to report yet: no decisions or exposures of {slots} were logged in the "
            f"last {args.since}"
        )
    elif args.format == "json":
        print(json.dumps(data, indent=2))
    elif args.format == "html":
        assets = DashboardAssets.load()
        css, js = assets.text("dashboard.css"), assets.text("dashboard.js")
        print(report_file(data, js=js, css=css, guardrail=guardrail))
    else:
        print({"text": as_text, "csv": as_csv, "md": as_markdown}[args.format](data), end="")
    return 0


def _by_segment(args: argparse.Namespace, config: Config, infos: list[SlotInfo]) -> int:
    """``--by segment``: the breakdowns of ``proxy/results/by_segment.py`` over the log."""
    if args.format not in ("text", "json"):
        raise UsageError("--by segment: --format text or json")
    path = args.log if args.log is not None else Path(config.data_dir) / DECISIONS_FILE
    try:
        # the default log does not exist until the learner writes it: a fresh install
        data = read_breakdowns(path, infos, missing_ok=args.log is None)
    except OSError as err:
        raise UsageError(f"--log: cannot read {path}: {err.strerror or err}") from None
    except LogError as err:
        raise UsageError(str(err)) from None
    if args.format == "json":
        print(json.dumps({"slots": data}, indent=2))
    elif not has_seen(data):
        written = "" if path.exists() else " (not written yet)"
        print(f"nothing to report yet: no seen decisions of these slots in {path}{written}")
    else:
        print(segments_text(data))
    return 0


async def _read(
    config: Config,
    url: str | None,
    infos: list[SlotInfo],
    period: Period,
    with_guardrail: bool,
    examples_limit: int,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]] | None]:
    """The report, and (for html) each slot's guardrail rows now."""
    store = store_for(config, url)
    try:
        data = await read_report(
            store, infos, period, timeout_s=STORE_READ_TIMEOUT_S, examples_limit=examples_limit
        )
        if data is None:
            raise UsageError(f"cannot read the store at {store.url}; {WHICH_STORE}")
        if not with_guardrail:
            return data, None
        now_ms = int(time.time() * 1000)
        windows = await read_windows(
            store, [i.id for i in infos], now_ms, timeout_s=STORE_READ_TIMEOUT_S
        )
        pauses = await read_pauses(store)
        if windows is None or pauses is None:
            raise UsageError(f"cannot read the store at {store.url}; {WHICH_STORE}")
    finally:
        await store.close()
    guardrail = {
        i.id: guardrail_rows(i.id, i.control, i.variants, windows[i.id], now_ms, pauses)
        for i in infos
    }
    return data, guardrail
