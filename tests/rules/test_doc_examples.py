"""The rules files the documentation shows load as shown (fragments marked with ``...`` and blocks
that are not a whole file are left out)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxy.rules.load import load_rules

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("rules/README.md", "docs/rules-spec.md")
_TOP = ("rules:", "slots:", "segments:", "governance:")


def whole_files() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
            if block.startswith(_TOP) and "..." not in block.replace('"..."', ""):
                found.append((f"{doc}#{i}", block))
    return found


@pytest.mark.parametrize(("where", "block"), whole_files(), ids=lambda v: str(v)[:40])
def test_a_documented_rules_file_loads(where: str, block: str, tmp_path: Path) -> None:
    (tmp_path / "doc.yaml").write_text(block, encoding="utf-8")
    load_rules(tmp_path)


def test_the_full_examples_are_among_them() -> None:
    names = {where for where, _ in whole_files()}
    assert {"docs/rules-spec.md#0", "rules/README.md#5"} <= names
