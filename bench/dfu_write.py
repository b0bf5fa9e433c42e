"""Writing a 512 KiB image over USB DFU on the virtual bench: stflash beside pyfu-usb.

Not a test: run ``python bench/dfu_write.py`` and read the numbers (virtual seconds). The lower
bound is the chip's erase time for the sectors the image covers and its program time, plus the
control transfers the data needs on full-speed USB (one DNLOAD data stage of wTransferSize bytes
per block: ceil(64-byte packets / 19 per frame) frames, the setup and status stages in the same
frames), with nothing else: no status polling, no address commands, no verify.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import random
import struct
import sys
import tempfile
from pathlib import Path

try:
    from stflash.cli.main import main as stflash
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from stflash.cli.main import main as stflash

import usb.core

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

from bounds import chip_seconds

FLASH = 0x0800_0000
PACKETS_PER_FRAME = 19  # 64-byte bulk/control packets a full-speed frame carries at most


def image(size: int) -> bytes:
    """A vector table the ROM accepts as an application, then random bytes."""
    return struct.pack("<II", 0x2000_2000, FLASH + 0x201) + random.Random(0).randbytes(size - 8)


def lower_bound_s(part: str, size: int, block: int = 2048) -> float:
    erase, program = chip_seconds(part, size)  # at the ROM's own program width
    frames = (size // block) * math.ceil(block / 64 / PACKETS_PER_FRAME)
    return erase + program + frames * 1e-3


def clock(directory: Path) -> int:
    with Bench.open(directory) as b:
        return b.clock.now


def run_stflash(part: str, data: bytes, tmp: Path, verify: bool) -> float:
    directory = tmp / f"stflash-{verify}"
    Bench.create(directory, part, scenarios=("bootloader-only",))
    path = tmp / "fw.bin"
    path.write_bytes(data)
    os.environ["STFLASH_SIM"] = str(directory)
    t0 = clock(directory)
    with contextlib.redirect_stdout(io.StringIO()):
        code = stflash(["-q", "write", str(path), "-c", "dfu"] + ([] if verify else ["--no-verify"]))
    if code:
        raise SystemExit(f"stflash exited {code}")
    return (clock(directory) - t0) / 1e9


def run_pyfu(part: str, data: bytes, tmp: Path) -> float | None:
    try:
        import pyfu_usb
    except ImportError:
        return None
    directory = tmp / "pyfu"
    Bench.create(directory, part, scenarios=("bootloader-only",))
    path = tmp / "fw.bin"
    path.write_bytes(data)
    backend = pyusb_backend(directory)
    real = usb.core.find
    usb.core.find = lambda *a, **k: real(*a, **{**k, "backend": backend})  # pyfu-usb passes no backend
    try:
        t0 = clock(directory)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            pyfu_usb.download(str(path), address=FLASH)
        return (clock(directory) - t0) / 1e9
    finally:
        usb.core.find = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="stm32f407vg")
    ap.add_argument("--size", type=int, default=512 * 1024)
    args = ap.parse_args()
    data = image(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        bound = lower_bound_s(args.part, args.size)
        ours = run_stflash(args.part, data, Path(tmp), verify=False)
        ours_verified = run_stflash(args.part, data, Path(tmp), verify=True)
        theirs = run_pyfu(args.part, data, Path(tmp))
    kib = args.size / 1024
    print(f"{args.part}, {kib:.0f} KiB over USB DFU (virtual seconds)")
    print(f"  lower bound (erase + program + data frames): {bound:7.2f} s")
    print(f"  stflash write, no verify:                   {ours:7.2f} s  {ours / bound:5.2f}x bound")
    print(f"  stflash write + read-back verify:           {ours_verified:7.2f} s")
    if theirs is not None:
        print(f"  pyfu-usb download (no verify):              {theirs:7.2f} s  {theirs / bound:5.2f}x bound")
    else:
        print("  pyfu-usb: not installed")


if __name__ == "__main__":
    main()
