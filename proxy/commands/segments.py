"""``vernier segments list|show ID|fit|explain VISITOR``: named and learned segments.

- ``list``: the named segments of the rules (id, description, where declared) and the clusters
  of the published learned model (label, share of visitors, what sets it apart).
- ``show ID``: one named segment (its condition, what it tests) or one cluster (its centroid's
  most distinctive features).
- ``fit``: refit the learned segments from the store's profiles now and publish the model
  (``proxy/segments/refit.py``); too few visitors is a message and exit 1, the previous model
  stays. A store that cannot be read is an error (exit 2) for every action that needs it.
- ``explain VISITOR``: which segments a visitor (the ``vernier_vid`` cookie's value, or its id) is
  in and why: every test of every segment with the profile values it read. Request fields
  (device, hour, referrer, …) are not known offline, so tests of them read as missing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from pathlib import Path

from proxy.commands.preflight import WHICH_STORE, add_store_flags
from proxy.config.load import flag_overrides, load_config
from proxy.config.schema import Config
from proxy.errors import UsageError
from proxy.records.segment_model import SegmentModel
from proxy.rules.compiled import RuleSet
from proxy.rules.condition_explain import tests_of
from proxy.rules.context import profile_fields
from proxy.rules.load import load_rules
from proxy.rules.segments import CLUSTER_FIELD, Segments, segments_of
from proxy.segments.assign import Assigner
from proxy.segments.refit import published_model, refit_once
from proxy.session.cookie import id_in_value
from proxy.store.profiles import load_profile
from proxy.store_config import store_for


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub = commands.add_parser("segments", help="named and learned segments: list, fit, explain")
    actions = sub.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="named segments and learned clusters")
    show = actions.add_parser("show", help="one named segment or learned cluster")
    show.add_argument("id", help="a segment id or a cluster label (c3)")
    actions.add_parser("fit", help="refit the learned segments now and publish them")
    explain = actions.add_parser("explain", help="which segments a visitor is in, and why")
    explain.add_argument(
        "visitor", help="the visitor: the vernier_vid cookie's value (or name=value), or its id"
    )
    for action in actions.choices.values():
        action.add_argument("--config", type=Path, help="YAML config file")
        action.add_argument("--rules", help="rules file or folder")
        add_store_flags(action)


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    config = load_config(config_file, overrides=flag_overrides(args))
    path = Path(config.rules)
    segments = (load_rules(path) if path.exists() else RuleSet()).segments
    if args.action == "fit":
        return asyncio.run(_fit(config, args.store))
    if args.action == "show" and segments.get(args.id) is not None:  # needs no store
        print(show_text(segments, None, args.id))
        return 0
    model, note = asyncio.run(_model(config, args.store))
    if note:
        print(note)
    if args.action == "list":
        print(list_text(segments, model))
        return 0
    if args.action == "show":
        print(show_text(segments, model, args.id))
        return 0
    print(asyncio.run(_explain(config, args.store, segments, model, args.visitor)))
    return 0


async def _fit(config: Config, url: str | None) -> int:
    store = store_for(config, url)
    try:
        if not await store.ping():
            raise UsageError(f"cannot read the store at {store.url}; {WHICH_STORE}")
        outcome = await refit_once(store, config.segments)
    finally:
        await store.close()
    print(outcome.message)
    return 0 if outcome.model is not None else 1


async def _model(config: Config, url: str | None) -> tuple[SegmentModel | None, str]:
    """The published model; an unreachable store is an error, not "no model published"."""
    store = store_for(config, url)
    try:
        model, note = await published_model(store)
        if model is None and not note and not await store.ping():
            raise UsageError(f"cannot read the store at {store.url}; {WHICH_STORE}")
        return model, note
    finally:
        await store.close()


def _share(model: SegmentModel, index: int) -> str:
    return f"{100 * model.sizes[index] / max(1, sum(model.sizes)):.0f}%"


def list_text(segments: Segments, model: SegmentModel | None) -> str:
    lines = ["named segments:"]
    for segment in segments.declared:
        about = f" - {segment.description}" if segment.description else ""
        lines.append(f"  {segment.id}{about} ({segment.source})")
    if not segments:
        lines.append("  none (declare them under segments: in a rules file)")
    if model is None:
        lines.append("learned segments: no model published (vernier segments fit)")
        return "\n".join(lines)
    lines.append(
        f"learned segments: model {model.version}, {model.method}, {model.visitors} visitors"
    )
    for i, label in enumerate(model.labels):
        lines.append(f"  {label} ({_share(model, i)}): {model.descriptions[i]}")
    return "\n".join(lines)


def show_text(segments: Segments, model: SegmentModel | None, ident: str) -> str:
    segment = segments.get(ident)
    if segment is not None:
        lines = [f"{segment.id} ({segment.source})"]
        if segment.description:
            lines.append(f"  {segment.description}")
        lines.append(f"  when: {segment.text}")
        if segment.needs:
            lines.append(f"  tests segments: {', '.join(sorted(segment.needs))}")
        return "\n".join(lines)
    if model is not None and ident in model.labels:
        i = model.labels.index(ident)
        return (
            f"{ident}: learned cluster of model {model.version} ({_share(model, i)} of "
            f"{model.visitors} visitors)\n  {model.descriptions[i]}"
        )
    known = [*segments.ids, *(model.labels if model else ())]
    raise UsageError(f"no segment or cluster {ident!r} (known: {', '.join(known) or 'none'})")


async def _explain(
    config: Config,
    url: str | None,
    segments: Segments,
    model: SegmentModel | None,
    visitor: str,
) -> str:
    visitor = id_in_value(visitor, config.session.visitor_cookie_name) or visitor
    store = store_for(config, url)
    try:
        try:
            profile = await load_profile(store, visitor)
        except ValueError:
            raise UsageError(f"{visitor!r} is not a visitor id") from None
        if not profile:  # nothing to explain: say why, as an error (exit 2)
            if not await store.ping():
                raise UsageError(f"cannot read the store at {store.url}; {WHICH_STORE}")
            raise UsageError(
                f"no profile for visitor {visitor!r} in the store at {store.url} "
                "(an unknown id, or erased, or expired)"
            )
    finally:
        await store.close()
    return explain_text(segments, model, profile)


def _shown(value: object) -> str:
    """A context value as a condition writes it: a list of segments as ``['a', 'b']``."""
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def explain_text(segments: Segments, model: SegmentModel | None, fields: Mapping[str, str]) -> str:
    context: dict[str, object] = profile_fields(fields, "")
    lines = []
    if model is not None:
        label = Assigner(model).assign(context)
        if label is not None:
            context[CLUSTER_FIELD] = label
            i = model.labels.index(label)
            lines.append(f"cluster {label}: {model.descriptions[i]}")
    found = segments_of(segments, context)
    context["segments"] = found
    lines.append(f"segments: {', '.join(found) or 'none'}")
    for segment in segments.declared:
        lines.append(f"  {'in ' if segment.id in found else 'out'} {segment.id}")
        for test in tests_of(segment.when, context):
            read = ", ".join(f"{k}={_shown(v)}" for k, v in test.values.items()) or "not known"
            lines.append(f"      {'yes' if test.holds else 'no '}  {test.text}   [{read}]")
    return "\n".join(lines)
