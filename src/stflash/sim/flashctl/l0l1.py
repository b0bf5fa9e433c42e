"""L0 / L1 NVM controller (RM0367, RM0377, RM0038): PECR with three key-unlocked locks.

Erased flash reads 0x00. Program memory takes aligned 32-bit words (PRGLOCK=0, PROG=0) or a half
page of consecutive words (FPRG=1, PROG=1; starts after the last word); a 32-bit write with
ERASE=1, PROG=1 erases the page it falls in. The option bytes are 32-bit words at 0x1FF80000
(value in [15:0], complement in [31:16]) written directly with OPTLOCK=0; they load at power-on and
on OBL_LAUNCH. Writes to a locked area raise WRPERR (RM0367 "Write protection error flag").
"""

from __future__ import annotations

from typing import Any

from ...chips.model import Sector
from ..bus import Region, WindowRegion
from ..flash_array import FlashBank
from .base import FlashController, Host, KeyLock, OpTimer, field_get, field_set, merge, rdp_level_of

PEKEY = (0x89AB_CDEF, 0x0203_0405)
PRGKEY = (0x8C9D_AEBF, 0x1314_1516)
OPTKEY = (0xFBEA_D9C8, 0x2425_2627)

ACR, PECR, PDKEYR, PEKEYR, PRGKEYR, OPTKEYR, SR, OPTR, WRPR = (
    0x00,
    0x04,
    0x08,
    0x0C,
    0x10,
    0x14,
    0x18,
    0x1C,
    0x20,
)

PE_PELOCK, PE_PRGLOCK, PE_OPTLOCK, PE_PROG, PE_DATA = 1, 2, 4, 8, 1 << 4
PE_FIX, PE_ERASE, PE_FPRG, PE_EOPIE, PE_ERRIE, PE_OBL_LAUNCH = (
    1 << 8,
    1 << 9,
    1 << 10,
    1 << 16,
    1 << 17,
    1 << 18,
)
PE_RW = PE_PROG | PE_DATA | PE_FIX | PE_ERASE | PE_FPRG | PE_EOPIE | PE_ERRIE | (1 << 15)

SR_BSY, SR_EOP, SR_HVOFF, SR_READY = 1, 2, 4, 8
SR_WRPERR, SR_PGAERR, SR_SIZERR, SR_OPTVERR = 1 << 8, 1 << 9, 1 << 10, 1 << 11
SR_RDERR, SR_NOTZEROERR, SR_FWWERR = 1 << 13, 1 << 16, 1 << 17
SR_W1C = (
    SR_EOP | SR_WRPERR | SR_PGAERR | SR_SIZERR | SR_OPTVERR | SR_RDERR | SR_NOTZEROERR | SR_FWWERR | (1 << 12)
)


def _pair(value: int) -> int:
    return (value & 0xFFFF) | ((value ^ 0xFFFF) & 0xFFFF) << 16


