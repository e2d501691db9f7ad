"""conditional alone: Vernier owns the validators of GETs and HEADs some rule or slot may change."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.rules.engine import FixedRules
from proxy.stages.conditional import Conditional
from tests.stages.factory import make_engine, make_exchange


@pytest.mark.parametrize(
    ("method", "target", "owned"),
    [
        ("GET", "/page", True),
        ("HEAD", "/page", True),
        ("GET", "/page?x=1", True),
        ("POST", "/page", False),  # conditions on a POST are preconditions, the origin's to judge
        ("GET", "/other", False),
    ],
)
async def test_pages_in_scope_of_a_rule_or_slot(
    method: str, target: str, owned: bool, tmp_path: Path
) -> None:
    ex = make_exchange(method, target)
    await Conditional(FixedRules(make_engine(tmp_path)))(ex)
    assert ex.owns_validator is owned and ex.conditions is None
