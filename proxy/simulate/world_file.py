"""A simulated world read from a small YAML file: who comes, what they prefer, what drifts.

``vernier simulate --world FILE`` and the world suite (``bench/worlds/*.yaml``,
``bench/worlds_bench.py``) read the same format::

    name: device-by-referrer
    variants: [a, b, c, d]          # 2 or more; the first is the control unless `control:`
    contexts:                       # independent draws; each field's shares sum to 1
      device: {mobile: 0.5, desktop: 0.5}
      referrer: {search: 0.4, social: 0.25, direct: 0.35}
    rates:                          # P(click | context, variant): rows apply in order,
      - set: {a: 0.03, b: 0.03, c: 0.03, d: 0.03}          # a row without `when` is for all
      - when: {device: mobile, referrer: [search, social]}
        set: {b: 0.30}
    visitors: 4000                  # how many the world suite sends (optional)
    drift:                          # optional: from visitor `at` on, these rows apply on top
      at: 2000
      rates:
        - when: {device: mobile}
          set: {b: 0.03, c: 0.30}

Context fields are those of the request context (``docs/rules-spec.md``): ``device``,
``referrer`` (the referrer class), ``hour``, ``weekday``, ``country``, ``language`` and the
numeric profile fields (:data:`PROFILE_FIELDS`). Every combination of the listed values must
end with a rate for every variant; that is checked at load, so a run never meets a hole.

Errors are :class:`~proxy.errors.ConfigError` naming ``file:line`` and the key path. Pure: no
I/O beyond reading the file.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec

from proxy.config.elided_keys import resolve_elided_keys
from proxy.config.load import msgspec_error_path
from proxy.config.yaml_strict import LineMap, load_file

CATEGORICAL_FIELDS = ("device", "referrer", "weekday", "country", "language")
PROFILE_FIELDS = (
    "visits",
    "visits_7d",
    "visits_30d",
    "pageviews",
    "engaged_s",
    "purchases_30d",
    "conversions",
)
CONTEXT_FIELDS = (*CATEGORICAL_FIELDS, "hour", *PROFILE_FIELDS)
MAX_CONTEXTS = 20_000  # combinations checked at load
MAX_VARIANTS = 50

Value = str | int | float
# Rates and shares are range-checked in _check, not by msgspec, so that the message says the
# value (a type error's elided key is named by proxy.config.elided_keys).
Rate = float
Share = float
VariantId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class RateRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Rates for the contexts matching ``when`` (a value, or a list of values, per field)."""

    set: dict[str, Rate]
    when: dict[str, Value | list[Value]] = {}

    def matches(self, fields: Mapping[str, Value]) -> bool:
        for name, wanted in self.when.items():
            value = fields.get(name)
            if value != wanted and not (isinstance(wanted, list) and value in wanted):
                return False
        return True


