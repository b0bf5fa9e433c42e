"""Which chip a DfuSe ROM belongs to, from what it shows on USB.

The ROM's PID is 0xDF11 on every part and DEV_ID cannot be read over DFU (DBGMCU is not in the
memory map the ROM lets a host read), so the chip is found from its memory map instead: the
sector list of "Internal Flash", the address of "Option Bytes" and the bcdDevice the chip table
gives for the ROM. Parts with the same map (F401xE, F411xE, F446xE...) cannot be told apart;
the first row of the table wins and the others are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.lookup import all_chips
from ...chips.model import Chip, FlashKind
from .layout import AltLayout


@dataclass(frozen=True)
class RomFacts:
    """What identification has to go on."""

    bcd_device: int
    flash: AltLayout | None
    options: AltLayout | None


def option_address(chip: Chip) -> int | None:
    """Where the chip's option bytes are shown: the memory-mapped area, or else the first option
    register a field is read from (an H7 ROM's alternate lists FLASH_OPTSR_CUR onwards)."""
    if chip.option_bytes is not None:
        return chip.option_bytes.start
    addresses = [f.current_address or f.address for f in chip.option_fields]
    return min(addresses) if addresses else None


def _layouts(chip: Chip) -> list[Chip]:
    """The chip in its factory layout, then in each layout an option selects (F76x nDBANK=0...)."""
    return [chip] + [chip.with_options({g.option: g.value}) for g in chip.alt_geometries]


def _pages(chip: Chip) -> list[tuple[int, int]]:
    return [(s.address, s.size) for s in chip.sectors()]


def match_chips(facts: RomFacts) -> list[Chip]:
    """Rows that fit, best first (with the bank layout the ROM shows); empty when none does."""
    if facts.flash is None:
        return []
    rows = [c for c in all_chips() if c.bootloader.dfu and c.flash_kind is not FlashKind.NONE]
    if facts.options is not None:
        rows = [c for c in rows if option_address(c) in (None, facts.options.start)]
    shown = [(p.address, p.size) for p in facts.flash.pages()]
    pool = [v for c in rows for v in _layouts(c) if _pages(v) == shown]
    if not pool:
        # ROMs that list more flash than the part has (an H750 ROM shows 16 sectors): every
        # sector of the row must be listed; the largest such row is the closest
        listed = set(shown)
        fits = [v for c in rows for v in _layouts(c) if v.sectors() and set(_pages(v)) <= listed]
        top = max((v.flash_size for v in fits), default=0)
        pool = [v for v in fits if v.flash_size == top]
    # rows stating this ROM version first; rows stating another one only if nothing else fits
    same = [c for c in pool if c.bootloader.dfu_version == facts.bcd_device]
    unknown = [c for c in pool if c.bootloader.dfu_version == 0]
    pool = same or unknown or pool
    unique: dict[str, Chip] = {}
    for c in sorted(pool, key=lambda c: len(c.cores)):  # stable: table order within a core count
        unique.setdefault(c.name, c)
    return list(unique.values())
