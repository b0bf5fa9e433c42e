"""Flash planning: from an image and a chip to the exact erase/write/verify steps.

The whole image is checked against the chip before anything is touched, so a file that does
not fit fails with nothing erased. The plan is plain data: ``write --dry-run`` prints it, every
link executes it, and the skip decision (sectors that already hold the right bytes) is made
here once for all links.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..chips.model import Chip, Sector
from ..errors import ImageDoesNotFitError, UsageError
from ..image.model import Image, Segment

ERASE_MODES = ("auto", "chip", "none")


@dataclass(frozen=True)
class SectorWork:
    """What happens to one touched sector."""

    sector: Sector
    expected: bytes  # the sector's full content after the write (erased value outside the image)
    covered: int  # image bytes inside the sector
    action: str  # "write" | "skip"

    @property
    def partial(self) -> bool:
        return self.covered < self.sector.size

    @property
    def crc32(self) -> int:
        return zlib.crc32(self.expected) & 0xFFFFFFFF


@dataclass
class FlashPlan:
    """Steps for one write. ``writes`` are padded to the write unit and never span two sectors."""

    chip: Chip
    erase_mode: str  # "sectors" | "chip" | "none"
    sectors: list[SectorWork] = field(default_factory=list)
    writes: list[Segment] = field(default_factory=list)
    verify: bool = True

    @property
    def erase(self) -> list[Sector]:
        if self.erase_mode != "sectors":
            return []
        return [w.sector for w in self.sectors if w.action == "write"]

    @property
    def skipped(self) -> list[Sector]:
        return [w.sector for w in self.sectors if w.action == "skip"]

    @property
    def write_bytes(self) -> int:
        return sum(len(s) for s in self.writes)

    @property
    def lost_bytes(self) -> int:
        """Bytes outside the image that the erase will wipe (partly covered sectors, or chip erase)."""
        if self.erase_mode == "chip":
            return self.chip.flash_size - sum(w.covered for w in self.sectors)
        if self.erase_mode == "none":
            return 0
        return sum(w.sector.size - w.covered for w in self.sectors if w.action == "write")

    def as_dict(self) -> dict[str, object]:
        return {
            "chip": self.chip.name,
            "erase": self.erase_mode,
            "erase_sectors": [_sector_dict(s) for s in self.erase],
            "skip_sectors": [_sector_dict(s) for s in self.skipped],
            "writes": [{"address": s.address, "length": len(s)} for s in self.writes],
            "write_bytes": self.write_bytes,
            "erased_outside_image": self.lost_bytes,
            "verify": self.verify,
        }

    def render(self) -> str:
        """Human summary for ``--dry-run``."""
        lines = [f"plan for {self.chip.name} ({self.chip.flash_size // 1024} KiB flash):"]
        if self.erase_mode == "chip":
            lines.append("  erase: whole chip (mass erase)")
        elif self.erase_mode == "none":
            lines.append("  erase: none (the touched flash must already be erased)")
        for w in self.sectors:
            s = w.sector
            tag = "skip (already holds these bytes)" if w.action == "skip" else (
                "erase+write" if self.erase_mode == "sectors" else "write")
            extra = f", {s.size - w.covered} bytes outside the image erased" if (
                w.partial and w.action == "write" and self.erase_mode == "sectors") else ""
            lines.append(
                f"  sector {s.number:<3} bank {s.bank + 1} {s.address:#010x} {_kib(s.size):>7}: {tag}"
                f" ({w.covered} bytes of image{extra})"
            )
        lines.append(f"  write: {self.write_bytes} bytes in {len(self.writes)} ranges")
        lines.append(f"  verify: {'yes' if self.verify else 'no'}")
        return "\n".join(lines)


def _kib(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


def _sector_dict(s: Sector) -> dict[str, int]:
    return {"number": s.number, "bank": s.bank, "address": s.address, "size": s.size}


def check_fits(image: Image, chip: Chip) -> None:
    """Refuse an image with any byte outside the chip's flash, naming the first such address and
    what lives there (bootloader ROM, OTP, option bytes, a hole between banks, or nothing)."""
    for seg in image:
        check_range(chip, seg.address, len(seg), what=f"image byte ({seg.source or 'image'})")


def check_range(chip: Chip, address: int, length: int, *, what: str = "address") -> None:
    """Every byte of [address, address+length) must be in a flash bank."""
    if chip.flash_size == 0:
        raise ImageDoesNotFitError(f"{chip.name} has no internal flash")
    pos, end = address, address + length
    while pos < end:
        bank = next((b for b in chip.banks if b.base <= pos < b.end), None)
        if bank is None:
            raise ImageDoesNotFitError(
                f"{what} at {pos:#010x} is {_what_is_at(chip, pos)}",
                hint=f"{chip.name} flash: " + ", ".join(f"{b.base:#010x}-{b.end - 1:#010x}" for b in chip.banks),
            )
        pos = min(end, bank.end)


def _what_is_at(chip: Chip, address: int) -> str:
    regions = [("the system bootloader (read-only ROM)", chip.system_memory)]
    if chip.otp is not None:
        regions.append(("one-time-programmable memory (write it with a dedicated command)", chip.otp))
    if chip.option_bytes is not None:
        regions.append(("the option bytes (use 'stflash ob set')", chip.option_bytes))
    for ram in chip.ram:
        regions.append((f"RAM ({ram.name}), not flash", ram))
    for label, region in regions:
        if region.contains(address):
            return f"in {label}"
    if chip.flash_base <= address < chip.flash_end:
        return "in the gap between flash banks"
    return f"outside the {chip.flash_size // 1024} KiB flash of {chip.name}"


def plan_write(
    image: Image,
    chip: Chip,
    *,
    erase: str = "auto",
    verify: bool = True,
    current: Mapping[int, bytes] | None = None,
    current_crc: Mapping[int, int] | None = None,
) -> FlashPlan:
    """Plan writing ``image`` to ``chip``.

    ``current`` (sector index -> the sector's bytes as read) or ``current_crc`` (sector index ->
    CRC32 of the sector) let the planner skip sectors that already hold exactly what the write
    would leave there. The comparison is byte-exact or CRC32, never an additive checksum.
    """
    if erase not in ERASE_MODES:
        raise UsageError(f"--erase {erase!r}: choose one of {', '.join(ERASE_MODES)}")
    check_fits(image, chip)
    fill = chip.erased_value
    mode = {"auto": "sectors", "chip": "chip", "none": "none"}[erase]
    plan = FlashPlan(chip, mode, verify=verify)
    touched = [s for s in chip.sectors() if image.covers(s.address, s.size)]
    for sector in touched:
        expected = image.read(sector.address, sector.size, fill)
        covered = sum(
            max(0, min(seg.end, sector.end) - max(seg.address, sector.address)) for seg in image
        )
        action = "write"
        if mode != "chip" and _already_holds(sector, expected, image, current, current_crc):
            action = "skip"
        plan.sectors.append(SectorWork(sector, expected, covered, action))
    unit = chip.write_unit
    for work in plan.sectors:
        if work.action == "skip":
            continue
        part = image.crop(work.sector.address, work.sector.end).padded(unit, fill)
        plan.writes.extend(Segment(s.address, s.data, "") for s in part)
    return plan


def _already_holds(
    sector: Sector,
    expected: bytes,
    image: Image,
    current: Mapping[int, bytes] | None,
    current_crc: Mapping[int, int] | None,
) -> bool:
    if current is not None and sector.index in current:
        have = current[sector.index]
        if len(have) != sector.size:
            return False
        # only the image's bytes matter: bytes outside it are kept as they are when we skip
        return all(
            have[max(seg.address, sector.address) - sector.address : min(seg.end, sector.end) - sector.address]
            == seg.data[max(seg.address, sector.address) - seg.address : min(seg.end, sector.end) - seg.address]
            for seg in image
            if seg.address < sector.end and seg.end > sector.address
        )
    if current_crc is not None and sector.index in current_crc:
        return current_crc[sector.index] == zlib.crc32(expected) & 0xFFFFFFFF
    return False
