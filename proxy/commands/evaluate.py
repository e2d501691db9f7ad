"""``vernier evaluate --log FILE``: how each candidate policy would have done, from the log.

For every slot in the log (or ``--slot``), the estimates (IPS, SNIPS, doubly robust, bootstrap
intervals clipped to the reward range, ESS, warnings) of: ``uniform``; ``always-<control>``;
``rules`` — the slot's pins as the YAML files say now (first pin that holds on the logged
request context, else the control; needs the proxy's records, which carry that context);
``model`` — the slot's published snapshot, if the store is reachable; each ``--model SLOT=FILE``;
and any policy of the user's: ``--policy-file FILE`` (per-decision probabilities) or
``--policy module:function``. Ranked by DR estimate; ``--json`` for every number at full
precision. The log is read twice and never held (:mod:`proxy.evaluate.passes`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import stat
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import msgspec

from proxy.bandit.model import BanditModel
from proxy.bandit.snapshot import load_snapshot
from proxy.commands import flag_values
from proxy.config.load import flag_overrides, load_config
from proxy.config.schema import Config
from proxy.decide.slots import rule_choice
from proxy.errors import UsageError
from proxy.evaluate.bootstrap import RESAMPLES
from proxy.evaluate.estimators import IntervalMethod, SlotEvaluator
from proxy.evaluate.log import LogError, iter_numbered
from proxy.evaluate.passes import SlotSummary, estimate, summarise
from proxy.evaluate.policies import (
    TargetPolicy,
    UserPolicy,
    Valid,
    always,
    deterministic,
    entry_point,
    model_policy,
    uniform,
)
from proxy.evaluate.policy_file import PolicyFile
from proxy.evaluate.report import SlotReport, format_text, to_json
from proxy.evaluate.reward_model import Bucket, RewardModel, by_namespaces, full_context
from proxy.records.decision import DecisionRecord, LoggedDecision
from proxy.records.snapshot import SnapshotRefused
from proxy.rules.compiled import CompiledSlot, RuleSet
from proxy.rules.load import load_rules
from proxy.store import models
from proxy.store_config import store_for

# --seed: numpy takes any non-negative integer; 32 bits is every seed anyone types
SEED_MAX = 2**32 - 1
# --resamples: fewer and the 95 % interval's tails are the extremes of a handful of replicates;
# more and one block of the bootstrap's random weights alone takes resamples x 4096 x 8 bytes
# (330 MB at 10,000)
RESAMPLES_MIN, RESAMPLES_MAX = 20, 10_000

_decode_logged = msgspec.json.Decoder(LoggedDecision).decode

DESCRIPTION = """\
Estimate how candidate policies would have done, from the decision log: IPS, SNIPS and doubly
robust estimates with bootstrap intervals inside the reward range, effective sample size and
warnings. The log (--log) is JSON lines, one decision per line, in the format documented in
docs/decision-log.md: {"id", "slot", "actions", "chosen", "p", "context", "reward", ...} -- the
file the proxy writes to data/decisions.jsonl. A policy file (--policy-file) is JSON lines
{"id": decision id, "pmf": {action: probability}}."""


def rules_policy(slot: CompiledSlot) -> TargetPolicy:
    """The slot's pins on the logged request context, else its control."""

    def choose(record: DecisionRecord) -> str:
        context = getattr(record, "rule_context", None)
        if context is None:
            raise ValueError("no rule_context: cannot evaluate the rules")
        return rule_choice(slot, context)[0]

    return deterministic(choose)


