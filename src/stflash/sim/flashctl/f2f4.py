"""F2 / F4 sector-flash controller (RM0033, RM0090, RM0368, RM0383, RM0390, RM0402).

Program accesses must match FLASH_CR.PSIZE (x8/x16/x32; x64 as two word writes to one aligned
double word), bits only go from 1 to 0 (no ECC), sectors are selected with SNB (bank 2 of a
dual-bank F42x/F469 from 0x10), MER/MER1 erase a bank each. Option bytes live in FLASH_OPTCR /
OPTCR1: OPTSTRT stores them, the option loader applies them at the next reset. EOP is only set
while EOPIE=1. Writing FLASH_CR, OPTCR or the flash array while BSY=1 stalls the bus until the
operation ends.
"""

from __future__ import annotations

from typing import ClassVar

from ...chips.model import Sector
from .base import SingleSetController, field_get, merge, rdp_level_of

ACR, KEYR, OPTKEYR, SR, CR, OPTCR, OPTCR1, OPTCR2 = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C

SR_EOP, SR_OPERR, SR_WRPERR, SR_PGAERR, SR_PGPERR, SR_PGSERR, SR_RDERR = (
    1,
    2,
    1 << 4,
    1 << 5,
    1 << 6,
    1 << 7,
    1 << 8,
)
SR_BSY = 1 << 16
SR_W1C = SR_EOP | SR_OPERR | SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR | SR_RDERR

CR_PG, CR_SER, CR_MER, CR_STRT, CR_EOPIE, CR_ERRIE, CR_LOCK = 1, 2, 4, 1 << 16, 1 << 24, 1 << 25, 1 << 31
CR_MER_BANK2 = 1 << 15  # MER1 on F42x/F469, MER2 on F76x
CR_PSIZE_SHIFT = 8

OPT_LOCK, OPT_STRT = 1, 2

_ERASE_KINDS = ("erase", "mass")


