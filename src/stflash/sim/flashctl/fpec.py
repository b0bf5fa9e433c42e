"""F0 / F1 / F3 flash program/erase controller (FPEC), RM0008 / RM0091 / RM0360 / RM0316 and
PM0075.

Halfword programming (a non-halfword write while PG=1 is a bus error), page erase through FLASH_AR,
mass erase, and option bytes kept as a 16-byte memory image at 0x1FFFF800 (value byte + complement).
The option loader runs at every reset and on OBL_LAUNCH (F0/F3): a byte whose complement does not
match loads as 0xFF and sets OBR.OPTERR.
"""

from __future__ import annotations

from typing import Any

from ...chips.model import Sector
from ..bus import Region, WindowRegion
from ..faults import BusFault
from ..flash_array import FlashBank
from .base import (
    KEY1,
    KEY2,
    FlashController,
    Host,
    KeyLock,
    OpTimer,
    field_get,
    field_set,
    merge,
    rdp_level_of,
)

ACR, KEYR, OPTKEYR, SR, CR, AR, OBR, WRPR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x1C, 0x20
BANK2 = 0x40  # F1 XL: KEYR2 0x44, SR2 0x4C, CR2 0x50, AR2 0x54

SR_BSY, SR_PGERR, SR_WRPRTERR, SR_EOP = 1 << 0, 1 << 2, 1 << 4, 1 << 5
SR_W1C = SR_PGERR | SR_WRPRTERR | SR_EOP

CR_PG, CR_PER, CR_MER, CR_OPTPG, CR_OPTER, CR_STRT, CR_LOCK = 1, 2, 4, 1 << 4, 1 << 5, 1 << 6, 1 << 7
CR_OPTWRE, CR_ERRIE, CR_EOPIE, CR_OBL_LAUNCH = 1 << 9, 1 << 10, 1 << 12, 1 << 13
CR_RW = CR_PG | CR_PER | CR_MER | CR_OPTPG | CR_OPTER | CR_ERRIE | CR_EOPIE

# parts whose option byte has BOOT_SEL / nBOOT0 and whose boot logic has the empty-flash check
_BOOT_SEL_PARTS = {0x442, 0x445}


class _Unit:
    """The register set driving one bank (bank 2 of an F1 XL has its own)."""

    def __init__(self, clock: Any) -> None:
        self.lock = KeyLock(KEY1, KEY2)
        self.timer = OpTimer(clock)
        self.sr = 0
        self.cr = 0
        self.ar = 0

    def state(self) -> dict[str, Any]:
        return {
            "lock": self.lock.state(),
            "timer": self.timer.state(),
            "sr": self.sr,
            "cr": self.cr,
            "ar": self.ar,
        }

    def load(self, s: dict[str, Any]) -> None:
        self.lock.load(s["lock"])
        self.timer.load(s["timer"])
        self.sr, self.cr, self.ar = int(s["sr"]), int(s["cr"]), int(s["ar"])


