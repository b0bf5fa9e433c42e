"""STM32G0 (RM0444): Cortex-M0+, L4-like controller with CFGBSY, 2 K pages."""

from __future__ import annotations

from functools import partial

from ..model import Chip, FlashKind, Region
from .common import (
    CORE_M0P,
    DPID_M0P,
    FLASH_BASE,
    IDCODE_CM0,
    KIB,
    L4_CLASS_CHIP,
    boot,
    g0_options,
    ram,
    uniform,
)

_PINS = "USART1 PA9/PA10; USART2 PA2/PA3; USART3 PC10/PC11"
_NOTES = (
    "nBOOT_SEL=1 (factory) ignores the BOOT0 pin; an empty flash boots the bootloader. "
    "Bootloader id 0xB4 is the latest ROM (earlier: 0xB3)."
)

_g0 = partial(
    Chip,
    **L4_CLASS_CHIP,
    family="G0",
    reference_manual="RM0444",
    cores=(CORE_M0P,),
    flash_kind=FlashKind.G0,
    option_bytes=Region("option bytes", 0x1FFF_7800, 0x80),
    flash_registers=0x4002_2000,
    idcode_address=IDCODE_CM0,
    dp_idcode=DPID_M0P,
    option_fields=g0_options(),
    notes=_NOTES,
)

_BL_G07X = boot(0xB4, 0x1FFF_6FFE, _PINS, uart_ram=(0x2000_2700,), startup_ms=0.39)


def _g07x(name: str, flash_kib: int, *, aliases: tuple[str, ...]) -> Chip:
    return _g0(
        name=name,
        dev_id=0x460,
        description="G07x/G08x",
        banks=(uniform(FLASH_BASE, 2 * KIB, flash_kib * KIB),),
        ram=(ram("SRAM", 0x2000_0000, 36),),
        bootloader=_BL_G07X,
        aliases=aliases,
    )


# G0B1/G0C1 (DEV_ID 0x467): two banks of 128 x 2 K pages (DUAL_BANK=1 as delivered), bank 2 at
# 0x08040000; the ROM (V9.2, id 0x92 at 0x1FFF9FFE) adds DFU on the USB device port (AN2606;
# uart.md section 10). Its system memory is 0x1FFF0000-0x1FFF6FFF plus 0x1FFF8000-0x1FFF9FFF,
# modelled as one region under the OTP, option bytes and unique ID that sit in between.
_G0B1 = _g0(
    name="STM32G0B1xE",
    dev_id=0x467,
    description="G0Bx/G0Cx",
    banks=(uniform(FLASH_BASE, 2 * KIB, 256 * KIB), uniform(0x0804_0000, 2 * KIB, 256 * KIB)),
    ram=(ram("SRAM", 0x2000_0000, 144),),
    system_memory=Region("system memory", 0x1FFF_0000, 0xA000),
    bootloader=boot(0x92, 0x1FFF_9FFE, _PINS, dfu_pins="USB PA11/PA12", dfu_version=0x0200, uart_ram=(0x2000_4000,),
                    startup_ms=0.39),
    aliases=("STM32G0C1xE",),
    notes=_NOTES + " G0B1/G0C1: dual bank (BKER selects bank 2); USB DFU in the ROM.",
)

CHIPS: tuple[Chip, ...] = (
    _g07x("STM32G071x8", 64, aliases=("STM32G081x8",)),
    _g07x("STM32G071xB", 128, aliases=("STM32G070xB", "STM32G081xB")),
    _G0B1,
)
