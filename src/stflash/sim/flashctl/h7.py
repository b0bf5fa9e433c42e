"""STM32H7 embedded-flash controller (RM0399 chapter 4, RM0433, RM0455, RM0468).

Each bank has its own KEYR/CR/SR/CCR (bank 2 at +0x100); SR is read-only and flags are cleared
through CCR. Programming goes through a write buffer of one flash word (32 bytes; 16 on H7A3/B3):
the word is queued (QW) once all its bytes are written or when FW forces it (missing bytes read
as 1). Errors follow RM0399 section 4.7: PGSERR for a write while PG=0 or while PGSERR/INCERR is
pending, INCERR for a write to another flash word before the buffer is full, STRBERR for a byte
written twice, WRPERR for protected/reserved sectors or RDP-blocked access. Overwriting a flash
word that was programmed since its last erase corrupts its ECC: later reads raise DBECCERR and a
bus error.

Option bytes exist only as registers: *_PRG are written with OPTLOCK=0 and OPTSTART starts the
change (OPT_BUSY meanwhile); *_CUR reload when it ends. RDP and write protection act from then on;
the boot bits (BCM4/BCM7, boot addresses), SWAP_BANK and SECURITY take effect at the next reset.
"""

from __future__ import annotations

from typing import Any

from ...chips.model import Sector
from ..faults import BusFault
from ..flash_array import FlashBank
from .base import (
    KEY1,
    KEY2,
    OPTKEY1,
    OPTKEY2,
    FlashController,
    Host,
    KeyLock,
    OpTimer,
    field_get,
    field_set,
    merge,
    rdp_level_of,
)

ACR, KEYR, OPTKEYR, CR, SR, CCR, OPTCR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18
OPTSR_CUR, OPTSR_PRG, OPTCCR = 0x1C, 0x20, 0x24
PRAR_CUR, PRAR_PRG, SCAR_CUR, SCAR_PRG, WPSN_CUR, WPSN_PRG = 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C
BOOT_CUR, BOOT_PRG, BOOT4_CUR, BOOT4_PRG = 0x40, 0x44, 0x48, 0x4C
CRCCR, CRCSADDR, CRCEADDR, CRCDATAR, ECC_FAR = 0x50, 0x54, 0x58, 0x5C, 0x60
OTPBL_CUR, OTPBL_PRG, OPTSR2_CUR, OPTSR2_PRG = 0x68, 0x6C, 0x70, 0x74
BANK2 = 0x100

_BANK_REGS = {
    KEYR,
    CR,
    SR,
    CCR,
    PRAR_CUR,
    PRAR_PRG,
    SCAR_CUR,
    SCAR_PRG,
    WPSN_CUR,
    WPSN_PRG,
    CRCCR,
    CRCSADDR,
    CRCEADDR,
    ECC_FAR,
}

SR_BSY, SR_WBNE, SR_QW, SR_CRC_BUSY = 1, 2, 4, 8
SR_EOP, SR_WRPERR, SR_PGSERR, SR_STRBERR = 1 << 16, 1 << 17, 1 << 18, 1 << 19
SR_INCERR, SR_OPERR, SR_RDPERR, SR_RDSERR = 1 << 21, 1 << 22, 1 << 23, 1 << 24
SR_SNECCERR, SR_DBECCERR, SR_CRCEND, SR_CRCRDERR = 1 << 25, 1 << 26, 1 << 27, 1 << 28
SR_FLAGS = 0x1FFF_0000

CR_LOCK, CR_PG, CR_SER, CR_BER = 1, 2, 4, 8

OPT_LOCK, OPT_START, OPT_MER = 1, 2, 1 << 4
OPTSR_BUSY, OPTSR_CHANGEERR = 1, 1 << 30
OPTSR_SWAP = 1 << 31
OPTSR_BCM4, OPTSR_BCM7 = 1 << 22, 1 << 23

BOOTLOADER_FIELD = 0x1FF0  # boot address bits [31:16] of system memory