class F2F4Controller(SingleSetController):
    kind = "f2f4"
    rom_parallelism = 32
    latch_key = "pending64"
    snb_bits: int = 5
    seq_error: ClassVar[int] = SR_PGSERR  # flag for a flash write while PG=0
    erase_config_error: ClassVar[int] = 0  # flag for an unusable erase request (F7: ERSERR)

    # -- family data ----------------------------------------------------------------------------
    def factory_options(self) -> dict[str, int]:
        out = {"OPTCR": 0x0FFF_AAEC}
        if self.chip.option_field("nWRP_BANK2") is not None or self.chip.dev_id in (0x419, 0x434):
            out["OPTCR1"] = 0x0FFF_0000
        return out

    def option_registers(self) -> dict[int, str]:
        present = self.factory_options()
        return {off: name for off, name in ((OPTCR, "OPTCR"), (OPTCR1, "OPTCR1"), (OPTCR2, "OPTCR2"))
                if name in present}

    def _nwrp_width(self) -> int:
        f = self.chip.option_field("nWRP")
        return f.width if f is not None else 12

    @property
    def rdp_level(self) -> int:
        return rdp_level_of(field_get(self.loaded["OPTCR"], 8, 8))

    def write_protected(self, sector: Sector) -> bool:
        optcr = self.loaded["OPTCR"]
        bank = self.host.banks[sector.bank]
        pos = bank.position(sector)
        if sector.bank == 0:
            bit = (optcr >> (16 + min(pos, self._nwrp_width() - 1))) & 1
        else:
            bit = (self.loaded.get("OPTCR1", 0x0FFF_0000) >> (16 + pos)) & 1
        pcrop_mode = self.chip.option_field("SPRMOD") is not None and optcr >> 31
        # nWRP=0 protects; in PCROP mode (SPRMOD=1) a 1 marks an execute-only sector instead
        return bool(bit) if pcrop_mode else not bit

    def boots_bootloader(self, boot0_pin: bool, flash_empty: bool) -> bool:
        return boot0_pin  # BOOT1 pin assumed low

    # -- option image ---------------------------------------------------------------------------
    def image_words(self) -> list[int]:
        """The 16-bit values of the read-only option image, one per 64-bit slot."""
        optcr = self.nv["OPTCR"]
        return [optcr & 0xFFFC, optcr >> 16]

    def option_image(self, offset: int, size: int, master: str) -> int:
        # modelled layout: [15:0] value, [31:16] its complement, [63:32] reserved (all ones)
        raw = b"".join(
            ((w & 0xFFFF) | ((w ^ 0xFFFF) & 0xFFFF) << 16 | 0xFFFF_FFFF << 32).to_bytes(8, "little")
            for w in self.image_words()
        )
        raw = raw.ljust(offset + size, b"\xff")
        return int.from_bytes(raw[offset : offset + size], "little")

    # -- registers ------------------------------------------------------------------------------
    def reg_read(self, offset: int, master: str) -> int:
        if offset == ACR:
            return self.acr
        if offset == SR:
            return self.sr | (SR_BSY if self.timer.busy else 0)
        if offset == CR:
            value = self.cr | (CR_LOCK if self.lock.locked else 0)
            if self.timer.busy and self.timer.kind in _ERASE_KINDS:
                value |= CR_STRT
            return value
        name = self.option_map.get(offset)
        if name is not None:
            value = self.regs[name]
            if name == "OPTCR":
                value = (value & ~(OPT_LOCK | OPT_STRT)) | (OPT_LOCK if self.optlock.locked else 0)
                if self.timer.busy and self.timer.kind == "option":
                    value |= OPT_STRT
            return value
        return 0

    def reg_write(self, offset: int, value: int, mask: int, size: int, master: str) -> None:
        if offset == ACR:
            self.acr = merge(self.acr, value, mask) & 0x1F0F
        elif offset == KEYR:
            if self.lock.feed(value, size):
                raise self.fault(offset, "wrong key sequence: FLASH_CR locked until reset")
        elif offset == OPTKEYR:
            if self.optlock.feed(value, size):
                raise self.fault(offset, "wrong option key sequence: FLASH_OPTCR locked until reset")
        elif offset == SR:
            self.sr &= ~(value & mask & SR_W1C)
        elif offset == CR:
            self._write_cr(value, mask, master)
        elif offset in self.option_map:
            self._write_opt(self.option_map[offset], value, mask, master)

    def _write_cr(self, value: int, mask: int, master: str) -> None:
        if self.lock.locked:
            return
        self.timer.stall()
        self.sync()
        written = value & mask
        self.cr = merge(self.cr, value, mask) & ~(CR_LOCK | CR_STRT)
        if written & CR_LOCK:
            self.lock.lock()
            self.latch.clear()
            return
        if written & CR_STRT:
            self._start_erase(master)

    def _psize_bits(self) -> int:
        return 8 << ((self.cr >> CR_PSIZE_SHIFT) & 3)

    def _start_erase(self, master: str) -> None:
        parallelism = self._psize_bits()
        ser = self.cr & CR_SER
        mer = self.cr & (CR_MER | CR_MER_BANK2)
        if ser and mer:
            self.sr |= self.erase_config_error  # nothing is erased
            return
        if ser:
            snb = (self.cr >> 3) & ((1 << self.snb_bits) - 1)
            for bank in self.host.banks:
                sector = bank.sector_numbered(snb)
                if sector is not None:
                    self.erase_unit(sector, master, parallelism)
                    return
            self.sr |= self.erase_config_error
            return
        if mer:
            banks = self.host.banks
            chosen = [banks[0]] if self.cr & CR_MER else []
            if self.cr & CR_MER_BANK2 and len(banks) > 1:
                chosen.append(banks[1])
            if chosen:
                self.erase_banks(chosen, master, parallelism)
            return
        self.sr |= self.erase_config_error

    def _write_opt(self, name: str, value: int, mask: int, master: str) -> None:
        if self.optlock.locked:
            return
        self.timer.stall()
        self.sync()
        written = value & mask
        self.regs[name] = merge(self.regs[name], value, mask)
        if name == "OPTCR":
            self.regs[name] &= ~(OPT_LOCK | OPT_STRT)
            if written & OPT_STRT:
                self._program_options()
            if written & OPT_LOCK:
                self.optlock.lock()

    def _program_options(self) -> None:
        if self.rdp_level == 2:
            return  # level 2 freezes the option bytes
        duration = self.timing.option
        new_rdp = field_get(self.regs["OPTCR"], 8, 8)
        if self.rdp_level == 1 and new_rdp == 0xAA:
            self.erase_for_regression()
            duration += self.timing.mass_erase_ns(self._psize_bits())
        self.nv = dict(self.regs)
        self.timer.start(duration, 0, "option")

    # -- flash array ----------------------------------------------------------------------------
    def flash_write(self, address: int, size: int, value: int, master: str) -> None:
        self.timer.stall()
        self.sync()
        # Only PG matters: SER/MER left set from an erase do not stop programming (RM0090 §3.5: an
        # erase and a program requested together run erase first; st-flash programs with SER|SNB
        # still set after its sector erases, and works on F2/F4/F7 parts).
        if not self.cr & CR_PG or self.lock.locked:
            self.sr |= self.seq_error
            self.latch.clear()
            return
        psize = (self.cr >> CR_PSIZE_SHIFT) & 3
        if psize == 3:  # x64: two word writes to one aligned double word
            self.program_pair(address, size, value, master, SR_PGPERR, 64)
            return
        width = 1 << psize
        if size != width:
            self.sr |= SR_PGPERR
            return
        if address % size:
            self.sr |= SR_PGAERR
            return
        self.program_unit(address, value.to_bytes(size, "little"), master, 8 * width)

    def program_unit(self, address: int, data: bytes, master: str, parallelism: int) -> str | None:
        if self.in_otp(address, len(data)):
            return self._program_otp(address, data, parallelism)
        found = self.sector_of(address)
        if found is None:
            self.sr |= self.seq_error
            return "address"
        bank, sector = found
        if self.write_protected(sector) or self.program_blocked(master):
            self.sr |= SR_WRPERR
            return "WRPERR"
        old = bank.read(address, len(data))
        bank.store(address, bytes(a & b for a, b in zip(old, data, strict=True)))
        self.timer.start(self.timing.program_ns(parallelism or self.rom_parallelism), self.eop(), "program")
        return None

    def _program_otp(self, address: int, data: bytes, parallelism: int) -> str | None:
        otp, region = self.host.otp, self.chip.otp
        assert otp is not None and region is not None
        off = address - region.start
        data_size = region.size - 16
        if off < data_size:
            block = off // (data_size // 16)
            if otp[data_size + block] == 0x00:  # lock byte programmed: block locked
                self.sr |= SR_WRPERR
                return "WRPERR"
        for i, b in enumerate(data):
            otp[off + i] &= b
        self.timer.start(self.timing.program_ns(parallelism or self.rom_parallelism), self.eop(), "program")
        return None

    # -- reset --------------------------------------------------------------------------------
    def reset(self, kind: str) -> None:
        super().reset(kind)
        self.loaded = dict(self.nv)  # the option loader runs at every reset
        self.regs = dict(self.nv)
