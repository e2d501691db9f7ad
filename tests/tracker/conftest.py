"""The tracker tests' spool folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import short_tmp_dir


@pytest.fixture
def spool_dir() -> Iterator[Path]:
    """A spool folder that does not exist yet (the spool creates it), under a short ``/tmp``
    path, removed after the test."""
    directory = short_tmp_dir()
    yield directory / "spool"
    shutil.rmtree(directory, ignore_errors=True)
