"""The dependency locks agree with pyproject.toml and with each other (``make lock`` writes both)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)(?: ; (.*?))?(?: \\)?$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(file: Path) -> dict[tuple[str, str], str]:
    """(package, marker) → version for every pin in a lock file; every pin carries hashes."""
    found: dict[tuple[str, str], str] = {}
    lines = file.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        match = _PIN.match(line)
        if match:
            name, version, marker = match.groups()
            found[(normalise(name), marker or "")] = version
            assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{file}: {line}"
    return found


def requirement_name(spec: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", spec)
    assert match is not None
    return normalise(match.group(0))


def test_every_dependency_in_pyproject_is_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {requirement_name(spec) for spec in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {requirement_name(spec) for spec in extra}
    locked = {name for name, _ in pins(ROOT / "requirements" / "lock.txt")}
    assert wanted - locked == set()
    runtime = {name for name, _ in pins(ROOT / "requirements" / "runtime.txt")}
    assert {requirement_name(spec) for spec in project["dependencies"]} - runtime == set()


def test_the_runtime_lock_is_a_subset_of_the_full_lock() -> None:
    full = {
        (name, version) for (name, _), version in pins(ROOT / "requirements" / "lock.txt").items()
    }
    runtime = {
        (name, version)
        for (name, _), version in pins(ROOT / "requirements" / "runtime.txt").items()
    }
    assert runtime, "empty runtime lock"
    assert (
        runtime - full == set()
    )  # markers may differ: a dev tool can widen where a package is needed
    assert "pytest" not in {name for name, _ in runtime}
