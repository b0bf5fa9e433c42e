"""What the chip itself needs to erase and program an image, from the bench's timing model: the
floor under every link's lower bound (the link adds the bytes on its wire)."""

from __future__ import annotations

from stflash.chips.lookup import find_chip
from stflash.chips.model import FlashKind
from stflash.sim.chip import SimChip
from stflash.sim.timing import timing_for

PSIZE_KINDS = (FlashKind.F2_F4, FlashKind.F7)  # program width chosen by PSIZE: parallelism/8 bytes


def chip_seconds(part: str, size: int, parallelism: int | None = None, base: int | None = None) -> tuple[float, float]:
    """(erase, program) seconds for ``size`` bytes from the flash base; ``parallelism`` in bits on
    F2/F4/F7/H7 (None: what the ROM's flash helpers use on that part, x32 on F2/F4/F7, which is
    also stflash's width on a board at 2.7 V or more, and x64 on H74x/H75x). The erase is the
    cheaper of the sectors' erases and one mass erase: on a blank chip a writer may mass-erase
    instead (on a G0 one 22 ms mass erase against 22 ms per 2 KiB page), having checked the rest
    blank, which this floor does not charge."""
    chip = find_chip(part)
    timing = timing_for(chip)
    if parallelism is None:
        ctl = SimChip(chip).controller
        parallelism = ctl.rom_parallelism if ctl is not None else 0
    start = chip.flash_base if base is None else base
    sectors = [s for s in chip.sectors() if s.address < start + size and s.end > start]
    erase = min(sum(timing.erase_ns(s.size, parallelism) for s in sectors), timing.mass_erase_ns(parallelism)) / 1e9
    unit = max(parallelism // 8, 1) if chip.flash_kind in PSIZE_KINDS and parallelism else chip.write_unit
    program = -(-size // unit) * timing.program_ns(parallelism) / 1e9
    return erase, program
