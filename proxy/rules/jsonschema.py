"""The JSON Schema of a rules file, for editors (``vernier schema`` prints it)."""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.rules.schema import RulesFile


def rules_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of one ``rules/*.yaml`` file.

    It covers the types only; the loader's cross-checks (unique ids, selectors, conditions) are
    not expressible here.
    """
    schema = msgspec.json.schema(RulesFile)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Vernier rules file"
    return schema
