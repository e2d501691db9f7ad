"""Every module under ``proxy/`` imports on its own, in an interpreter that has loaded no other.

An import cycle only fails when the cycle is entered at the wrong module: the suite imports modules
in one order and would never see it (``import proxy.govern.policy`` first once raised ImportError).
Each module is imported in a child forked from an interpreter that has loaded the third-party
packages Vernier uses and nothing of ``proxy``, so the check is exact for Vernier's own imports and
takes seconds, not a fresh Python start-up per module.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

PACKAGE = Path(__file__).resolve().parents[1] / "proxy"

_CHECKER = r"""
import ast, os, sys, traceback
from pathlib import Path
import orjson

package = Path(sys.argv[1])
own = package.name
modules = sys.argv[2:]
third_party = set()
for file in package.rglob("*.py"):
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top != own and top not in sys.stdlib_module_names:
                third_party.add(name)
for name in sorted(third_party):
    try:
        __import__(name)
    except Exception:
        pass  # optional dependencies; the child reports what the module itself needs
assert not any(name == own or name.startswith(own + ".") for name in sys.modules)
failures = {}
for module in modules:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            __import__(module)
            message = b""
        except BaseException:
            message = traceback.format_exc().encode()
        os.write(write, message[-4000:])
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read()
    os.waitpid(child, 0)
    if message:
        failures[module] = message.decode()
sys.stdout.buffer.write(orjson.dumps(failures))
"""


def all_modules() -> list[str]:
    names = []
    for file in sorted(PACKAGE.rglob("*.py")):
        if file.name == "__main__.py":
            continue  # runs the CLI when imported
        parts = file.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_every_module_imports_first() -> None:
    modules = all_modules()
    assert len(modules) > 100
    result = subprocess.run(
        [sys.executable, "-c", _CHECKER, str(PACKAGE), *modules],
        capture_output=True,
        timeout=300,
        check=True,
    )
    failures = orjson.loads(result.stdout)
    assert failures == {}, "\n\n".join(f"import {m}:\n{tb}" for m, tb in failures.items())


def test_the_check_sees_a_cycle(tmp_path: Path) -> None:
    """The same checker fails on a package whose modules import each other at module level."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic.b import B\nA = 1\n")
    (package / "b.py").write_text("from cyclic.a import A\nB = 2\n")
    result = subprocess.run(
        [sys.executable, "-c", _CHECKER, str(package), "cyclic.a", "cyclic.b"],
        capture_output=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    failures = orjson.loads(result.stdout)
    assert set(failures) == {"cyclic.a", "cyclic.b"}
    assert all("ImportError" in failure for failure in failures.values())