def load_entry_point(spec: str) -> UserPolicy:
    """``module:function`` imported, the current directory first on the path while importing."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"--policy {spec}: expected MODULE:FUNCTION, e.g. mypolicies:greedy")
    sys.path.insert(0, "")
    try:
        target: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as err:  # importing the user's module runs their code
        raise UsageError(f"--policy {spec}: cannot load it: {type(err).__name__}: {err}") from None
    finally:
        sys.path.remove("")
    if not callable(target):
        raise UsageError(f"--policy {spec}: {attribute} is not a function")
    return target


def dr_bucket(spec: str) -> tuple[Bucket, tuple[str, ...] | None]:
    """``--dr-features``: ``all`` (every namespace in the log), ``none`` or ``D,T,…`` (each
    once, in the order given; whether the log has them is :func:`check_dr_features`'s)."""
    if spec == "all":
        return full_context, None
    if spec == "none":
        return by_namespaces(), ()
    namespaces = tuple(dict.fromkeys(ns.strip() for ns in spec.split(",") if ns.strip()))
    if not namespaces:
        raise UsageError(f"--dr-features {spec!r}: expected all, none or namespaces like D,T")
    return by_namespaces(*namespaces), namespaces


def check_dr_features(
    chosen: tuple[str, ...] | None, summaries: dict[str, SlotSummary], source: str
) -> None:
    """Every namespace of ``--dr-features`` occurs in the (evaluated part of the) log: one that
    does not would silently make the reward model coarser. Namespaces are case-sensitive."""
    found = set().union(*(summary.namespaces for summary in summaries.values()))
    unknown = [ns for ns in chosen or () if ns not in found]
    if unknown:
        raise UsageError(
            f"--dr-features: no namespace {', '.join(unknown)} in the log {source} (its "
            f"namespaces, case-sensitive: {', '.join(sorted(found)) or 'none'})"
        )


def targets_for(
    summary: SlotSummary, slot: CompiledSlot | None, extra: dict[str, TargetPolicy]
) -> dict[str, TargetPolicy]:
    control = slot.control if slot is not None else summary.actions[0]
    targets: dict[str, TargetPolicy] = {"uniform": uniform, f"always-{control}": always(control)}
    if slot is not None and slot.pins and summary.rule_context:
        targets["rules"] = rules_policy(slot)
    return targets | extra


async def published_model(config: Config, slot: CompiledSlot) -> BanditModel | None:
    learner = slot.learner
    if learner is None or not learner.bandit:
        return None
    store = store_for(config, None)
    try:
        snapshot = await models.fetch(store, slot.id)
        if snapshot is None:
            return None
        return load_snapshot(
            snapshot, learner.policy, learner.actions, feature_space=learner.feature_space
        )
    except SnapshotRefused:
        return None
    finally:
        await store.close()


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    evaluate = commands.add_parser(
        "evaluate",
        help="estimate candidate policies offline from the decision log",
        description=DESCRIPTION,
    )
    evaluate.add_argument(
        "--log", type=Path, required=True, help="decision log, JSON lines (docs/decision-log.md)"
    )
    evaluate.add_argument("--config", type=Path, help="YAML config file")
    evaluate.add_argument("--rules", help="rules file or folder (for the rules policy)")
    evaluate.add_argument(
        "--policy-file",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help='a target policy as JSON lines {"id": …, "pmf": {action: p}} (repeatable)',
    )
    evaluate.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="a target policy as a Python function of each logged decision, returning "
        "{action: p} (repeatable)",
    )
    evaluate.add_argument("--slot", help="evaluate this slot only")
    evaluate.add_argument(
        "--dr-features",
        default="all",
        metavar="all|none|D,T,…",
        help="context namespaces of DR's reward model, each one that occurs in the log "
        "(case-sensitive; default: every namespace in the log)",
    )
    evaluate.add_argument("--json", action="store_true", help="one JSON document, full precision")
    evaluate.add_argument(
        "--seed",
        type=flag_values.bounded_int(0, SEED_MAX),
        default=0,
        help=f"bootstrap seed, 0 to {SEED_MAX} (default 0)",
    )
    evaluate.add_argument(
        "--resamples",
        type=flag_values.bounded_int(RESAMPLES_MIN, RESAMPLES_MAX),
        default=RESAMPLES,
        help=f"bootstrap resamples, {RESAMPLES_MIN} to {RESAMPLES_MAX} (default {RESAMPLES})",
    )
    evaluate.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="SLOT=FILE",
        help="a saved model file (e.g. vernier simulate's hero.vw) to evaluate for a slot (repeatable)",
    )
    evaluate.add_argument(
        "--no-store", action="store_true", help="do not read the published models"
    )


def _records(file: BinaryIO, source: str) -> Iterator[tuple[int, DecisionRecord]]:
    return iter_numbered(file, source=source, decode=_decode_logged)


def _open(path: Path, what: str, stack: ExitStack) -> BinaryIO:
    error = LogError if what == "log" else UsageError
    try:
        file = stack.enter_context(path.open("rb"))
    except OSError as err:
        raise error(f"{path}: {err.strerror or err}") from None
    if what == "log" and not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
        # a pipe (--log <(zcat …)) would be empty the second time
        raise error(f"{path}: not a file: the log is read twice, so save it to a file first")
    return file


