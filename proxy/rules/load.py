"""Load ``rules/*.yaml`` into one immutable :class:`RuleSet`, validated once.

Each file goes through the strict YAML reader (no aliases, no duplicate keys, 1 MiB cap) and
msgspec; then the checks types cannot express: ids unique across files, slot controls and pins
naming real variants, selectors that compile and regexes RE2 takes (``proxy/rules/patterns.py``),
hosts without scheme or port, conditions that parse and compare closed fields only with values they
take (``proxy/rules/vocabulary.py``), and attribute values that cannot smuggle script (``on*``
names, ``javascript:`` URLs, CR/LF/NUL). Every error names ``file:line $.path``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn

import msgspec
from selectolax.lexbor import LexborHTMLParser

from proxy.bandit.features import ActionSet
from proxy.bandit.policy_config import BanditPolicy, check_variants, feature_space_hash
from proxy.config.yaml_strict import LineMap, load_file
from proxy.errors import ConfigError
from proxy.html.rewrite_cache import filled_names
from proxy.rules import schema
from proxy.rules.compiled import (
    CompiledPin,
    CompiledRule,
    CompiledSlot,
    CompiledWhere,
    RuleSet,
    SlotLearner,
)
from proxy.rules.condition_parser import ConditionError, build_condition, leaves
from proxy.rules.condition_tree import Node
from proxy.rules.conditions import percentiles_used
from proxy.rules.decode import decode_rules_file
from proxy.rules.holdout import holdout_split
from proxy.rules.limits import session_limits, slot_limits
from proxy.rules.patterns import MAX_REGEX_CHARS, compile_path_regex, glob_to_regex, host_name
from proxy.rules.segments import Declared, Reference, compile_segments
from proxy.rules.specificity import Specificity, specificity
from proxy.rules.split import Split, split_probabilities

__all__ = ["load_rules", "rule_files"]  # the compiled types live in .compiled

# a host name (or IPv4 address) or a bracketed IPv6 address; where_matches drops the port
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?|\[[0-9A-Fa-f:.]+\]")
_ATTR_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:.-]{0,127}$")
_SCRIPT_SCHEMES = ("javascript:", "vbscript:")


class _Checker:
    """Cross-field checks for one file; ``seen`` carries ids across files. Operations ask for
    theirs through it (:class:`proxy.html.ops.base.Checks`)."""

    def __init__(self, lines: LineMap, seen: dict[str, str]) -> None:
        self.lines = lines
        self.seen = seen
        self.probe = LexborHTMLParser("<p></p>")
        self.conditions: list[Reference] = []  # every condition, for the segment references

    def source(self, path: str) -> str:
        return f"{self.lines.file}:{self.lines.line_of(path)}"

    def claim_id(self, ident: str, path: str) -> None:
        if ident in self.seen:
            raise self.lines.error(f"id '{ident}' is already used at {self.seen[ident]}", path)
        self.seen[ident] = self.source(path)

    def selector(self, selector: str, path: str) -> None:
        try:
            self.probe.css(selector)
        except Exception:  # selectolax raises SelectolaxError (and ValueError) for bad selectors
            raise self.lines.error(f"invalid CSS selector {selector!r}", path) from None

    def fail(self, message: str, path: str) -> NoReturn:
        raise self.lines.error(message, path)

    def attr_value(self, value: str, path: str, *, url: bool = False) -> None:
        if any(c in value for c in "\r\n\0"):
            raise self.lines.error("attribute values must not contain CR, LF or NUL", path)
        squashed = "".join(c for c in value if c > " ").lower()
        if url and squashed.startswith(_SCRIPT_SCHEMES):
            raise self.lines.error("script URLs (javascript:, vbscript:) are not allowed", path)

    def attr_name(self, name: str, path: str) -> None:
        if not _ATTR_NAME.match(name):
            raise self.lines.error(f"invalid attribute name {name!r}", path)
        if name.lower().startswith("on"):
            raise self.lines.error(f"event handler attributes ('{name}') are not allowed", path)

    def operation(self, op: schema.Operation, path: str) -> None:
        self.selector(op.selector, f"{path}.selector")
        for name in op.__struct_fields__:  # a NUL in a page makes it binary to every reader
            value = getattr(op, name)
            if isinstance(value, str) and "\0" in value:
                raise self.lines.error("values must not contain NUL", f"{path}.{name}")
        op.check(self, path)

    def operations(self, ops: tuple[schema.Operation, ...], path: str) -> None:
        for i, op in enumerate(ops):
            self.operation(op, f"{path}[{i}]")

    def triggers(self, slot: schema.Slot, path: str, names: str) -> None:
        seen: set[str] = set()
        for i, trigger in enumerate(slot.triggers):
            at = f"{path}.triggers[{i}]"
            if trigger.id in seen:
                raise self.lines.error(f"trigger id '{trigger.id}' is used twice", f"{at}.id")
            seen.add(trigger.id)
            if trigger.variant not in slot.variants:
                message = f"variant '{trigger.variant}' is not one of the variants ({names})"
                raise self.lines.error(message, f"{at}.variant")
            if trigger.variant == slot.control:  # it would swap the control for itself
                message = (
                    f"'{trigger.variant}' is the control, which the slot shows while its "
                    "triggers wait: a trigger switches to another variant"
                )
                raise self.lines.error(message, f"{at}.variant")
            for key in ("hover", "without_click"):
                value = getattr(trigger, key)
                if value is not None:
                    self.selector(value, f"{at}.{key}")

    def condition(self, spec: str | schema.Compound, path: str) -> Node:
        try:
            node = build_condition(spec)
        except ConditionError as err:
            at = path + err.where
            if err.column is None:
                raise self.lines.error(f"condition: {err.message}", at) from None
            raise self.lines.error_in(f"condition: {err.detail}", at, err.column) from None
        self.conditions.append(Reference(node, self.lines, path, tuple(leaves(spec))))
        return node

    def segment(self, segment: schema.Segment, path: str) -> Declared:
        when = self.condition(segment.when, f"{path}.when")
        text = (
            segment.when
            if isinstance(segment.when, str)
            else msgspec.json.encode(segment.when).decode()
        )
        expressions = tuple(leaves(segment.when))
        return Declared(segment.id, segment.description, when, self.lines, path, text, expressions)

    def where(self, where: schema.Where | None, path: str) -> CompiledWhere | None:
        if where is None:
            return None
        regex = None
        if where.path_regex is not None:
            at = f"{path}.path_regex"
            if len(where.path_regex) > MAX_REGEX_CHARS:
                raise self.lines.error(f"longer than {MAX_REGEX_CHARS} characters", at)
            try:
                regex = compile_path_regex(where.path_regex)
            except ValueError as err:
                raise self.lines.error(
                    f"invalid regular expression: {err} (path_regex is RE2 syntax, matched in "
                    "time linear in the path: no lookaround or backreferences)",
                    at,
                ) from None
        for i, host in enumerate(where.hosts):
            at = f"{path}.hosts[{i}]"
            if not host.isascii():
                try:
                    ascii_form = repr(host.encode("idna").decode("ascii"))
                except UnicodeError:
                    ascii_form = "its xn-- form"
                raise self.lines.error(
                    f"a host is written as the Host header sends it: {ascii_form}, not {host!r}",
                    at,
                )
            if not _HOST.fullmatch(host):
                raise self.lines.error(
                    "a host is a name as the Host header gives it, without scheme, port or path "
                    f"('shop.example'), not {host!r}",
                    at,
                )
        for i, glob in enumerate(where.paths):
            if not glob.startswith("/"):
                raise self.lines.error("path globs start with '/'", f"{path}.paths[{i}]")
        return CompiledWhere(
            hosts=frozenset(host_name(host) for host in where.hosts),
            globs=where.paths,
            paths=tuple(glob_to_regex(glob) for glob in where.paths),
            path_regex=regex,
            query=MappingProxyType(dict(where.query)),
            # a HEAD asks for what a GET would get (RFC 9110 §9.3.2): its ETag and length too
            methods=frozenset(where.methods) | ({"HEAD"} if "GET" in where.methods else set()),
        )

    def rule(self, rule: schema.Rule, path: str) -> CompiledRule:
        self.claim_id(rule.id, f"{path}.id")
        self.operations(rule.then, f"{path}.then")
        if rule.salt is not None and rule.holdout is None:
            raise self.lines.error("'salt' needs 'holdout'", f"{path}.salt")
        return CompiledRule(
            id=rule.id,
            priority=rule.priority,
            where=self.where(rule.where, f"{path}.where"),
            when=None if rule.when is None else self.condition(rule.when, f"{path}.when"),
            then=rule.then,
            source=self.source(path),
            holdout=() if rule.holdout is None else holdout_split(rule.holdout),
            salt=rule.salt or "",
            fills=bool(filled_names(tuple(rule.then))),
        )

    def slot(self, slot: schema.Slot, path: str) -> CompiledSlot:
        self.claim_id(slot.id, f"{path}.id")
        self.selector(slot.selector, f"{path}.selector")
        names = ", ".join(sorted(slot.variants)) or "none"
        if slot.control not in slot.variants:
            message = f"control '{slot.control}' is not one of the variants ({names})"
            raise self.lines.error(message, f"{path}.control")
        for variant, ops in slot.variants.items():
            self.operations(ops, f"{path}.variants.{variant}")
        pins = []
        for i, pin in enumerate(slot.pin):
            at = f"{path}.pin[{i}]"
            if pin.variant not in slot.variants:
                message = f"variant '{pin.variant}' is not one of the variants ({names})"
                raise self.lines.error(message, f"{at}.variant")
            pins.append(CompiledPin(self.condition(pin.when, f"{at}.when"), pin.variant))
        self.triggers(slot, path, names)
        learner = self.learner(slot, path)
        split = self.split(slot, path)
        return CompiledSlot(
            id=slot.id,
            selector=slot.selector,
            where=self.where(slot.where, f"{path}.where"),
            control=slot.control,
            variants=MappingProxyType(dict(slot.variants)),
            pins=tuple(pins),
            source=self.source(path),
            priority=slot.priority,
            triggers=slot.triggers,
            learner=learner,
            split=split,
            salt=slot.salt or "",
            guardrail=slot.guardrail,
        )

    def split(self, slot: schema.Slot, path: str) -> Split:
        if slot.policy != "split":
            if slot.split is not None or slot.salt is not None:
                raise self.lines.error("'split' and 'salt' need 'policy: split'", f"{path}.policy")
            return ()
        if slot.split is None:
            message = "policy: split needs weights, e.g. split: {a: 50, b: 50}"
            raise self.lines.error(message, f"{path}.split")
        try:
            return split_probabilities(slot.split, list(slot.variants))
        except ValueError as err:
            raise self.lines.error(str(err), f"{path}.split") from None

    def learner(self, slot: schema.Slot, path: str) -> SlotLearner | None:
        if slot.policy == "rules" and slot.mode != "log-only":
            if slot.bandit is not None:
                message = "bandit settings need 'policy: bandit' (or 'split', or 'mode: log-only')"
                raise self.lines.error(message, f"{path}.bandit")
            return None
        policy = slot.bandit or BanditPolicy()
        try:
            check_variants(policy, list(slot.variants))
        except ValueError as err:
            at = f"{path}.bandit.floor" if "floor" in str(err) else f"{path}.variants"
            raise self.lines.error(str(err), at) from None
        for variant in slot.features:
            if variant not in slot.variants:
                message = f"'{variant}' is not one of the variants ({', '.join(slot.variants)})"
                raise self.lines.error(message, f"{path}.features.{variant}")
        features = {v: slot.features.get(v, {}) for v in slot.variants}
        return SlotLearner(
            mode=slot.mode,
            policy=policy,
            actions=ActionSet(list(features.items())),
            feature_space=feature_space_hash(policy, features),
            reward=slot.reward,
            bandit=slot.policy == "bandit",
            variant_features=MappingProxyType(features),
        )


def _ranked(
    rules: list[CompiledRule], slots: list[CompiledSlot]
) -> tuple[list[CompiledRule], list[CompiledSlot]]:
    """The same rules and slots, each with its :data:`Rank` (rules before slots in file order)."""

    def most_specific(ops: Iterable[schema.Operation], *more: str) -> Specificity:
        return max([*(specificity(op.selector) for op in ops), *map(specificity, more)])

    ranked_rules = [
        dataclasses.replace(rule, rank=(rule.priority, most_specific(rule.then), order))
        for order, rule in enumerate(rules)
    ]
    ranked_slots = [
        dataclasses.replace(
            slot,
            rank=(
                slot.priority,
                most_specific((op for ops in slot.variants.values() for op in ops), slot.selector),
                len(rules) + order,
            ),
        )
        for order, slot in enumerate(slots)
    ]
    return ranked_rules, ranked_slots


def rule_files(path: Path) -> list[Path]:
    """``path`` itself, or every ``*.yaml`` directly in the folder ``path``, sorted by name."""
    if path.is_dir():
        return sorted(child for child in path.glob("*.yaml") if child.is_file())
    if path.is_file():
        return [path]
    raise ConfigError("no such rules file or folder", file=str(path))


def load_rules(path: Path) -> RuleSet:
    """Load and validate one rules file or a folder of them; raises :class:`ConfigError`."""
    files = rule_files(path)
    seen: dict[str, str] = {}
    digest = hashlib.sha256()
    rules: list[CompiledRule] = []
    slots: list[CompiledSlot] = []
    governance: schema.Governance | None = None
    governance_source = ""
    slot_governance: list[schema.SlotGovernance | None] = []
    segments: list[Declared] = []
    references: list[Reference] = []
    for file in files:
        data, lines = load_file(file)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise lines.error("a rules file is a mapping with 'rules' and/or 'slots'")
        parsed = decode_rules_file(data, lines)
        checker = _Checker(lines, seen)
        if parsed.governance is not None:
            if governance is not None:
                message = f"governance is already set at {governance_source}; set it once"
                raise lines.error(message, "$.governance")
            governance, governance_source = parsed.governance, checker.source("$.governance")
        rules.extend(checker.rule(rule, f"$.rules[{i}]") for i, rule in enumerate(parsed.rules))
        slots.extend(checker.slot(slot, f"$.slots[{i}]") for i, slot in enumerate(parsed.slots))
        slot_governance.extend(slot.governance for slot in parsed.slots)
        segments.extend(
            checker.segment(s, f"$.segments[{i}]") for i, s in enumerate(parsed.segments)
        )
        references.extend(checker.conditions)
        digest.update(file.name.encode() + b"\0" + msgspec.json.encode(parsed) + b"\0")
    rules, slots = _ranked(rules, slots)
    slots = [
        dataclasses.replace(slot, limits=slot_limits(own, governance))
        for slot, own in zip(slots, slot_governance, strict=True)
    ]
    conditions = [rule.when for rule in rules if rule.when is not None]
    conditions += [pin.when for slot in slots for pin in slot.pins]
    conditions += [segment.when for segment in segments]
    return RuleSet(
        rules=tuple(rules),
        slots=tuple(slots),
        files=tuple(str(file) for file in files),
        version=digest.hexdigest()[:16],
        percentiles=frozenset(p for node in conditions for p in percentiles_used(node)),
        session_limits=session_limits(governance),
        segments=compile_segments(segments, references),
        holdout_rules=tuple(rule for rule in rules if rule.holdout),
    )
