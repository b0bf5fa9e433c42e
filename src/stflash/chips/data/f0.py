"""STM32F0 (RM0360 F030, RM0091 F07x): Cortex-M0, FPEC controller, 1 K or 2 K pages."""

from __future__ import annotations

from ..model import Bootloader, Chip, Region
from .common import (
    CORE_M0,
    DPID_M0,
    FLASH_BASE,
    FPEC_CHIP,
    IDCODE_CM0,
    KIB,
    boot,
    fpec_options,
    fpec_user,
    ram,
    uniform,
)

_NOTES_F030 = (
    "USART2 pins PA14/PA15 follow the AN2606 F05x/F030x8 table (not checked against the current AN2606)."
)


def _f0(
    name: str,
    dev_id: int,
    description: str,
    manual: str,
    flash_kib: int,
    page_kib: int,
    ram_kib: int,
    sysmem: tuple[int, int],
    bootloader: Bootloader,
    *,
    aliases: tuple[str, ...] = (),
    notes: str = "",
) -> Chip:
    page = page_kib * KIB
    wrp_bits = min(32, (flash_kib * KIB) // (4 * KIB))  # one WRP bit per 4 K (bit 31 covers the rest)
    return Chip(
        **FPEC_CHIP,
        name=name,
        family="F0",
        dev_id=dev_id,
        description=description,
        reference_manual=manual,
        cores=(CORE_M0,),
        banks=(uniform(FLASH_BASE, page, flash_kib * KIB),),
        ram=(ram("SRAM", 0x2000_0000, ram_kib),),
        system_memory=Region("system memory", *sysmem),
        idcode_address=IDCODE_CM0,
        flash_size_register=0x1FFF_F7CC,
        uid_address=0x1FFF_F7AC,
        dp_idcode=DPID_M0,
        bootloader=bootloader,
        option_fields=fpec_options(fpec_user("RAM_PARITY_CHECK"), (wrp_bits + 7) // 8),
        aliases=aliases,
        notes=notes,
        extra=(("wrp_pages_per_bit", 4 * KIB // page),),
    )


_SYS_F03X = (0x1FFF_EC00, 0xC00)
_BL_F03X = boot(0x10, 0x1FFF_F7A6, "USART1 PA9/PA10", uart_ram=(0x2000_0800,), startup_ms=1.612)
_BL_F030X8 = boot(0x21, 0x1FFF_F7A6, "USART1 PA9/PA10; USART2 PA14/PA15", uart_ram=(0x2000_0800,),
                  startup_ms=1.612)
_BL_F030XC = boot(0x52, 0x1FFF_F796, "USART1 PA9/PA10", uart_ram=(0x2000_1800,), startup_ms=1.612)
_BL_F07X = boot(0xA1, 0x1FFF_F6A6, "USART1 PA9/PA10; USART2 PA14/PA15", dfu_pins="USB FS PA11/PA12",
                 uart_ram=(0x2000_1800,), startup_ms=0.058)

CHIPS: tuple[Chip, ...] = (
    _f0("STM32F030x4", 0x444, "F03x", "RM0360", 16, 1, 4, _SYS_F03X, _BL_F03X),
    _f0("STM32F030x6", 0x444, "F03x", "RM0360", 32, 1, 4, _SYS_F03X, _BL_F03X),
    _f0("STM32F030x8", 0x440, "F030x8/F05x", "RM0360", 64, 1, 8, _SYS_F03X, _BL_F030X8, notes=_NOTES_F030),
    _f0("STM32F030xC", 0x442, "F030xC/F09x", "RM0360", 256, 2, 32, (0x1FFF_D800, 0x2000), _BL_F030XC),
    _f0("STM32F072x8", 0x448, "F07x", "RM0091", 64, 2, 16, (0x1FFF_C800, 0x3000), _BL_F07X),
    _f0("STM32F072xB", 0x448, "F07x", "RM0091", 128, 2, 16, (0x1FFF_C800, 0x3000), _BL_F07X,
        aliases=("STM32F078xB",),
        notes="USART2 on PA14/PA15 takes the SWCLK pin: SWD is unusable after a USART2 bootloader session."),
)
