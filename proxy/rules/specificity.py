"""CSS selector specificity (Selectors Level 4, §16), to order rules of equal priority.

Two rules that change the same element apply lowest first, so the last one wins: priority
decides, then the specificity of the rule's most specific selector (as a stylesheet would), then
file order. Only the order matters here, so a selector Lexbor accepts but this scanner reads
loosely costs at most a tie broken by file order.
"""

from __future__ import annotations

Specificity = tuple[
    int, int, int
]  # (ids, classes/attributes/pseudo-classes, types/pseudo-elements)

_LEGACY_PSEUDO_ELEMENTS = frozenset({"before", "after", "first-line", "first-letter"})
_TAKES_MAX_OF_ARGUMENT = frozenset({"not", "is", "has", "matches", "-webkit-any", "-moz-any"})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
ZERO: Specificity = (0, 0, 0)


def specificity(selector_list: str) -> Specificity:
    """The highest specificity among the comma-separated selectors of ``selector_list``."""
    return max((_compound_sum(part) for part in _split_top_level(selector_list)), default=ZERO)


def _add(x: Specificity, y: Specificity) -> Specificity:
    return (x[0] + y[0], x[1] + y[1], x[2] + y[2])


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char in "\"'":
            end = text.find(char, i + 1)
            i = len(text) if end < 0 else end + 1
            continue
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _name_end(text: str, i: int) -> int:
    while i < len(text) and (text[i] in _NAME_CHARS or text[i] == "\\" or ord(text[i]) > 127):
        i += 2 if text[i] == "\\" else 1
    return i


def _group_end(text: str, i: int) -> int:
    """Index just past the bracket that closes the one opened at ``i - 1``."""
    depth = 1
    while i < len(text) and depth:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char in "\"'":
            end = text.find(char, i + 1)
            i = len(text) if end < 0 else end + 1
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        i += 1
    return i


def _compound_sum(selector: str) -> Specificity:
    total = ZERO
    i = 0
    while i < len(selector):
        char = selector[i]
        if char == "#":
            end = _name_end(selector, i + 1)
            total = _add(total, (1, 0, 0))
        elif char == ".":
            end = _name_end(selector, i + 1)
            total = _add(total, (0, 1, 0))
        elif char == "[":
            end = _group_end(selector, i + 1)
            total = _add(total, (0, 1, 0))
        elif char == ":":
            end, value = _pseudo(selector, i)
            total = _add(total, value)
        elif char in _NAME_CHARS or ord(char) > 127 or char == "\\":
            end = _name_end(selector, i)
            if selector[end : end + 1] == "|":  # a namespace prefix: the type follows
                end = _name_end(selector, end + 1)
            total = _add(total, (0, 0, 1))
        else:  # '*', combinators, whitespace
            end = i + 1
        i = end
    return total


def _pseudo(selector: str, i: int) -> tuple[int, Specificity]:
    element = selector[i + 1 : i + 2] == ":"
    start = i + (2 if element else 1)
    end = _name_end(selector, start)
    name = selector[start:end].lower()
    argument = None
    if selector[end : end + 1] == "(":
        close = _group_end(selector, end + 1)
        argument, end = selector[end + 1 : close - 1], close
    if element or name in _LEGACY_PSEUDO_ELEMENTS:
        return end, (0, 0, 1)
    if name == "where":
        return end, ZERO
    if name in _TAKES_MAX_OF_ARGUMENT and argument is not None:
        return end, specificity(argument)
    if name in ("nth-child", "nth-last-child") and argument and " of " in argument:
        return end, _add((0, 1, 0), specificity(argument.split(" of ", 1)[1]))
    return end, (0, 1, 0)