class Drift(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    at: Annotated[int, msgspec.Meta(ge=1)]
    rates: tuple[RateRow, ...]


class WorldFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    variants: Annotated[tuple[VariantId, ...], msgspec.Meta(min_length=2, max_length=MAX_VARIANTS)]
    contexts: dict[str, dict[Value, Share]]
    rates: Annotated[tuple[RateRow, ...], msgspec.Meta(min_length=1)]
    control: str | None = None
    drift: Drift | None = None
    visitors: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 4000
    description: str = ""


Context = tuple[tuple[str, Value], ...]  # sorted (field, value) pairs: hashable


@dataclass(frozen=True, slots=True)
class WorldSpec:
    """A loaded, checked world: the fields' value shares and the click tables."""

    name: str
    variants: tuple[str, ...]
    control: str
    shares: Mapping[str, Mapping[Value, float]]  # field -> value -> share, in file order
    rows: tuple[RateRow, ...]
    drift_at: int | None
    drift_rows: tuple[RateRow, ...]
    visitors: int = 4000  # how many the suite runs
    description: str = ""

    def rates(self, context: Context, index: int = 0) -> dict[str, float]:
        """P(click) of every variant for ``context`` and the ``index``-th visitor (drift)."""
        fields = dict(context)
        rows = self.rows
        if self.drift_at is not None and index >= self.drift_at:
            rows = rows + self.drift_rows
        result: dict[str, float] = {}
        for row in rows:
            if row.matches(fields):
                result.update(row.set)
        return result

    def contexts(self) -> list[tuple[Context, float]]:
        """Every combination of the listed values with its probability."""
        names = list(self.shares)
        combos = []
        for values in itertools.product(*(list(self.shares[n].items()) for n in names)):
            probability = math.prod(share for _, share in values)
            context = tuple(sorted(zip(names, (v for v, _ in values), strict=True)))
            combos.append((context, probability))
        return combos

    def mean_ctr(self, policy: str, index: int = 0) -> float:
        """``oracle``, ``uniform``, ``control`` or a variant id: its expected CTR overall."""
        total = 0.0
        for context, probability in self.contexts():
            row = self.rates(context, index)
            if policy == "oracle":
                value = max(row.values())
            elif policy == "uniform":
                value = sum(row.values()) / len(row)
            else:
                value = row[self.control if policy == "control" else policy]
            total += probability * value
        return total


def load_world(path: Path) -> WorldSpec:
    """Read and check a world file; :class:`ConfigError` (file:line, key path) if it is wrong."""
    data, lines = load_file(path)
    try:
        raw = msgspec.convert(data, WorldFile, strict=True)
    except msgspec.ValidationError as err:
        message, at = msgspec_error_path(err, WorldFile)
        if "[...]" in at:  # a rate or share: name its variant or value
            at = resolve_elided_keys(data, at, str(err), WorldFile)
        raise lines.error(message, at) from None
    return _check(raw, lines)


def _check(raw: WorldFile, lines: LineMap) -> WorldSpec:
    control = raw.control if raw.control is not None else raw.variants[0]
    if len(set(raw.variants)) != len(raw.variants):
        raise lines.error("a variant is listed twice", "$.variants")
    if control not in raw.variants:
        raise lines.error(f"the control {control!r} is not one of the variants", "$.control")
    if not raw.contexts:
        raise lines.error("at least one context field is needed", "$.contexts")
    shares: dict[str, dict[Value, float]] = {}
    for field, values in raw.contexts.items():
        path = f"$.contexts.{field}"
        if field not in CONTEXT_FIELDS:
            raise lines.error(
                f"unknown context field {field!r}; one of {', '.join(CONTEXT_FIELDS)}", path
            )
        for value, share in values.items():
            if not 0.0 <= share <= 1.0:
                raise lines.error("a share must be between 0 and 1", f"{path}.{value}")
        if not values or abs(math.fsum(values.values()) - 1.0) > 1e-6:
            raise lines.error(f"the shares of {field!r} must sum to 1", path)
        shares[field] = {_value(field, v, lines, path): s for v, s in values.items()}
    rows = _check_rows(raw.rates, "$.rates", raw.variants, shares, lines)
    drift_rows: tuple[RateRow, ...] = ()
    if raw.drift is not None:
        drift_rows = _check_rows(raw.drift.rates, "$.drift.rates", raw.variants, shares, lines)
    spec = WorldSpec(
        name=raw.name,
        variants=raw.variants,
        control=control,
        shares=shares,
        rows=rows,
        drift_at=raw.drift.at if raw.drift is not None else None,
        drift_rows=drift_rows,
        visitors=raw.visitors,
        description=raw.description,
    )
    if math.prod(len(v) for v in shares.values()) > MAX_CONTEXTS:
        raise lines.error(f"more than {MAX_CONTEXTS} context combinations", "$.contexts")
    for index in (0, spec.drift_at) if spec.drift_at is not None else (0,):
        for context, _ in spec.contexts():
            missing = [v for v in raw.variants if v not in spec.rates(context, index)]
            if missing:
                where = ", ".join(f"{k}={v}" for k, v in context)
                raise lines.error(f"no rate for {', '.join(missing)} when {where}", "$.rates")
    return spec


def _value(field: str, value: Value, lines: LineMap, path: str) -> Value:
    """``value`` as the request context carries ``field``: hour an int, profile numbers.

    Mapping keys arrive as strings (``{0: 0.1}`` is read as ``{"0": 0.1}``); numbers are parsed,
    in ``contexts`` and in ``when`` alike, so ``"09"``, ``09`` and ``9`` are the same hour in both.
    """
    if field == "hour" or field in PROFILE_FIELDS:
        number: float | None = None
        with contextlib.suppress(ValueError):
            number = float(value) if not isinstance(value, bool) else None
        if field == "hour":
            if number is None or not number.is_integer() or not 0 <= number <= 23:
                raise lines.error(f"hour {value!r} is not a whole number 0-23", path)
            return int(number)
        if number is None or not math.isfinite(number) or number < 0:
            raise lines.error(f"{field} {value!r} is not a non-negative number", path)
        return int(number) if number.is_integer() else number
    if not isinstance(value, str) or not value:
        raise lines.error(f"{field} {value!r} is not a non-empty string", path)
    return value


def _check_rows(
    rows: tuple[RateRow, ...],
    path: str,
    variants: tuple[str, ...],
    shares: Mapping[str, Mapping[Value, float]],
    lines: LineMap,
) -> tuple[RateRow, ...]:
    """``rows`` checked, with their ``when`` values read as the context carries them."""
    checked = []
    for i, row in enumerate(rows):
        for variant, rate in row.set.items():
            at = f"{path}[{i}].set.{variant}"
            if variant not in variants:
                raise lines.error(f"unknown variant {variant!r}", at)
            if not 0.0 <= rate <= 1.0:
                raise lines.error(f"a rate must be between 0 and 1, not {rate!r}", at)
        when: dict[str, Value | list[Value]] = {}
        for field, wanted in row.when.items():
            at = f"{path}[{i}].when.{field}"
            if field not in shares:
                raise lines.error(f"{field!r} is not one of the world's context fields", at)
            listed = wanted if isinstance(wanted, list) else [wanted]
            values = [_value(field, v, lines, at) for v in listed]
            for value in values:
                if value not in shares[field]:
                    raise lines.error(f"{field} {value!r} is not one of its listed values", at)
            when[field] = values if isinstance(wanted, list) else values[0]
        checked.append(msgspec.structs.replace(row, when=when))
    return tuple(checked)
