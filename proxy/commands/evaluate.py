"""``vernier evaluate --log FILE``: how each candidate policy would have done, from the log.

For every slot in the log, the estimates (IPS, SNIPS, doubly robust, 95 % intervals) of:
``uniform``; ``always-<control>``; ``rules`` — the slot's pins as the YAML files say now (first
pin that holds on the logged request context, else the control; needs the proxy's records,
which carry that context); ``model`` — the slot's published snapshot, if the store is reachable;
and each ``--model FILE`` (a VW model saved for this slot's policy). Ranked by DR estimate.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from proxy.bandit.model import BanditModel
from proxy.bandit.snapshot import load_snapshot
from proxy.config.load import load_config
from proxy.config.schema import Config
from proxy.decide.slots import rule_choice
from proxy.errors import ConfigError
from proxy.evaluate.estimators import by_namespaces, evaluate_all, format_report
from proxy.evaluate.log import LogError
from proxy.evaluate.policies import TargetPolicy, always, deterministic, model_policy, uniform
from proxy.records.decision import DecisionRecord, LoggedDecision
from proxy.records.snapshot import SnapshotRefused
from proxy.rules.load import CompiledSlot, RuleSet, load_rules
from proxy.store import models
from proxy.store_config import store_for

_decode = msgspec.json.Decoder(LoggedDecision).decode


def read_records(path: Path) -> list[LoggedDecision]:
    """The log's records (the proxy's superset of the documented format is accepted too)."""
    records: list[LoggedDecision] = []
    try:
        with path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    try:
                        records.append(_decode(line))
                    except (msgspec.ValidationError, msgspec.DecodeError) as err:
                        raise LogError(f"{path}:{number}: {err}") from None
    except OSError as err:
        raise LogError(f"{path}: {err.strerror or err}") from None
    return records


def rules_policy(slot: CompiledSlot) -> TargetPolicy:
    """The slot's pins on the logged request context, else its control."""

    def choose(record: DecisionRecord) -> str:
        context = getattr(record, "rule_context", None)
        if context is None:
            raise ValueError(f"record {record.id} has no rule_context: cannot evaluate the rules")
        return rule_choice(slot, context)[0]

    return deterministic(choose)


def targets_for(
    slot_id: str,
    records: Sequence[LoggedDecision],
    slot: CompiledSlot | None,
    extra: dict[str, BanditModel],
) -> dict[str, TargetPolicy]:
    control = slot.control if slot is not None else records[0].actions[0]
    targets: dict[str, TargetPolicy] = {"uniform": uniform, f"always-{control}": always(control)}
    if slot is not None and slot.pins and all(r.rule_context is not None for r in records):
        targets["rules"] = rules_policy(slot)
    features = slot.learner.variant_features if slot is not None and slot.learner else {}
    for name, model in extra.items():
        targets[name] = model_policy(model, features)
    return targets


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


def report(
    records: Iterable[LoggedDecision],
    ruleset: RuleSet,
    models_by_slot: dict[str, dict[str, BanditModel]],
) -> str:
    by_slot: dict[str, list[LoggedDecision]] = defaultdict(list)
    for record in records:
        by_slot[record.slot].append(record)
    slots = {slot.id: slot for slot in ruleset.slots}
    parts = []
    for slot_id, logged in sorted(by_slot.items()):
        usable = [r for r in logged if r.is_example]
        if not usable:
            parts.append(f"slot {slot_id}: no records with a joined reward")
            continue
        targets = targets_for(slot_id, usable, slots.get(slot_id), models_by_slot.get(slot_id, {}))
        evaluations = evaluate_all(usable, targets, bucket=by_namespaces("D", "T", "R"))
        parts.append(f"slot {slot_id} ({len(usable)} examples of {len(logged)} decisions)")
        parts.append(format_report(evaluations))
    return "\n\n".join(parts) or "the log holds no decisions"


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    evaluate = commands.add_parser(
        "evaluate", help="estimate candidate policies offline from the decision log"
    )
    evaluate.add_argument("--log", type=Path, required=True, help="decision log (JSON lines)")
    evaluate.add_argument("--config", type=Path, help="YAML config file")
    evaluate.add_argument("--rules", help="rules file or folder (for the rules policy)")
    evaluate.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="SLOT=FILE",
        help="a VW model file to evaluate for a slot (repeatable)",
    )
    evaluate.add_argument(
        "--no-store", action="store_true", help="do not read the published models"
    )


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    config = load_config(config_file, overrides={"rules": args.rules})
    path = Path(config.rules)
    ruleset = load_rules(path) if path.exists() else RuleSet()
    records = read_records(args.log)
    slots = {slot.id: slot for slot in ruleset.slots}
    extra: dict[str, dict[str, BanditModel]] = defaultdict(dict)
    for spec in args.model:
        slot_id, _, file = spec.partition("=")
        slot = slots.get(slot_id)
        if not file or slot is None or slot.learner is None:
            raise ConfigError(f"--model {spec}: expected SLOT=FILE for a bandit slot of the rules")
        try:
            extra[slot_id][f"model:{Path(file).name}"] = BanditModel.from_bytes(
                Path(file).read_bytes(), slot.learner.policy
            )
        except (OSError, ValueError) as err:
            raise ConfigError(f"--model {spec}: {err}") from None
    if not args.no_store:
        for slot in ruleset.slots:
            model = asyncio.run(published_model(config, slot))
            if model is not None:
                extra[slot.id]["model"] = model
    print(report(records, ruleset, extra))
    return 0
