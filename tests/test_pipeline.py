"""The stage order the proxy runs is the one ``proxy/pipeline.py`` draws and the README shows."""

from __future__ import annotations

import re
from pathlib import Path

import proxy.pipeline
from proxy.app import PIPELINE
from tests import proxy_fixtures
from tests.proxy_fixtures import StartProxy

README = Path(__file__).resolve().parents[1] / "README.md"
Order = tuple[tuple[str, ...], tuple[str, ...]]


def chain(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split("→"))


def drawn_in_docstring() -> Order:
    doc = proxy.pipeline.__doc__ or ""
    before = re.search(r"^\s*before the origin:(.*)$", doc, re.MULTILINE)
    after = re.search(r"^\s*after it answered:(.*)$", doc, re.MULTILINE)
    assert before and after, "the order drawing is missing from proxy/pipeline.py"
    return chain(before.group(1)), chain(after.group(1))


def drawn_in_readme() -> Order:
    section = README.read_text(encoding="utf-8").split("## How a request flows", 1)[1]
    line = next(line for line in section.splitlines() if "→" in line)
    before, after = line.split("│")
    return chain(before), chain(after)


def test_the_drawings_agree() -> None:
    assert drawn_in_docstring() == drawn_in_readme()


async def test_the_running_pipeline_is_in_the_drawn_order(
    origin: str, start_proxy: StartProxy
) -> None:
    await start_proxy(origin)
    pipeline = proxy_fixtures.STARTED_APPS[-1][PIPELINE]
    running = (
        tuple(stage.name for stage in pipeline.before_origin),
        tuple(stage.name for stage in pipeline.after_origin),
    )
    assert running == drawn_in_docstring()
