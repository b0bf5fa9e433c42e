"""Writing a 512 KiB image over USB DFU on the virtual bench: stflash beside pyfu-usb.

Not a test: run ``python bench/dfu_write.py`` and read the numbers (virtual seconds). The lower
bound is the chip's erase time for the sectors the image covers and its program time, plus the
control transfers the data needs on the full-speed bus as the bench charges them (one DNLOAD of
the ROM's wTransferSize per block: setup, data packets and status at 13 transactions a frame),
with nothing else: no status polling, no address commands, no verify.

``--breakdown`` writes once more (no verify) and says where the virtual time went: per phase of
the write (finding the device, opening it, identifying the chip, reading what the flash holds,
erasing, programming, leaving) and per kind of USB request, each request charged the time from
the end of the one before to its own end (so the flash work a GETSTATUS waits for is in it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

from harness import FLASH, app_image, stflash_write_s, usb_find_on_bench, virtual_ns

from stflash.chips.lookup import find_chip
from stflash.sim.bench import Bench
from stflash.sim.dfu.rom import rom_for
from stflash.sim.usb.descriptors import SPEED_FULL
from stflash.sim.usb.device import Setup
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


# what each phase of a write is, by the stflash function it runs in (innermost wins)
PHASES = (
    ("stflash.links.dfu.link", "DfuLink", "_attach", "open"),
    ("stflash.links.dfu.link", "DfuLink", "identify", "identify"),
    ("stflash.session", "Session", "plan", "read back"),
    ("stflash.links.dfu.link", "DfuLink", "erase_sectors", "erase"),
    ("stflash.links.dfu.link", "DfuLink", "mass_erase", "erase"),
    ("stflash.links.dfu.link", "DfuLink", "program", "program"),
    ("stflash.links.dfu.link", "DfuLink", "reset", "leave"),
    ("stflash.links.dfu.link", "DfuLink", "close", "close"),
)
REQUESTS = {0: "DETACH", 2: "UPLOAD", 4: "CLRSTATUS", 5: "GETSTATE", 6: "ABORT"}
COMMANDS = {0x21: "Set Address Pointer", 0x41: "Erase"}


def _request_name(setup: Setup, data: bytes, last: list[str]) -> str:
    """A name for one control transfer; a GETSTATUS is named after the DNLOAD it answers."""
    kind, request, value = setup.kind, setup.bRequest, setup.wValue
    if kind == 0:
        return "USB standard (descriptors, configuration)"
    if request == 1:
        last[0] = ("leave" if not data else COMMANDS.get(data[0], "command") if value == 0 else "data block")
        return f"DNLOAD {last[0]}"
    if request == 3:
        return f"GETSTATUS after {last[0]}"
    return REQUESTS.get(request, str(request))


def breakdown(part: str, data: bytes, tmp: Path) -> tuple[float, dict[tuple[str, str], list[int]]]:
    """Virtual seconds of one ``stflash write --no-verify`` and {(phase, request): [count, ns]}."""
    import importlib

    from stflash.sim.usb import backend

    directory = tmp / "breakdown"
    Bench.create(directory, part, scenarios=("bootloader-only",))
    phase = ["find the device"]
    seen: dict[tuple[str, str], list[int]] = {}
    mark = [virtual_ns(directory)]
    last = ["nothing (state check)"]

    def charge(name: str, now: int) -> None:
        entry = seen.setdefault((phase[-1], name), [0, 0])
        entry[0] += 1
        entry[1] += max(0, now - mark[0])
        mark[0] = max(mark[0], now)

    def within(label: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            phase.append(label)
            try:
                return fn(*args, **kwargs)
            finally:
                phase.pop()
        return run

    control = backend.SimBackend._control

    def spy(self: Any, handle: Any, setup: Any, payload: bytes) -> Any:
        try:
            return control(self, handle, setup, payload)
        finally:
            bench = self.host.bench
            if bench is not None:
                charge(_request_name(setup, payload, last), bench.clock.now)

    wait = Bench.host_wait

    def waited(self: Bench, ns: int) -> None:
        wait(self, ns)
        charge("sleep", self.clock.now)

    saved = [(backend.SimBackend, "_control", control), (Bench, "host_wait", wait)]
    backend.SimBackend._control = spy  # type: ignore[method-assign,assignment]
    Bench.host_wait = waited  # type: ignore[method-assign]
    for module, cls_name, name, label in PHASES:
        cls = getattr(importlib.import_module(module), cls_name)
        saved.append((cls, name, getattr(cls, name)))
        setattr(cls, name, within(label, getattr(cls, name)))
    try:
        start = mark[0]
        total = stflash_write_s(directory, data, "-c", "dfu", verify=False)
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
    assert abs((mark[0] - start) / 1e9 - total) < 1e-9, "time outside any USB request or sleep"
    return total, seen


def print_breakdown(total: float, seen: dict[tuple[str, str], list[int]]) -> None:
    print(f"  where the {total:.3f} s of the write without verify went (ms):")
    phases: dict[str, int] = {}
    for (name, _), (_, ns) in seen.items():
        phases[name] = phases.get(name, 0) + ns
    for name, ns in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<16} {ns / 1e6:9.1f}")
        rows = [(req, n, t) for (ph, req), (n, t) in seen.items() if ph == name]
        for req, n, t in sorted(rows, key=lambda r: -r[2]):
            print(f"      {req:<42} {n:5d} x  {t / 1e6:9.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--part", default="stm32f407vg")
    ap.add_argument("--size", type=int, default=512 * 1024)
    ap.add_argument("--breakdown", action="store_true", help="also where the time of one write goes")
    args = ap.parse_args()
    data = app_image(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        bound = lower_bound_s(args.part, args.size)
        ours = run_stflash(args.part, data, Path(tmp), verify=False)
        ours_verified = run_stflash(args.part, data, Path(tmp), verify=True)
        theirs = run_pyfu(args.part, data, Path(tmp))
        split = breakdown(args.part, data, Path(tmp)) if args.breakdown else None
    kib = args.size / 1024
    print(f"{args.part}, {kib:.0f} KiB over USB DFU (virtual seconds)")
    print(f"  lower bound (erase + program + data transfers): {bound:7.2f} s")
    print(f"  stflash write, no verify:                      {ours:7.2f} s  {ours / bound:5.2f}x bound")
    print(f"  stflash write + read-back verify:              {ours_verified:7.2f} s")
    if theirs is not None:
        print(f"  pyfu-usb download (no verify):                 {theirs:7.2f} s  {theirs / bound:5.2f}x bound")
    else:
        print("  pyfu-usb: not installed")
    if split is not None:
        print_breakdown(*split)


if __name__ == "__main__":
    main()
