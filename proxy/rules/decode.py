"""One rules file's YAML as typed structs, or an error that names ``file:line $.path``.

msgspec checks the types and stops at the first error, in document order. Its path elides the
keys of mappings (``$.slots[0].variants[...][1]``), which would leave a reader to guess which
variant is wrong, so the elided key is found again
(:func:`~proxy.config.elided_keys.resolve_elided_keys`, on the error path only), and an unknown
``op`` lists the operations there are.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec

from proxy.config.elided_keys import path_segments, resolve_elided_keys
from proxy.config.load import msgspec_error_path
from proxy.config.yaml_hints import unquoted_hint
from proxy.config.yaml_strict import LineMap
from proxy.html.ops.registry import OPERATION_TAGS
from proxy.rules import schema

_ID_KEY = re.compile(r"^[a-z0-9-]{1,64}$")


def decode_rules_file(data: Any, lines: LineMap) -> schema.RulesFile:
    """``data`` (one file's YAML) as a :class:`~proxy.rules.schema.RulesFile`; else a
    :class:`~proxy.errors.ConfigError` naming the file, line and key path of the first error."""
    try:
        return msgspec.convert(data, schema.RulesFile, strict=True)
    except msgspec.ValidationError as err:
        error = str(err)  # compared, never shown: the message is Vernier's own (msgspec_error_path)
        message, path = msgspec_error_path(err, schema.RulesFile)
    at_key = re.fullmatch(r".* - at `key` in `([^`]*)`", error)
    if at_key is not None:  # a mapping key (a variant id) is malformed
        path = resolve_elided_keys(data, at_key.group(1), error, schema.RulesFile)
        node = functools.reduce(lambda n, s: n[s], path_segments(path), data)
        bad = next((k for k in node if not _ID_KEY.match(str(k))), None)
        if bad is None:
            raise lines.error(f"a key {message}", path)
        raise lines.error(f"key {bad!r} {message}", f"{path}.{bad}")
    if "[...]" in path:
        path = resolve_elided_keys(data, path, error, schema.RulesFile)
    unknown_op = re.match(r"Invalid value (.*) - at", error)
    if unknown_op is not None and path.endswith(".op"):
        known = ", ".join(sorted(OPERATION_TAGS))
        message = f"unknown operation {unknown_op.group(1)} (known: {known})"
    if message == "must not be empty" and re.search(r"\.where\.(hosts|paths|methods)$", path):
        message += " (an empty list would scope nothing: leave the key out)"
    raise lines.error(message + unquoted_hint(data, path, message), path)
