"""Which chip a DfuSe ROM belongs to, from what it shows on USB.

The ROM's PID is 0xDF11 on every part, so the chip is found from its memory map: the sector list
of "Internal Flash", the address of "Option Bytes" and the bcdDevice the chip table gives for the
ROM. Parts with the same map (F401xE, F411xE, F412xE, F429xE, F446xE; G0B1xE and G474xE...) are
then told apart by what the ROM lets a host read (:func:`tell_apart`): DBGMCU_IDCODE if it
answers (AN2662 lists only flash, RAM, system memory and option bytes as readable, so a ROM that
follows it refuses), else the bootloader id byte AN2606 puts at the end of system memory. What
still fits more than one row is reported as all of them, never guessed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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


Reader = Callable[[int, int], "bytes | None"]  # (address, length) -> bytes, or None when refused


def tell_apart(candidates: list[Chip], read: Reader) -> tuple[list[Chip], str | None]:
    """Narrow rows with the same memory map by reading the ROM; returns the rows left and what
    told them apart (None when nothing did). A read only counts when exactly one value fits a
    subset of the rows: a ROM version the table does not know leaves them all."""
    if len(candidates) < 2:
        return candidates, None
    cache: dict[tuple[int, int], bytes | None] = {}

    def fetch(address: int, length: int) -> bytes | None:
        if (address, length) not in cache:
            cache[address, length] = read(address, length)
        return cache[address, length]

    for address in sorted({c.idcode_address for c in candidates if c.idcode_address}):
        word = fetch(address, 4)
        if word is None or len(word) < 4:
            continue
        dev_id = int.from_bytes(word[:4], "little") & 0xFFF
        hits = [c for c in candidates if c.idcode_address == address and c.dev_id == dev_id]
        if hits:
            return hits, f"DBGMCU_IDCODE at {address:#010x}: device id {dev_id:#05x}"
    hits = []
    for c in candidates:
        bl = c.bootloader
        if not (bl.id and bl.id_address):
            continue
        data = fetch(bl.id_address, 2)  # the ROM reads 2 bytes at least (AN2662 4.4.1)
        if data and data[0] == bl.id:
            hits.append(c)
    if hits and len(hits) < len(candidates):
        ids = sorted({(c.bootloader.id_address, c.bootloader.id) for c in hits})
        how = ", ".join(f"{i:#04x} at {a:#010x}" for a, i in ids)
        return hits, f"bootloader id {how} (AN2606)"
    return candidates, None


def shared_name(candidates: list[Chip]) -> Chip:
    """The first row under a name that lists every candidate ("STM32F412xE/F429xE") and says the
    bootloader does not tell them apart. All of them share the flash layout, which is what
    planning uses; option bytes are only written where they agree (see the link)."""
    first = candidates[0]
    if len(candidates) == 1:
        return first
    names = [first.name] + [c.name.removeprefix("STM32") for c in candidates[1:]]
    descriptions = list(dict.fromkeys(c.description for c in candidates))
    return dataclasses.replace(
        first, name="/".join(names),
        description=" or ".join(descriptions) + " (the DFU bootloader does not tell them apart)")