class _Bank:
    def __init__(self, clock: Any, unit: int, cr_reset: int) -> None:
        self.lock = KeyLock(KEY1, KEY2)
        self.timer = OpTimer(clock)
        self.cr_reset = cr_reset
        self.cr = cr_reset & ~CR_LOCK
        self.sr = 0
        self.unit = unit
        self.buf = bytearray(b"\xff" * unit)
        self.buf_mask = 0
        self.buf_addr: int | None = None
        self.ecc_far = 0

    def clear_buffer(self) -> None:
        self.buf = bytearray(b"\xff" * self.unit)
        self.buf_mask = 0
        self.buf_addr = None

    def reset(self) -> None:
        self.lock.reset()
        self.timer.finish()
        self.cr = self.cr_reset & ~CR_LOCK
        self.sr = 0
        self.ecc_far = 0
        self.clear_buffer()

    def state(self) -> dict[str, Any]:
        return {
            "lock": self.lock.state(),
            "timer": self.timer.state(),
            "cr": self.cr,
            "sr": self.sr,
            "buf": self.buf.hex(),
            "buf_mask": self.buf_mask,
            "buf_addr": self.buf_addr,
            "ecc_far": self.ecc_far,
        }

    def load(self, s: dict[str, Any]) -> None:
        self.lock.load(s["lock"])
        self.timer.load(s["timer"])
        self.cr, self.sr = int(s["cr"]), int(s["sr"])
        self.buf = bytearray.fromhex(s["buf"])
        self.buf_mask = int(s["buf_mask"])
        self.buf_addr = None if s["buf_addr"] is None else int(s["buf_addr"])
        self.ecc_far = int(s["ecc_far"])


