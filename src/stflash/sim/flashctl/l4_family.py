"""L4 / L4+ / G4 / G0 / WB flash controller (RM0351, RM0432, RM0440, RM0444, RM0434).

64-bit programming: with PG=1 the first 32-bit word of a double word is latched and the second
one (at +4) starts the operation. A double word that was programmed since its last erase cannot
be programmed again (PROGERR) unless the new data is all zeros; 0xFFFF_FFFF_FFFF_FFFF counts as
programmed (ECC). Pages are chosen with PNB within the bank chosen by BKER (bit 11 on L4/G4,
bit 13 on G0, absent on WB). G0 and WB flag CFGBSY from the first word (or STRT) to the end of
the operation, and ignore FLASH_CR changes meanwhile. EOP is only set while EOPIE=1.

Option registers are written with OPTLOCK=0 and stored by OPTSTRT; after that the registers read
the last loaded values again (RM0444 "Option byte loading"). Options are loaded at power-on and
on OBL_LAUNCH, which resets the chip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...chips.model import Sector
from ..flash_array import FlashBank
from .base import Host, SingleSetController, merge, rdp_level_of

ACR, PDKEYR, KEYR, OPTKEYR, SR, CR, ECCR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18

SR_EOP, SR_OPERR, SR_PROGERR, SR_WRPERR, SR_PGAERR = 1, 2, 1 << 3, 1 << 4, 1 << 5
SR_SIZERR, SR_PGSERR, SR_MISERR, SR_FASTERR, SR_RDERR, SR_OPTVERR = (
    1 << 6,
    1 << 7,
    1 << 8,
    1 << 9,
    1 << 14,
    1 << 15,
)
SR_BSY, SR_PEMPTY, SR_CFGBSY = 1 << 16, 1 << 17, 1 << 18
SR_W1C = (
    SR_EOP
    | SR_OPERR
    | SR_PROGERR
    | SR_WRPERR
    | SR_PGAERR
    | SR_SIZERR
    | SR_PGSERR
    | SR_MISERR
    | SR_FASTERR
    | SR_RDERR
    | SR_OPTVERR
)
PROGRAM_ERRORS = SR_PROGERR | SR_SIZERR | SR_PGAERR | SR_WRPERR | SR_MISERR | SR_FASTERR

CR_PG, CR_PER, CR_MER1, CR_MER2, CR_STRT, CR_OPTSTRT, CR_FSTPG = 1, 2, 4, 1 << 15, 1 << 16, 1 << 17, 1 << 18
CR_EOPIE, CR_ERRIE, CR_RDERRIE, CR_OBL_LAUNCH = 1 << 24, 1 << 25, 1 << 26, 1 << 27
CR_OPTLOCK, CR_LOCK = 1 << 30, 1 << 31
CR_QUIET = CR_EOPIE | CR_ERRIE | CR_RDERRIE  # bits software may change while CFGBSY=1

ACR_EMPTY, ACR_DBG_SWEN = 1 << 16, 1 << 18

_L4_BANK1 = {0x20: "OPTR", 0x24: "PCROP1SR", 0x28: "PCROP1ER", 0x2C: "WRP1AR", 0x30: "WRP1BR"}
_L4_BANK2 = {0x44: "PCROP2SR", 0x48: "PCROP2ER", 0x4C: "WRP2AR", 0x50: "WRP2BR"}
_G0_REGS = {
    0x20: "OPTR",
    0x24: "PCROP1ASR",
    0x28: "PCROP1AER",
    0x2C: "WRP1AR",
    0x30: "WRP1BR",
    0x34: "PCROP1BSR",
    0x38: "PCROP1BER",
    0x80: "SECR",
}
_WB_REGS = {
    0x20: "OPTR",
    0x24: "PCROP1ASR",
    0x28: "PCROP1AER",
    0x2C: "WRP1AR",
    0x30: "WRP1BR",
    0x34: "PCROP1BSR",
    0x38: "PCROP1BER",
    0x3C: "IPCCBR",
    0x80: "SFR",
    0x84: "SRRVR",
}

# L4 parts with nSWBOOT0/nBOOT0 option bits, and those with the empty-flash boot check (PEMPTY)
_L4_SWBOOT = {0x435, 0x461, 0x462, 0x464, 0x470, 0x471}
_L4_PEMPTY = {0x435, 0x462, 0x464, 0x470, 0x471}


@dataclass(frozen=True)
class Profile:
    kind: str
    bker_bit: int | None  # CR bit selecting bank 2 for a page erase
    pnb_bits: int  # width of CR.PNB
    cfgbsy: bool  # SR.CFGBSY exists (CR frozen while a program/erase is configured)
    factory: dict[str, int] = field(default_factory=dict)


_PROFILES = {
    "l4": Profile("l4", 11, 8, False, {"OPTR": 0xFFEF_F8AA}),
    "g4": Profile("g4", 11, 7, False, {"OPTR": 0xFFEF_F8AA, "SEC1R": 0xFF00_FE00, "SEC2R": 0xFF00_FE00}),
    "g0": Profile("g0", 13, 10, True, {"OPTR": 0xFFFF_FEAA, "SECR": 0x0000_0000}),
    "wb": Profile("wb", None, 8, True, {}),
}


class L4FamilyController(SingleSetController):
    kind = "l4"
    latch_key = "first"

    def __init__(self, host: Host, variant: str) -> None:
        self.profile = _PROFILES[variant]
        super().__init__(host)
        self.revert_after_option = False
        self.empty = True

    # -- family data ----------------------------------------------------------------------------
    def option_registers(self) -> dict[int, str]:
        variant = self.profile.kind
        if variant == "g0":
            return dict(_G0_REGS)
        if variant == "wb":
            return dict(_WB_REGS)
        out = dict(_L4_BANK1)
        if len(self.chip.banks) > 1:
            out.update(_L4_BANK2)
        if variant == "g4":
            out[0x70] = "SEC1R"
            if len(self.chip.banks) > 1:
                out[0x74] = "SEC2R"
        return out

    def factory_options(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in self.option_map.values():
            if name.startswith("WRP"):
                out[name] = 0xFF00_FFFF  # start > end: area disabled
            elif name.startswith("PCROP") and name.endswith(("SR", "ASR", "BSR")):
                out[name] = 0xFFFF_FFFF
            else:
                out[name] = 0
        for name, value in self.profile.factory.items():
            if name in out:
                out[name] = value
        if self.profile.kind == "wb":
            out["OPTR"] = self._from_field_defaults(0)
            pages = len(self.host.banks[0].sectors) if self.host.banks else 256
            out["SFR"] = max(0, pages - 12)  # SFSA: the top 48 KB hold the CPU2 firmware (FUS)
        return out

    def _from_field_defaults(self, word: int) -> int:
        for f in self.chip.option_fields:
            if f.address == self.base + 0x20:
                word = f.insert(word, f.default)
        return word

    def acr_reset(self) -> int:
        return 0x0004_0600 if self.profile.kind in ("g0", "g4") else 0x0000_0600

    # -- options --------------------------------------------------------------------------------
    @property
    def optr(self) -> int:
        return self.loaded["OPTR"]

    @property
    def rdp_level(self) -> int:
        return rdp_level_of(self.optr & 0xFF)

    def _wrp_areas(self, bank_index: int) -> list[tuple[int, int]]:
        names = ("WRP1AR", "WRP1BR") if bank_index == 0 else ("WRP2AR", "WRP2BR")
        out = []
        for name in names:
            if name in self.loaded:
                word = self.loaded[name]
                start, end = word & 0xFF, (word >> 16) & 0xFF
                if start <= end:
                    out.append((start, end))
        return out

    def write_protected(self, sector: Sector) -> bool:
        bank = self.host.banks[sector.bank]
        page = bank.position(sector)
        return any(s <= page <= e for s, e in self._wrp_areas(sector.bank)) or self._secure(sector)

    def _secure(self, sector: Sector) -> bool:
        """WB: pages from SFSA upwards belong to CPU2 and are refused to CPU1 and the debugger."""
        if self.profile.kind != "wb":
            return False
        sfr = self.loaded.get("SFR", 0)
        if (sfr >> 8) & 1:  # FSD: secure area disabled
            return False
        return self.host.banks[sector.bank].position(sector) >= (sfr & 0xFF)

    def boots_bootloader(self, boot0_pin: bool, flash_empty: bool) -> bool:
        optr, variant = self.optr, self.profile.kind
        if variant == "g0":
            if self.loaded.get("SECR", 0) >> 16 & 1:
                return False  # BOOT_LOCK forces boot from main flash
            boot0 = not (optr >> 26) & 1 if (optr >> 24) & 1 else boot0_pin
            if boot0:
                return bool((optr >> 25) & 1)
            return self.empty
        if variant == "g4" and self.loaded.get("SEC1R", 0) >> 16 & 1:
            return False
        swboot = variant in ("g4", "wb") or self.chip.dev_id in _L4_SWBOOT
        boot0 = boot0_pin if not swboot or (optr >> 26) & 1 else not (optr >> 27) & 1
        if boot0:
            return bool((optr >> 23) & 1)
        return variant == "l4" and self.chip.dev_id in _L4_PEMPTY and self.empty

    def debug_allowed(self) -> bool:
        if self.profile.kind in ("g0", "g4"):
            return bool(self.acr & ACR_DBG_SWEN)
        return True

    def option_image(self, offset: int, size: int, master: str) -> int:
        """Each option register as a 64-bit pair (value, complement), in register order."""
        raw = bytearray(b"\xff" * (offset + size))
        for reg_off, name in self.option_map.items():
            pos = (reg_off - 0x20) * 2
            value = self.nv[name]
            pair = value.to_bytes(4, "little") + (value ^ 0xFFFF_FFFF).to_bytes(4, "little")
            if pos < len(raw):
                raw[pos : pos + 8] = pair[: len(raw) - pos]
        return int.from_bytes(raw[offset : offset + size], "little")

    def _program_options(self) -> None:
        if self.rdp_level == 2:
            return  # level 2: option bytes can no longer be changed
        duration = self.timing.option + len(self.option_map) * self.timing.program_ns()
        new_rdp = self.regs["OPTR"] & 0xFF
        if self.rdp_level == 1 and new_rdp == 0xAA:
            self.erase_for_regression()
            duration += self.timing.mass_erase_ns()
        self.nv = dict(self.regs)
        self.revert_after_option = True
        self.timer.start(duration, self.eop(), "option")

    # -- registers ------------------------------------------------------------------------------
    def sync(self) -> None:
        super().sync()
        if self.revert_after_option and not self.timer.busy:
            self.revert_after_option = False
            self.regs = dict(self.loaded)

    @property
    def cfg_busy(self) -> bool:
        return self.profile.cfgbsy and (self.timer.busy or self.latch.held is not None)

    def reg_read(self, offset: int, master: str) -> int:
        if offset == ACR:
            return self.acr
        if offset == SR:
            value = self.sr | (SR_BSY if self.timer.busy else 0)
            if self.cfg_busy:
                value |= SR_CFGBSY
            if self.profile.kind == "l4" and self.chip.dev_id in _L4_PEMPTY and self.empty:
                value |= SR_PEMPTY
            return value
        if offset == CR:
            value = (
                self.cr | (CR_LOCK if self.lock.locked else 0) | (CR_OPTLOCK if self.optlock.locked else 0)
            )
            if self.timer.busy and self.timer.kind in ("erase", "mass"):
                value |= CR_STRT
            if self.timer.busy and self.timer.kind == "option":
                value |= CR_OPTSTRT
            return value
        name = self.option_map.get(offset)
        return self.regs[name] if name is not None else 0

    def reg_write(self, offset: int, value: int, mask: int, size: int, master: str) -> None:
        if offset == ACR:
            self.acr = merge(self.acr, value, mask)
            if self.profile.kind == "g0" and mask & ACR_EMPTY:
                self.empty = bool(self.acr & ACR_EMPTY)
        elif offset == KEYR:
            if self.lock.feed(value, size):
                raise self.fault(offset, "wrong key sequence: FLASH_CR locked until reset")
        elif offset == OPTKEYR:
            if self.lock.locked:
                return  # FLASH_CR must be unlocked first: the option keys are ignored
            if self.optlock.feed(value, size):
                raise self.fault(offset, "wrong option key sequence: options locked until reset")
        elif offset == SR:
            written = value & mask
            self.sr &= ~(written & SR_W1C)
            if written & SR_PEMPTY and self.profile.kind == "l4" and self.chip.dev_id in _L4_PEMPTY:
                self.empty = not self.empty  # PEMPTY is toggled by writing 1
        elif offset == CR:
            self._write_cr(value, mask, master)
        elif offset in self.option_map and not self.optlock.locked:
            if not self.profile.cfgbsy:
                self.timer.stall()
            name = self.option_map[offset]
            self.regs[name] = merge(self.regs[name], value, mask)

    def _write_cr(self, value: int, mask: int, master: str) -> None:
        if self.lock.locked:
            return
        restricted = False
        if self.profile.cfgbsy:
            restricted = self.cfg_busy
        else:
            self.timer.stall()
            self.sync()
        written = value & mask
        new = merge(self.cr, value, mask) & ~(CR_LOCK | CR_OPTLOCK | CR_STRT | CR_OPTSTRT | CR_OBL_LAUNCH)
        if restricted:
            new = (new & CR_QUIET) | (self.cr & ~CR_QUIET)
        self.cr = new
        if written & CR_LOCK:
            self.lock.lock()
            self.optlock.lock()  # setting LOCK also sets OPTLOCK
            return
        if written & CR_OPTLOCK:
            self.optlock.lock()
        if restricted:
            return
        if written & CR_STRT:
            self._start_erase(master)
        elif written & CR_OPTSTRT and not self.optlock.locked:
            self._program_options()
        elif written & CR_OBL_LAUNCH and not self.optlock.locked:
            self.host.request_reset("option byte load (OBL_LAUNCH)")

    def _bank_choice(self) -> FlashBank:
        banks = self.host.banks
        bker = self.profile.bker_bit
        if bker is not None and len(banks) > 1 and (self.cr >> bker) & 1:
            return banks[1]
        return banks[0]

    def _start_erase(self, master: str) -> None:
        per = self.cr & CR_PER
        mer = self.cr & (CR_MER1 | CR_MER2)
        if self.cr & CR_PG or (per and mer):
            self.sr |= SR_PGSERR
            return
        if per:
            bank = self._bank_choice()
            pnb = (self.cr >> 3) & ((1 << self.profile.pnb_bits) - 1)
            if pnb < len(bank.sectors):
                self.erase_unit(bank.sectors[pnb], master, 0)
            else:
                # no such page (e.g. the gap before bank 2 of a smaller G47x): nothing is erased
                self.timer.start(self.timing.erase_ns(bank.sectors[0].size), self.eop(), "erase")
            return
        if mer:
            banks = self.host.banks
            if self.profile.kind in ("wb",) or len(banks) == 1:
                chosen = list(banks) if self.cr & CR_MER1 else []
            else:
                chosen = ([banks[0]] if self.cr & CR_MER1 else []) + ([banks[1]] if self.cr & CR_MER2 else [])
            if chosen:
                self.erase_banks(chosen, master, 0)

    # -- flash array ----------------------------------------------------------------------------
    def flash_write(self, address: int, size: int, value: int, master: str) -> None:
        self.timer.stall()
        self.sync()
        if not self.cr & (CR_PG | CR_FSTPG) or self.cr & (CR_PER | CR_MER1 | CR_MER2) or self.lock.locked:
            self.sr |= SR_PGSERR
            self.latch.clear()
            return
        if self.sr & PROGRAM_ERRORS:
            self.sr |= SR_PGSERR  # a previous programming error is still flagged
            self.latch.clear()
            return
        self.program_pair(address, size, value, master, SR_SIZERR, 0)

    def program_unit(self, address: int, data: bytes, master: str, parallelism: int) -> str | None:
        zero = data == bytes(len(data))
        if self.in_otp(address, len(data)):
            otp, region = self.host.otp, self.chip.otp
            assert otp is not None and region is not None
            off = address - region.start
            if otp[off : off + len(data)] != b"\xff" * len(data) and not zero:
                self.sr |= SR_PROGERR
                return "PROGERR"
            otp[off : off + len(data)] = data
            self.timer.start(self.timing.program_ns(), self.eop(), "program")
            return None
        found = self.sector_of(address)
        if found is None:
            self.sr |= SR_PGSERR
            return "address"
        bank, sector = found
        if self.write_protected(sector) or self.program_blocked(master):
            self.sr |= SR_WRPERR
            return "WRPERR"
        if bank.unit_written(address) and not zero:
            self.sr |= SR_PROGERR
            return "PROGERR"
        bank.store(address, data)
        self.timer.start(self.timing.program_ns(), self.eop(), "program")
        return None

    # -- reset / state --------------------------------------------------------------------------
    def reset(self, kind: str) -> None:
        super().reset(kind)
        self.revert_after_option = False
        if kind in ("power", "obl"):  # options load at power-on and OBL_LAUNCH only
            self.loaded = dict(self.nv)
            banks = self.host.banks
            self.empty = bool(banks) and banks[0].is_erased(banks[0].base, 8)
        self.regs = dict(self.loaded)
        if self.profile.kind == "g0" and self.empty:
            self.acr |= ACR_EMPTY

    def state(self) -> dict[str, Any]:
        return super().state() | {"revert": self.revert_after_option, "empty": self.empty}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.revert_after_option = bool(state["revert"])
        self.empty = bool(state["empty"])
