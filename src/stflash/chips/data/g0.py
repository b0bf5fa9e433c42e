"""STM32G0 (RM0444): Cortex-M0+, L4-like controller with CFGBSY, 2 K pages."""

from __future__ import annotations

from ..model import Chip, FlashKind, Region
from .common import (
    CORE_M0P,
    DPID_M0P,
    FLASH_BASE,
    IDCODE_CM0,
    KIB,
    boot,
    g0_options,
    ram,
    region,
    uniform,
)

_BL_G07X = boot(0xB4, 0x1FFF_6FFE, "USART1 PA9/PA10; USART2 PA2/PA3; USART3 PC10/PC11")
_NOTES = (
    "nBOOT_SEL=1 (factory) ignores the BOOT0 pin; an empty flash boots the bootloader. "
    "Bootloader id 0xB4 is the latest ROM (earlier: 0xB3)."
)


def _g07x(name: str, flash_kib: int, *, aliases: tuple[str, ...] = ()) -> Chip:
    return Chip(
        name=name,
        family="G0",
        dev_id=0x460,
        description="G07x/G08x",
        reference_manual="RM0444",
        cores=(CORE_M0P,),
        flash_kind=FlashKind.G0,
        banks=(uniform(FLASH_BASE, 2 * KIB, flash_kib * KIB),),
        write_unit=8,
        erased_value=0xFF,
        ram=(ram("SRAM", 0x2000_0000, 36),),
        system_memory=Region("system memory", 0x1FFF_0000, 0x7000),
        option_bytes=region("option bytes", 0x1FFF_7800, 0x80),
        otp=region("OTP", 0x1FFF_7000, 1024),
        flash_registers=0x4002_2000,
        idcode_address=IDCODE_CM0,
        flash_size_register=0x1FFF_75E0,
        uid_address=0x1FFF_7590,
        dp_idcode=DPID_M0P,
        bootloader=_BL_G07X,
        option_fields=g0_options(),
        aliases=aliases,
        notes=_NOTES,
    )


CHIPS: tuple[Chip, ...] = (
    _g07x("STM32G071x8", 64, aliases=("STM32G081x8",)),
    _g07x("STM32G071xB", 128, aliases=("STM32G070xB", "STM32G081xB")),
)
