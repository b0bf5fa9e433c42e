"""Writing a 256 KiB image over the UART bootloader at 115200 baud on the virtual bench.

Not a test: run ``python bench/uart_write.py`` and read the numbers. It prints stflash's virtual
time (write alone, and write + read-back verify) beside the protocol's lower bound for the same
image: every byte the AN3155 frames must carry at the baud rate (command, address, data and the
three ACKs per 256-byte frame, 11 bits a character in 8E1) plus the chip's erase and program
times from the bench's timing model, with no turnaround latency at all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import sys
import tempfile
from pathlib import Path

try:
    from stflash.cli.main import main as stflash
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from stflash.cli.main import main as stflash

from stflash.chips.lookup import find_chip
from stflash.sim.bench import Bench

from bounds import chip_seconds

FRAME_BYTES = 2 + 1 + 5 + 1 + 1 + 256 + 1 + 1  # cmd, ACK, address, ACK, N, data, checksum, ACK
BITS_PER_CHAR = 11  # start, 8 data, parity, stop


def lower_bound_s(part: str, size: int, baud: int, rom_parallelism: int | None = None) -> float:
    wire = (size // 256) * FRAME_BYTES * BITS_PER_CHAR / baud
    erase, program = chip_seconds(part, size, rom_parallelism)
    return wire + erase + program


def run(part: str, size: int, baud: int, verify: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "bench"
        Bench.create(directory, part, scenarios=("bootloader-only",))
        image = Path(tmp) / "image.bin"
        image.write_bytes(random.Random(0).randbytes(size))
        os.environ["STFLASH_SIM"] = str(directory)
        with Bench.open(directory) as b:
            start = b.clock.now
        args = ["-q", "write", str(image), "-c", f"uart:sim:{baud}", "--no-reset"]
        with contextlib.redirect_stdout(io.StringIO()):
            code = stflash(args + ([] if verify else ["--no-verify"]))
        if code:
            raise SystemExit(f"stflash exited {code}")
        with Bench.open(directory) as b:
            return (b.clock.now - start) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="nucleo-f401re")
    ap.add_argument("--size", type=int, default=256 * 1024)
    ap.add_argument("--baud", type=int, default=115200)
    args = ap.parse_args()
    # F2/F4/F7 ROMs start in the lowest voltage range (x8); stflash selects range 3 (x32, AN2606)
    x32 = find_chip(args.part).flash_kind.value in ("f2f4", "f7")
    bound = lower_bound_s(args.part, args.size, args.baud, rom_parallelism=32 if x32 else None)
    write = run(args.part, args.size, args.baud, verify=False)
    both = run(args.part, args.size, args.baud, verify=True)
    kib = args.size / 1024
    print(f"{args.part}, {kib:.0f} KiB at {args.baud} baud (virtual seconds)")
    print(f"  lower bound (wire + erase + program): {bound:8.2f} s  {kib / bound:6.2f} KiB/s")
    print(f"  stflash write, no verify:             {write:8.2f} s  {kib / write:6.2f} KiB/s  {write / bound:5.2f}x bound")
    print(f"  stflash write + read-back verify:     {both:8.2f} s  {kib / both:6.2f} KiB/s")


if __name__ == "__main__":
    main()
