"""How long loading a 2 MiB Intel HEX file takes, next to srec_cat converting the same file.

Not a test: run ``python bench/hex_load.py`` and read the numbers. The file holds random bytes
at 0x08000000 in 16-byte records (the layout objcopy writes). srec_cat is timed twice: as asked
(``-o OUT -binary``, which writes everything from address 0, i.e. a 130 MiB file) and with
``-offset`` so it writes only the 2 MiB, which is the fairer comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import harness  # noqa: F401  (puts a checkout's src on the path)

from stflash.image import load

BASE = 0x0800_0000


def record(kind: int, address: int, payload: bytes) -> str:
    body = bytes((len(payload), address >> 8 & 0xFF, address & 0xFF, kind)) + payload
    return ":" + (body + bytes(((-sum(body)) & 0xFF,))).hex().upper() + "\n"


def write_hex(path: Path, data: bytes, base: int = BASE) -> None:
    """Written here rather than with stflash's writer, so the benchmark does not grade itself."""
    lines, upper = [], -1
    for pos in range(0, len(data), 16):
        address = base + pos
        if address >> 16 != upper:
            upper = address >> 16
            lines.append(record(4, 0, upper.to_bytes(2, "big")))
        lines.append(record(0, address & 0xFFFF, data[pos : pos + 16]))
    lines.append(":00000001FF\n")
    path.write_text("".join(lines))


def best_of(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2 << 20, help="bytes of data (default 2 MiB)")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs (default 3)")
    args = parser.parse_args()
    data = os.urandom(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        hex_path = Path(tmp) / "bench.hex"
        write_hex(hex_path, data)
        print(f"{hex_path.stat().st_size} bytes of Intel HEX for {len(data)} bytes of data")
        loaded = load(hex_path)
        if loaded.image.read(BASE, len(data)) != data or loaded.image.size != len(data):
            print("stflash read the file wrong", file=sys.stderr)
            return 1
        ours = best_of(args.runs, lambda: load(hex_path))
        print(f"stflash.image.load:              {ours * 1000:8.1f} ms")
        srec_cat = shutil.which("srec_cat")
        if srec_cat is None:
            print("srec_cat not installed (Debian package srecord): nothing to compare with")
            return 0
        out = Path(tmp) / "out.bin"
        plain = [srec_cat, str(hex_path), "-intel", "-o", str(out), "-binary"]
        offset = [srec_cat, str(hex_path), "-intel", "-offset", f"-{BASE:#x}", "-o", str(out), "-binary"]
        for label, command in (("srec_cat -o OUT -binary", plain), ("srec_cat -offset ... -binary", offset)):
            took = best_of(args.runs, lambda command=command: subprocess.run(command, check=True))
            print(f"{label + ':':32s} {took * 1000:8.1f} ms   ratio srec_cat/stflash {took / ours:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
