"""Option-byte changes the UART bootloader makes: Write Memory at the option area's base, Write
Protect / Unprotect, Readout Protect / Unprotect. Each ends with the reset the ROM performs.

The new values are handed to the flash controller model as staged option words (what the ROM
programs), then ``SimChip.rom_change_options`` does the timing and the option load. How the
memory-mapped option area is laid out is the controller model's (each one documents its image);
this module reads it back the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.model import FlashKind
from ..chip import SimChip
from ..flashctl import RomOutcome

# Register offsets in the flash interface (RM0090/RM0410 OPTCR/OPTCR1; RM0433 WPSN_PRGR per bank)
F4_OPTCR, F4_OPTCR1 = 0x14, 0x18
H7_WPSN_PRG, H7_BANK2 = 0x3C, 0x100
L4_OPTION_BASE = 0x20  # the L4-class option image lists the option registers from FLASH_OPTR (+0x20)
L4_WRP_OFF = 0xFF00_FFFF  # start page 0xFF > end page 0x00: the WRP area is disabled
# L0/L1: WRP1/WRP2 option words (bit = 1 protects a 4 KB sector), RM0367 / RM0038
L01_WRP_WORDS = (0x08, 0x0C)


@dataclass(frozen=True)
class Stage:
    """One option field to program: controller address, bit position, width and value."""

    address: int
    shift: int
    width: int
    value: int


def _le(data: bytes, off: int, size: int) -> int:
    return int.from_bytes(data[off : off + size], "little")


def image_stages(sim: SimChip, data: bytes) -> list[Stage]:
    """Decode a Write Memory to the option area's base into option words.

    F0/F1/F3 erase the whole option page first (OPTER), so bytes the host did not send come back
    erased (AN3155 3.6). The other families keep the words/registers the host did not cover
    (their option bytes are registers, not a page the ROM erases).
    """
    chip = sim.chip
    area = chip.option_bytes
    ctl = sim.controller
    if area is None or ctl is None:
        return []
    kind = chip.flash_kind
    if kind is FlashKind.F0_F1_F3:
        image = (bytes(data) + b"\xff" * area.size)[: area.size]
        return [Stage(area.start + off, 0, 32, _le(image, off, 4)) for off in range(0, area.size, 4)]
    current = sim.rom_read(area.start, area.size)
    image = (bytes(data) + current[len(data) :])[: area.size]
    if kind is FlashKind.L0_L1:
        covered = min(len(data), area.size) // 4 * 4  # the value half of each word the host sent
        return [Stage(area.start + off, 0, 16, _le(image, off, 2)) for off in range(0, covered, 4)]
    if kind in (FlashKind.F2_F4, FlashKind.F7):
        # 16-bit value per 64-bit slot: OPTCR[15:0], OPTCR[31:16] (, OPTCR1[15:0], OPTCR1[31:16] on F7)
        slots = [_le(image, 8 * i, 2) for i in range(area.size // 8)]
        out = [Stage(ctl.base + F4_OPTCR, 2, 30, ((slots[0] | slots[1] << 16) >> 2))]
        if kind is FlashKind.F7 and len(slots) >= 4:
            out.append(Stage(ctl.base + F4_OPTCR1, 0, 32, slots[2] | slots[3] << 16))
        return out
    option_map: dict[int, str] = getattr(ctl, "option_map", {})
    out = []
    for off in sorted(option_map):
        pos = (off - L4_OPTION_BASE) * 2
        if pos + 4 <= area.size:
            out.append(Stage(ctl.base + off, 0, 32, _le(image, pos, 4)))
    return out


def protect_stages(sim: SimChip, codes: list[int] | None) -> list[Stage]:
    """Write Protect with sector ``codes`` (replacing any previous set, AN3155 3.9) or, with None,
    Write Unprotect. A code is a write-protection unit of the family (a WRP bit's page group on
    F0/F1/F3, a sector on F2/F4/F7/H7, a 4 KB sector on L0/L1, a page on the L4 class)."""
    chip, ctl = sim.chip, sim.controller
    if ctl is None:
        return []
    chosen = set(codes or [])
    kind = chip.flash_kind
    out: list[Stage] = []
    if kind is FlashKind.F0_F1_F3:
        for i, name in enumerate(("WRP0", "WRP1", "WRP2", "WRP3")):
            f = chip.option_field(name)
            if f is not None:
                bits = sum(1 << b for b in range(8) if 8 * i + b in chosen)
                out.append(Stage(f.address, f.shift, f.width, 0xFF & ~bits))  # 0 = protected
        return out
    if kind in (FlashKind.F2_F4, FlashKind.F7):
        first = 0
        for name in ("nWRP", "nWRP_BANK2"):
            f = chip.option_field(name)
            if f is None:
                continue
            bits = sum(1 << (c - first) for c in chosen if 0 <= c - first < f.width)
            out.append(Stage(f.address, f.shift, f.width, ((1 << f.width) - 1) & ~bits))
            first = len(sim.banks[0].sectors) if sim.banks else f.width
        return out
    if kind is FlashKind.L0_L1 and chip.option_bytes is not None:
        mask = sum(1 << c for c in chosen if c < 32)
        for i, off in enumerate(L01_WRP_WORDS):
            out.append(Stage(chip.option_bytes.start + off, 0, 16, (mask >> (16 * i)) & 0xFFFF))
        return out
    sectors = sim.sectors()
    if kind is FlashKind.H7:
        for index, bank in enumerate(sim.banks):
            per_bit = chip.extra_value("wrp_sectors_per_bit") or 1
            positions = {bank.position(s) // per_bit for s in sectors if s.bank == index and s.index in chosen}
            word = 0xFFFF_FFFF & ~sum(1 << b for b in positions)
            out.append(Stage(ctl.base + H7_WPSN_PRG + index * H7_BANK2, 0, 32, word))
        return out
    option_map: dict[int, str] = getattr(ctl, "option_map", {})
    by_name = {name: off for off, name in option_map.items()}
    for index, bank in enumerate(sim.banks):
        pages = sorted(bank.position(s) for s in sectors if s.bank == index and s.index in chosen)
        area_a, area_b = (f"WRP{index + 1}AR", f"WRP{index + 1}BR")
        if area_a in by_name:
            # one contiguous area covers the listed pages (the L4 class has start/end areas, not bits)
            word = (pages[-1] << 16 | pages[0]) if pages else L4_WRP_OFF
            out.append(Stage(ctl.base + by_name[area_a], 0, 32, word))
        if area_b in by_name:
            out.append(Stage(ctl.base + by_name[area_b], 0, 32, L4_WRP_OFF))
    return out


def rdp_value(sim: SimChip, level: int) -> int:
    """The RDP byte the ROM programs for read-out protection ``level`` 0 or 1."""
    f = sim.chip.option_field("RDP")
    level0 = f.default if f is not None else 0xAA
    if level == 0:
        return level0
    return 0x00 if level0 == 0xA5 else 0xBB  # F1: anything but 0xA5 protects


def rdp_in(sim: SimChip, stages: list[Stage]) -> int | None:
    """The RDP value these stages program, if they touch it."""
    f = sim.chip.option_field("RDP")
    if f is None:
        return None
    for s in stages:
        if s.address == f.address and s.shift <= f.shift and f.shift + f.width <= s.shift + s.width:
            return (s.value >> (f.shift - s.shift)) & ((1 << f.width) - 1)
    return None


def apply(sim: SimChip, stages: list[Stage], rdp: int | None, boot0: bool, cause: str) -> RomOutcome:
    """Program the stages (and RDP), load the options and reset the chip as the ROM does.

    ``rom_change_options`` handles the option timing, the RDP 1 -> 0 erase and the option load;
    the ROM's own system reset then samples the BOOT0 pin (``boot0``), so the bootloader runs
    again only if the boot condition still selects it.
    """
    ctl = sim.controller
    if ctl is None:
        return RomOutcome(False, "no flash controller")
    if sim.rdp_level == 2:
        return RomOutcome(False, "RDP level 2")
    start = sim.clock.now
    f_rdp = sim.chip.option_field("RDP")
    if rdp is not None and f_rdp is not None and sim.rdp_level == 1 and rdp == f_rdp.default and rdp != 0xAA:
        # F1 (level 0 = 0xA5): the regression erase rom_change_options keys on 0xAA must still happen
        ctl.wait_idle()
        ctl.erase_for_regression()
        sim.clock.advance(sim.timing.mass_erase_ns(ctl.rom_parallelism))
    for s in stages:
        ctl.stage_option(s.address, s.shift, s.width, s.value)
    outcome = sim.rom_change_options({"RDP": rdp} if rdp is not None and f_rdp is not None else {})
    if not outcome.ok:
        return outcome
    sim.reset("system", boot0=boot0, cause=cause)
    return RomOutcome(True, None, None, sim.clock.now - start)

