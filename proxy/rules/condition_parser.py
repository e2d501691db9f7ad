"""Condition expressions from text: a tokenizer and a recursive-descent parser.

Grammar (``docs/rules-spec.md``)::

    expr     := and ("or" and)*
    and      := unary ("and" unary)*
    unary    := "not" unary | "(" expr ")" | test
    test     := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand
                        | "in" list | "not" "in" list)?
              | literal ("in" | "not" "in") NAME
    operand  := NAME | PERCENTILE | NUMBER | STRING | "true" | "false"
    list     := "[" (literal ("," literal)* ","?)? "]"

A bare ``NAME`` tests that the field is the boolean ``true`` (``landing``). ``p90(engaged_s)``
is a percentile threshold, ``'vip' in segments`` membership in a tuple-valued field (the tree is
:mod:`proxy.rules.condition_tree`, its meaning :mod:`proxy.rules.conditions`). A condition that
does not parse raises :class:`ConditionError` naming the column; nothing is ever passed to
``eval``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.rules.condition_tree import (
    All,
    Any_,
    Compare,
    Const,
    Contains,
    Field,
    Literal,
    Member,
    Node,
    Not,
    Operand,
    Percentile,
    Scalar,
    Truthy,
)
from proxy.rules.schema import Compound

MAX_EXPRESSION_CHARS = 4096
MAX_DEPTH = 32

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<pct>p(?P<rank>[1-9][0-9]?)\((?P<pfield>[A-Za-z_][\w.:-]*)\))
      | (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.])
      | (?P<name>[A-Za-z_][\w.:-]*)
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name | kw | num | str | pct | op | end
    text: str
    column: int  # 1-based
    value: Scalar | Percentile | None = None


class ConditionError(ValueError):
    """A condition that does not parse; ``where`` is the JSON-path suffix of a structured leaf,
    ``column`` the 1-based column in the expression (``message`` names it, ``detail`` does not:
    a loader that can point at the column in the file says ``detail`` there)."""

    def __init__(
        self, message: str, where: str = "", *, column: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.column = column
        self.detail = detail or message


def _fail(column: int, message: str) -> ConditionError:
    return ConditionError(f"column {column}: {message}", column=column, detail=message)


def _check_spelling(name: str, column: int) -> None:
    """One spelling of profile fields in conditions: ``clicks.hero``, never ``clicks:hero``.

    The store keeps ``clicks:hero`` and ``max_scroll:<type>`` with a colon; the context offers
    them with a dot, as every other sub-field (``utm.source``, ``header.accept-language``).
    """
    if ":" in name:
        dotted = name.replace(":", ".")
        raise _fail(column, f"write {dotted!r}, not {name!r}: field names use '.' in conditions")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "'\"":
                raise _fail(pos + 1, "unterminated string")
            raise _fail(pos + 1, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup
        part = match.group()
        column = pos + 1
        pos = match.end()
        if kind == "space":
            continue
        if kind in ("pct", "name"):
            _check_spelling(match.group("pfield") or part, column)
        if kind == "pct":
            field = Percentile(int(match.group("rank")), match.group("pfield"))
            tokens.append(_Token("pct", part, column, field))
        elif kind == "num":
            number = float(part) if any(c in part for c in ".eE") else int(part)
            tokens.append(_Token("num", part, column, number))
        elif kind == "str":
            body = re.sub(r"\\(.)", r"\1", part[1:-1], flags=re.DOTALL)
            tokens.append(_Token("str", part, column, body))
        elif kind == "name" and part in _KEYWORDS:
            tokens.append(_Token("kw", part, column))
        else:
            tokens.append(_Token(str(kind), part, column))
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.at = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at += 1
        return token

    def accept(self, kind: str, text: str) -> bool:
        token = self.peek()
        if token.kind == kind and token.text == text:
            self.at += 1
            return True
        return False

    def expect(self, kind: str, text: str) -> None:
        if not self.accept(kind, text):
            raise self.unexpected(f"'{text}'")

    def unexpected(self, wanted: str) -> ConditionError:
        token = self.peek()
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        return _fail(token.column, f"expected {wanted}, found {found}")

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(self.peek().column, f"nested more than {MAX_DEPTH} levels deep")
        items = [self.conjunction()]
        while self.accept("kw", "or"):
            items.append(self.conjunction())
        self.depth -= 1
        return items[0] if len(items) == 1 else Any_(tuple(items))

    def conjunction(self) -> Node:
        items = [self.unary()]
        while self.accept("kw", "and"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else All(tuple(items))

    def unary(self) -> Node:
        if self.accept("kw", "not"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _fail(self.peek().column, f"nested more than {MAX_DEPTH} levels deep")
            inner = self.unary()
            self.depth -= 1
            return Not(inner)
        if self.accept("op", "("):
            inner = self.expression()
            self.expect("op", ")")
            return inner
        return self.test()

    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "name":
            self.at += 1
            return Field(token.text)
        if token.kind == "pct" and isinstance(token.value, Percentile):
            self.at += 1
            return token.value
        return Literal(self.literal())

    def literal(self) -> Scalar:
        token = self.peek()
        if token.kind in ("num", "str") and token.value is not None:
            self.at += 1
            assert not isinstance(token.value, Percentile)
            return token.value
        if token.kind == "kw" and token.text in ("true", "false"):
            self.at += 1
            return token.text == "true"
        raise self.unexpected("a field name or a value")

    def values(self) -> tuple[Scalar, ...]:
        self.expect("op", "[")
        out: list[Scalar] = []
        while not self.accept("op", "]"):
            out.append(self.literal())
            if not self.accept("op", ","):
                self.expect("op", "]")
                break
        return tuple(out)

    def test(self) -> Node:
        start = self.peek()
        left = self.operand()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.at += 1
            right = self.operand()
            if isinstance(left, Literal) and isinstance(right, Literal):
                raise _fail(start.column, "a comparison needs a field on one side")
            return Compare(token.text, left, right)
        negated = token.kind == "kw" and token.text == "not" and self.peek(1).text == "in"
        if negated or (token.kind == "kw" and token.text == "in"):
            self.at += 2 if negated else 1
            if isinstance(left, Literal):
                field = self.peek()
                if field.kind != "name":
                    raise self.unexpected("a field name after a value and 'in'")
                self.at += 1
                return Contains(left.value, Field(field.text), negated)
            return Member(left, self.values(), negated)
        if isinstance(left, Field):
            return Truthy(left)
        if isinstance(left, Literal) and isinstance(left.value, bool):
            return Const(left.value)
        raise self.unexpected("a comparison operator")


def parse_condition(text: str) -> Node:
    """Parse an expression; raises ValueError naming the (1-based) column of the problem."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise _fail(1, f"longer than {MAX_EXPRESSION_CHARS} characters")
    parser = _Parser(text)
    if parser.peek().kind == "end":
        raise _fail(1, "the expression is empty")
    node = parser.expression()
    if parser.peek().kind != "end":
        raise parser.unexpected("'and', 'or' or the end of the expression")
    return node


