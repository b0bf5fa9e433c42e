"""Flash planning: from an image and a chip to the exact erase/write/verify steps.

The whole image is checked against the chip before anything is touched, so a file that does
not fit fails with nothing erased. The plan is plain data: ``write --dry-run`` prints it, every
link executes it, and the skip decision (sectors that already hold the right bytes) is made
here once for all links.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..chips.erase_times import EraseTimes, erase_times
from ..chips.model import Chip, Sector
from ..errors import ImageDoesNotFitError, UsageError
from ..image.model import Image, Segment

# auto: sectors, or a bank/mass erase where the timing model finds it quicker and it wipes
# nothing but blank sectors beyond the image; sectors: never a bank/mass erase; chip: mass erase
ERASE_MODES = ("auto", "sectors", "chip", "none")


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


@dataclass(frozen=True)
class EraseCaps:
    """What the link erases in one operation besides sectors: ``mass`` the whole flash (not page
    by page behind the scenes), ``bank`` one bank alone (``erase_bank``)."""

    mass: bool = True
    bank: bool = False


@dataclass(frozen=True)
class EraseEstimate:
    """One comparison of the timing model: ``scope`` (a bank, or None for the whole flash)
    erased at once against its sectors one by one. ``whole_s`` is None where that erase is not
    available; ``obstacle`` says why it was not taken although quicker."""

    bank: int | None
    whole_s: float | None
    sectors: int
    sectors_s: float
    chosen: bool = False
    obstacle: str = ""

    @property
    def name(self) -> str:
        return "mass erase" if self.bank is None else f"bank erase (bank {self.bank + 1})"

    def describe(self) -> str:
        whole = f"{self.name}: {_secs(self.whole_s)}" if self.whole_s is not None else f"{self.name}: none on this chip"
        text = f"{whole} vs {self.sectors} sector erases: {_secs(self.sectors_s)}"
        if self.chosen:
            return f"{text} -> {self.name}"
        return f"{text} -> sector erases" + (f" ({self.obstacle})" if self.obstacle else "")

    def as_dict(self) -> dict[str, object]:
        return {"scope": "flash" if self.bank is None else self.bank, "whole_s": self.whole_s,
                "sectors": self.sectors, "sectors_s": round(self.sectors_s, 6), "chosen": self.chosen,
                "obstacle": self.obstacle}


@dataclass
class FlashPlan:
    """Steps for one write. ``writes`` are padded to the write unit and never span two sectors.

    In "sectors" mode the timing model may replace the sector erases by one mass erase
    (``mass_erase``) or by bank erases (``erase_banks``); ``estimates`` keeps the comparison and
    ``blank_checks`` the sectors outside the image that would have to be proven blank first.
    """

    chip: Chip
    erase_mode: str  # "sectors" | "chip" | "none"
    sectors: list[SectorWork] = field(default_factory=list)
    writes: list[Segment] = field(default_factory=list)
    verify: bool = True
    mass_erase: bool = False
    erase_banks: tuple[int, ...] = ()
    estimates: list[EraseEstimate] = field(default_factory=list)
    blank_checks: list[Sector] = field(default_factory=list)
    # a link may leave a planned sector unerased when it reads back erased and the flash programs
    # over that (DFU on F0/F1/F3/F2/F4/F7); --force turns it off
    skip_blank: bool = True

    @property
    def erase(self) -> list[Sector]:
        """The sectors erased one by one."""
        if self.erase_mode != "sectors" or self.mass_erase:
            return []
        return [w.sector for w in self.sectors if w.action == "write" and w.sector.bank not in self.erase_banks]

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
            "erase_strategy": self.strategy,
            "erase_estimates": [e.as_dict() for e in self.estimates],
            "erase_banks": list(self.erase_banks),
            "erase_sectors": [_sector_dict(s) for s in self.erase],
            "skip_sectors": [_sector_dict(s) for s in self.skipped],
            "writes": [{"address": s.address, "length": len(s)} for s in self.writes],
            "write_bytes": self.write_bytes,
            "erased_outside_image": self.lost_bytes,
            "verify": self.verify,
        }

    @property
    def strategy(self) -> str:
        """How the flash gets erased: "mass", "banks", "sectors", "chip" (asked) or "none"."""
        if self.erase_mode != "sectors":
            return self.erase_mode
        return "mass" if self.mass_erase else "banks" if self.erase_banks else "sectors"

    def render(self) -> str:
        """Human summary for ``--dry-run``."""
        lines = [f"plan for {self.chip.name} ({self.chip.flash_size // 1024} KiB flash):"]
        if self.erase_mode == "chip":
            lines.append("  erase: whole chip (mass erase)")
        elif self.erase_mode == "none":
            lines.append("  erase: none (the touched flash must already be erased)")
        elif self.mass_erase:
            lines.append("  erase: mass erase (the flash beyond the image is blank)")
        elif self.erase_banks:
            lines.append("  erase: bank erase of " + ", ".join(f"bank {b + 1}" for b in self.erase_banks)
                         + " (the rest of the bank is blank); other sectors one by one")
        lines.extend(f"  estimate: {e.describe()}" for e in self.estimates)
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


def _secs(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


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
    blank: Mapping[int, bool] | None = None,
    caps: EraseCaps | None = None,
    parallelism: int | None = None,
) -> FlashPlan:
    """Plan writing ``image`` to ``chip``.

    ``current`` (sector index -> the sector's bytes as read) or ``current_crc`` (sector index ->
    CRC32 of the sector) let the planner skip sectors that already hold exactly what the write
    would leave there. The comparison is byte-exact or CRC32, never an additive checksum.

    With ``erase="auto"`` the timing model may pick a mass or bank erase instead of the sector
    erases (see :func:`choose_erase`); ``blank`` (sector index -> is it blank), ``caps`` (what
    the link can erase; default: a mass erase, no single bank) and ``parallelism`` feed it.
    """
    if erase not in ERASE_MODES:
        raise UsageError(f"--erase {erase!r}: choose one of {', '.join(ERASE_MODES)}")
    check_fits(image, chip)
    fill = chip.erased_value
    mode = {"auto": "sectors", "sectors": "sectors", "chip": "chip", "none": "none"}[erase]
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
    if erase == "auto":
        choose_erase(plan, caps or EraseCaps(), blank or {}, parallelism)
    return plan


def choose_erase(plan: FlashPlan, caps: EraseCaps, blank: Mapping[int, bool],
                 parallelism: int | None = None) -> None:
    """Replace the sector erases by a mass erase, or by bank erases, where the chip's typical
    times (``chips.erase_times``) make that quicker. A whole-bank or mass erase also wipes the
    sectors the plan would leave alone, so it is taken only when each of them is known blank
    (``blank``, or skipped because it already holds the image's all-erased content); the
    sectors still to prove blank go to ``plan.blank_checks``. A tie keeps the sector erases.
    Only flash time counts: the link's per-command cost is small against erase times."""
    chip, times = plan.chip, erase_times(plan.chip)
    banks = [_bank_cost(plan, b, times, blank, parallelism) for b in range(len(chip.banks))]
    if not any(n for n, _, _, _ in banks):
        return
    total_n, total_s = sum(b[0] for b in banks), sum(b[1] for b in banks)
    mass_s = times.mass_s(parallelism)
    mass = EraseEstimate(None, mass_s, total_n, total_s)
    if mass_s is not None and mass_s < total_s:
        unknown = [s for b in banks for s in b[2]]
        dirty = [d for b in banks for d in b[3]]
        mass = _judge(mass, unknown, dirty, None if caps.mass else "this link erases the whole flash sector by sector")
        if mass.chosen:
            plan.mass_erase = True
            plan.estimates = [mass]
            return
        if not dirty and caps.mass:
            plan.blank_checks = unknown
    plan.estimates = [mass]
    if not chip.dual_bank:
        return
    bank_s = times.bank_s(parallelism)
    chosen = []
    for b, (n, sectors_s, unknown, dirty) in enumerate(banks):
        if not n:
            continue
        estimate = EraseEstimate(b, bank_s, n, sectors_s)
        if bank_s is not None and bank_s < sectors_s:
            estimate = _judge(estimate, unknown, dirty, None if caps.bank else "this link cannot erase a single bank")
            if estimate.chosen:
                chosen.append(b)
            elif not dirty and caps.bank:
                plan.blank_checks.extend(s for s in unknown if s not in plan.blank_checks)
        plan.estimates.append(estimate)
    plan.erase_banks = tuple(chosen)


def _bank_cost(plan: FlashPlan, bank: int, times: EraseTimes, blank: Mapping[int, bool],
               parallelism: int | None) -> tuple[int, float, list[Sector], list[tuple[Sector, str]]]:
    """For one bank: how many sectors the plan erases there and in what time, the sectors a
    whole-bank erase would wipe that are not known blank, and those it must not wipe (why)."""
    work = {w.sector.index: w for w in plan.sectors}
    n, seconds = 0, 0.0
    unknown: list[Sector] = []
    dirty: list[tuple[Sector, str]] = []
    erased = plan.chip.erased_value
    for sector in plan.chip.sectors():
        if sector.bank != bank:
            continue
        w = work.get(sector.index)
        if w is not None and w.action == "write":
            n += 1
            seconds += times.sector_s(sector.size, parallelism)
            continue
        image_blank = w is None or w.expected.count(erased) == len(w.expected)
        if not image_blank:
            dirty.append((sector, "already holds its part of the image (skipped)"))
        elif (w is not None and not w.partial) or blank.get(sector.index) is True:
            continue  # blank: the skip compared every byte with the erased value, or a check did
        elif blank.get(sector.index) is False:
            dirty.append((sector, "is not blank and not part of the image"))
        else:
            unknown.append(sector)
    return n, seconds, unknown, dirty


def _judge(estimate: EraseEstimate, unknown: list[Sector], dirty: list[tuple[Sector, str]],
           unavailable: str | None) -> EraseEstimate:
    """The quicker whole erase, taken only if the link has it and it wipes nothing but blank
    sectors."""
    if unavailable:
        why = unavailable
    elif dirty:
        s, what = dirty[0]
        why = f"sector {s.number} at {s.address:#010x} {what}"
    elif unknown:
        s = unknown[0]
        why = f"sector {s.number} at {s.address:#010x} outside the image is not known to be blank"
    else:
        return dataclasses.replace(estimate, chosen=True)
    return dataclasses.replace(estimate, obstacle=why)


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
