"""Rebuild ``stub.bin`` from ``stub.S`` with the GNU ARM binutils, as the flash loader is built:
``python3 -m stflash.flash.stub.build`` writes it beside the source; ``--check`` only compares."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..loader.build import assemble

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "stub.S"
BINARY = HERE / "stub.bin"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed stub.bin")
    args = parser.parse_args(argv)
    code = assemble(SOURCE)
    if args.check:
        same = BINARY.exists() and BINARY.read_bytes() == code
        print(f"{BINARY}: {'up to date' if same else 'differs from stub.S'} ({len(code)} bytes)")
        return 0 if same else 1
    BINARY.write_bytes(code)
    print(f"{BINARY}: {len(code)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
