"""F0 / F1 / F3: the original flash program/erase controller (FPEC), RM0008 / RM0091 / RM0316.

Half-word programming with PG (one 16-bit write each), page erase through FLASH_AR, mass erase
with MER, and option bytes as a 16-byte area at 0x1FFFF800 that is erased (OPTER) and
reprogrammed half-word by half-word (OPTPG) with its complements. The XL-density F103 drives
its second bank through a second register set at +0x40. F0/F3 reload options with OBL_LAUNCH;
the F1 only at reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...chips import option_area
from ...chips.model import Chip, Sector
from ..debug import DebugAccess, ProgramSetup
from .base import CHUNK, PerBankDriver


@dataclass(frozen=True)
class FpecTable:
    """Register offsets from FLASH base, bits and keys (families.md section 3.1)."""

    keyr: int = 0x04
    optkeyr: int = 0x08
    sr: int = 0x0C
    cr: int = 0x10
    ar: int = 0x14
    bank_stride: int = 0x40  # KEYR2 0x44, SR2 0x4C, CR2 0x50, AR2 0x54 (F1 XL)
    keys: tuple[int, int] = (0x4567_0123, 0xCDEF_89AB)
    opt_keys: tuple[int, int] = (0x4567_0123, 0xCDEF_89AB)  # the same keys, written to OPTKEYR
    sr_bsy: int = 1 << 0
    sr_pgerr: int = 1 << 2
    sr_wrprterr: int = 1 << 4
    sr_eop: int = 1 << 5
    cr_pg: int = 1 << 0
    cr_per: int = 1 << 1
    cr_mer: int = 1 << 2
    cr_optpg: int = 1 << 4
    cr_opter: int = 1 << 5
    cr_strt: int = 1 << 6
    cr_lock: int = 1 << 7
    cr_optwre: int = 1 << 9
    cr_obl_launch: int = 1 << 13


TABLE = FpecTable()
# RM0091/RM0316 have FLASH_CR.OBL_LAUNCH; RM0008 (F1) does not: its options load at reset.
OBL_LAUNCH_FAMILIES = frozenset({"F0", "F3"})


class FpecDriver(PerBankDriver):
    unit_word = "page"
    t = TABLE
    status_names = {1 << 0: "BSY", 1 << 2: "PGERR", 1 << 4: "WRPRTERR", 1 << 5: "EOP"}
    protection_bits = TABLE.sr_wrprterr
    errors = TABLE.sr_pgerr | TABLE.sr_wrprterr

    def __init__(self, chip: Chip, access: DebugAccess) -> None:
        super().__init__(chip, access)
        self.reload = "obl" if chip.family.upper() in OBL_LAUNCH_FAMILIES else "system"

    @property
    def unit(self) -> int:
        return 2

    def _prepare(self, bank: int, what: str) -> None:
        """Wait until idle, unlock, clear stale flags (w1c)."""
        self.wait_clear(self._reg(bank, self.t.sr), self.t.sr_bsy, self.limits.mass_s(), what)
        self._unlock_bank(bank)
        self.access.write32(self._reg(bank, self.t.sr), self.errors | self.t.sr_eop)

    # -- erase -----------------------------------------------------------------------------------
    def erase_sector(self, sector: Sector) -> None:
        bank, cr = sector.bank, self._reg(sector.bank, self.t.cr)
        self._prepare(bank, "the previous operation")
        self.access.write32(cr, self.t.cr_per)
        self.access.write32(self._reg(bank, self.t.ar), sector.address)
        self.access.write32(cr, self.t.cr_per | self.t.cr_strt)
        what = f"erasing {self.describe(sector)}"
        status = self.wait_clear(self._reg(bank, self.t.sr), self.t.sr_bsy, self.limits.erase_s(sector.size), what)
        self.access.write32(cr, 0)
        if status & self.errors:
            raise self.failure(status, self.errors, "erasing", self.describe(sector), sector.address)

    def mass_erase(self, bank: int | None = None) -> None:
        """MER per register set: one bank of an XL part, or the whole flash otherwise."""
        chosen = self._check_bank(bank)
        for b in chosen:
            self._prepare(b, "the previous operation")
            # MER is dropped while PG is still set (stlink note on the F030): CR is rewritten whole
            self.access.write32(self._reg(b, self.t.cr), self.t.cr_mer)
            self.access.write32(self._reg(b, self.t.cr), self.t.cr_mer | self.t.cr_strt)
        for b in chosen:
            status = self.wait_clear(
                self._reg(b, self.t.sr), self.t.sr_bsy, self.limits.mass_s(), f"mass erase of bank {b + 1}"
            )
            self.access.write32(self._reg(b, self.t.cr), 0)
            if status & self.errors:
                raise self.failure(status, self.errors, "mass erase", f"bank {b + 1}")

    # -- program ---------------------------------------------------------------------------------
    def program_setup(self, address: int) -> ProgramSetup:
        bank = self.bank_of(address)
        self._prepare(bank, "the previous operation")
        self.access.write32(self._reg(bank, self.t.cr), self.t.cr_pg)
        return ProgramSetup(self._reg(bank, self.t.sr), self.t.sr_bsy, self.errors, 2, 2, self.erased)

    def program_end(self, address: int) -> None:
        self.access.write32(self._reg(self.bank_of(address), self.t.cr), 0)

    def _stream(self, bank: int, first: int, blob: bytes) -> None:
        def halfwords(address: int, chunk: bytes) -> None:
            # each 16-bit write starts one programming; a write arriving while BSY=1 waits on
            # the bus, and a probe round trip is longer than tprog (70 us max) anyway
            for off in range(0, len(chunk), 2):
                self.access.write16(address + off, int.from_bytes(chunk[off : off + 2], "little"))

        with self.programming(first) as setup:
            self.stream_chunks(setup, first, blob, halfwords, size=CHUNK // 2)

    # -- option bytes ----------------------------------------------------------------------------
    def _area(self) -> tuple[int, bytes]:
        ob = self.chip.option_bytes
        assert ob is not None, "every F0/F1/F3 row has its option area"
        return ob.start, self.access.read_block(ob.start, ob.size)

    def _read_option_fields(self) -> dict[str, int]:
        start, raw = self._area()
        return option_area.decode(self.chip, {start: raw})

    def change_erases_flash(self, current: Mapping[str, int], changed: Mapping[str, int]) -> bool:
        """Any change erases the option page first, and erasing it while read protection is on
        mass-erases the flash (families.md 3.4): at RDP level 1 every change wipes the flash."""
        rdp = self.chip.option_field("RDP")
        return rdp is not None and rdp.rdp_level(current[rdp.name]) != 0

    def _program_options(self, values: dict[str, int], budget_s: float) -> None:
        start, raw = self._area()
        new = option_area.encode(self.chip, {start: raw}, values)[start]
        cr, sr = self._reg(0, self.t.cr), self._reg(0, self.t.sr)
        self._prepare(0, "the previous operation")
        if not self.access.read32(cr) & self.t.cr_optwre:
            self.key(self.base + self.t.optkeyr, self.t.opt_keys)
        # erase the option page; with read protection active this also mass-erases the flash
        self.access.write32(cr, self.t.cr_opter | self.t.cr_optwre)
        self.access.write32(cr, self.t.cr_opter | self.t.cr_strt | self.t.cr_optwre)
        status = self.wait_clear(sr, self.t.sr_bsy, budget_s, "erasing the option bytes")
        if status & self.errors:
            self.access.write32(cr, 0)
            raise self.failure(status, self.errors, "erasing", "the option area")
        # erased options read 0xFF = read protection on: RDP first, then the rest
        self.access.write32(cr, self.t.cr_optpg | self.t.cr_optwre)
        try:
            for off in range(0, len(new), 2):
                halfword = int.from_bytes(new[off : off + 2], "little")
                if halfword == 0xFFFF:
                    continue  # still erased: nothing to program
                self.access.write16(start + off, halfword)
                status = self.wait_clear(sr, self.t.sr_bsy, self.limits.program_s(), "programming the option bytes")
                if status & self.errors:
                    raise self.failure(status, self.errors, "programming", f"option byte at {start + off:#010x}")
        finally:
            self.access.write32(cr, self.t.cr_optwre)  # leave OPTPG; options stay unlocked for OBL

    def _launch_reload(self) -> None:
        self.write_resetting(self._reg(0, self.t.cr), self.t.cr_optwre | self.t.cr_obl_launch)

    def _lock_options(self) -> None:
        self.access.write32(self._reg(0, self.t.cr), 0)  # OPTWRE=0 relocks the option bytes
