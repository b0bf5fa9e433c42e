"""STM32F303 (RM0316): Cortex-M4, FPEC controller, 2 K pages, CCM SRAM."""

from __future__ import annotations

from ..model import Bootloader, Chip, Region
from .common import (
    CORE_M4,
    DPID_M3_M4,
    FLASH_BASE,
    FPEC_CHIP,
    IDCODE_CM3_CM4_CM7,
    KIB,
    boot,
    fpec_options,
    fpec_user,
    ram,
    uniform,
)

_PINS = "USART1 PA9/PA10; USART2 PA2/PA3"
_DFU = "USB FS PA11/PA12"
_BL_XBC = boot(0x41, 0x1FFF_F796, _PINS, dfu_pins=_DFU, uart_ram=(0x2000_1400,))
_BL_XDE = boot(0x40, 0x1FFF_F796, _PINS, dfu_pins=_DFU, uart_ram=(0x2000_1800,))
_NOTES = "USART2 pins taken from the AN2606 F3 tables as summarised in the reference notes (unchecked per part)."


def _f3(name: str, dev_id: int, description: str, flash_kib: int, sram_kib: int, ccm_kib: int,
        bootloader: Bootloader, *, aliases: tuple[str, ...] = ()) -> Chip:
    return Chip(
        **FPEC_CHIP,
        name=name,
        family="F3",
        dev_id=dev_id,
        description=description,
        reference_manual="RM0316",
        cores=(CORE_M4,),
        banks=(uniform(FLASH_BASE, 2 * KIB, flash_kib * KIB),),
        ram=(ram("SRAM", 0x2000_0000, sram_kib), ram("CCM SRAM", 0x1000_0000, ccm_kib)),
        system_memory=Region("system memory", 0x1FFF_D800, 0x2000),
        idcode_address=IDCODE_CM3_CM4_CM7,
        flash_size_register=0x1FFF_F7CC,
        uid_address=0x1FFF_F7AC,
        dp_idcode=DPID_M3_M4,
        bootloader=bootloader,
        option_fields=fpec_options(fpec_user("SRAM_PE"), 4),
        aliases=aliases,
        notes=_NOTES,
        extra=(("wrp_pages_per_bit", 2),),
    )


CHIPS: tuple[Chip, ...] = (
    _f3("STM32F303xB", 0x422, "F302/F303xB/C", 128, 32, 8, _BL_XBC),
    _f3("STM32F303xC", 0x422, "F302/F303xB/C", 256, 40, 8, _BL_XBC),
    _f3("STM32F303xD", 0x446, "F302/F303xD/E", 384, 64, 16, _BL_XDE),
    _f3("STM32F303xE", 0x446, "F302/F303xD/E", 512, 64, 16, _BL_XDE),
)
