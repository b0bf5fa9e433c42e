"""STM32L0 (RM0367): Cortex-M0+, PECR controller, 128-byte pages, erased flash reads 0x00."""

from __future__ import annotations

from ..model import Chip, Region
from .common import (
    CORE_M0P,
    DPID_M0P,
    FLASH_BASE,
    IDCODE_CM0,
    PECR_CHIP,
    boot,
    l01_options,
    ram,
    uniform,
)

_BL_L05X = boot(0xC0, 0x1FF0_0FFE, "USART1 PA9/PA10; USART2 PA2/PA3", uart_ram=(0x2000_1000,),
                 mass_erase=False)
_NOTES = (
    "No mass-erase bit: erase page by page, or by an RDP 1 -> 0 regression (which also clears the data "
    "EEPROM). A jump from user code into the bootloader is not possible on L0."
)


def _l0(name: str, flash_kib: int, *, aliases: tuple[str, ...] = ()) -> Chip:
    return Chip(
        **PECR_CHIP,
        name=name,
        family="L0",
        dev_id=0x417,
        description="L05x/L06x",
        reference_manual="RM0367",
        cores=(CORE_M0P,),
        banks=(uniform(FLASH_BASE, 128, flash_kib * 1024),),
        ram=(ram("SRAM", 0x2000_0000, 8),),
        system_memory=Region("system memory", 0x1FF0_0000, 0x1000),
        flash_registers=0x4002_2000,
        idcode_address=IDCODE_CM0,
        flash_size_register=0x1FF8_007C,
        uid_address=0x1FF8_0050,
        dp_idcode=DPID_M0P,
        bootloader=_BL_L05X,
        option_fields=l01_options(l1=False, bor_default=0),
        aliases=aliases,
        notes=_NOTES,
        extra=(("half_page", 64), ("sector_size", 4096), ("eeprom_base", 0x0808_0000), ("eeprom_size", 2048)),
    )


CHIPS: tuple[Chip, ...] = (
    _l0("STM32L053x6", 32, aliases=("STM32L052x6", "STM32L063x6")),
    _l0("STM32L053x8", 64, aliases=("STM32L052x8", "STM32L062x8", "STM32L063x8")),
)
