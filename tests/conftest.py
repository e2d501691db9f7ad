"""Shared fixtures: where the team's corpus lives, and skipping rules for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# real servers as fixtures: redis_server, origin, start_proxy, raw_origin, embedded_store_url
pytest_plugins = ("tests.redis_server", "tests.proxy_fixtures")

_DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def corpus_root() -> Path | None:
    """The shared corpus: ``$VERNIER_CORPUS`` or ``../shared/corpus`` beside the checkout."""
    root = Path(os.environ.get("VERNIER_CORPUS", _DEFAULT_CORPUS))
    return root if root.is_dir() else None


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The corpus directory; skips outside CI when absent, fails under CI (where it must exist)."""
    root = corpus_root()
    if root is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the shared corpus is missing under CI (set VERNIER_CORPUS)")
        pytest.skip("shared corpus not found; set VERNIER_CORPUS to run corpus tests")
    return root
