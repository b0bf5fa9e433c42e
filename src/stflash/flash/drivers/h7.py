"""STM32H7: one register set per bank, flash-word programming (RM0399 ch. 4, RM0433, RM0455,
RM0468).

Each bank has its own KEYR/CR/SR/CCR (bank 2 at +0x100); SR is read-only and flags are cleared
through CCR. With PG=1 the stores of one 32-byte flash word (16 bytes on H7A3/B3) fill a write
buffer that is programmed once complete; QW stays set while it is queued or running. Writing a
flash word twice corrupts its ECC (later reads fault), and the hardware does not refuse it, so
the driver checks that the target is erased first. Options exist only as registers: *_PRG are
written with OPTLOCK=0, OPTSTART copies them into *_CUR (OPT_BUSY meanwhile); boot addresses,
BCM4/BCM7, SWAP_BANK and SECURITY take effect at the next reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.model import Chip, Sector
from ...errors import StflashError
from ..debug import DebugAccess, FlashStep, ProgramSetup, store, wait
from .base import PSIZE_BITS, PerBankDriver, _Failed, check_psize

BLANK_CHECK = True  # read the target before programming it (one block read per chunk)


@dataclass(frozen=True)
class H7Table:
    """Register offsets, bits and keys (families.md sections 12.2-12.7 and 12.9)."""

    keyr: int = 0x04
    optkeyr: int = 0x08
    cr: int = 0x0C
    sr: int = 0x10
    ccr: int = 0x14
    optcr: int = 0x18
    optsr_cur: int = 0x1C
    optccr: int = 0x24
    bank_stride: int = 0x100
    keys: tuple[int, int] = (0x4567_0123, 0xCDEF_89AB)
    opt_keys: tuple[int, int] = (0x0819_2A3B, 0x4C5D_6E7F)
    cr_lock: int = 1 << 0
    cr_pg: int = 1 << 1
    cr_ser: int = 1 << 2
    cr_ber: int = 1 << 3
    psize_shift: int | None = 4  # PSIZE[5:4]; absent on H7A3/B3
    cr_start: int = 1 << 7
    snb_shift: int = 8
    sr_qw: int = 1 << 2  # "supersedes BSY": poll this
    sr_wrperr: int = 1 << 17
    sr_errors: int = (1 << 17) | (1 << 18) | (1 << 19) | (1 << 21) | (1 << 22)  # WRPERR PGSERR STRBERR INCERR OPERR
    ccr_clear: int = 0x1FEF_0000  # CLR_EOP .. CLR_CRCRDERR (bit 20 reserved)
    opt_lock: int = 1 << 0
    opt_start: int = 1 << 1
    optsr_busy: int = 1 << 0
    optchangeerr: int = 1 << 30


H74X_TABLE = H7Table()
# H7A3/B3/B0 (RM0455): no PSIZE, FW bit 4, START bit 5, SNB bits 12:6, no OPERR.
H7A3_TABLE = H7Table(
    psize_shift=None, cr_start=1 << 5, snb_shift=6,
    sr_errors=(1 << 17) | (1 << 18) | (1 << 19) | (1 << 21), ccr_clear=0x1FAF_0000,
)
DEFAULT_PSIZE = 64  # x64 is allowed from 1.8 V without an external supply on the H7

NAMES = {
    1 << 0: "BSY", 1 << 1: "WBNE", 1 << 2: "QW", 1 << 3: "CRC_BUSY", 1 << 16: "EOP", 1 << 17: "WRPERR",
    1 << 18: "PGSERR", 1 << 19: "STRBERR", 1 << 21: "INCERR", 1 << 22: "OPERR", 1 << 23: "RDPERR",
    1 << 24: "RDSERR", 1 << 25: "SNECCERR", 1 << 26: "DBECCERR", 1 << 27: "CRCEND", 1 << 28: "CRCRDERR",
    1 << 30: "OPTCHANGEERR",
}


class H7Driver(PerBankDriver):
    t: H7Table
    status_names = NAMES
    reload = "system"

    def __init__(self, chip: Chip, access: DebugAccess, *, psize: int = DEFAULT_PSIZE) -> None:
        super().__init__(chip, access)
        # the 128-bit parts (write unit 16) have the RM0455 control register
        self.t = H7A3_TABLE if chip.write_unit == 16 else H74X_TABLE
        self.psize = check_psize(psize) if self.t.psize_shift is not None else 0
        self.protection_bits = self.t.sr_wrperr

    @property
    def parallelism(self) -> int:
        return self.psize

    @property
    def _psize(self) -> int:
        return 0 if self.t.psize_shift is None else PSIZE_BITS[self.psize] << self.t.psize_shift

    @property
    def _idle_cr(self) -> int:
        return self._psize

    def _prepare(self, bank: int) -> None:
        """Idle, unlocked, no stale PGSERR/INCERR (they refuse the next write)."""
        self.wait_clear(self._reg(bank, self.t.sr), self.t.sr_qw, self.limits.mass_s(8), "the previous operation")
        self._unlock_bank(bank)
        self.access.write32(self._reg(bank, self.t.ccr), self.t.ccr_clear)

    def _finish(self, bank: int, max_s: float, what: str) -> int:
        status = self.wait_clear(self._reg(bank, self.t.sr), self.t.sr_qw, max_s, what)
        self.access.write32(self._reg(bank, self.t.cr), self._idle_cr)
        return status

    # -- erase -----------------------------------------------------------------------------------
    has_steps = True

    def prepare_steps(self, bank: int) -> list[FlashStep]:
        """Idle, no stale PGSERR/INCERR (they refuse the next write)."""
        return [wait(self._reg(bank, self.t.sr), self.t.sr_qw, max_s=self.limits.mass_s(8)),
                store(self._reg(bank, self.t.ccr), self.t.ccr_clear)]

    def _erase(self, bank: int, value: int, doing: str, subject: str, at: int | None, typical_s: float,
               max_s: float) -> list[FlashStep]:
        cr = self._reg(bank, self.t.cr)
        return [
            store(cr, value),
            store(cr, value | self.t.cr_start),
            wait(self._reg(bank, self.t.sr), self.t.sr_qw, self.t.sr_errors, doing=doing, subject=subject, at=at,
                 typical_s=typical_s, max_s=max_s),
            store(cr, self._idle_cr),
        ]

    def erase_steps(self, sector: Sector) -> list[FlashStep]:
        value = self.t.cr_ser | (sector.number << self.t.snb_shift) | self._psize
        return self._erase(sector.bank, value, "erasing", self.describe(sector), sector.address,
                           self.times.sector_s(sector.size, self.psize), self.limits.erase_s(sector.size, self.psize))

    def mass_erase_steps(self, bank: int | None = None) -> list[FlashStep] | None:
        """One bank's BER; the whole flash of a dual-bank part is two operations (run in parallel
        by :meth:`mass_erase`), so no steps for it."""
        banks = self._check_bank(bank)
        if len(banks) != 1:
            return None
        b = banks[0]
        return self._erase(b, self.t.cr_ber | self._psize, "bank erase", f"bank {b + 1}", None,
                           self.times.bank_s(self.psize) or 0.0, self.limits.mass_s(self.psize))

    def program_steps(self, bank: int) -> list[FlashStep]:
        return [store(self._reg(bank, self.t.cr), self.t.cr_pg | self._psize)]

    def erase_sector(self, sector: Sector) -> None:
        self._prepare(sector.bank)
        self.run_steps(self.erase_steps(sector))

    def mass_erase(self, bank: int | None = None) -> None:
        """BER in each chosen bank, started back to back so that both banks erase in parallel."""
        banks = self._check_bank(bank)
        for b in banks:
            self._prepare(b)
            self.access.write32(self._reg(b, self.t.cr), self.t.cr_ber | self._psize)
            self.access.write32(self._reg(b, self.t.cr), self.t.cr_ber | self._psize | self.t.cr_start)
        for b in banks:
            status = self._finish(b, self.limits.mass_s(self.psize), f"erasing bank {b + 1}")
            if status & self.t.sr_errors:
                raise self.failure(status, self.t.sr_errors, "bank erase", f"bank {b + 1}")

    # -- program ---------------------------------------------------------------------------------
    def setup_values(self, address: int) -> ProgramSetup:
        bank = self.bank_of(address)
        unit = self.chip.write_unit
        return ProgramSetup(self._reg(bank, self.t.sr), self.t.sr_qw, self.t.sr_errors, 4, unit, self.erased)

    def program_setup(self, address: int) -> ProgramSetup:
        setup = self.setup_values(address)
        bank = self.bank_of(address)
        self._prepare(bank)
        self.access.write32(self._reg(bank, self.t.cr), self.t.cr_pg | self._psize)
        return setup

    def end_steps(self, bank: int) -> list[FlashStep]:
        return [wait(self._reg(bank, self.t.sr), self.t.sr_qw, doing="programming", subject="the last flash word",
                     max_s=self.limits.program_s(self.psize)),
                store(self._reg(bank, self.t.cr), self._idle_cr)]

    def program_end(self, address: int) -> None:
        bank = self.bank_of(address)
        self._finish(bank, self.limits.program_s(self.psize), "the last flash word")

    def _stream(self, bank: int, first: int, blob: bytes) -> None:
        with self.programming(first) as setup:
            for address, chunk in self.chunks(first, blob):
                bad = self._programmed(address, chunk) if BLANK_CHECK else None
                self.stream_chunks(setup, address, chunk if bad is None else chunk[: bad - address],
                                   self.access.write_block)
                if bad is not None:
                    raise _Failed(StflashError(
                        f"{self.where(bad)} is not erased: programming its flash word again would corrupt "
                        "the ECC (reads would fault until the sector is erased)",
                        hint="erase the sector first",
                    ), bad)

    def _programmed(self, address: int, chunk: bytes) -> int | None:
        """The first flash word of the target range that is not erased."""
        try:
            now, unit = self.access.read_block(address, len(chunk)), self.unit
        except StflashError as exc:
            raise _Failed(exc, address) from None
        for off in range(0, len(chunk), unit):
            if now[off : off + unit] != b"\xff" * unit:
                return address + off
        return None

    # -- option bytes ----------------------------------------------------------------------------
    def _program_options(self, values: dict[str, int], budget_s: float) -> None:
        optsr_cur = self.base + self.t.optsr_cur
        self.wait_clear(optsr_cur, self.t.optsr_busy, self.limits.option, "the previous option change", "OPTSR_CUR")
        self.unlock_with(self.base + self.t.optcr, self.t.opt_lock, self.base + self.t.optkeyr, self.t.opt_keys)
        for address, value in sorted(self.option_words(values).items()):  # the *_PRG registers
            self.access.write32(address, value)
        self.access.write32(self.base + self.t.optccr, self.t.optchangeerr)  # stale OPTCHANGEERR
        self.access.write32(self.base + self.t.optcr, self.t.opt_start)
        status = self.wait_clear(optsr_cur, self.t.optsr_busy, budget_s, "the option change", "OPTSR_CUR")
        if status & self.t.optchangeerr:
            raise StflashError(
                "OPTCHANGEERR: the option change was refused (e.g. RDP level 2, or a protection area change "
                "the current level forbids)"
            )

    def _lock_options(self) -> None:
        self.access.write32(self.base + self.t.optcr, self.t.opt_lock)
