"""Why a YAML value has the wrong type when YAML 1.1 read it other than it looks.

Unquoted, ``12:30`` is the number 750 (base 60), ``yes`` and ``on`` are true, ``0x1F`` is 31,
while ``1e3`` stays text (a float needs a dot). The type error alone ("expected a string, got an
integer") leaves the writer puzzled; the hint says what YAML made of the value and what to write.
Pure."""

from __future__ import annotations

import decimal
import re
from typing import Any

from proxy.config.elided_keys import path_segments

_EXPONENT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def unquoted_hint(data: Any, path: str, message: str) -> str:
    """A hint to append to ``message`` (a type error at ``path`` in ``data``), or ``""``."""
    value = _value_at(data, path)
    if message.startswith("expected a string") and isinstance(value, bool | int | float):
        read = str(value).lower() if isinstance(value, bool) else repr(value)
        return f" (YAML reads this value unquoted as {read}: put it in quotes)"
    wants_number = message.startswith(("expected an integer", "expected a number"))
    if wants_number and isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
        number = decimal.Decimal(value.strip())
        if abs(number.adjusted()) <= 12:
            return f" (YAML reads {value} as text, not a number: write {number:f})"
        mantissa, _, exponent = f"{number:e}".partition("e")  # 1e30 in full helps no one
        written = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
        return f" (YAML reads {value} as text, not a number: write {written})"
    return ""


def _value_at(data: Any, path: str) -> Any:
    node = data
    for segment in path_segments(path):
        try:
            node = node[segment]
        except (KeyError, IndexError, TypeError):
            return None
    return node
