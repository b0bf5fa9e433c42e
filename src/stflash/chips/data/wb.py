"""STM32WB55 (RM0434): L4-like controller at 0x58004000, 4 K pages, CPU2 (radio) secure area."""

from __future__ import annotations

from ..model import Chip, FlashKind, Region
from .common import (
    CORE_M4,
    DPID_V2,
    FLASH_BASE,
    IDCODE_CM3_CM4_CM7,
    KIB,
    L4_CLASS_CHIP,
    boot,
    ram,
    uniform,
    wb_options,
)

_BL_WB5X = boot(0xD5, 0x1FFF_6FFE, "USART1 PA9/PA10", uart_version=0x32, dfu_pins="USB FS PA11/PA12",
                 uart_ram=(0x2000_4000,), startup_ms=0.39)
_NOTES = (
    "Flash from SFSA (FLASH_SFR) upwards belongs to the CPU2 wireless stack and FUS: CPU1 and the debugger "
    "cannot erase or program it, so erase page by page instead of MER. Check SR.PESD before OPTSTRT. "
    "Factory OPTR value not confirmed (defaults here: all enables 1, BOR level 0). "
    "SW-DP IDCODE 0x6BA02477 as in OpenOCD's stm32wbx.cfg (stlink lists 0x5BA02477)."
)

CHIPS: tuple[Chip, ...] = (
    Chip(
        **L4_CLASS_CHIP,
        name="STM32WB55xG",
        family="WB",
        dev_id=0x495,
        description="WB5x",
        reference_manual="RM0434",
        cores=(CORE_M4,),
        flash_kind=FlashKind.WB,
        banks=(uniform(FLASH_BASE, 4 * KIB, 1024 * KIB),),
        ram=(ram("SRAM1", 0x2000_0000, 192), ram("SRAM2a", 0x2003_0000, 32), ram("SRAM2b", 0x2003_8000, 32)),
        option_bytes=Region("option bytes", 0x1FFF_8000, 0x80),
        flash_registers=0x5800_4000,
        idcode_address=IDCODE_CM3_CM4_CM7,
        dp_idcode=DPID_V2,
        bootloader=_BL_WB5X,
        option_fields=wb_options(),
        aliases=("STM32WB5MMG",),
        notes=_NOTES,
    ),
)
