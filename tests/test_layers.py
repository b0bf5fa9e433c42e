"""The layering rules of the package, checked on the source: lower layers never import higher
ones, and the simulator and the links never import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "stflash"

# what the client builds on top of links/ and flash/ (the -c syntax, the link interface, the ST-LINK
# composed with the flash drivers, option bytes by name, discovery, the API, the CLI)
CLIENT = {"connect", "target", "stlink_target", "uart_target", "optionbytes", "discovery", "doctor", "recover", "session", "cli"}

# package or module -> packages/modules it must never import
FORBIDDEN = {
    "image": {"chips", "flash", "links", "sim"} | CLIENT,
    "chips": {"image", "flash", "links", "sim"} | CLIENT,
    "flash": {"links", "sim"} | CLIENT,
    "links": {"sim", "flash"} | (CLIENT - {"target"}),  # a link offers what target.py asks for
    "sim": {"links", "flash"} | CLIENT,  # the device side, written from the manuals, not from our client
    "recover": {"cli"},
    "session": {"cli"},
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


def sources(layer: str) -> list[Path]:
    """The files of a package, or the module itself."""
    folder = SRC / layer
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [p for p in [SRC / f"{layer}.py"] if p.exists()]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    paths = sources(layer)
    if not paths:
        pytest.skip(f"stflash.{layer} has no source yet")
    for path in paths:
        bad = imported_stflash_modules(path) & FORBIDDEN[layer]
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


def test_library_imports_without_cli() -> None:
    code = "import stflash, sys; stflash.Image; stflash.find_chip; print('click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "the library must not need the CLI"
