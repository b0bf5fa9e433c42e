"""The speed table: every link on a simulated F401, F407, H743 and G071, stflash beside a peer.

Not a test: ``python bench/run.py`` prints one table per link; ``python bench/run.py --json``
prints the same rows as a JSON list (fields link, chip, bytes, stflash_s, peer, peer_s, bound_s;
virtual seconds) and nothing else on stdout. Peers run on the same bench: pyOCD (ST-LINK),
pyfu-usb (DFU), stm32flash over ``stflash sim serve --uart`` (UART). Each tool writes the same
random image to a blank chip, without verify. Lower bounds come from the bench's timing model
(see the docstrings of bench/stlink_write.py, dfu_write.py and uart_write.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pyocd_targets
from harness import app_image

from stflash.chips.lookup import find_chip

import dfu_write
import stlink_write
import uart_write

KIB = 1024
BOARDS = {"F401": "nucleo-f401re", "F407": "stm32f407vg", "H743": "nucleo-h743zi", "G071": "nucleo-g071rb"}
SIZES = {"F401": 256 * KIB, "F407": 256 * KIB, "H743": 256 * KIB, "G071": 64 * KIB}
PYOCD_TARGETS = {"F401": "stm32f401re", "F407": "stm32f407vg", "H743": "stm32h743xx", "G071": "stm32g071rb"}
BAUD = 115200


@dataclass
class Row:
    link: str
    chip: str
    bytes: int
    stflash_s: float | None
    peer: str
    peer_s: float | None
    bound_s: float


def _quiet(fn: Callable[[], float | None]) -> float | None:
    """Run one measurement; a tool that fails gives no number (the table says so) instead of
    stopping the run."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return fn()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported in the table
        print(f"  ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        return None


def note(text: str) -> None:
    print(f"  ({text})", file=sys.stderr)


def _pyocd_can(name: str) -> bool:
    try:
        if pyocd_targets.ensure_target(PYOCD_TARGETS[name]):
            return True
    except ImportError:
        note("pyOCD not installed: no ST-LINK peer")
        return False
    note(f"pyOCD has no flash algorithm for {PYOCD_TARGETS[name]} without its CMSIS pack: no peer for {name}")
    return False


def stlink_rows(probe: str) -> list[Row]:
    rows = []
    for name, board in BOARDS.items():
        size, data = SIZES[name], app_image(SIZES[name])
        with tempfile.TemporaryDirectory() as tmp:
            ours = _quiet(lambda: stlink_write.run_stflash(board, probe, data, Path(tmp), verify=False))  # noqa: B023
            theirs = (_quiet(lambda: stlink_write.run_pyocd(board, probe, PYOCD_TARGETS[name], data, Path(tmp)))  # noqa: B023
                      if _pyocd_can(name) else None)
        bound = stlink_write.lower_bound_s(board, size, probe)
        rows.append(Row(f"stlink-{probe.lower()}", name, size, ours, "pyocd", theirs, bound))
    return rows


def dfu_rows() -> list[Row]:
    rows = []
    for name, board in BOARDS.items():
        if not find_chip(board).bootloader.dfu:
            continue  # no USB DFU in this part's ROM
        size, data = SIZES[name], app_image(SIZES[name])
        with tempfile.TemporaryDirectory() as tmp:
            ours = _quiet(lambda: dfu_write.run_stflash(board, data, Path(tmp), verify=False))  # noqa: B023
            theirs = _quiet(lambda: dfu_write.run_pyfu(board, data, Path(tmp)))  # noqa: B023
        rows.append(Row("dfu", name, size, ours, "pyfu-usb", theirs, dfu_write.lower_bound_s(board, size)))
    return rows


def uart_rows() -> list[Row]:
    rows = []
    for name, board in BOARDS.items():
        size, data = SIZES[name], app_image(SIZES[name])
        with tempfile.TemporaryDirectory() as tmp:
            ours = _quiet(lambda: uart_write.run(board, data, Path(tmp), BAUD, verify=False))  # noqa: B023
            theirs = _quiet(lambda: uart_write.run_stm32flash(board, data, Path(tmp), BAUD))  # noqa: B023
        rows.append(Row(f"uart-{BAUD}", name, size, ours, "stm32flash", theirs,
                        uart_write.lower_bound_s(board, size, BAUD)))
    return rows


def uart_fastest_rows() -> list[Row]:
    """stflash with ``uart:PORT:auto`` (it settles on the fastest baud the ROM accepts) beside
    stm32flash at that same baud, and the bound at that baud."""
    rows = []
    for name, board in BOARDS.items():
        size, data = SIZES[name], app_image(SIZES[name])
        baud = uart_write.fastest_baud(board)
        with tempfile.TemporaryDirectory() as tmp:
            ours = _quiet(lambda: uart_write.run(board, data, Path(tmp), "auto", verify=False))  # noqa: B023
            theirs = _quiet(lambda: uart_write.run_stm32flash(board, data, Path(tmp), baud))  # noqa: B023
        rows.append(Row(f"uart-fastest-{baud}", name, size, ours, "stm32flash", theirs,
                        uart_write.lower_bound_s(board, size, baud)))
    return rows


def provenance() -> str:
    """Date and commit, for the table in docs/performance.md."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--", "../src", ".") else ""
    return f"{datetime.date.today().isoformat()}, commit {commit}{dirty}"


def render(rows: list[Row]) -> str:
    def num(v: float | None) -> str:
        return "   n/a" if v is None else f"{v:6.2f}"

    def ratio(a: float | None, b: float | None) -> str:
        return "  n/a" if a is None or not b else f"{a / b:5.2f}"

    out = [f"{'link':<19} {'chip':<5} {'KiB':>4} {'stflash':>7} {'peer':<10} {'peer':>6} {'bound':>6} "
           f"{'x bound':>7} {'x peer':>6}"]
    for r in rows:
        out.append(f"{r.link:<19} {r.chip:<5} {r.bytes // KIB:>4} {num(r.stflash_s):>7} {r.peer:<10} "
                   f"{num(r.peer_s)} {num(r.bound_s)} {ratio(r.stflash_s, r.bound_s):>7} "
                   f"{ratio(r.stflash_s, r.peer_s):>6}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the rows as JSON, nothing else")
    makers: dict[str, Callable[[], list[Row]]] = {
        "stlink-v2-1": lambda: stlink_rows("V2-1"), "stlink-v3": lambda: stlink_rows("V3"),
        "dfu": dfu_rows, "uart": uart_rows, "uart-fastest": uart_fastest_rows,
    }
    ap.add_argument("--link", action="append", choices=list(makers), help="only these links (repeatable)")
    args = ap.parse_args()
    wanted = args.link or list(makers)
    rows: list[Row] = []
    for link in wanted:
        rows += makers[link]()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        print(f"virtual seconds for a fresh write of a random image, no verify ({provenance()})")
        print(render(rows))


if __name__ == "__main__":
    main()
