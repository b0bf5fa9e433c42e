"""L0 / L1: the PECR-based NVM controller (RM0367, RM0377, RM0038). Erased flash reads 0x00.

Three key-unlocked locks: PELOCK (PEKEYR) first, then PRGLOCK (PRGKEYR) for program memory or
OPTLOCK (OPTKEYR) for the option bytes. A page is erased by writing a word into it with
PECR.ERASE|PROG; words are programmed one by one (PROG=0), half pages (16 words on L0, 32 on L1)
with FPRG|PROG, the operation starting after the last word. There is no mass-erase bit: the
whole array goes page by page (or with an RDP 1 -> 0 regression). Options are value/complement
words at 0x1FF80000, reloaded by OBL_LAUNCH (which resets the chip).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips import option_area
from ...chips.model import Chip, Sector
from ...errors import StflashError
from ..debug import DebugAccess, ProgramSetup
from .base import FlashDriver, _Failed


@dataclass(frozen=True)
class PecrTable:
    """Register offsets, bits and keys (families.md section 6.1)."""

    pecr: int = 0x04
    pekeyr: int = 0x0C
    prgkeyr: int = 0x10
    optkeyr: int = 0x14
    sr: int = 0x18
    pe_keys: tuple[int, int] = (0x89AB_CDEF, 0x0203_0405)
    prg_keys: tuple[int, int] = (0x8C9D_AEBF, 0x1314_1516)
    opt_keys: tuple[int, int] = (0xFBEA_D9C8, 0x2425_2627)
    pelock: int = 1 << 0
    prglock: int = 1 << 1
    optlock: int = 1 << 2
    prog: int = 1 << 3
    erase: int = 1 << 9
    fprg: int = 1 << 10
    obl_launch: int = 1 << 18
    sr_bsy: int = 1 << 0
    sr_eop: int = 1 << 1
    sr_wrperr: int = 1 << 8
    # WRPERR PGAERR SIZERR, NOTZEROERR and FWWERR (L0); OPTVERR is a load-time flag, not an
    # operation error, so it is cleared but not reported
    sr_errors: int = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 16) | (1 << 17)
    sr_clear: int = (1 << 1) | (0x3F << 8) | (1 << 16) | (1 << 17)
    default_half_page: int = 64


TABLE = PecrTable()


class PecrDriver(FlashDriver):
    unit_word = "page"
    t = TABLE
    status_names = {
        1 << 0: "BSY", 1 << 1: "EOP", 1 << 8: "WRPERR", 1 << 9: "PGAERR", 1 << 10: "SIZERR",
        1 << 11: "OPTVERR", 1 << 12: "OPTVERRUSR", 1 << 13: "RDERR", 1 << 16: "NOTZEROERR", 1 << 17: "FWWERR",
    }
    protection_bits = TABLE.sr_wrperr
    reload = "obl"

    def __init__(self, chip: Chip, access: DebugAccess) -> None:
        super().__init__(chip, access)
        self.half_page = chip.extra_value("half_page") or self.t.default_half_page

    @property
    def unit(self) -> int:
        return 4

    def _pecr(self) -> int:
        return self.base + self.t.pecr

    def _sr(self) -> int:
        return self.base + self.t.sr

    # -- lock ------------------------------------------------------------------------------------
    def _unlock(self, lock_bit: int, register: int, keys: tuple[int, int]) -> None:
        pecr = self.access.read32(self._pecr())
        if pecr & self.t.pelock:  # PELOCK first: the other key registers need it open
            self.key(self.base + self.t.pekeyr, self.t.pe_keys)
            pecr = self.access.read32(self._pecr())
        if pecr & lock_bit:
            self.key(self.base + register, keys)

    def unlock(self) -> None:
        self._unlock(self.t.prglock, self.t.prgkeyr, self.t.prg_keys)

    def lock(self) -> None:
        self.access.write32(self._pecr(), self.t.pelock)  # PELOCK relocks program memory and options too

    def _prepare(self) -> None:
        self.wait_clear(self._sr(), self.t.sr_bsy, self.limits.mass_s(), "the previous operation")
        self.unlock()
        self.access.write32(self._sr(), self.t.sr_clear)

    def _check(self, what: str, subject: str, max_s: float) -> int:
        status = self.wait_clear(self._sr(), self.t.sr_bsy, max_s, f"{what} {subject}")
        if status & self.t.sr_errors:
            self.access.write32(self._pecr(), 0)
            raise self.failure(status, self.t.sr_errors, what, subject)
        return status

    # -- erase -----------------------------------------------------------------------------------
    def erase_sector(self, sector: Sector) -> None:
        self._erase_pages([sector])

    def _erase_pages(self, sectors: list[Sector]) -> None:
        self._prepare()
        self.access.write32(self._pecr(), self.t.erase | self.t.prog)
        for sector in sectors:
            self.access.write32(sector.address, 0)  # a word written into the page starts its erase
            self._check("erasing", self.describe(sector), self.limits.erase_s(sector.size))
        self.access.write32(self._pecr(), 0)

    def mass_erase(self, bank: int | None = None) -> None:
        """No mass-erase bit: every page of the bank(s) in turn."""
        banks = self._check_bank(bank)
        self._erase_pages([s for s in self.chip.sectors() if s.bank in banks])

    # -- program ---------------------------------------------------------------------------------
    def program_setup(self, address: int) -> ProgramSetup:
        """Half-page mode (FPRG|PROG): a loader writes whole aligned half pages."""
        self.bank_of(address)
        self._prepare()
        self.access.write32(self._pecr(), self.t.fprg)
        self.access.write32(self._pecr(), self.t.fprg | self.t.prog)
        return ProgramSetup(self._sr(), self.t.sr_bsy, self.t.sr_errors, 4, self.half_page, self.erased)

    def program_end(self, address: int) -> None:
        self.access.write32(self._pecr(), 0)

    def _stream(self, bank: int, first: int, blob: bytes) -> None:
        """Words up to the first half-page boundary, whole half pages, then the last words."""
        hp, end = self.half_page, first + len(blob)
        body = min(end, -(-first // hp) * hp)
        tail = max(body, end - end % hp)
        self._prepare()
        with self.ending(lambda: self.access.write32(self._pecr(), 0)):
            self._words(first, blob[: body - first])
            if tail > body:
                self.access.write32(self._pecr(), self.t.fprg)
                self.access.write32(self._pecr(), self.t.fprg | self.t.prog)
                setup = ProgramSetup(self._sr(), self.t.sr_bsy, self.t.sr_errors, 4, hp, self.erased)
                self.stream_chunks(setup, body, blob[body - first : tail - first],
                                   self.access.write_block, size=hp)
                self.access.write32(self._pecr(), 0)
            self._words(tail, blob[tail - first :])

    def _words(self, first: int, data: bytes) -> None:
        unit_s = self.limits.program_s()
        for off in range(0, len(data), 4):
            where = first + off
            try:
                self.access.write32(where, int.from_bytes(data[off : off + 4], "little"))
                status = self.wait_clear(self._sr(), self.t.sr_bsy, unit_s, f"programming at {where:#010x}")
            except StflashError as exc:  # the probe failed: the words before this one are programmed
                raise _Failed(exc, where) from None
            if status & self.t.sr_errors:
                raise _Failed(self.failure(status, self.t.sr_errors, "programming", self.where(where), where), where)

    # -- option bytes ----------------------------------------------------------------------------
    def _area(self) -> tuple[int, bytes]:
        ob = self.chip.option_bytes
        assert ob is not None, "every L0/L1 row has its option area"
        return ob.start, self.access.read_block(ob.start, ob.size)

    def _read_option_fields(self) -> dict[str, int]:
        start, raw = self._area()
        return option_area.decode(self.chip, {start: raw})

    def _program_options(self, values: dict[str, int], budget_s: float) -> None:
        start, raw = self._area()
        new = option_area.encode(self.chip, {start: raw}, values)[start]
        self.wait_clear(self._sr(), self.t.sr_bsy, self.limits.mass_s(), "the previous operation")
        self._unlock(self.t.optlock, self.t.optkeyr, self.t.opt_keys)
        self.access.write32(self._sr(), self.t.sr_clear)
        for off in range(0, len(new), 4):
            if new[off : off + 4] == raw[off : off + 4]:
                continue
            self.access.write32(start + off, int.from_bytes(new[off : off + 4], "little"))
            status = self.wait_clear(self._sr(), self.t.sr_bsy, budget_s, "the option change")
            if status & self.t.sr_errors:
                raise self.failure(status, self.t.sr_errors, "programming", f"option word {start + off:#010x}")

    def _launch_reload(self) -> None:
        self.write_resetting(self._pecr(), self.t.obl_launch)

    def _lock_options(self) -> None:
        self.lock()
