"""What a link must offer for stflash to flash through it.

ST-LINK, DFU and UART each implement :class:`TargetLink`; the session runs plans through it,
so erase/write/verify logic, progress and partial-write reporting exist once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .chips.model import Chip, Sector
from .errors import StflashError

ProgressCallback = Callable[[str, int, int], None]  # (phase, done, total)

# Erase budgets for links whose far side answers only once an erase is over (the bootloaders),
# from the slowest datasheet figures: F2/F4 at x8, the width their ROMs start in, take up to 4 s
# for a 128 KiB sector and 32 s for 1 MiB (an F405 DFU ROM announces 100 ms for that: dfu.md Q2).
ERASE_S_PER_KIB = 0.035
ERASE_MARGIN_S = 0.5
MASS_ERASE_MARGIN_S = 2.0


def erase_budget(size: int, *, mass: bool = False) -> float:
    """Seconds to allow for erasing ``size`` bytes (sectors, or with ``mass`` the whole flash)."""
    return (MASS_ERASE_MARGIN_S if mass else ERASE_MARGIN_S) + size / 1024 * ERASE_S_PER_KIB


RangeChecks = Callable[[Sequence[tuple[int, int]]], "tuple[list[int], dict[int, bool]] | None"]


def crcs_by_sector(check_ranges: RangeChecks, sectors: Sequence[Sector]) -> dict[int, int] | None:
    """``sector_crcs`` for a link whose far side sums ranges (``check_ranges``): None where it
    cannot (the caller reads back)."""
    if not sectors:
        return {}
    found = check_ranges([(s.address, s.size) for s in sectors])
    if found is None:
        return None
    return {s.index: v for s, v in zip(sectors, found[0], strict=True)}


def program_each(program: Callable[[int, bytes], None], segments: Sequence[tuple[int, bytes]],
                 progress: Callable[[int, int], None] | None = None) -> None:
    """Program ranges with one ``program`` call each, for a link that cannot stream several at
    once. A failure carries ``written``: the (address, length) ranges that landed, with the part
    of the failing range its ``written_upto`` counts."""
    total, done = sum(len(d) for _, d in segments), 0
    landed: list[tuple[int, int]] = []
    for address, data in segments:
        try:
            program(address, data)
        except StflashError as exc:
            exc.written = landed + ([(address, exc.written_upto)] if exc.written_upto else [])
            raise
        landed.append((address, len(data)))
        done += len(data)
        if progress is not None:
            progress(done, total)


@dataclass
class TargetInfo:
    """What identification found; ``observations`` keeps every level's answer for diagnosis."""

    link: str
    chip: Chip | None
    dev_id: int | None = None
    rev_id: int | None = None
    flash_size: int | None = None
    rdp_level: int | None = None
    probe: str | None = None
    serial: str | None = None
    observations: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"link": self.link}
        if self.chip is not None:
            out["chip"] = self.chip.name
            out["description"] = self.chip.description
            out["flash_size"] = self.flash_size if self.flash_size is not None else self.chip.flash_size
            out["sram_size"] = self.chip.ram_size
        for key in ("dev_id", "rev_id", "rdp_level", "probe", "serial"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.observations:
            out["observations"] = self.observations
        return out


class TargetLink(Protocol):
    """Operations every link provides once connected to a chip."""

    link: str

    def identify(self) -> TargetInfo: ...

    def read(self, address: int, length: int) -> bytes: ...

    def erase_sectors(self, sectors: Sequence[Sector], *, skip_blank: bool = False) -> Sequence[Sector] | None:
        """Erase ``sectors``. With ``skip_blank`` a link may leave out those it proves already
        erased (and return them); an explicit erase passes False and gets every sector erased."""
        ...

    def mass_erase(self, *, skip_blank: bool = False) -> None: ...

    def program(self, address: int, data: bytes) -> None: ...

    def sector_crcs(self, sectors: Sequence[Sector]) -> dict[int, int] | None:
        """CRC32 of each sector computed on the far side, or None when the link cannot."""
        ...

    def reset(self, run: bool = True) -> None: ...

    def read_option_bytes(self) -> dict[str, int]: ...

    def write_option_bytes(self, values: dict[str, int]) -> None: ...

    def close(self) -> None: ...
