"""conditional alone: Vernier owns the validators of GETs and HEADs some rule or slot may change."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.rules.engine import FixedRules
from proxy.stages.conditional import Conditional
from tests.stages.factory import make_engine, make_exchange


@pytest.mark.parametrize(
    ("method", "target", "in_scope", "owned"),
    [
        ("GET", "/page", True, True),
        ("HEAD", "/page", True, True),
        ("GET", "/page?x=1", True, True),
        # conditions on a POST are preconditions, the origin's to judge; its answer is private
        ("POST", "/page", True, False),
        ("GET", "/other", False, False),
    ],
)
async def test_pages_in_scope_of_a_rule_or_slot(
    method: str, target: str, in_scope: bool, owned: bool, tmp_path: Path
) -> None:
    ex = make_exchange(method, target)
    await Conditional(FixedRules(make_engine(tmp_path)))(ex)
    assert ex.in_scope is in_scope and ex.owns_validator is owned and ex.conditions is None