class FpecController(FlashController):
    kind = "f0f1f3"

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.f1 = self.chip.family.upper() == "F1"
        self.units = [_Unit(self.clock) for _ in range(max(1, len(host.banks)))]
        self.optlock = KeyLock(KEY1, KEY2)
        self.acr = 0x30
        rdp = 0xA5 if self.f1 else 0xAA
        self.image = bytearray([rdp, rdp ^ 0xFF] + [0xFF, 0x00] * 7)
        self.loaded_image = bytes(self.image)
        self.loaded = bytes([rdp] + [0xFF] * 7)  # RDP, USER, DATA0, DATA1, WRP0..3
        self.opterr = False
        ob = self.chip.option_bytes
        self.ob_base = ob.start if ob is not None else 0x1FFF_F800
        self._load_options()

    # -- options --------------------------------------------------------------------------------
    def _load_options(self) -> None:
        values = []
        self.opterr = False
        for i in range(8):
            b, nb = self.image[2 * i], self.image[2 * i + 1]
            if b ^ nb == 0xFF:
                values.append(b)
            else:
                if not (b == 0xFF and nb == 0xFF):
                    self.opterr = True
                values.append(0xFF)
        self.loaded = bytes(values)
        self.loaded_image = bytes(self.image)

    @property
    def rdp_level(self) -> int:
        rdp = self.loaded[0]
        if self.f1:
            return 0 if rdp == 0xA5 else 1
        return rdp_level_of(rdp)

    @property
    def user(self) -> int:
        return self.loaded[1]

    def obr(self) -> int:
        rdp, user, d0, d1 = self.loaded[:4]
        level = self.rdp_level
        if self.f1:
            return int(self.opterr) | (int(level != 0) << 1) | (user << 2) | (d0 << 10) | (d1 << 18)
        rdprt = {0: 0b00, 1: 0b01, 2: 0b11}[level]
        return int(self.opterr) | (rdprt << 1) | (user << 8) | (d0 << 16) | (d1 << 24)

    def wrpr(self) -> int:
        w = self.loaded[4:8]
        return w[0] | (w[1] << 8) | (w[2] << 16) | (w[3] << 24)

    def write_protected(self, sector: Sector) -> bool:
        per_bit = self.chip.extra_value("wrp_pages_per_bit") or (4 if sector.size <= 1024 else 2)
        bit = min(sector.index // per_bit, 31)
        return not (self.wrpr() >> bit) & 1

    def option_region(self) -> Region | None:
        if self.chip.option_bytes is None:
            return None
        return WindowRegion("option bytes", self.ob_base, 16, self._ob_read, self._ob_write)

    def _ob_read(self, offset: int, size: int, master: str) -> int:
        return int.from_bytes(self.image[offset : offset + size], "little")

    def _ob_write(self, offset: int, size: int, value: int, master: str) -> None:
        unit = self.units[0]
        unit.timer.stall()
        self.sync()
        if not (unit.cr & CR_OPTPG) or self.optlock.locked:
            return  # not in option-programming mode: the write is ignored
        if size != 2 or offset % 2:
            raise BusFault(self.ob_base + offset, "option bytes are programmed one halfword at a time")
        if not self.f1 and self.rdp_level == 2:
            unit.sr |= SR_WRPRTERR
            return
        if self.image[offset : offset + 2] != b"\xff\xff":
            unit.sr |= SR_PGERR
            return
        low = value & 0xFF  # the hardware writes the complement itself
        self.image[offset : offset + 2] = bytes([low, low ^ 0xFF])
        unit.timer.start(self.timing.program_ns(), SR_EOP, "option")

    def _erase_options(self, unit: _Unit) -> None:
        duration = self.timing.option
        if not self.f1 and self.rdp_level == 2:
            unit.sr |= SR_WRPRTERR
            return
        if self.rdp_level != 0:
            # read-out protection removal: the whole main flash goes with the options
            for bank in self.host.banks:
                bank.erase_all()
            duration += self.timing.mass_erase_ns()
        self.image[:] = b"\xff" * 16
        unit.timer.start(duration, SR_EOP, "option-erase")

    def peek_option(self, address: int, shift: int, width: int) -> int | None:
        off = address - self.ob_base
        if 0 <= off <= 12 and off % 4 == 0:
            return field_get(int.from_bytes(self.loaded_image[off : off + 4], "little"), shift, width)
        if address == self.base + OBR:
            return field_get(self.obr(), shift, width)
        if address == self.base + WRPR:
            return field_get(self.wrpr(), shift, width)
        return None

    def poke_option(self, address: int, shift: int, width: int, value: int) -> bool:
        if not self.stage_option(address, shift, width, value):
            return False
        self._load_options()
        return True

    def stage_option(self, address: int, shift: int, width: int, value: int) -> bool:
        off = address - self.ob_base
        if not (0 <= off <= 12 and off % 4 == 0):
            return False
        word = field_set(int.from_bytes(self.image[off : off + 4], "little"), shift, width, value)
        raw = bytearray(word.to_bytes(4, "little"))
        raw[1], raw[3] = raw[0] ^ 0xFF, raw[2] ^ 0xFF
        self.image[off : off + 4] = raw
        return True

    # -- registers ------------------------------------------------------------------------------
    def _unit_at(self, offset: int) -> tuple[_Unit | None, int]:
        if offset >= BANK2 and len(self.units) > 1 and offset in (0x44, 0x4C, 0x50, 0x54):
            return self.units[1], offset - BANK2
        if offset in (KEYR, SR, CR, AR):
            return self.units[0], offset
        return None, offset

    def timers(self) -> list[OpTimer]:
        return [u.timer for u in self.units]

    def timer_for(self, address: int) -> OpTimer | None:
        return self._unit_for(address).timer

    def _unit_for(self, address: int) -> _Unit:
        bank = self.host.bank_at(address)
        index = bank.index if bank is not None else 0
        return self.units[min(index, len(self.units) - 1)]

    def sync(self) -> None:
        for unit in self.units:
            unit.sr |= unit.timer.collect()

    def reg_read(self, offset: int, master: str) -> int:
        if offset == ACR:
            return self.acr
        if offset == OBR:
            return self.obr()
        if offset == WRPR:
            return self.wrpr()
        unit, reg = self._unit_at(offset)
        if unit is None:
            return 0
        if reg == SR:
            return unit.sr | (SR_BSY if unit.timer.busy else 0)
        if reg == CR:
            value = unit.cr | (CR_LOCK if unit.lock.locked else 0)
            if unit is self.units[0] and not self.optlock.locked:
                value |= CR_OPTWRE
            if unit.timer.busy and unit.timer.kind in ("erase", "mass", "option-erase"):
                value |= CR_STRT
            return value
        if reg == AR:
            return unit.ar
        return 0  # KEYR / OPTKEYR are write-only

    def reg_write(self, offset: int, value: int, mask: int, size: int, master: str) -> None:
        if offset == ACR:
            self.acr = merge(self.acr, value, mask) & 0x3F
            return
        if offset == OPTKEYR:
            if self.units[0].lock.locked:
                return  # FLASH_CR must be unlocked first; the keys are ignored
            if self.optlock.feed(value, size):
                raise self.fault(offset, "wrong option key sequence: option bytes locked until reset")
            return
        unit, reg = self._unit_at(offset)
        if unit is None:
            return
        if reg == KEYR:
            if unit.lock.feed(value, size):
                raise self.fault(offset, "wrong key sequence: FLASH_CR locked until reset")
            return
        if reg == SR:
            unit.sr &= ~(value & mask & SR_W1C)
            return
        if reg == AR:
            if not unit.lock.locked:
                unit.timer.stall()
                unit.ar = merge(unit.ar, value, mask)
            return
        if reg == CR:
            self._write_cr(unit, value, mask, master)

    def _write_cr(self, unit: _Unit, value: int, mask: int, master: str) -> None:
        if unit.lock.locked:
            return
        unit.timer.stall()
        self.sync()
        written = value & mask
        unit.cr = merge(unit.cr, value, mask) & CR_RW
        is_first = unit is self.units[0]
        if is_first and (mask & CR_OPTWRE) and not written & CR_OPTWRE:
            self.optlock.lock()
        if written & CR_LOCK:
            unit.lock.lock()
            return
        if written & CR_STRT:
            self._start(unit, master)
        if is_first and written & CR_OBL_LAUNCH and not self.f1:
            self.host.request_reset("option byte load (OBL_LAUNCH)")

    def _start(self, unit: _Unit, master: str) -> None:
        index = self.units.index(unit)
        if unit.cr & CR_PER:
            found = self.sector_of(unit.ar)
            if found is None or found[0].index != index:
                return  # FLASH_AR does not point into this bank's pages: nothing to erase
            self.erase_unit(found[1], master, 0)
        elif unit.cr & CR_MER:
            banks = [self.host.banks[index]] if len(self.units) > 1 else list(self.host.banks)
            self.erase_banks(banks, master, 0)
        elif unit.cr & CR_OPTER and index == 0 and not self.optlock.locked:
            self._erase_options(unit)

    # -- flash array ----------------------------------------------------------------------------
    def flash_write(self, address: int, size: int, value: int, master: str) -> None:
        unit = self._unit_for(address)
        unit.timer.stall()
        self.sync()
        if not unit.cr & CR_PG:
            return  # a plain write to flash does nothing
        if size != 2 or address % 2:
            raise BusFault(address, "flash is programmed one aligned halfword at a time (PG=1)")
        self.program_unit(address, value.to_bytes(2, "little"), master, 0)

    def program_unit(self, address: int, data: bytes, master: str, parallelism: int) -> str | None:
        unit = self._unit_for(address)
        found = self.sector_of(address)
        if found is None:
            return "address"
        bank, sector = found
        if self.write_protected(sector) or self.program_blocked(master):
            unit.sr |= SR_WRPRTERR
            return "WRPRTERR"
        if not bank.is_erased(address, 2) and data != b"\x00\x00":
            unit.sr |= SR_PGERR
            return "PGERR"
        bank.store(address, data)
        unit.timer.start(self.timing.program_ns(), SR_EOP, "program")
        return None

    def erase_unit(self, sector: Sector, master: str, parallelism: int) -> str | None:
        bank = self.host.banks[sector.bank]
        unit = self.units[min(sector.bank, len(self.units) - 1)]
        if self.write_protected(sector) or self.program_blocked(master):
            unit.sr |= SR_WRPRTERR
            return "WRPRTERR"
        bank.erase_sector(sector)
        unit.timer.start(self.timing.erase_ns(sector.size), SR_EOP, "erase")
        return None

    def erase_banks(self, banks: list[FlashBank], master: str, parallelism: int) -> str | None:
        for bank in banks:
            unit = self.units[min(bank.index, len(self.units) - 1)]
            if any(self.write_protected(s) for s in bank.sectors) or self.program_blocked(master):
                unit.sr |= SR_WRPRTERR
                return "WRPRTERR"
        for bank in banks:
            bank.erase_all()
            self.units[min(bank.index, len(self.units) - 1)].timer.start(
                self.timing.mass_erase_ns(), SR_EOP, "mass"
            )
        return None

    # -- reset, boot ----------------------------------------------------------------------------
    def reset(self, kind: str) -> None:
        for unit in self.units:
            unit.timer.finish()
            unit.lock.reset()
            unit.sr = 0
            unit.cr = 0
            unit.ar = 0
        self.optlock.reset()
        self.acr = 0x30
        self._load_options()

    def boots_bootloader(self, boot0_pin: bool, flash_empty: bool) -> bool:
        if self.f1:
            return boot0_pin  # BOOT1 pin assumed low
        user = self.user
        boot0 = boot0_pin
        if self.chip.dev_id in _BOOT_SEL_PARTS and not (user >> 7) & 1:
            boot0 = not (user >> 3) & 1  # BOOT_SEL=0: nBOOT0 option bit replaces the pin
        if boot0:
            return bool((user >> 4) & 1)  # nBOOT1=1: system memory, 0: SRAM
        return self.chip.dev_id in _BOOT_SEL_PARTS and flash_empty

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "image": self.image.hex(),
            "loaded_image": self.loaded_image.hex(),
            "units": [u.state() for u in self.units],
            "optlock": self.optlock.state(),
            "acr": self.acr,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.image = bytearray.fromhex(state["image"])
        saved_image = bytes(self.image)
        self.image[:] = bytes.fromhex(state["loaded_image"])
        self._load_options()
        self.image[:] = saved_image
        for unit, s in zip(self.units, state["units"], strict=False):
            unit.load(s)
        self.optlock.load(state["optlock"])
        self.acr = int(state["acr"])
