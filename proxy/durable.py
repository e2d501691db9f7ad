"""Making a file's new name survive a host crash: fsync the directory that holds it."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Flush ``directory``'s entries (a file created, linked or renamed in it) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