class H7Controller(FlashController):
    kind = "h7"
    window = 0x400

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.a3 = self.chip.write_unit == 16
        self.dual_core = len(self.chip.cores) > 1
        self.two_banks = len(self.chip.banks) > 1
        self.unit = self.chip.write_unit
        # H74x/H72x: FW bit 6, START bit 7, SNB bits 10:8, PSIZE 5:4 (reset x64).
        # H7A3/B3/B0: FW bit 4, START bit 5, SNB bits 12:6, no PSIZE.
        if self.a3:
            self.cr_fw, self.cr_start, self.snb_shift, self.snb_bits = 1 << 4, 1 << 5, 6, 7
            cr_reset = CR_LOCK
        else:
            self.cr_fw, self.cr_start, self.snb_shift, self.snb_bits = 1 << 6, 1 << 7, 8, 3
            cr_reset = CR_LOCK | (3 << 4)
        self.rom_parallelism = 0 if self.a3 else 64
        self.banks = [_Bank(self.clock, self.unit, cr_reset) for _ in range(2 if self.two_banks else 1)]
        self.optlock = KeyLock(OPTKEY1, OPTKEY2)
        self.opt_timer = OpTimer(self.clock)
        self.optchangeerr = False
        self.acr = 0x37
        self._cur = self._factory()
        self._changed: dict[str, int] | None = None  # *_CUR once the option change under way ends
        self.prg = dict(self.cur)
        self.latched = dict(self.cur)  # what the last reset applied (boot bits, swap, security)

    def _factory(self) -> dict[str, int]:
        optsr = 0x17C6_AAF0 if self.dual_core else 0x1006_AAF0
        wpsn = 0xFFFF_FFFF if self.a3 else 0x0000_00FF
        out = {"OPTSR": optsr, "BOOT": 0x1FF0_0800, "PRAR1": 0xFF, "SCAR1": 0xFF, "WPSN1": wpsn}
        if self.two_banks:
            out.update({"PRAR2": 0xFF, "SCAR2": 0xFF, "WPSN2": wpsn})
        if self.dual_core:
            out["BOOT4"] = 0x1000_0810
        if self.a3:
            out["OTPBL"] = 0
        if self.chip.dev_id == 0x483:
            out["OPTSR2"] = 0
        return out

    @property
    def cur(self) -> dict[str, int]:
        """The *_CUR registers: reloaded when an option change ends, not when it starts."""
        if self._changed is not None and not self.opt_timer.busy:
            self._cur, self._changed = self._changed, None
        return self._cur

    # -- register decoding ----------------------------------------------------------------------
    _SHARED = {
        OPTSR_CUR: ("OPTSR", True),
        OPTSR_PRG: ("OPTSR", False),
        BOOT_CUR: ("BOOT", True),
        BOOT_PRG: ("BOOT", False),
        BOOT4_CUR: ("BOOT4", True),
        BOOT4_PRG: ("BOOT4", False),
        OTPBL_CUR: ("OTPBL", True),
        OTPBL_PRG: ("OTPBL", False),
        OPTSR2_CUR: ("OPTSR2", True),
        OPTSR2_PRG: ("OPTSR2", False),
    }
    _PER_BANK = {
        PRAR_CUR: ("PRAR", True),
        PRAR_PRG: ("PRAR", False),
        SCAR_CUR: ("SCAR", True),
        SCAR_PRG: ("SCAR", False),
        WPSN_CUR: ("WPSN", True),
        WPSN_PRG: ("WPSN", False),
    }

    def _option_reg(self, offset: int) -> tuple[str, bool] | None:
        bank, reg = divmod(offset, BANK2)
        if bank > 1:
            return None
        if reg in self._SHARED:
            name, is_cur = self._SHARED[reg]
            return (name, is_cur) if name in self.cur else None
        if reg in self._PER_BANK:
            base, is_cur = self._PER_BANK[reg]
            name = f"{base}{bank + 1}"
            return (name, is_cur) if name in self.cur else None
        return None

    def _bank_of_offset(self, offset: int) -> tuple[_Bank, int] | None:
        index, reg = divmod(offset, BANK2)
        if index >= len(self.banks) or reg not in _BANK_REGS:
            return None
        return self.banks[index], reg

    # -- protection / boot ------------------------------------------------------------------------
    @property
    def rdp_level(self) -> int:
        return rdp_level_of(field_get(self.cur["OPTSR"], 8, 8))

    def write_protected(self, sector: Sector) -> bool:
        bank = self.host.banks[sector.bank]
        per_bit = self.chip.extra_value("wrp_sectors_per_bit") or 1
        wpsn = self.cur.get(f"WPSN{sector.bank + 1}", 0xFFFF_FFFF)
        return not (wpsn >> (bank.position(sector) // per_bit)) & 1

    def core_boots(self, core_index: int) -> bool:
        if not self.dual_core:
            return True
        core = self.chip.cores[core_index] if core_index < len(self.chip.cores) else ""
        optsr = self.latched["OPTSR"]
        if core == "cortex-m7":
            return bool(optsr & OPTSR_BCM7)
        if core == "cortex-m4":
            return bool(optsr & OPTSR_BCM4)
        return False

    def boot_register(self) -> int:
        if self.dual_core and not self.latched["OPTSR"] & OPTSR_BCM7 and self.latched["OPTSR"] & OPTSR_BCM4:
            return self.latched["BOOT4"]
        return self.latched["BOOT"]

    def boots_bootloader(self, boot0_pin: bool, flash_empty: bool) -> bool:
        boot = self.boot_register()
        return field_get(boot, 16 if boot0_pin else 0, 16) == BOOTLOADER_FIELD

    def boot_address(self, boot0_pin: bool, core: str = "") -> int:
        """BOOT_ADD1 (BOOT0 high) or BOOT_ADD0 of the core's boot register (the M4 of a dual-core
        part has its own), address bits [31:16]; the core's VTOR resets to it too."""
        word = self.latched["BOOT4" if core == "cortex-m4" and "BOOT4" in self.latched else "BOOT"]
        return field_get(word, 16 if boot0_pin else 0, 16) << 16

    def peek_option(self, address: int, shift: int, width: int) -> int | None:
        found = self._option_reg(address - self.base)
        return None if found is None else field_get(self.cur[found[0]], shift, width)

    def poke_option(self, address: int, shift: int, width: int, value: int) -> bool:
        found = self._option_reg(address - self.base)
        if found is None:
            return False
        for store in (self.cur, self.prg, self.latched):
            store[found[0]] = field_set(store[found[0]], shift, width, value)
        return True

    def stage_option(self, address: int, shift: int, width: int, value: int) -> bool:
        found = self._option_reg(address - self.base)
        if found is None:
            return False
        for store in (self.cur, self.prg):
            store[found[0]] = field_set(store[found[0]], shift, width, value)
        return True

    def erase_for_regression(self) -> None:
        super().erase_for_regression()
        for bank in self.banks:
            bank.clear_buffer()

    # -- bus interface ------------------------------------------------------------------------------
    def timers(self) -> list[OpTimer]:
        return [b.timer for b in self.banks] + [self.opt_timer]

    def timer_for(self, address: int) -> OpTimer | None:
        bank = self.host.bank_at(address)
        if bank is None:
            return None
        return self.banks[min(bank.index, len(self.banks) - 1)].timer

    def sync(self) -> None:
        for b in self.banks:
            b.sr |= b.timer.collect()

    def reg_read(self, offset: int, master: str) -> int:
        if offset % BANK2 == ACR:
            return self.acr
        found = self._bank_of_offset(offset)
        if found is not None:
            bank, reg = found
            if reg == SR:
                busy = SR_QW | SR_BSY if bank.timer.busy else 0
                return bank.sr | busy | (SR_WBNE if bank.buf_addr is not None else 0)
            if reg == CR:
                value = bank.cr | (CR_LOCK if bank.lock.locked else 0)
                if bank.timer.busy and bank.timer.kind == "erase":
                    value |= self.cr_start
                return value
            if reg == ECC_FAR:
                return bank.ecc_far
            if reg not in (KEYR, CCR):
                opt = self._option_reg(offset)
                if opt is not None:
                    return self._read_option(opt)
            return 0
        reg = offset % BANK2
        if reg == OPTCR:
            value = (OPT_LOCK if self.optlock.locked else 0) | (self.cur["OPTSR"] & OPTSR_SWAP)
            return value | (OPT_START if self.opt_timer.busy else 0)
        if reg == OPTCCR:
            return 0
        opt = self._option_reg(offset)
        return self._read_option(opt) if opt is not None else 0

    def _read_option(self, opt: tuple[str, bool]) -> int:
        name, is_cur = opt
        value = (self.cur if is_cur else self.prg)[name]
        if name == "OPTSR":
            value &= ~(OPTSR_BUSY | OPTSR_CHANGEERR)
            if is_cur:
                value |= (OPTSR_BUSY if self.opt_timer.busy else 0) | (
                    OPTSR_CHANGEERR if self.optchangeerr else 0
                )
        return value

    def reg_write(self, offset: int, value: int, mask: int, size: int, master: str) -> None:
        self.opt_timer.stall()  # no flash register can be written during an option change
        self.sync()
        reg = offset % BANK2
        if reg == ACR:
            self.acr = merge(self.acr, value, mask) & 0x3F
            return
        found = self._bank_of_offset(offset)
        if found is not None:
            bank, breg = found
            if breg != KEYR:
                bank.lock.interrupted()
            if breg == KEYR:
                if bank.lock.feed(value, size):
                    raise self.fault(offset, "wrong key sequence: FLASH_CR locked until reset")
            elif breg == CCR:
                bank.sr &= ~(value & mask & SR_FLAGS)
            elif breg == CR:
                self._write_cr(self.banks.index(bank), value, mask, master)
            elif breg in (PRAR_PRG, SCAR_PRG, WPSN_PRG):
                self._write_prg(offset, value, mask)
            return
        if reg == OPTKEYR:
            if self.optlock.feed(value, size):
                raise self.fault(offset, "wrong option key sequence: FLASH_OPTCR locked until reset")
        elif reg == OPTCR:
            self._write_optcr(value, mask, master)
        elif reg == OPTCCR:
            if value & mask & OPTSR_CHANGEERR:
                self.optchangeerr = False
        elif reg in (OPTSR_PRG, BOOT_PRG, BOOT4_PRG, OTPBL_PRG, OPTSR2_PRG):
            self._write_prg(offset, value, mask)

    def _write_prg(self, offset: int, value: int, mask: int) -> None:
        opt = self._option_reg(offset)
        if opt is None or opt[1] or self.optlock.locked:
            return  # *_PRG registers are read-only while OPTLOCK=1
        self.prg[opt[0]] = merge(self.prg[opt[0]], value, mask)

    def _write_cr(self, index: int, value: int, mask: int, master: str) -> None:
        bank = self.banks[index]
        if bank.lock.locked:
            return
        bank.timer.stall()
        self.sync()
        written = value & mask
        new = merge(bank.cr, value, mask) & ~(CR_LOCK | self.cr_fw | self.cr_start)
        if bank.cr & CR_PG and not new & CR_PG:
            bank.clear_buffer()  # clearing PG discards what the write buffer holds
        bank.cr = new
        if written & CR_LOCK:
            bank.lock.lock()
            return
        if written & self.cr_fw:
            self._force_write(index, master)
        if written & self.cr_start:
            self._start_erase(index, master)

    def _parallelism(self, bank: _Bank) -> int:
        return 0 if self.a3 else 8 << ((bank.cr >> 4) & 3)

    def _start_erase(self, index: int, master: str) -> None:
        bank = self.banks[index]
        flash = self.host.banks[index]
        if bank.cr & CR_BER:
            self.erase_banks([flash], master, self._parallelism(bank))
        elif bank.cr & CR_SER:
            snb = (bank.cr >> self.snb_shift) & ((1 << self.snb_bits) - 1)
            if snb >= len(flash.sectors):
                bank.sr |= SR_WRPERR  # a sector that does not exist is a reserved area
                return
            self.erase_unit(flash.sectors[snb], master, self._parallelism(bank))

    def _write_optcr(self, value: int, mask: int, master: str) -> None:
        if self.optlock.locked:
            return
        written = value & mask
        if written & OPT_MER:
            self._mass_erase_both(master)
        if written & OPT_START:
            self._option_change()
        if written & OPT_LOCK:
            self.optlock.lock()

    def _mass_erase_both(self, master: str) -> None:
        if any(b.lock.locked for b in self.banks):
            return  # MER needs FLASH_CR1, FLASH_CR2 and FLASH_OPTCR unlocked
        for index, flash in enumerate(self.host.banks[: len(self.banks)]):
            self.erase_banks([flash], master, self._parallelism(self.banks[index]))

    def _option_change(self) -> None:
        changed = [k for k in self.prg if (self.prg[k] != self.cur[k])]
        if not changed:
            return
        level = self.rdp_level
        new_rdp = field_get(self.prg["OPTSR"], 8, 8)
        if level == 2:
            swap_only = changed == ["OPTSR"] and not (self.prg["OPTSR"] ^ self.cur["OPTSR"]) & ~OPTSR_SWAP
            if not swap_only:
                self.optchangeerr = True  # level 2 freezes everything but SWAP_BANK_OPT
                return
        duration = self.timing.option
        if level == 1 and new_rdp == 0xAA:
            self.erase_for_regression()  # RDP 1 -> 0: the user flash is erased inside the option change
            duration += self.timing.mass_erase_ns(self._parallelism(self.banks[0]))
        self._changed = dict(self.prg)
        self.opt_timer.start(duration, 0, "option")

    # -- flash array ------------------------------------------------------------------------------
    def _bank_index(self, address: int) -> int | None:
        flash = self.host.bank_at(address)
        return None if flash is None else min(flash.index, len(self.banks) - 1)

    def flash_write(self, address: int, size: int, value: int, master: str) -> None:
        index = self._bank_index(address)
        if index is None:
            raise BusFault(address, "not in a flash bank")
        bank = self.banks[index]
        bank.timer.stall()
        self.sync()
        if not bank.cr & CR_PG or bank.lock.locked:
            bank.sr |= SR_PGSERR  # the write is dropped, no bus error
            return
        if bank.sr & (SR_PGSERR | SR_INCERR):
            bank.sr |= SR_PGSERR
            return
        word = address - address % self.unit
        if (address + size - 1) // self.unit != address // self.unit or (
            bank.buf_addr is not None and bank.buf_addr != word
        ):
            bank.sr |= SR_INCERR
            bank.clear_buffer()
            return
        bank.buf_addr = word
        pos, mask = address - word, ((1 << size) - 1) << (address - word)
        if bank.buf_mask & mask:
            bank.sr |= SR_STRBERR  # the new bytes replace the old ones
        bank.buf[pos : pos + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        bank.buf_mask |= mask
        if bank.buf_mask == (1 << self.unit) - 1:
            data = bytes(bank.buf)
            bank.clear_buffer()
            self.program_unit(word, data, master, self._parallelism(bank))

    def _force_write(self, index: int, master: str) -> None:
        bank = self.banks[index]
        if bank.buf_addr is None:
            return
        word, data = bank.buf_addr, bytes(bank.buf)  # bytes never written are 0xFF
        bank.clear_buffer()
        if data == b"\xff" * self.unit:
            return  # nothing to program: FW has no effect
        self.program_unit(word, data, master, self._parallelism(bank))

    def program_unit(self, address: int, data: bytes, master: str, parallelism: int) -> str | None:
        index = self._bank_index(address)
        if index is None:
            return "address"
        bank, flash = self.banks[index], self.host.banks[index]
        sector = flash.sector_at(address)
        if sector is None or self.write_protected(sector) or self.program_blocked(master):
            bank.sr |= SR_WRPERR
            return "WRPERR"
        if flash.unit_written(address):
            old = flash.read(address, len(data))
            merged = bytes(a & b for a, b in zip(old, data, strict=True))
            if data != old:
                flash.corrupt.add(flash.unit_index(address))  # ECC no longer matches
            flash.store(address, merged)
        else:
            flash.store(address, data)
        bank.timer.start(self.timing.program_ns(parallelism), SR_EOP, "program")
        return None

    def erase_unit(self, sector: Sector, master: str, parallelism: int) -> str | None:
        index = min(sector.bank, len(self.banks) - 1)
        bank = self.banks[index]
        if self.write_protected(sector) or self.program_blocked(master):
            bank.sr |= SR_WRPERR
            return "WRPERR"
        self.host.banks[sector.bank].erase_sector(sector)
        bank.timer.start(self.timing.erase_ns(sector.size, parallelism), SR_EOP, "erase")
        return None

    def erase_banks(self, banks: list[FlashBank], master: str, parallelism: int) -> str | None:
        error = None
        for flash in banks:
            bank = self.banks[min(flash.index, len(self.banks) - 1)]
            if self.program_blocked(master) or any(self.write_protected(s) for s in flash.sectors):
                bank.sr |= SR_WRPERR
                error = "WRPERR"
                continue
            flash.erase_all()
            bank.clear_buffer()
            bank.timer.start(self.timing.mass_erase_ns(parallelism), SR_EOP, "erase")
        return error

    def check_read(self, address: int, length: int, master: str) -> None:
        index = self._bank_index(address)
        if index is None:
            return
        bank, flash = self.banks[index], self.host.banks[index]
        if bank.timer.busy:
            bank.timer.stall()
            self.sync()
        if self.read_blocked(master):
            bank.sr |= SR_RDPERR
            raise BusFault(address, f"flash read-out protection (RDP level {self.rdp_level})")
        if flash.corrupt:
            first = flash.unit_index(address)
            last = flash.unit_index(address + length - 1)
            for unit in range(first, last + 1):
                if unit in flash.corrupt:
                    bank.sr |= SR_DBECCERR
                    bank.ecc_far = unit
                    raise BusFault(flash.base + unit * self.unit, "double ECC error in flash word")

    # -- reset / state --------------------------------------------------------------------------
    def reset(self, kind: str) -> None:
        for bank in self.banks:
            bank.reset()
        self.optlock.reset()
        self.opt_timer.finish()
        self.acr = 0x37
        self.prg = dict(self.cur)
        self.latched = dict(self.cur)

    def state(self) -> dict[str, Any]:
        return {
            "banks": [b.state() for b in self.banks],
            "optlock": self.optlock.state(),
            "opt_timer": self.opt_timer.state(),
            "optchangeerr": self.optchangeerr,
            "acr": self.acr,
            "cur": dict(self._cur),
            "changed": self._changed,
            "prg": dict(self.prg),
            "latched": dict(self.latched),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        for bank, s in zip(self.banks, state["banks"], strict=True):
            bank.load(s)
        self.optlock.load(state["optlock"])
        self.opt_timer.load(state["opt_timer"])
        self.optchangeerr = bool(state["optchangeerr"])
        self.acr = int(state["acr"])
        self._cur = {k: int(v) for k, v in state["cur"].items()}
        changed = state.get("changed")
        self._changed = None if changed is None else {k: int(v) for k, v in changed.items()}
        self.prg = {k: int(v) for k, v in state["prg"].items()}
        self.latched = {k: int(v) for k, v in state["latched"].items()}
