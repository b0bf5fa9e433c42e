"""STM32L1 (RM0038): Cortex-M3, PECR controller at 0x40023C00, 256-byte pages, erased = 0x00."""

from __future__ import annotations

from ..model import Bank, Bootloader, Chip, Region
from .common import (
    CORE_M3,
    DPID_M3_M4,
    FLASH_BASE,
    IDCODE_CM3_CM4_CM7,
    KIB,
    PECR_CHIP,
    boot,
    l01_options,
    ram,
    uniform,
)

_PINS = "USART1 PA9/PA10; USART2 PA2/PA3"
_BL_CAT12 = boot(0x20, 0x1FF0_0FFE, _PINS, uart_ram=(0x2000_0800,), mass_erase=False)
# cat. 2 (0x429) keeps the first 4 KB of its larger SRAM to itself, cat. 1 (0x416) 2 KB (AN2606)
_BL_CAT2 = boot(0x20, 0x1FF0_0FFE, _PINS, uart_ram=(0x2000_1000,), mass_erase=False)
_BL_CAT5 = boot(0x40, 0x1FF0_1FFE, _PINS, dfu_pins="USB FS PA11/PA12",
                uart_ram=(0x2000_1000,), mass_erase=False)
_NOTES = (
    "No mass-erase bit: erase page by page or by an RDP 1 -> 0 regression. "
    "USER option defaults (BOR_LEV 8) are not confirmed against RM0038. "
    "USART2 pins not checked against AN2606."
)


def _l1(name: str, dev_id: int, description: str, banks: tuple[Bank, ...], ram_kib: int, sysmem_size: int,
        bootloader: Bootloader, eeprom_kib: int, *, cat3_plus: bool, aliases: tuple[str, ...] = (),
        notes: str = _NOTES) -> Chip:
    return Chip(
        **PECR_CHIP,
        name=name,
        family="L1",
        dev_id=dev_id,
        description=description,
        reference_manual="RM0038",
        cores=(CORE_M3,),
        banks=banks,
        ram=(ram("SRAM", 0x2000_0000, ram_kib),),
        system_memory=Region("system memory", 0x1FF0_0000, sysmem_size),
        flash_registers=0x4002_3C00,
        idcode_address=IDCODE_CM3_CM4_CM7,
        flash_size_register=0x1FF8_00CC if cat3_plus else 0x1FF8_004C,
        uid_address=0x1FF8_00D0 if cat3_plus else 0x1FF8_0050,
        dp_idcode=DPID_M3_M4,
        bootloader=bootloader,
        option_fields=l01_options(l1=True, bor_default=8, nbfb2=len(banks) > 1),
        aliases=aliases,
        notes=notes,
        extra=(("half_page", 128), ("sector_size", 4096), ("eeprom_base", 0x0808_0000),
               ("eeprom_size", eeprom_kib * KIB)),
    )


_CAT12 = (uniform(FLASH_BASE, 256, 128 * KIB),)
# Dual bank, bank 2 at 0x08040000. Pages are erased by address, so numbers just continue.
_CAT5 = (uniform(FLASH_BASE, 256, 256 * KIB), uniform(FLASH_BASE + 256 * KIB, 256, 256 * KIB, first_number=1024))

CHIPS: tuple[Chip, ...] = (
    _l1("STM32L152xB", 0x416, "L1 cat. 1", _CAT12, 16, 0x1000, _BL_CAT12, 4, cat3_plus=False,
        aliases=("STM32L151xB",)),
    _l1("STM32L152xBxxA", 0x429, "L1 cat. 2", _CAT12, 32, 0x1000, _BL_CAT2, 4, cat3_plus=False,
        aliases=("STM32L151xBxxA",)),
    _l1("STM32L152xE", 0x437, "L1 cat. 5", _CAT5, 80, 0x2000, _BL_CAT5, 16, cat3_plus=True,
        aliases=("STM32L151xE", "STM32L162xE"),
        notes=_NOTES + " Write-protection words for sectors above 128 KB sit at 0x1FF80080-0x1FF8008F."),
)
