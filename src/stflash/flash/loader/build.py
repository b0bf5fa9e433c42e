"""Rebuild ``loader.bin`` from ``loader.S`` with the GNU ARM binutils (Debian:
binutils-arm-none-eabi): ``python3 -m stflash.flash.loader.build`` writes it beside the source;
``--check`` only compares and exits 1 when the committed bytes differ."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "loader.S"
BINARY = HERE / "loader.bin"
CPU = "cortex-m0"  # ARMv6-M: the instruction subset every STM32 core executes
TOOLS = ("as", "ld", "objcopy")


def tool(name: str) -> str:
    path = shutil.which(f"arm-none-eabi-{name}")
    if path is None:
        raise FileNotFoundError(f"arm-none-eabi-{name} not found (Debian: apt install binutils-arm-none-eabi)")
    return path


def assemble(source: Path = SOURCE, base: int = 0) -> bytes:
    """The loader's bytes: assembled for ARMv6-M (the assembler refuses anything else), linked
    at ``base`` (position-independent code comes out the same at any base), text section only."""
    with tempfile.TemporaryDirectory() as tmp:
        obj, elf, out = (Path(tmp) / f"loader.{ext}" for ext in ("o", "elf", "bin"))
        subprocess.run([tool("as"), f"-mcpu={CPU}", "-mthumb", str(source), "-o", str(obj)], check=True)
        subprocess.run([tool("ld"), f"-Ttext={base:#x}", "--entry=0", "-o", str(elf), str(obj)], check=True)
        subprocess.run([tool("objcopy"), "-O", "binary", "-j", ".text", str(elf), str(out)], check=True)
        return out.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed loader.bin")
    parser.add_argument("-o", "--output", type=Path, default=BINARY)
    args = parser.parse_args(argv)
    code = assemble()
    if args.check:
        same = args.output.exists() and args.output.read_bytes() == code
        print(f"{args.output}: {'up to date' if same else 'differs from loader.S'} ({len(code)} bytes)")
        return 0 if same else 1
    args.output.write_bytes(code)
    print(f"{args.output}: {len(code)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
