"""The executable's entry (``proxy.entry``): Ctrl-C while the commands load is exit 130, quietly."""

from __future__ import annotations

import sys
import types

import pytest

from proxy.entry import main
from proxy.errors import EXIT_INTERRUPTED


class Loading(types.ModuleType):
    """A ``proxy.cli`` still loading when Ctrl-C comes."""

    def __getattr__(self, name: str) -> object:
        raise KeyboardInterrupt


def test_ctrl_c_while_the_commands_load_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "proxy.cli", Loading("proxy.cli"))
    assert main() == EXIT_INTERRUPTED == 130
    assert capsys.readouterr() == ("", "")


def test_the_entry_runs_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["vernier", "schema"])
    assert main() == 0
    assert '"$schema"' in capsys.readouterr().out
