"""Writing a 512 KiB image through an ST-LINK on the virtual bench: stflash beside pyOCD.

Not a test: run ``python bench/stlink_write.py`` and read the numbers (virtual seconds). Both
tools drive the same simulated probe and chip; pyOCD with its own flash algorithm on the simulated
core, stflash with its loader. The lower bound is the chip's erase time for the sectors the image
covers, plus the larger of its program time and the time the bytes need on the way (USB bulk
packets at the probe's speed, then per 32-bit word the probe firmware's access time and 46 SWD
clocks at the fastest clock the probe offers, as the bench's probe model charges them), as if
transfer and programming overlapped perfectly and nothing else happened.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import random
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

try:
    from stflash.cli.main import main as stflash
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from stflash.cli.main import main as stflash

from stflash.chips.boards import board_part
from stflash.chips.lookup import find_chip
from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench
from stflash.sim.usb.timing import STLINK_TIMING, UsbTiming

from bounds import PSIZE_KINDS, chip_seconds

FLASH = 0x0800_0000
CASES = {  # board, probe, pyOCD target, USB speed (Mbit/s), fastest SWD clock (Hz)
    "f429": ("nucleo-f429zi", "V2-1", "stm32f429xi", 12, 4_000_000),
    "h743": ("nucleo-h743zi", "V3", "stm32h743xx", 480, 24_000_000),
}


def image(size: int) -> bytes:
    """A vector table, then random bytes."""
    return struct.pack("<II", 0x2000_2000, FLASH + 0x201) + random.Random(0).randbytes(size - 8)


def lower_bound_s(part: str, size: int, usb_mbit: int, swd_hz: int) -> float:
    """x32 on F2/F4/F7 (x64 needs an external VPP), the ROM's width (x64) on H7."""
    erase, program = chip_seconds(part, size, 32 if find_chip(part).flash_kind in PSIZE_KINDS else None)
    usb = UsbTiming.for_speed(2 if usb_mbit > 12 else 1)
    probe = STLINK_TIMING["V3" if usb_mbit > 12 else "V2-1"]
    per_word = probe.access_ns / 1e9 + probe.swd_clocks / swd_hz  # the probe's firmware, then the SWD wire
    wire = usb.bulk_end(0, size) / 1e9 + (size // 4) * per_word
    return erase + max(program, wire)


def clock(directory: Path) -> int:
    with Bench.open(directory) as b:
        return b.clock.now


def run_stflash(board: str, probe: str, data: bytes, tmp: Path, verify: bool) -> float:
    directory = tmp / f"stflash-{verify}"
    Bench.create(directory, board, probe=probe)
    path = tmp / "fw.bin"
    path.write_bytes(data)
    os.environ["STFLASH_SIM"] = str(directory)
    t0 = clock(directory)
    with contextlib.redirect_stdout(io.StringIO()):
        code = stflash(["-q", "write", str(path), "-c", "stlink"] + ([] if verify else ["--no-verify"]))
    if code:
        raise SystemExit(f"stflash exited {code}")
    return (clock(directory) - t0) / 1e9


def run_pyocd(board: str, probe: str, target: str, data: bytes, tmp: Path) -> float | None:
    try:
        import usb.core
        from pyocd.core.helpers import ConnectHelper
        from pyocd.flash.file_programmer import FileProgrammer
        from pyocd.probe.stlink import usb as pyocd_usb
    except ImportError:
        return None
    logging.getLogger("pyocd").setLevel(logging.CRITICAL)
    directory = tmp / "pyocd"
    Bench.create(directory, board, probe=probe)
    path = tmp / "fw.bin"
    path.write_bytes(data)
    backend = pyusb_backend(directory)
    real = pyocd_usb.usb_find

    def find(*args: Any, **kw: Any) -> Any:
        return usb.core.find(*args, **{**kw, "backend": backend})

    pyocd_usb.usb_find = find
    options = {"target_override": target, "frequency": 24_000_000, "project_dir": str(tmp),
               "reset.hold_time": 0.001, "reset.post_delay": 0.001}
    try:
        t0 = clock(directory)
        with ConnectHelper.session_with_chosen_probe(blocking=False, options=options) as session:
            FileProgrammer(session).program(str(path), base_address=FLASH, file_format="bin")
        return (clock(directory) - t0) / 1e9
    finally:
        pyocd_usb.usb_find = real


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), action="append")
    ap.add_argument("--size", type=int, default=512 * 1024)
    args = ap.parse_args()
    data = image(args.size)
    for case in args.case or sorted(CASES):
        board, probe, target, usb_mbit, swd_hz = CASES[case]
        part = board_part(board) or board
        with tempfile.TemporaryDirectory() as tmp:
            bound = lower_bound_s(part, args.size, usb_mbit, swd_hz)
            ours = run_stflash(board, probe, data, Path(tmp), verify=False)
            ours_verified = run_stflash(board, probe, data, Path(tmp), verify=True)
            theirs = run_pyocd(board, probe, target, data, Path(tmp))
        print(f"{board} ({part}), ST-LINK/{probe}, {args.size // 1024} KiB (virtual seconds)")
        print(f"  lower bound (erase + max(program, wire)): {bound:7.2f} s")
        print(f"  stflash write, no verify:                 {ours:7.2f} s  {ours / bound:5.2f}x bound")
        print(f"  stflash write + CRC verify:               {ours_verified:7.2f} s")
        if theirs is not None:
            print(f"  pyOCD flash (its algorithm):              {theirs:7.2f} s  {theirs / bound:5.2f}x bound")
        else:
            print("  pyOCD: not installed")


if __name__ == "__main__":
    main()
