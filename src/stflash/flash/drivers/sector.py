"""F2 / F4 / F7: sector flash with PSIZE (RM0033, RM0090, RM0368..., RM0385, RM0410, RM0431).

Programming and erasing run at the parallelism PSIZE selects (x8/x16/x32, x64 only with an
external VPP); every store must have exactly that width. Sectors are chosen with SNB (bank 2 of
a dual-bank F42x/F76x from 0x10, as the chip table numbers them), MER/MER1(MER2) erase one bank
each. Options live in FLASH_OPTCR/OPTCR1: OPTSTRT stores them, the loader applies them at the
next reset. The F7 differs in data only (ERSERR in bit 7, boot addresses in OPTCR1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.model import Chip, FlashKind, Sector
from ..debug import DebugAccess, FlashStep, ProgramSetup, store, wait
from .base import PSIZE_BITS, SingleSetDriver, check_psize


@dataclass(frozen=True)
class SectorTable:
    """Register offsets, bits and keys (families.md sections 4.1 and 5)."""

    keyr: int = 0x04
    optkeyr: int = 0x08
    sr: int = 0x0C
    cr: int = 0x10
    optcr: int = 0x14
    keys: tuple[int, int] = (0x4567_0123, 0xCDEF_89AB)
    opt_keys: tuple[int, int] = (0x0819_2A3B, 0x4C5D_6E7F)
    sr_bsy: int = 1 << 16
    sr_eop: int = 1 << 0
    sr_errors: int = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7)  # OPERR WRPERR PGAERR PGPERR PGSERR
    sr_clear: int = 0x1F3  # EOP, OPERR, WRPERR..PGSERR, RDERR (write 1 to clear)
    sr_wrperr: int = 1 << 4
    cr_pg: int = 1 << 0
    cr_ser: int = 1 << 1
    cr_mer: tuple[int, int] = (1 << 2, 1 << 15)  # bank 1 (MER / MER1 on F76x), bank 2 (MER1 / MER2)
    cr_snb_shift: int = 3
    cr_psize_shift: int = 8
    cr_strt: int = 1 << 16
    cr_lock: int = 1 << 31
    opt_lock: int = 1 << 0
    opt_strt: int = 1 << 1
    names: tuple[tuple[int, str], ...] = (
        (1 << 0, "EOP"), (1 << 1, "OPERR"), (1 << 4, "WRPERR"), (1 << 5, "PGAERR"), (1 << 6, "PGPERR"),
        (1 << 7, "PGSERR"), (1 << 8, "RDERR"), (1 << 16, "BSY"),
    )


F2F4_TABLE = SectorTable()
F7_TABLE = SectorTable(
    names=(
        (1 << 0, "EOP"), (1 << 1, "OPERR"), (1 << 4, "WRPERR"), (1 << 5, "PGAERR"), (1 << 6, "PGPERR"),
        (1 << 7, "ERSERR"), (1 << 8, "RDERR"), (1 << 16, "BSY"),
    ),
)
TABLES = {FlashKind.F2_F4: F2F4_TABLE, FlashKind.F7: F7_TABLE}
DEFAULT_PSIZE = 32  # x32 needs 2.7-3.6 V; use 16 or 8 on lower supplies (RM0090 parallelism table)


class SectorDriver(SingleSetDriver):
    t: SectorTable

    def __init__(self, chip: Chip, access: DebugAccess, *, psize: int = DEFAULT_PSIZE) -> None:
        super().__init__(chip, access)
        self.t = TABLES[chip.flash_kind]
        self.psize = check_psize(psize)
        self.status_names = dict(self.t.names)
        self.protection_bits = self.t.sr_wrperr

    @property
    def unit(self) -> int:
        return self.psize // 8

    @property
    def parallelism(self) -> int:
        return self.psize

    @property
    def _psize(self) -> int:
        return PSIZE_BITS[self.psize] << self.t.cr_psize_shift

    def _prepare(self) -> None:
        # FLASH_CR writes stall while BSY=1; wait first so the probe never sits on a stalled bus
        self.wait_clear(self._sr(), self.t.sr_bsy, self.limits.mass_s(8), "the previous operation")
        self.unlock()
        self.access.write32(self._sr(), self.t.sr_clear)

    # -- erase -----------------------------------------------------------------------------------
    has_steps = True

    def prepare_steps(self, bank: int) -> list[FlashStep]:
        # FLASH_CR writes stall while BSY=1: wait first so the bus never sits stalled
        return [wait(self._sr(), self.t.sr_bsy, max_s=self.limits.mass_s(8)), store(self._sr(), self.t.sr_clear)]

    def _erase(self, cr: int, doing: str, subject: str, at: int | None, typical_s: float,
               max_s: float) -> list[FlashStep]:
        return [
            store(self._cr(), cr),
            store(self._cr(), cr | self.t.cr_strt),
            wait(self._sr(), self.t.sr_bsy, self.t.sr_errors, doing=doing, subject=subject, at=at,
                 typical_s=typical_s, max_s=max_s),
            store(self._cr(), 0),
        ]

    def erase_steps(self, sector: Sector) -> list[FlashStep]:
        cr = self.t.cr_ser | (sector.number << self.t.cr_snb_shift) | self._psize
        return self._erase(cr, "erasing", self.describe(sector), sector.address,
                           self.times.sector_s(sector.size, self.psize), self.limits.erase_s(sector.size, self.psize))

    def mass_erase_steps(self, bank: int | None = None) -> list[FlashStep] | None:
        bits = 0
        for b in self._check_bank(bank):
            bits |= self.t.cr_mer[b]
        which = "the whole flash" if bank is None else f"bank {bank + 1}"
        typical = self.times.mass_s(self.psize) if bank is None else self.times.bank_s(self.psize)
        return self._erase(bits | self._psize, "mass erase", which, None, typical or 0.0, self.limits.mass_s(self.psize))

    def program_steps(self, bank: int) -> list[FlashStep]:
        return [store(self._cr(), self.t.cr_pg | self._psize)]

    def erase_sector(self, sector: Sector) -> None:
        self._prepare()
        self.run_steps(self.erase_steps(sector))

    def mass_erase(self, bank: int | None = None) -> None:
        steps = self.mass_erase_steps(bank)
        assert steps is not None
        self._prepare()
        self.run_steps(steps)

    # -- program ---------------------------------------------------------------------------------
    def setup_values(self, address: int) -> ProgramSetup:
        self.bank_of(address)
        width = min(4, self.unit)  # x64 is two word stores into one aligned double word
        return ProgramSetup(self._sr(), self.t.sr_bsy, self.t.sr_errors, width, self.unit, self.erased)

    def program_setup(self, address: int) -> ProgramSetup:
        setup = self.setup_values(address)
        self._prepare()
        self.access.write32(self._cr(), self.t.cr_pg | self._psize)
        return setup

    def end_steps(self, bank: int) -> list[FlashStep]:
        return [store(self._cr(), 0)]

    def program_end(self, address: int) -> None:
        self.run_steps(self.end_steps(self.bank_of(address)))

    def _stream(self, bank: int, first: int, blob: bytes) -> None:
        access = self.access

        def store(address: int, chunk: bytes) -> None:
            if self.unit >= 4:  # whole words: the probe's 32-bit block write (x64 pairs them)
                access.write_block(address, chunk)
            elif self.unit == 2:
                for off in range(0, len(chunk), 2):
                    access.write16(address + off, int.from_bytes(chunk[off : off + 2], "little"))
            else:
                for off in range(len(chunk)):
                    access.write_block(address + off, chunk[off : off + 1])  # one 8-bit store

        with self.programming(first) as setup:
            self.stream_chunks(setup, first, blob, store)

    # -- option bytes ----------------------------------------------------------------------------
    def _program_options(self, values: dict[str, int], budget_s: float) -> None:
        optcr = self.base + self.t.optcr
        self.wait_clear(self._sr(), self.t.sr_bsy, self.limits.mass_s(8), "the previous operation")
        self.access.write32(self._sr(), self.t.sr_clear)
        self.unlock_with(optcr, self.t.opt_lock, self.base + self.t.optkeyr, self.t.opt_keys)
        registers = self.option_words(values)
        word = registers.pop(optcr, None)
        for address, value in sorted(registers.items()):  # OPTCR1 before the OPTCR that starts
            self.access.write32(address, value)
        if word is None:
            word = self.access.read32(optcr)
        word &= ~(self.t.opt_lock | self.t.opt_strt)
        self.access.write32(optcr, word)
        self.access.write32(optcr, word | self.t.opt_strt)
        status = self.wait_clear(self._sr(), self.t.sr_bsy, budget_s, "the option change")
        if status & self.t.sr_errors:
            raise self.failure(status, self.t.sr_errors, "programming", "the option area")

    def _lock_options(self) -> None:
        optcr = self.base + self.t.optcr
        self.access.write32(optcr, (self.access.read32(optcr) & ~self.t.opt_strt) | self.t.opt_lock)
