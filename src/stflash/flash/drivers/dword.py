"""L4 / L4+ / G4 / G0 / WB: the double-word controller (RM0351, RM0432, RM0440, RM0444, RM0434).

With PG=1 every aligned pair of 32-bit stores programs one 64-bit double word. Pages are erased
with PER, PNB and (dual-bank parts) BKER; the bit positions differ per kind and live in the
tables below. G0 and WB raise CFGBSY while an operation is configured: FLASH_CR is left alone
until it clears. The WB keeps the top of its flash for the CPU2 wireless stack (from SFSA in
FLASH_SFR), which neither MER nor the debugger may touch, so its "mass" erase goes page by page
below SFSA. Options are written into FLASH_OPTR (and friends), stored with OPTSTRT and loaded
with OBL_LAUNCH, which resets the chip.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.model import Chip, FlashKind, Sector
from ..debug import DebugAccess, FlashStep, ProgramSetup, store, wait
from .base import SingleSetDriver

_BSY = 1 << 16


@dataclass(frozen=True)
class DwordTable:
    """Register offsets, bits and keys (families.md sections 7, 8, 9, 10)."""

    keyr: int = 0x08
    optkeyr: int = 0x0C
    sr: int = 0x10
    cr: int = 0x14
    keys: tuple[int, int] = (0x4567_0123, 0xCDEF_89AB)
    opt_keys: tuple[int, int] = (0x0819_2A3B, 0x4C5D_6E7F)
    sr_busy: int = _BSY  # the operation runs (G0: BSY1 | BSY2)
    sr_cfgbsy: int = 0  # G0, WB: CR must not be written while set
    sr_pesd: int = 0  # WB: CPU2 suspends flash operations
    sr_wrperr: int = 1 << 4
    # OPERR PROGERR WRPERR PGAERR SIZERR PGSERR MISERR FASTERR
    sr_errors: int = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9)
    sr_clear: int = 0xC3FB  # those, EOP, RDERR and OPTVERR (write 1 to clear)
    cr_pg: int = 1 << 0
    cr_per: int = 1 << 1
    cr_mer: tuple[int, ...] = (1 << 2, 1 << 15)  # MER1, MER2 (per bank)
    pnb_shift: int = 3
    pnb_bits: int = 8
    cr_bker: int = 1 << 11
    cr_strt: int = 1 << 16
    cr_optstrt: int = 1 << 17
    cr_obl_launch: int = 1 << 27
    cr_optlock: int = 1 << 30
    cr_lock: int = 1 << 31
    sfr: int | None = None  # WB: secure flash start (SFSA bits 7:0; FSD bit 8 disables it)


L4_TABLE = DwordTable()
G4_TABLE = DwordTable(pnb_bits=7)  # BKER is bit 11 on G4 (CMSIS-g474), not the G0 bit 13
G0_TABLE = DwordTable(sr_busy=_BSY | 1 << 17, sr_cfgbsy=1 << 18, pnb_bits=10, cr_bker=1 << 13)
WB_TABLE = DwordTable(sr_cfgbsy=1 << 18, sr_pesd=1 << 19, cr_mer=(1 << 2,), cr_bker=0, sfr=0x80)
TABLES = {FlashKind.L4: L4_TABLE, FlashKind.G4: G4_TABLE, FlashKind.G0: G0_TABLE, FlashKind.WB: WB_TABLE}

NAMES = {
    1 << 0: "EOP", 1 << 1: "OPERR", 1 << 3: "PROGERR", 1 << 4: "WRPERR", 1 << 5: "PGAERR", 1 << 6: "SIZERR",
    1 << 7: "PGSERR", 1 << 8: "MISERR", 1 << 9: "FASTERR", 1 << 14: "RDERR", 1 << 15: "OPTVERR",
    1 << 16: "BSY", 1 << 17: "BSY2/PEMPTY", 1 << 18: "CFGBSY", 1 << 19: "PESD",
}


class DwordDriver(SingleSetDriver):
    t: DwordTable
    unit_word = "page"
    status_names = NAMES
    reload = "obl"

    def __init__(self, chip: Chip, access: DebugAccess) -> None:
        super().__init__(chip, access)
        self.t = TABLES[chip.flash_kind]
        self.protection_bits = self.t.sr_wrperr
        self.ready = self.t.sr_busy | self.t.sr_cfgbsy | self.t.sr_pesd

    @property
    def unit(self) -> int:
        return 8

    def _prepare(self) -> None:
        # a stale error flag makes the next programming fail with PGSERR: clear them first
        self.wait_clear(self._sr(), self.ready, self.limits.mass_s(), "the previous operation")
        self.unlock()
        self.access.write32(self._sr(), self.t.sr_clear)

    # -- erase -----------------------------------------------------------------------------------
    has_steps = True

    def prepare_steps(self, bank: int) -> list[FlashStep]:
        # a stale error flag makes the next programming fail with PGSERR: clear them first
        return [wait(self._sr(), self.ready, max_s=self.limits.mass_s()), store(self._sr(), self.t.sr_clear)]

    def _erase(self, start: int, doing: str, subject: str, at: int | None, typical_s: float,
               max_s: float, setup: int | None = None) -> list[FlashStep]:
        steps = [] if setup is None else [store(self._cr(), setup)]
        return [
            *steps,
            store(self._cr(), start),
            wait(self._sr(), self.ready, self.t.sr_errors, doing=doing, subject=subject, at=at,
                 typical_s=typical_s, max_s=max_s),
            store(self._cr(), 0),
        ]

    def erase_steps(self, sector: Sector) -> list[FlashStep]:
        number = sector.number & ((1 << self.t.pnb_bits) - 1)
        cr = self.t.cr_per | (number << self.t.pnb_shift) | (self.t.cr_bker if sector.bank else 0)
        # PER, PNB, BKER and STRT at once (HAL)
        return self._erase(cr | self.t.cr_strt, "erasing", self.describe(sector), sector.address,
                           self.times.sector_s(sector.size), self.limits.erase_s(sector.size))

    def mass_erase_steps(self, bank: int | None = None) -> list[FlashStep] | None:
        """MER of the chosen banks; None on the WB, whose "mass" erase goes page by page below
        the CPU2 area."""
        banks = self._check_bank(bank)
        if self.t.sfr is not None:
            return None
        bits = 0
        for b in banks:
            bits |= self.t.cr_mer[b]
        which = "the whole flash" if bank is None else f"bank {bank + 1}"
        typical = self.times.mass_s() if bank is None else self.times.bank_s()
        return self._erase(bits | self.t.cr_strt, "mass erase", which, None, typical or 0.0, self.limits.mass_s(),
                           setup=bits)

    def program_steps(self, bank: int) -> list[FlashStep]:
        return [store(self._cr(), self.t.cr_pg)]

    def erase_sector(self, sector: Sector) -> None:
        self._prepare()
        self.run_steps(self.erase_steps(sector))

    def mass_erase(self, bank: int | None = None) -> None:
        banks = self._check_bank(bank)
        self._prepare()
        if self.t.sfr is not None:
            limit = self._secure_start()
            for sector in self.chip.sectors():
                if sector.bank in banks and sector.address < limit:
                    self.run_steps(self.erase_steps(sector))
            return
        steps = self.mass_erase_steps(bank)
        assert steps is not None
        self.run_steps(steps)

    def _secure_start(self) -> int:
        """First address of the WB's CPU2 secure area (the end of the flash if FSD=1)."""
        assert self.t.sfr is not None
        sfr = self.access.read32(self.base + self.t.sfr)
        if sfr & (1 << 8):
            return self.chip.flash_end
        page = self.chip.banks[0].runs[0].size
        return self.chip.flash_base + (sfr & 0xFF) * page

    def protected_area(self, address: int) -> str | None:
        if self.t.sfr is None:
            return None
        start = self._secure_start()
        if address < start:
            return None
        return (f"belongs to the CPU2 secure area (from {start:#010x}, FLASH_SFR.SFSA): only the wireless "
                "stack's firmware update service may change it")

    # -- program ---------------------------------------------------------------------------------
    def setup_values(self, address: int) -> ProgramSetup:
        self.bank_of(address)
        return ProgramSetup(self._sr(), self.ready, self.t.sr_errors, 4, 8, self.erased)

    def program_setup(self, address: int) -> ProgramSetup:
        setup = self.setup_values(address)
        self._prepare()
        self.access.write32(self._cr(), self.t.cr_pg)
        return setup

    def end_steps(self, bank: int) -> list[FlashStep]:
        return [wait(self._sr(), self.ready, doing="programming", subject="the last double word",
                     max_s=self.limits.program_s()),
                store(self._cr(), 0)]

    def program_end(self, address: int) -> None:
        self.run_steps(self.end_steps(self.bank_of(address)))

    def _stream(self, bank: int, first: int, blob: bytes) -> None:
        with self.programming(first) as setup:
            self.stream_chunks(setup, first, blob, self.access.write_block)

    # -- option bytes ----------------------------------------------------------------------------
    def _program_options(self, values: dict[str, int], budget_s: float) -> None:
        self._prepare()
        self.unlock_with(self._cr(), self.t.cr_optlock, self.base + self.t.optkeyr, self.t.opt_keys)
        for address, value in sorted(self.option_words(values).items()):
            self.access.write32(address, value)
        self.wait_clear(self._sr(), self.ready, self.limits.program_s(), "the option registers")
        self.access.write32(self._cr(), self.t.cr_optstrt)
        status = self.wait_clear(self._sr(), self.ready, budget_s, "the option change")
        if status & self.t.sr_errors:
            raise self.failure(status, self.t.sr_errors, "programming", "the option area")

    def _launch_reload(self) -> None:
        self.write_resetting(self._cr(), self.t.cr_obl_launch)

    def _lock_options(self) -> None:
        self.lock()