class L0L1Controller(FlashController):
    kind = "l0l1"

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.l1 = self.chip.family.upper() == "L1"
        self.pelock = KeyLock(*PEKEY)
        self.prglock = KeyLock(*PRGKEY)
        self.optlock = KeyLock(*OPTKEY)
        self.timer = OpTimer(self.clock)
        self.sr = 0
        self.pecr = 0
        self.acr = 0
        self.half: list[int] = []  # words collected for a half-page write
        self.half_base = 0
        ob = self.chip.option_bytes
        self.ob_base = ob.start if ob is not None else 0x1FF8_0000
        self.ob_size = ob.size if ob is not None else 0x20
        self.image = self._factory_image()
        self.loaded_image = list(self.image)
        self.optverr = False
        self.optr = 0
        self.wrpr = 0
        self.ee_base = self.chip.extra_value("eeprom_base") or 0
        self.eeprom = bytearray(self.chip.extra_value("eeprom_size") or 0)
        self._load_options()

    def _factory_image(self) -> list[int]:
        words = [0xAA, 0] + [0] * (self.ob_size // 4 - 2)
        for f in self.chip.option_fields:
            off = f.address - self.ob_base
            if 0 <= off < self.ob_size and off % 4 == 0:
                words[off // 4] = field_set(words[off // 4], f.shift, f.width, f.default)
        return [_pair(w) for w in words]

    @property
    def half_page(self) -> int:
        return self.chip.extra_value("half_page") or (128 if self.l1 else 64)

    # -- options --------------------------------------------------------------------------------
    def _word_value(self, index: int, default: int) -> int:
        w = self.image[index] if index < len(self.image) else _pair(0)
        if (w & 0xFFFF) ^ (w >> 16) != 0xFFFF:
            self.optverr = True
            return default
        return w & 0xFFFF

    def _load_options(self) -> None:
        self.optverr = False
        rdp = self._word_value(0, 0x0100)  # mismatch: level 1 with WPRMOD=1 (RM0367)
        user = self._word_value(1, 0x0000)
        wrp1 = self._word_value(2, 0xFFFF)
        wrp2 = self._word_value(3, 0xFFFF)
        self.optr = rdp | (user << 16)
        self.wrpr = wrp1 | (wrp2 << 16)
        self.loaded_image = list(self.image)

    @property
    def rdp_level(self) -> int:
        return rdp_level_of(self.optr & 0xFF)

    def write_protected(self, sector: Sector) -> bool:
        sector_size = self.chip.extra_value("sector_size") or 4096
        bit = (sector.address - self.chip.flash_base) // sector_size
        return bit < 32 and bool((self.wrpr >> bit) & 1)  # WRP bit = 1 protects on L0/L1

    def boots_bootloader(self, boot0_pin: bool, flash_empty: bool) -> bool:
        if not boot0_pin:
            return False
        return self.l1 or bool(self.optr >> 31)  # L0: nBOOT1=1 selects system memory

    def option_region(self) -> Region | None:
        return WindowRegion("option bytes", self.ob_base, self.ob_size, self._ob_read, self._ob_write)

    def _ob_read(self, offset: int, size: int, master: str) -> int:
        raw = b"".join(w.to_bytes(4, "little") for w in self.image)
        return int.from_bytes(raw[offset : offset + size], "little")

    def _ob_write(self, offset: int, size: int, value: int, master: str) -> None:
        self.timer.stall()
        self.sync()
        if self.pelock.locked or self.optlock.locked:
            self.sr |= SR_WRPERR
            return
        if size != 4:
            self.sr |= SR_SIZERR
            return
        if offset % 4:
            self.sr |= SR_PGAERR
            return
        if self.rdp_level == 2:
            self.sr |= SR_WRPERR  # level 2 freezes the option bytes
            return
        duration = self.timing.option
        index = offset // 4
        if index == 0 and self.rdp_level == 1 and (value & 0xFF) == 0xAA and (value >> 16) & 0xFF == 0x55:
            # RDP 1 -> 0: program memory and data EEPROM are erased with the option change
            self.erase_for_regression()
            duration += self.timing.mass_erase_ns()
        self.image[index] = value
        self.timer.start(duration, SR_EOP, "option")

    def peek_option(self, address: int, shift: int, width: int) -> int | None:
        off = address - self.ob_base
        if 0 <= off < self.ob_size and off % 4 == 0:
            return field_get(self.loaded_image[off // 4], shift, width)
        if address == self.base + OPTR:
            return field_get(self.optr, shift, width)
        return None

    def poke_option(self, address: int, shift: int, width: int, value: int) -> bool:
        if not self.stage_option(address, shift, width, value):
            return False
        self._load_options()
        return True

    def stage_option(self, address: int, shift: int, width: int, value: int) -> bool:
        off = address - self.ob_base
        if not (0 <= off < self.ob_size and off % 4 == 0) or shift + width > 16:
            return False
        i = off // 4
        self.image[i] = _pair(field_set(self.image[i], shift, width, value))
        return True

    def erase_for_regression(self) -> None:
        super().erase_for_regression()
        self.eeprom[:] = bytes(len(self.eeprom))

    # -- data EEPROM ----------------------------------------------------------------------------
    def extra_regions(self) -> list[tuple[Region, int]]:
        if not self.eeprom:
            return []
        return [
            (WindowRegion("data EEPROM", self.ee_base, len(self.eeprom), self._ee_read, self._ee_write), 0)
        ]

    def _ee_read(self, offset: int, size: int, master: str) -> int:
        self.check_read(self.ee_base + offset, size, master)
        return int.from_bytes(self.eeprom[offset : offset + size], "little")

    def _ee_write(self, offset: int, size: int, value: int, master: str) -> None:
        self.timer.stall()
        self.sync()
        if self.pelock.locked or self.program_blocked(master):
            self.sr |= SR_WRPERR
            return
        if offset % size:
            self.sr |= SR_PGAERR
            return
        if self.pecr & PE_ERASE and self.pecr & PE_DATA:
            value = 0
        self.eeprom[offset : offset + size] = value.to_bytes(size, "little")
        self.timer.start(self.timing.program_ns(), SR_EOP, "program")

    # -- registers ------------------------------------------------------------------------------
    def timers(self) -> list[OpTimer]:
        return [self.timer]

    def sync(self) -> None:
        self.sr |= self.timer.collect()

    def reg_read(self, offset: int, master: str) -> int:
        if offset == ACR:
            return self.acr
        if offset == PECR:
            locks = (PE_PELOCK if self.pelock.locked else 0) | (PE_PRGLOCK if self.prglock.locked else 0)
            return self.pecr | locks | (PE_OPTLOCK if self.optlock.locked else 0)
        if offset == SR:
            busy = self.timer.busy
            return self.sr | SR_READY | (SR_BSY if busy else SR_HVOFF) | (SR_OPTVERR if self.optverr else 0)
        if offset == OPTR:
            return self.optr
        if offset == WRPR:
            return self.wrpr
        return 0

    def reg_write(self, offset: int, value: int, mask: int, size: int, master: str) -> None:
        if offset == ACR:
            self.acr = merge(self.acr, value, mask) & 0x7F
        elif offset == PEKEYR:
            if self.pelock.feed(value, size):
                self._lock_all()
                raise self.fault(offset, "wrong PEKEYR sequence: NVM locked until reset")
        elif offset == PRGKEYR:
            if self.pelock.locked:
                self.prglock.freeze()
                raise self.fault(offset, "PRGKEYR written while PECR is locked")
            if self.prglock.feed(value, size):
                raise self.fault(offset, "wrong PRGKEYR sequence: program memory locked until reset")
        elif offset == OPTKEYR:
            if self.pelock.locked:
                self.optlock.freeze()
                raise self.fault(offset, "OPTKEYR written while PECR is locked")
            if self.optlock.feed(value, size):
                raise self.fault(offset, "wrong OPTKEYR sequence: option bytes locked until reset")
        elif offset == SR:
            self.sr &= ~(value & mask & SR_W1C)
            if value & mask & SR_OPTVERR:
                self.optverr = False
        elif offset == PECR:
            self._write_pecr(value, mask)

    def _lock_all(self) -> None:
        self.prglock.lock()
        self.optlock.lock()

    def _write_pecr(self, value: int, mask: int) -> None:
        if self.pelock.locked:
            return
        self.timer.stall()
        self.sync()
        written = value & mask
        if written & PE_PELOCK:
            # Locking PECR returns it to its reset state: an L072's PECR written 0x20F (ERASE|PROG
            # and the three locks) reads 0x006 right after the PEKEYR sequence (st-flash debug trace,
            # stlink-org #1138), so the ERASE/PROG of a page erase do not survive into a later
            # half-page write.
            self.pelock.lock()
            self._lock_all()
            self.pecr = 0
            self.half = []
            return
        if written & PE_PRGLOCK:
            self.prglock.lock()
        if written & PE_OPTLOCK:
            self.optlock.lock()
        new = merge(self.pecr, value, mask) & PE_RW
        if self.prglock.locked:  # PROG, ERASE and FPRG are only writable with PRGLOCK=0
            keep = PE_PROG | PE_ERASE | PE_FPRG
            new = (new & ~keep) | (self.pecr & keep)
        if (new ^ self.pecr) & (PE_PROG | PE_FPRG):
            self.half = []
        self.pecr = new
        if written & PE_OBL_LAUNCH and not self.optlock.locked:
            self.host.request_reset("option byte load (OBL_LAUNCH)")

    # -- program memory -------------------------------------------------------------------------
    def flash_write(self, address: int, size: int, value: int, master: str) -> None:
        self.timer.stall()
        self.sync()
        if self.pelock.locked or self.prglock.locked:
            self.sr |= SR_WRPERR
            return
        prog, erase, fprg = self.pecr & PE_PROG, self.pecr & PE_ERASE, self.pecr & PE_FPRG
        if size != 4:
            self.sr |= SR_SIZERR
            self.half = []
            return
        if address % 4:
            self.sr |= SR_PGAERR
            self.half = []
            return
        if erase and prog:
            found = self.sector_of(address)
            if found is not None:
                self.erase_unit(found[1], master, 0)
            return
        if fprg and prog and not erase:
            self._half_page_word(address, value, master)
            return
        if prog or erase or fprg:
            self.sr |= SR_PGAERR  # no program-memory operation matches these PECR bits
            return
        self.program_unit(address, value.to_bytes(4, "little"), master, 0)

    def _half_page_word(self, address: int, value: int, master: str) -> None:
        hp = self.half_page
        if not self.half:
            if address % hp:
                self.sr |= SR_PGAERR
                return
            self.half_base = address
        elif address != self.half_base + 4 * len(self.half):
            self.sr |= SR_PGAERR
            self.half = []
            return
        self.half.append(value)
        if 4 * len(self.half) == hp:
            data = b"".join(w.to_bytes(4, "little") for w in self.half)
            self.half = []
            self.program_unit(self.half_base, data, master, 0)

    def program_unit(self, address: int, data: bytes, master: str, parallelism: int) -> str | None:
        found = self.sector_of(address)
        if found is None:
            self.sr |= SR_WRPERR  # not program memory (system memory, reserved)
            return "WRPERR"
        bank, sector = found
        if self.write_protected(sector) or self.program_blocked(master):
            self.sr |= SR_WRPERR
            return "WRPERR"
        if not bank.is_erased(address, len(data)):
            if not self.l1:
                self.sr |= SR_NOTZEROERR
                return "NOTZEROERR"
            old = bank.read(address, len(data))
            data = bytes(a | b for a, b in zip(old, data, strict=True))
        bank.store(address, data)
        self.timer.start(self.timing.program_ns(), SR_EOP, "program")
        return None

    def rom_unit(self) -> int:
        return 4

    def erase_unit(self, sector: Sector, master: str, parallelism: int) -> str | None:
        if self.write_protected(sector) or self.program_blocked(master):
            self.sr |= SR_WRPERR
            return "WRPERR"
        self.host.banks[sector.bank].erase_sector(sector)
        self.timer.start(self.timing.erase_ns(sector.size), SR_EOP, "erase")
        return None

    def erase_banks(self, banks: list[FlashBank], master: str, parallelism: int) -> str | None:
        """No mass-erase bit on L0/L1: every page is erased in turn (what the tools and ROM do)."""
        for bank in banks:
            for sector in bank.sectors:
                self.timer.stall()
                error = self.erase_unit(sector, master, 0)
                if error:
                    return error
        return None

    # -- reset / state --------------------------------------------------------------------------
    def reset(self, kind: str) -> None:
        self.timer.finish()
        self.pelock.reset()
        self.prglock.reset()
        self.optlock.reset()
        self.sr = 0
        self.pecr = 0
        self.acr = 0
        self.half = []
        if kind in ("power", "obl"):
            self._load_options()

    def state(self) -> dict[str, Any]:
        return {
            "locks": [self.pelock.state(), self.prglock.state(), self.optlock.state()],
            "timer": self.timer.state(),
            "sr": self.sr,
            "pecr": self.pecr,
            "acr": self.acr,
            "half": list(self.half),
            "half_base": self.half_base,
            "image": list(self.image),
            "loaded_image": list(self.loaded_image),
            "eeprom": self.eeprom.hex(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        for lock, s in zip((self.pelock, self.prglock, self.optlock), state["locks"], strict=True):
            lock.load(s)
        self.timer.load(state["timer"])
        self.sr, self.pecr, self.acr = int(state["sr"]), int(state["pecr"]), int(state["acr"])
        self.half = [int(w) for w in state["half"]]
        self.half_base = int(state["half_base"])
        self.image = [int(w) for w in state["loaded_image"]]
        self._load_options()
        self.image = [int(w) for w in state["image"]]
        self.eeprom[:] = bytes.fromhex(state["eeprom"])
