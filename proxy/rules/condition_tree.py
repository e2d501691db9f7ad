"""The condition expression tree: what a parsed condition is, before anyone evaluates it.

:mod:`proxy.rules.condition_parser` builds these nodes from text or from the structured
``{all|any|not}`` form, :mod:`proxy.rules.conditions` evaluates them over a request context and
lists the fields they read, and compiled rules (:mod:`proxy.rules.compiled`) hold them. Plain
frozen values: two parses of the same text compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Percentile:
    """``p<rank>(<field>)``: a threshold the caller supplies under :attr:`key`."""

    rank: int
    field: str

    @property
    def key(self) -> str:
        return f"p{self.rank}({self.field})"


@dataclass(frozen=True, slots=True)
class Literal:
    value: Scalar


Operand = Field | Percentile | Literal


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Member:
    subject: Field | Percentile
    values: tuple[Scalar, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Contains:
    """``'x' in segments``: whether a tuple-valued field holds ``value``."""

    value: Scalar
    collection: Field
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Truthy:
    field: Field


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Compare | Member | Contains | Truthy | Const | All | Any_ | Not