def build_condition(spec: str | Compound, where: str = "") -> Node:
    """Parse an expression or a structured ``{all|any|not}`` form (exactly one key).

    A :class:`ConditionError` carries in ``where`` the path below ``spec`` (``.all[1]``).
    """
    if isinstance(spec, str):
        try:
            return parse_condition(spec)
        except ConditionError as err:
            raise ConditionError(err.message, where, column=err.column, detail=err.detail) from None
    given = [key for key in ("all", "any", "not_") if getattr(spec, key) is not None]
    if len(given) != 1:
        raise ConditionError("use exactly one of 'all', 'any' or 'not'", where)
    if spec.not_ is not None:
        return Not(build_condition(spec.not_, f"{where}.not"))
    key = given[0]
    items = spec.all if spec.all is not None else spec.any
    if not items:
        raise ConditionError(f"'{key}' needs at least one condition", f"{where}.{key}")
    nodes = tuple(build_condition(item, f"{where}.{key}[{i}]") for i, item in enumerate(items))
    return All(nodes) if key == "all" else Any_(nodes)


def leaves(spec: str | Compound, where: str = "") -> list[tuple[str, str]]:
    """Every expression of ``spec`` with its JSON-path suffix (``.all[1]``), in order."""
    if isinstance(spec, str):
        return [(where, spec)]
    if spec.not_ is not None:
        return leaves(spec.not_, f"{where}.not")
    key = "all" if spec.all is not None else "any"
    items: tuple[str | Compound, ...] = spec.all if spec.all is not None else (spec.any or ())
    return [leaf for i, item in enumerate(items) for leaf in leaves(item, f"{where}.{key}[{i}]")]


def column_of(text: str, *, field: str | None = None, string: str | None = None) -> int | None:
    """The 1-based column where ``text`` first reads ``field`` (alone or in a percentile) or
    first writes the quoted ``string``; None if it does not (or does not tokenize)."""
    try:
        tokens = _tokenize(text)
    except ConditionError:
        return None
    for token in tokens:
        if field is not None and (
            (token.kind == "name" and token.text == field)
            or (isinstance(token.value, Percentile) and token.value.field == field)
        ):
            return token.column
        if string is not None and token.kind == "str" and token.value == string:
            return token.column
    return None
