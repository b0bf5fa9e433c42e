"""Writing a 256 KiB image over the UART bootloader at 115200 baud (or ``--baud auto``) on the virtual bench.

Not a test: run ``python bench/uart_write.py`` and read the numbers. It prints stflash's virtual
time (write alone, and write + verify) beside two bounds for the same image: the link's (every
image byte at 10 bits, the chip's erase and program time overlapped with it: what code in the
target's RAM could reach, ``lower_bound_s``) and the ROM protocol's (every byte the AN3155 frames
must carry at 11 bits a character in 8E1, the three ACKs per 256-byte frame, the erase and program
times after one another, no turnaround latency: ``an3155_bound_s``). ``--no-stub`` keeps stflash to
the ROM's commands. ``run_stm32flash`` times
stm32flash over ``stflash sim serve --uart`` (bench/run.py compares the two).

``auto`` runs on a board whose adapter drives NRST and BOOT0 (DTR and RTS, stm32loader's wiring):
stflash resets the chip for each rate it tries and keeps the fastest that passes its check; the
search is part of the time measured. ``fastest_baud`` says which rate that is on a fresh bench.
``--breakdown`` splits the write's virtual time by AN3155 command from the bench's trace.jsonl:
how many of each, the characters each way, the host's waits for an answer (each pays the
adapter's latency) and the seconds from each command to the next (a reset's pauses fall in the
0x7F that follows them).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import app_image, environ, stflash_write_s, virtual_ns

from stflash.sim.bench import Bench

from bounds import chip_seconds

AUTO_WIRING = "dtr=!nrst,rts=!boot0"  # the bench's adapter lines (TTL outputs: asserted = low)
AUTO_WIRING_OPTION = ("--wiring", "dtr-reset-rts-boot0")  # the same wiring, as stflash is told it
FRAME_BYTES = 2 + 1 + 5 + 1 + 1 + 256 + 1 + 1  # cmd, ACK, address, ACK, N, data, checksum, ACK
BITS_PER_CHAR = 11  # start, 8 data, parity, stop
MIN_BITS_PER_BYTE = 10  # start, 8 data, stop: no USART frame carries a byte in less


def lower_bound_s(part: str, size: int, baud: int) -> float:
    """What no program on a UART can beat: every image byte on the wire in the shortest frame a
    USART has (8N1, 10 bits), and the chip's erase and program time, the two overlapped (code in
    the target's RAM receives while the flash works, as stflash's stub does). The F2/F4/F7 ROMs
    start in the lowest voltage range (x8); stflash selects range 3 (x32, AN2606), the width the
    ROM's helpers use (``chip_seconds``' default). ``an3155_bound_s`` is the bound of the ROM's own
    protocol, for comparison."""
    erase, program = chip_seconds(part, size)
    return max(size * MIN_BITS_PER_BYTE / baud, erase + program)


def an3155_bound_s(part: str, size: int, baud: int) -> float:
    """The ROM's protocol alone: its 256-byte frames with their ACKs at 11 bits a character, and the
    chip's erase and program times one after the other (the ROM answers each command when its
    flash work is over), with no turnaround latency at all."""
    wire = (size // 256) * FRAME_BYTES * BITS_PER_CHAR / baud
    erase, program = chip_seconds(part, size)
    return wire + erase + program


def run(part: str, data: bytes, tmp: Path, baud: int | str, verify: bool = False, stub: bool = True) -> float:
    """Virtual seconds stflash takes to write ``data`` on a fresh bench; ``baud`` a rate or "auto"."""
    directory = tmp / f"stflash-{baud}-{verify}"
    more = () if stub else ("--no-stub",)
    if baud == "auto":
        Bench.create(directory, part, scenarios=("bootloader-only",), uart_wiring=AUTO_WIRING)
        return stflash_write_s(directory, data, "-c", "uart:sim:auto", *AUTO_WIRING_OPTION, "--no-reset", *more,
                               verify=verify)
    Bench.create(directory, part, scenarios=("bootloader-only",))
    return stflash_write_s(directory, data, "-c", f"uart:sim:{baud}", "--no-reset", *more, verify=verify)


# host frames that follow a command's two bytes before the next command starts (AN3155 section 3)
FOLLOWING_FRAMES = {"Read Memory": 2, "Write Memory": 2, "Extended Erase": 1, "Erase": 1, "Go": 1,
                    "Write Protect": 1}


@dataclass
class Phase:
    name: str
    commands: int = 0
    chars_out: int = 0
    chars_in: int = 0
    waits: int = 0
    seconds: float = 0.0


def breakdown(directory: Path) -> list[Phase]:
    """The UART records of ``directory``/trace.jsonl grouped by command, in order of first use. The
    bench labels a host frame by the command it continues, and a Read Memory length (N, N ^ 0xFF)
    like a command: the frames a command still expects are counted with it, whatever their label
    (a Read Memory length is told from a command refused at its address by the data after it)."""
    records = [json.loads(line) for line in (directory / "trace.jsonl").read_text().splitlines()]
    records = [r for r in records if r["link"] == "uart"]
    phases: dict[str, Phase] = {}
    current: Phase | None = None
    expect, started = 0, 0
    for i, r in enumerate(records):
        if r["dir"] == "out" and expect == 1 and current is not None and current.name == "Read Memory":
            reply = next((q for q in records[i + 1 :] if q["dir"] == "in"), None)
            if reply is None or reply["bytes"] < 2:
                expect = 0  # no data after it: the address was refused and this starts a command
        if r["dir"] == "out" and expect == 0:
            if current is not None:
                current.seconds += (r["start_ns"] - started) / 1e9
            name = r.get("what", "?")
            current = phases.setdefault(name, Phase(name))
            current.commands += 1
            expect, started = FOLLOWING_FRAMES.get(name, 0), r["start_ns"]
        elif r["dir"] == "out":
            expect -= 1
        if current is None:
            continue
        if r["dir"] == "out":
            current.chars_out += r["bytes"]
        else:
            current.chars_in += r["bytes"]
            current.waits += 1 if r["bytes"] else 0  # (a note such as a character the ROM lost is no wait)
    if current is not None:
        current.seconds += (max(r["end_ns"] for r in records) - started) / 1e9
    return list(phases.values())


def fastest_baud(part: str) -> int:
    """The rate ``-c uart:sim:auto`` settles on for ``part`` on a fresh bench (the one ``run`` with
    "auto" then writes at: same seed, same resets, same measurements)."""
    from stflash.cli.main import main as stflash

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "auto"
        Bench.create(directory, part, scenarios=("bootloader-only",), uart_wiring=AUTO_WIRING)
        out = io.StringIO()
        with environ(STFLASH_SIM=str(directory)), contextlib.redirect_stdout(out):
            code = stflash(["--json", "probe", "-c", "uart:sim:auto", *AUTO_WIRING_OPTION])
        if code:
            raise SystemExit(f"stflash probe exited {code}")
        return int(json.loads(out.getvalue())["observations"]["baud"])


def run_stm32flash(part: str, data: bytes, tmp: Path, baud: int) -> float | None:
    """stm32flash (8N1 on the pty, as ``sim serve`` asks) writing ``data`` without verify."""
    tool = shutil.which("stm32flash")
    if tool is None:
        return None
    directory = tmp / "stm32flash"
    Bench.create(directory, part, scenarios=("bootloader-only",))
    path = tmp / "stm32flash.bin"
    path.write_bytes(data)
    start = virtual_ns(directory)
    server = subprocess.Popen([sys.executable, "-m", "stflash", "sim", "serve", str(directory), "--uart"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        pty = server.stdout.readline().strip()
        done = subprocess.run([tool, "-m", "8n1", "-b", str(baud), "-w", str(path), pty],
                              capture_output=True, text=True, timeout=600)
        if done.returncode:
            raise RuntimeError(f"stm32flash exited {done.returncode}: {done.stderr.strip()[-200:]}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    return (virtual_ns(directory) - start) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--part", default="nucleo-f401re")
    ap.add_argument("--size", type=int, default=256 * 1024)
    ap.add_argument("--baud", default="115200", help="a rate, or auto")
    ap.add_argument("--breakdown", action="store_true", help="split the write (no verify) by AN3155 command")
    ap.add_argument("--no-stub", action="store_true", help="the ROM's commands only")
    args = ap.parse_args()
    baud: int | str = "auto" if args.baud == "auto" else int(args.baud)
    rate = fastest_baud(args.part) if baud == "auto" else int(baud)
    bound = lower_bound_s(args.part, args.size, rate)
    data = app_image(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        write = run(args.part, data, Path(tmp), baud, verify=False, stub=not args.no_stub)
        phases = breakdown(Path(tmp) / f"stflash-{baud}-False") if args.breakdown else []
        both = run(args.part, data, Path(tmp), baud, verify=True, stub=not args.no_stub)
    kib = args.size / 1024
    shown = f"auto ({rate})" if baud == "auto" else str(rate)
    print(f"{args.part}, {kib:.0f} KiB at {shown} baud (virtual seconds)")
    rom = an3155_bound_s(args.part, args.size, rate)
    print(f"  lower bound (max(wire 8N1, erase + program)): {bound:8.2f} s  {kib / bound:6.2f} KiB/s")
    print(f"  AN3155 bound (frames 8E1 + erase + program):  {rom:8.2f} s  {kib / rom:6.2f} KiB/s")
    print(f"  stflash write, no verify:                     {write:8.2f} s  {kib / write:6.2f} KiB/s  "
          f"{write / bound:5.2f}x bound")
    print(f"  stflash write + verify:                       {both:8.2f} s  {kib / both:6.2f} KiB/s")
    if phases:
        print(f"  write, no verify, by command: {'commands':>8} {'chars out':>9} {'chars in':>8} {'waits':>6} {'seconds':>8}")
        for p in phases:
            print(f"    {p.name:<26} {p.commands:8d} {p.chars_out:9d} {p.chars_in:8d} {p.waits:6d} {p.seconds:8.3f}")


if __name__ == "__main__":
    main()
