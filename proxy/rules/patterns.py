"""Path patterns of ``where`` blocks: globs turned into regexes, and the regexes refused because
they can backtrack exponentially (a repeated group that contains a repeat, such as ``(a+)+``).
Both run once per rules load, never per request."""

from __future__ import annotations

import re

MAX_REGEX_CHARS = 512


def glob_to_regex(glob: str) -> re.Pattern[str]:
    """``*`` matches within one path segment, ``**`` across segments; the whole path must match."""
    parts = re.split(r"(\*\*|\*)", glob)
    body = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return re.compile(f"^{body}$")


def nested_quantifier(pattern: str) -> bool:
    """Whether a repeated group contains a repeat (``(a+)+``, ``(a*b?)*``, ``(?:x{2,})+``)."""
    stack = [False]  # per open group: does it contain an unbounded/multiple repeat?
    i = 0
    while i < len(pattern):
        char = pattern[i]
        inner = False
        if char == "\\":
            i += 2
        elif char == "[":
            i += 2 if pattern[i + 1 : i + 2] == "^" else 1
            i += 1  # a leading ']' is literal
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
        elif char == "(":
            stack.append(False)
            i += 1
            continue
        elif char == ")" and len(stack) > 1:
            inner = stack.pop()
            i += 1
        else:
            i += 1
        repeat = re.match(r"[*+]|\{(\d*),(\d*)\}|\{(\d+)\}", pattern[i:])
        if repeat is None:
            stack[-1] = stack[-1] or inner
            continue
        _, high, exact = repeat.groups()
        many = repeat.group() in ("*", "+") or (exact or high or "2") not in ("0", "1")
        if many and inner:
            return True
        stack[-1] = stack[-1] or inner or many
        i += repeat.end()
    return False
