"""Writing again: the same image, and the same image with one sector changed.

Not a test: ``python bench/rewrite.py`` prints, per link and chip, on one bench (virtual
seconds, no verify, the random image bench/run.py writes, 512 KiB or the largest that fits):

* ``fresh``: the image written to a blank chip;
* ``same``: the same image written again; stflash finds every sector already right (a CRC32 on
  the target, or reading back where the link has none) and writes nothing. Target: at most 10 %
  of ``fresh`` over ST-LINK and UART, 25 % over DFU;
* ``changed``: the image with 256 bytes changed in the middle of the sector that holds the
  image's middle (so reading a sector's first bytes does not give the change away), written
  again. Target: at most 1.2 x ``sector`` (that sector's erase, program and transfer from the
  timing model, with the same formula as the link's lower bound in bench/run.py) plus the
  detection cost, taken as the measured ``same`` time (finding what changed is what ``same``
  does). The chip's flash is read back afterwards, so a write that skipped too much fails.

DFU and UART writes keep the chip in its bootloader (``--no-reset``: starting the random image
would leave no bootloader to write to again); ST-LINK writes reset as usual.
``--json`` prints the rows as a JSON list and nothing else on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import FLASH, app_image, stflash_write_s

from stflash.chips.lookup import find_chip
from stflash.sim.bench import Bench

import dfu_write
import stlink_write
import uart_write
from bounds import chip_seconds

KIB = 1024
SIZE = 512 * KIB
BOARDS = {"F401": "nucleo-f401re", "H743": "nucleo-h743zi"}
BAUD = 115200
TARGET_SAME = {"stlink": 0.10, "uart": 0.10, "dfu": 0.25}
CHANGED_FACTOR = 1.2
CHANGED_BYTES = 256


@dataclass(frozen=True)
class Link:
    name: str
    kind: str  # "stlink" | "dfu" | "uart"
    create: Callable[[Path, str], None]
    options: tuple[str, ...]
    bound: Callable[[str, int], float]  # (part, size) -> the link's lower bound from the flash base


LINKS = [
    Link("stlink-v2-1", "stlink", lambda d, b: _create(d, b, probe="V2-1"), ("-c", "stlink"),
         lambda p, n: stlink_write.lower_bound_s(p, n, "V2-1")),
    Link("stlink-v3", "stlink", lambda d, b: _create(d, b, probe="V3"), ("-c", "stlink"),
         lambda p, n: stlink_write.lower_bound_s(p, n, "V3")),
    Link("dfu", "dfu", lambda d, b: _create(d, b, scenarios=("bootloader-only",)), ("-c", "dfu", "--no-reset"),
         dfu_write.lower_bound_s),
    Link(f"uart-{BAUD}", "uart", lambda d, b: _create(d, b, scenarios=("bootloader-only",)),
         ("-c", f"uart:sim:{BAUD}", "--no-reset"), lambda p, n: uart_write.lower_bound_s(p, n, BAUD)),
]


@dataclass
class Row:
    link: str
    chip: str
    bytes: int
    fresh_s: float | None
    same_s: float | None
    same_ratio: float | None
    same_target: float
    sector: str  # the changed sector, "0xADDRESS+KiB"
    sector_s: float
    changed_s: float | None
    changed_target_s: float | None


def _create(directory: Path, board: str, **kwargs: object) -> None:
    Bench.create(directory, board, **kwargs)  # type: ignore[arg-type]


def image_size(board: str) -> int:
    return min(SIZE, find_chip(board).flash_size)


def changed_sector(board: str, size: int) -> tuple[int, int]:
    """(address, size) of the sector that holds the image's middle."""
    middle = FLASH + size // 2
    sector = next(s for s in find_chip(board).sectors() if s.address <= middle < s.end)
    return sector.address, sector.size


def sector_bound_s(link: Link, board: str, address: int, size: int) -> float:
    """The link's lower bound for ``size`` bytes at ``address``: its bound for ``size`` bytes
    from the flash base with that range's erase swapped for this sector's (program and
    transfer times depend on the size only)."""
    return link.bound(board, size) - chip_seconds(board, size)[0] + chip_seconds(board, size, base=address)[0]


def flash_holds(directory: Path, data: bytes) -> bool:
    with Bench.open(directory) as bench:
        return bench.chip.read_block(FLASH, len(data), master="cpu") == data


def measure(link: Link, name: str, board: str) -> Row:
    size = image_size(board)
    data = app_image(size)
    address, sector_size = changed_sector(board, size)
    at = address - FLASH + sector_size // 2
    changed = data[:at] + bytes(b ^ 0xFF for b in data[at : at + CHANGED_BYTES]) + data[at + CHANGED_BYTES :]
    fresh = same = after = None
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "bench"
        link.create(directory, board)
        try:
            fresh = stflash_write_s(directory, data, *link.options, verify=False)
            same = stflash_write_s(directory, data, *link.options, verify=False)
            after = stflash_write_s(directory, changed, *link.options, verify=False)
            if not flash_holds(directory, changed):
                print(f"  ({link.name} {name}: the flash does not hold the changed image)", file=sys.stderr)
                after = None
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the row shows what is missing
            print(f"  ({link.name} {name}: {exc.__class__.__name__}: {exc})", file=sys.stderr)
    sector_s = sector_bound_s(link, board, address, sector_size)
    return Row(
        link=link.name, chip=name, bytes=size, fresh_s=fresh, same_s=same,
        same_ratio=same / fresh if same is not None and fresh else None,
        same_target=TARGET_SAME[link.kind], sector=f"{address:#x}+{sector_size // KIB}K", sector_s=sector_s,
        changed_s=after, changed_target_s=CHANGED_FACTOR * sector_s + same if same is not None else None,
    )


def render(rows: list[Row]) -> str:
    def num(v: float | None, width: int = 7) -> str:
        return f"{'n/a':>{width}}" if v is None else f"{v:{width}.2f}"

    def verdict(ok: bool | None) -> str:
        return " n/a" if ok is None else (" met" if ok else "MISS")

    out = [f"{'link':<12} {'chip':<5} {'KiB':>4} {'fresh':>7} {'same':>7} {'same%':>6} {'goal%':>5}      "
           f"{'sector':<14} {'sector':>7} {'changed':>7} {'goal':>7}"]
    for r in rows:
        same_ok = None if r.same_ratio is None else r.same_ratio <= r.same_target
        changed_ok = None if r.changed_s is None or r.changed_target_s is None else r.changed_s <= r.changed_target_s
        pct = "   n/a" if r.same_ratio is None else f"{100 * r.same_ratio:6.1f}"
        out.append(f"{r.link:<12} {r.chip:<5} {r.bytes // KIB:>4} {num(r.fresh_s)} {num(r.same_s)} {pct} "
                   f"{100 * r.same_target:5.0f} {verdict(same_ok)} {r.sector:<14} {num(r.sector_s)} "
                   f"{num(r.changed_s)} {num(r.changed_target_s)} {verdict(changed_ok)}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the rows as JSON, nothing else")
    ap.add_argument("--link", action="append", choices=[link.name for link in LINKS], help="only these links")
    ap.add_argument("--chip", action="append", choices=sorted(BOARDS), help="only these chips")
    args = ap.parse_args()
    rows = [measure(link, name, BOARDS[name])
            for link in LINKS if not args.link or link.name in args.link
            for name in BOARDS if not args.chip or name in args.chip]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
        return
    print("virtual seconds, no verify; same% = same / fresh; changed goal = 1.2 x sector + same")
    print(render(rows))


if __name__ == "__main__":
    main()
