"""Writing a 512 KiB image over USB DFU on the virtual bench: stflash beside pyfu-usb.

Not a test: run ``python bench/dfu_write.py`` and read the numbers (virtual seconds). The lower
bound is the chip's erase time for the sectors the image covers and its program time, plus the
control transfers the data needs on the full-speed bus as the bench charges them (one DNLOAD of
the ROM's wTransferSize per block: setup, data packets and status at 13 transactions a frame),
with nothing else: no status polling, no address commands, no verify.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
from pathlib import Path

from harness import FLASH, app_image, stflash_write_s, usb_find_on_bench, virtual_ns

from stflash.chips.lookup import find_chip
from stflash.sim.bench import Bench
from stflash.sim.dfu.rom import rom_for
from stflash.sim.usb.descriptors import SPEED_FULL
from stflash.sim.usb.timing import UsbTiming

from bounds import chip_seconds


def lower_bound_s(part: str, size: int) -> float:
    erase, program = chip_seconds(part, size)  # at the ROM's own program width
    chip = find_chip(part)
    block = rom_for(chip, [(b.base, b.size) for b in chip.banks]).transfer_size
    per_block_ns = UsbTiming.for_speed(SPEED_FULL).control_end(0, block)  # every ROM's DFU is full speed
    return erase + program + -(-size // block) * per_block_ns / 1e9


def run_stflash(part: str, data: bytes, tmp: Path, verify: bool) -> float:
    directory = tmp / f"stflash-{verify}"
    Bench.create(directory, part, scenarios=("bootloader-only",))
    return stflash_write_s(directory, data, "-c", "dfu", verify=verify)


def run_pyfu(part: str, data: bytes, tmp: Path) -> float | None:
    try:
        import pyfu_usb
        import usb.core
    except ImportError:
        return None
    directory = tmp / "pyfu"
    Bench.create(directory, part, scenarios=("bootloader-only",))
    path = tmp / "pyfu.bin"
    path.write_bytes(data)
    with usb_find_on_bench(usb.core, "find", directory):
        start = virtual_ns(directory)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            pyfu_usb.download(str(path), address=FLASH)
        return (virtual_ns(directory) - start) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--part", default="stm32f407vg")
    ap.add_argument("--size", type=int, default=512 * 1024)
    args = ap.parse_args()
    data = app_image(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        bound = lower_bound_s(args.part, args.size)
        ours = run_stflash(args.part, data, Path(tmp), verify=False)
        ours_verified = run_stflash(args.part, data, Path(tmp), verify=True)
        theirs = run_pyfu(args.part, data, Path(tmp))
    kib = args.size / 1024
    print(f"{args.part}, {kib:.0f} KiB over USB DFU (virtual seconds)")
    print(f"  lower bound (erase + program + data transfers): {bound:7.2f} s")
    print(f"  stflash write, no verify:                      {ours:7.2f} s  {ours / bound:5.2f}x bound")
    print(f"  stflash write + read-back verify:              {ours_verified:7.2f} s")
    if theirs is not None:
        print(f"  pyfu-usb download (no verify):                 {theirs:7.2f} s  {theirs / bound:5.2f}x bound")
    else:
        print("  pyfu-usb: not installed")


if __name__ == "__main__":
    main()
