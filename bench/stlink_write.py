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
import tempfile
from pathlib import Path

from harness import FLASH, app_image, stflash_write_s, usb_find_on_bench, virtual_ns

from stflash.chips.boards import board_part
from stflash.sim.bench import Bench
from stflash.sim.stlink.firmware import V2_SWD_DIVISORS, V3_FREQS
from stflash.sim.usb.descriptors import SPEED_FULL, SPEED_HIGH
from stflash.sim.usb.timing import STLINK_TIMING, UsbTiming

from bounds import chip_seconds

CASES = {  # board, probe, pyOCD target
    "f429": ("nucleo-f429zi", "V2-1", "stm32f429xi"),
    "h743": ("nucleo-h743zi", "V3", "stm32h743xx"),
}


def lower_bound_s(part: str, size: int, probe: str) -> float:
    """At the ROM's program width: x32 on F2/F4/F7 (x64 needs an external VPP), x64 on H7."""
    erase, program = chip_seconds(part, size)
    v3 = probe == "V3"
    fastest_khz = max(max(f) for f in V3_FREQS.values()) if v3 else max(V2_SWD_DIVISORS.values())
    usb = UsbTiming.for_speed(SPEED_HIGH if v3 else SPEED_FULL)
    timing = STLINK_TIMING[probe]
    per_word = timing.access_ns / 1e9 + timing.swd_clocks / (fastest_khz * 1e3)  # the firmware, then the wire
    wire = usb.bulk_end(0, size) / 1e9 + (size // 4) * per_word
    return erase + max(program, wire)


def run_stflash(board: str, probe: str, data: bytes, tmp: Path, verify: bool) -> float:
    directory = tmp / f"stflash-{verify}"
    Bench.create(directory, board, probe=probe)
    return stflash_write_s(directory, data, "-c", "stlink", verify=verify)


def run_pyocd(board: str, probe: str, target: str, data: bytes, tmp: Path) -> float | None:
    try:
        from pyocd.core.helpers import ConnectHelper
        from pyocd.flash.file_programmer import FileProgrammer
        from pyocd.probe.stlink import usb as pyocd_usb
    except ImportError:
        return None
    logging.getLogger("pyocd").setLevel(logging.CRITICAL)
    directory = tmp / "pyocd"
    Bench.create(directory, board, probe=probe)
    path = tmp / "pyocd.bin"
    path.write_bytes(data)
    options = {"target_override": target, "frequency": 24_000_000, "project_dir": str(tmp),
               "reset.hold_time": 0.001, "reset.post_delay": 0.001}
    with usb_find_on_bench(pyocd_usb, "usb_find", directory):
        start = virtual_ns(directory)
        with (contextlib.redirect_stdout(io.StringIO()),  # pyOCD's progress bar
              ConnectHelper.session_with_chosen_probe(blocking=False, options=options) as session):
            FileProgrammer(session).program(str(path), base_address=FLASH, file_format="bin")
        return (virtual_ns(directory) - start) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), action="append")
    ap.add_argument("--size", type=int, default=512 * 1024)
    args = ap.parse_args()
    data = app_image(args.size)
    for case in args.case or sorted(CASES):
        board, probe, target = CASES[case]
        part = board_part(board) or board
        with tempfile.TemporaryDirectory() as tmp:
            bound = lower_bound_s(part, args.size, probe)
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
