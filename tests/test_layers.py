"""The layering rules of the package, checked on the source: lower layers never import higher
ones, and the simulator and the links never import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "stflash"

# package -> packages/modules it must never import
FORBIDDEN = {
    "image": {"chips", "flash", "links", "sim", "recover", "cli", "session", "discovery", "doctor"},
    "chips": {"image", "flash", "links", "sim", "recover", "cli", "session", "discovery", "doctor"},
    "flash": {"links", "sim", "recover", "cli", "session", "discovery", "doctor"},
    "links": {"sim", "recover", "cli", "session", "discovery", "doctor", "flash"},
    "sim": {"links", "recover", "cli", "session", "discovery", "doctor"},
    "recover": {"cli"},
}


def imported_stflash_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    pkg_parts = path.relative_to(SRC.parent).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg_parts[: len(pkg_parts) - node.level + 1])
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    names.update(f"{mod}.{a.name}" for a in node.names)
                else:
                    names.add(mod)
            elif node.module and node.module.startswith("stflash"):
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("stflash"))
    return {n.split(".")[1] for n in names if n.count(".") >= 1 and n.startswith("stflash.")}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    folder = SRC / layer
    for path in folder.rglob("*.py") if folder.exists() else []:
        bad = imported_stflash_modules(path) & FORBIDDEN[layer]
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


def test_library_imports_without_cli() -> None:
    code = "import stflash, sys; stflash.Image; stflash.find_chip; print('click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "the library must not need the CLI"
