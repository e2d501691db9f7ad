"""The ``vernier`` executable: Ctrl-C while the commands' modules load (seconds on a busy
machine) exits 130 quietly, as it does once a command runs (:func:`proxy.cli.main`), instead of
printing the import's traceback."""

from __future__ import annotations

from proxy.errors import EXIT_INTERRUPTED


def main() -> int:
    try:
        from proxy.cli import main as run_command

        return run_command()
    except KeyboardInterrupt:  # before the command's own handling (loading, parsing flags)
        return EXIT_INTERRUPTED
