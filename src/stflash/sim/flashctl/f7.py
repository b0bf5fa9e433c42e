"""F7 sector-flash controller (RM0385, RM0410, RM0431): the F4 design with ERSERR instead of PGSERR,
a 4-bit SNB on single-bank parts, MER/MER2 on the dual-bank-capable F76x, and the boot addresses
BOOT_ADD0/BOOT_ADD1 in FLASH_OPTCR1 (address bits [29:14]).
"""

from __future__ import annotations

from typing import ClassVar

from ...chips.model import Sector
from .base import Host, field_get
from .f2f4 import SR_PGSERR, F2F4Controller

SR_ERSERR = SR_PGSERR  # bit 7 is the erase/program sequence error on F7
ITCM_SYSTEM_MEMORY = 0x0010_0000  # the system memory seen through the ITCM interface


class F7Controller(F2F4Controller):
    kind = "f7"
    seq_error: ClassVar[int] = SR_ERSERR
    erase_config_error: ClassVar[int] = SR_ERSERR

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.snb_bits = 5 if host.chip.dev_id == 0x451 else 4

    def factory_options(self) -> dict[str, int]:
        optcr = 0xFFFF_AAFC if self.chip.dev_id == 0x451 else 0xC0FF_AAFC
        out = {"OPTCR": optcr, "OPTCR1": 0x0040_0080}
        if self.chip.dev_id == 0x452:
            out["OPTCR2"] = 0x0000_0000
        return out

    def write_protected(self, sector: Sector) -> bool:
        optcr = self.loaded["OPTCR"]
        # dual-bank layout: one bit per pair of sectors
        bit = sector.index // 2 if len(self.host.banks) > 1 else self.host.banks[0].position(sector)
        return not (optcr >> (16 + min(bit, self._nwrp_width() - 1))) & 1

    def image_words(self) -> list[int]:
        optcr, optcr1 = self.nv["OPTCR"], self.nv["OPTCR1"]
        return [optcr & 0xFFFC, optcr >> 16, optcr1 & 0xFFFF, optcr1 >> 16]

    def boot_address(self, boot0_pin: bool, core: str = "") -> int:
        """BOOT_ADD1 (BOOT0 high) or BOOT_ADD0, address bits [29:14]; the Cortex-M7's VTOR resets
        to it too."""
        return field_get(self.loaded["OPTCR1"], 16 if boot0_pin else 0, 16) << 14

    def boots_bootloader(self, boot0_pin: bool, flash_empty: bool) -> bool:
        address = self.boot_address(boot0_pin)
        return address == ITCM_SYSTEM_MEMORY or self.chip.system_memory.contains(address)
