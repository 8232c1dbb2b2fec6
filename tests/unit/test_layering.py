"""The dependency rule of ARCHITECTURE §1, checked by walking every import.

Deterministic layers must not import I/O, clocks or randomness, and layers only
import downwards.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"asyncio", "aiohttp", "plyvel", "pydantic", "time", "random"}
ALLOWED_LAYERS = {
    "ledger": {"ledger"},
    "contracts": {"ledger", "contracts"},
    "consensus": {"ledger", "consensus"},
    "node": {"ledger", "contracts", "consensus", "node"},
    "cli": {"ledger", "contracts", "cli", "node"},
    # the sample shop shows what a merchant needs: the SDK (cli.merchant), nothing below
    "examples": {"cli"},
}
PROJECT = set(ALLOWED_LAYERS)


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def python_files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["ledger", "contracts", "consensus"])
def test_deterministic_layers_import_no_io_clock_or_randomness(layer: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(layer)
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


@pytest.mark.parametrize("layer", sorted(ALLOWED_LAYERS))
def test_layers_import_only_downwards(layer: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(layer)
        for name in imported_modules(path)
        if name.split(".")[0] in PROJECT and name.split(".")[0] not in ALLOWED_LAYERS[layer]
    ]
    assert offenders == []


def test_checker_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import time\nfrom aiohttp import web\n")
    assert imported_modules(sample) == ["time", "aiohttp"]


# Run in a fresh interpreter: each module is imported first, with every module of the
# deterministic layers forgotten before it, so an import cycle that only works in
# one order (contracts.roles -> coin -> policy -> franchise -> roles) fails here.
_IMPORT_EACH_FIRST = """
import importlib, sys
failed = []
layers = ("ledger", "contracts", "consensus")
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in layers]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append(f"{name}: {exc}")
print("\\n".join(failed))
"""


def test_every_deterministic_module_imports_first() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for layer in ("ledger", "contracts", "consensus")
        for path in python_files(layer)
        if path.name != "__init__.py"
    ]
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_FIRST, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == ""
