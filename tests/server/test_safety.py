"""Refuse to start on an aiohttp known to be unsafe in front of a site (docs/reliability.md
§0.2)."""

from __future__ import annotations

import sys

import aiohttp
import pytest

from proxy.errors import StartupError
from proxy.server import safety


@pytest.fixture(autouse=True)
def _extensions_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOHTTP_NO_EXTENSIONS", raising=False)


def test_passes_on_the_installed_aiohttp() -> None:
    safety.check_aiohttp()


@pytest.mark.parametrize("value", ["1", "yes", "0"])
def test_refuses_when_extensions_are_disabled(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # aiohttp itself treats any non-empty value, even "0", as "disable the C parser"
    monkeypatch.setenv("AIOHTTP_NO_EXTENSIONS", value)
    with pytest.raises(StartupError, match="AIOHTTP_NO_EXTENSIONS"):
        safety.check_aiohttp()


def test_empty_setting_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOHTTP_NO_EXTENSIONS", "")
    safety.check_aiohttp()


@pytest.mark.parametrize("version", ["3.14.3", "3.13.4", "3.9.5", "3.14.3rc5", "2.99.99", "3.14"])
def test_refuses_old_versions(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setattr(aiohttp, "__version__", version)
    with pytest.raises(StartupError, match=r"aiohttp>=3\.14\.4"):
        safety.check_aiohttp()


@pytest.mark.parametrize("version", ["3.14.4", "3.14.5", "3.15.0", "3.14.10", "4.0.0a1"])
def test_accepts_fixed_versions(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setattr(aiohttp, "__version__", version)
    safety.check_aiohttp()


def test_refuses_without_the_c_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp._http_parser", None)  # import now fails
    with pytest.raises(StartupError, match="C HTTP parser"):
        safety.check_aiohttp()
