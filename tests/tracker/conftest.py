"""The tracker tests' spool folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import short_data_dir


@pytest.fixture
def spool_dir() -> Iterator[Path]:
    """A spool folder that does not exist yet (the spool creates it), under a short ``/tmp``
    path, removed after the test."""
    with short_data_dir() as directory:
        yield directory / "spool"