def _models(
    args: argparse.Namespace, config: Config, ruleset: RuleSet
) -> dict[str, dict[str, TargetPolicy]]:
    slots = {slot.id: slot for slot in ruleset.slots}
    extra: dict[str, dict[str, TargetPolicy]] = defaultdict(dict)
    for spec in args.model:
        slot_id, _, file = spec.partition("=")
        slot = slots.get(slot_id)
        if not file or slot is None or slot.learner is None:
            bandits = [s.id for s in ruleset.slots if s.learner is not None]
            if not Path(config.rules).exists():
                found = "no such file or folder: name the slot's rules with --rules"
            elif bandits:
                found = f"its bandit slots: {', '.join(bandits)}"
            else:
                found = "it has no bandit slot: name the slot's rules with --rules"
            raise UsageError(
                f"--model {spec}: expected SLOT=FILE for a bandit slot of the rules "
                f"{config.rules} ({found})"
            )
        try:
            model = BanditModel.from_bytes(Path(file).read_bytes(), slot.learner.policy)
        except (OSError, ValueError) as err:
            raise UsageError(f"--model {spec}: {err}") from None
        extra[slot_id][f"model:{Path(file).name}"] = model_policy(
            model, slot.learner.variant_features
        )
    if not args.no_store:
        for slot in ruleset.slots:
            published = asyncio.run(published_model(config, slot))
            if published is not None and slot.learner is not None:
                extra[slot.id]["model"] = model_policy(published, slot.learner.variant_features)
    return extra


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    bucket, chosen_features = dr_bucket(args.dr_features)
    user_policies = {spec: entry_point(load_entry_point(spec)) for spec in args.policy}
    config = load_config(config_file, overrides=flag_overrides(args))
    path = Path(config.rules)
    if args.rules is not None and not path.exists():  # the default folder may well be missing
        raise UsageError(f"--rules {args.rules}: no such file or folder")
    ruleset = load_rules(path) if path.exists() else RuleSet()
    slots = {slot.id: slot for slot in ruleset.slots}
    extra = _models(args, config, ruleset)
    method = IntervalMethod(resamples=args.resamples, seed=args.seed)
    source = str(args.log)
    with ExitStack() as stack:
        summaries = summarise(
            _records(_open(args.log, "log", stack), source),
            lambda: RewardModel(bucket),
            slot=args.slot,
        )
    if args.slot is not None and not summaries:
        raise UsageError(f"--slot {args.slot}: the log {source} has no decision of this slot")
    check_dr_features(chosen_features, summaries, source)
    with ExitStack() as stack:
        policy_files = [
            PolicyFile(_open(file, "policy file", stack), source=str(file))
            for file in args.policy_file
        ]
        evaluators: dict[str, SlotEvaluator] = {}
        for slot_id, summary in summaries.items():
            if summary.examples == 0:
                continue
            own: dict[str, TargetPolicy] = {f"file:{f.name}": Valid(p) for f, p in zip(
                args.policy_file, policy_files, strict=True
            )}  # fmt: skip
            own |= user_policies | extra.get(slot_id, {})
            evaluators[slot_id] = SlotEvaluator(
                targets_for(summary, slots.get(slot_id), own),
                summary.model,
                reward_range=summary.reward_range,
                method=method,
            )
        estimate(
            _records(_open(args.log, "log", stack), source), evaluators, policy_files, source=source
        )
    reports = [
        SlotReport(
            slot=slot_id,
            decisions=summaries[slot_id].decisions,
            examples=summaries[slot_id].examples,
            reward_range=summaries[slot_id].reward_range,
            dr_features=(
                chosen_features
                if chosen_features is not None
                else tuple(sorted(summaries[slot_id].namespaces))
            ),
            reward_model_cells=summaries[slot_id].model.cells,
            evaluations=tuple(evaluator.results()),
        )
        for slot_id, evaluator in sorted(evaluators.items())
    ]
    skipped = sorted(s for s, summary in summaries.items() if summary.examples == 0)
    if args.json:
        print(to_json(reports, skipped, method, log=source).decode())
    else:
        print(format_text(reports, skipped, method))
    return 0
