"""Writing a 512 KiB image through an ST-LINK on the virtual bench: stflash beside pyOCD.

Not a test: run ``python bench/stlink_write.py`` and read the numbers (virtual seconds). Both
tools drive the same simulated probe and chip; pyOCD with its own flash algorithm on the simulated
core, stflash with its loader. ``--breakdown`` splits stflash's write (no verify) into its phases
with the USB transfers of each, from the bench's trace: connect and identification, the loader's
upload, the checks before the first erase (what the chip holds, the blank checks), erase and data
(set against the chip's own erase and program time), and the finish (reset, close).

The lower bound is the longer of two: the chip's erase time for the sectors the image covers plus
its program time, and the time the bytes need on the way (USB bulk packets at the probe's speed,
then per 32-bit word the probe firmware's access time and 46 SWD clocks at the fastest clock the
probe offers, as the bench's probe model charges them), as if the transfer overlapped the erase
and the programming perfectly and nothing else happened.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    "f401": ("nucleo-f401re", "V2-1", "stm32f401re"),
    "g071": ("nucleo-g071rb", "V2-1", "stm32g071rb"),
}
PHASES = ("connect+identify", "loader upload", "checks before the first erase", "erase+data", "finish")


def lower_bound_s(part: str, size: int, probe: str) -> float:
    """At the ROM's program width: x32 on F2/F4/F7 (x64 needs an external VPP), x64 on H7. The
    chip's erase and program time, or the wire, whichever is longer: code on the target can erase a
    sector while the probe streams the bytes for it (the SWD port writes SRAM while the flash is
    busy), so over a debug probe the wire overlaps the erase as well as the programming."""
    erase, program = chip_seconds(part, size)
    v3 = probe == "V3"
    fastest_khz = max(max(f) for f in V3_FREQS.values()) if v3 else max(V2_SWD_DIVISORS.values())
    usb = UsbTiming.for_speed(SPEED_HIGH if v3 else SPEED_FULL)
    timing = STLINK_TIMING[probe]
    per_word = timing.access_ns / 1e9 + timing.swd_clocks / (fastest_khz * 1e3)  # the firmware, then the wire
    wire = usb.bulk_end(0, size) / 1e9 + (size // 4) * per_word
    return max(erase + program, wire)


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


@contextlib.contextmanager
def _marks(directory: Path, marks: list[tuple[int, int, str]]) -> Iterator[None]:
    """While the block runs, record (virtual ns, +1 enter / -1 leave, phase) around the session
    steps each phase is made of (the loader's upload happens inside the first check)."""
    from stflash.flash.loader.runner import FlashLoader
    from stflash.session import Session

    def wrap(owner: Any, name: str, phase: str) -> Callable[[], None]:
        raw = owner.__dict__[name]
        fn = raw.__func__ if isinstance(raw, classmethod) else raw

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            marks.append((virtual_ns(directory), 1, phase))
            try:
                return fn(*args, **kwargs)
            finally:
                marks.append((virtual_ns(directory), -1, phase))

        setattr(owner, name, classmethod(timed) if isinstance(raw, classmethod) else timed)
        return lambda: setattr(owner, name, raw)

    undo = [wrap(Session, "open", PHASES[0]), wrap(FlashLoader, "load", PHASES[1]),
            wrap(Session, "plan", PHASES[2]), wrap(Session, "execute", PHASES[3])]
    try:
        yield
    finally:
        for restore in undo:
            restore()


def breakdown(board: str, probe: str, data: bytes, tmp: Path) -> dict[str, tuple[float, int]]:
    """Seconds and USB transfers of each phase of one stflash write (no verify) to a blank chip;
    what follows the write's execution is the finish."""
    directory = tmp / "breakdown"
    Bench.create(directory, board, probe=probe)
    marks: list[tuple[int, int, str]] = []
    start = virtual_ns(directory)
    with _marks(directory, marks):
        stflash_write_s(directory, data, "-c", "stlink", verify=False)
    end = virtual_ns(directory)
    spans: list[tuple[int, int, str]] = []  # innermost phase over each interval
    stack: list[str] = []
    last = start
    for ns, step, phase in marks:
        spans.append((last, ns, stack[-1] if stack else PHASES[4]))
        last = ns
        if step > 0:
            stack.append(phase)
        else:
            stack.pop()
    spans.append((last, end, PHASES[4]))
    out = {phase: [0.0, 0] for phase in PHASES}
    for a, b, phase in spans:
        out[phase][0] += (b - a) / 1e9
    trace = [json.loads(line) for line in (directory / "trace.jsonl").read_text().splitlines()]
    for record in trace:
        if record["link"] != "usb" or not start <= record["start_ns"] < end:
            continue
        phase = next((p for a, b, p in spans if a <= record["start_ns"] < b), PHASES[4])
        out[phase][1] += 1
    return {phase: (float(v[0]), int(v[1])) for phase, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), action="append")
    ap.add_argument("--size", type=int, default=512 * 1024)
    ap.add_argument("--probe", choices=("V2-1", "V3"), help="another probe than the case's")
    ap.add_argument("--breakdown", action="store_true", help="only stflash's phases (no verify, no peer)")
    args = ap.parse_args()
    data = app_image(args.size)
    for case in args.case or sorted(CASES):
        board, probe, target = CASES[case]
        probe = args.probe or probe
        part = board_part(board) or board
        if args.breakdown:
            with tempfile.TemporaryDirectory() as tmp:
                phases = breakdown(board, probe, data, Path(tmp))
            erase, program = chip_seconds(part, args.size)
            total = sum(s for s, _ in phases.values())
            print(f"{board} ({part}), ST-LINK/{probe}, {args.size // 1024} KiB: {total:.3f} s "
                  f"(bound {lower_bound_s(part, args.size, probe):.3f} s)")
            for phase, (seconds, transfers) in phases.items():
                extra = f"  (the chip's erase + program: {erase + program:.3f} s)" if phase == PHASES[3] else ""
                print(f"  {phase:<30} {seconds:7.3f} s {transfers:5d} USB transfers{extra}")
            continue
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
