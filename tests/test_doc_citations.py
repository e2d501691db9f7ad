"""Docstrings and comments cite documents that are in the repository, and the parts they name.

Code explains itself by pointing at the design contract (``docs/design.md §n``), the reliability
cases (``docs/reliability.md PX-07``, ``§0.9``) and the other docs. A citation of a file that is
not in the checkout (the old ``DESIGN.md``/``RELIABILITY.md``, which lived outside it) or of a
section or case the document does not have leaves a reader with nothing; this test fails on
either, naming the file and line. ``make lint`` runs it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("proxy", "tests", "bench")
SUFFIXES = frozenset({".py", ".yaml", ".yml", ".md", ".toml"})
DESIGN = ROOT / "docs" / "design.md"
RELIABILITY = ROOT / "docs" / "reliability.md"

_DOC_PATH = re.compile(r"(?<![\w./-])((?:\.\./|[\w-]+/)*[\w-]+\.md)\b")
_OUTSIDE = re.compile(r"\b(?:DESIGN|RELIABILITY)(?:\.md)?\b")
_DESIGN_SECTION = re.compile(r"docs/design\.md §(\d+)")
_RELIABILITY_SECTION = re.compile(r"docs/reliability\.md §(\d+)(?:\.(\d+))?")
_CASE_ID = re.compile(r"\b(?:PX|SM|TO|FO|HR|EV|SE|LD)-\d{2}\b")


@dataclass(frozen=True, slots=True)
class Line:
    file: Path
    number: int
    text: str

    def __str__(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.number}"


def source_lines() -> Iterator[Line]:
    for folder in SCANNED:
        for file in sorted((ROOT / folder).rglob("*")):
            if file.suffix not in SUFFIXES or not file.is_file() or "results" in file.parts:
                continue
            if file == Path(__file__).resolve():
                continue  # this file names the forbidden citations to find them
            for number, text in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                yield Line(file, number, text)


def resolves(cited: str, citing: Path) -> bool:
    """A cited path exists from the repository root, the citing file's folder, or (a bare name)
    the root or ``docs/``."""
    bases = [ROOT, citing.parent]
    if "/" not in cited:
        bases.append(ROOT / "docs")
    return any((base / cited).is_file() for base in bases)


def design_sections() -> set[str]:
    return set(re.findall(r"^## (\d+)\. ", DESIGN.read_text(encoding="utf-8"), re.M))


def reliability_parts() -> tuple[set[str], set[str]]:
    """The reliability doc's citable sections (``0``, ``0.9``, ``5.1``, ``6``) and case ids."""
    text = RELIABILITY.read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\. ", text, re.M))
    sections |= set(re.findall(r"^### (\d+\.\d+) ", text, re.M))
    zero = text.split("## 0. ", 1)[1].split("\n## ", 1)[0]
    sections |= {f"0.{item}" for item in re.findall(r"^(\d+)\. ", zero, re.M)}
    cases = set(re.findall(r"^\| ((?:PX|SM|TO|FO|HR|EV|SE|LD)-\d{2}) \|", text, re.M))
    return sections, cases


def test_no_code_cites_a_document_outside_the_repository() -> None:
    wrong = [
        f"{line}: {line.text.strip()}" for line in source_lines() if _OUTSIDE.search(line.text)
    ]
    assert not wrong, "cite docs/design.md or docs/reliability.md instead:\n" + "\n".join(wrong)


def test_every_cited_document_exists() -> None:
    missing = [
        f"{line}: {cited}"
        for line in source_lines()
        for cited in _DOC_PATH.findall(line.text)
        if not resolves(cited, line.file)
    ]
    assert not missing, "documents cited but not in the repository:\n" + "\n".join(missing)


def test_every_cited_section_and_case_exists() -> None:
    design = design_sections()
    sections, cases = reliability_parts()
    wrong: list[str] = []
    citing_reliability: set[Path] = set()
    for line in source_lines():
        wrong += [f"{line}: docs/design.md §{n}" for n in _DESIGN_SECTION.findall(line.text)
                  if n not in design]  # fmt: skip
        for major, minor in _RELIABILITY_SECTION.findall(line.text):
            section = f"{major}.{minor}" if minor else major
            if section not in sections:
                wrong.append(f"{line}: docs/reliability.md §{section}")
        if "docs/reliability.md" in line.text:
            citing_reliability.add(line.file)
    for line in source_lines():  # case ids in a file that cites the reliability doc are its ids
        if line.file in citing_reliability:
            wrong += [
                f"{line}: {case}" for case in _CASE_ID.findall(line.text) if case not in cases
            ]
    assert not wrong, "sections or cases the documents do not have:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see DESIGN.md §3", True),
        ("(RELIABILITY EV-08)", True),
        ("(docs/reliability.md EV-08)", False),
        ("DESIGN_NOTES = 1", False),
    ],
)
def test_the_outside_citation_pattern(text: str, found: bool) -> None:
    assert bool(_OUTSIDE.search(text)) is found


def test_a_missing_document_is_found(tmp_path: Path) -> None:
    assert not resolves("docs/nowhere.md", ROOT / "proxy" / "app.py")
    assert resolves("docs/design.md", ROOT / "proxy" / "app.py")
    assert resolves("rules-spec.md", ROOT / "tests" / "html" / "ops" / "test_registry.py")
    assert resolves("../docs/benchmarks.md", ROOT / "bench" / "README.md")
