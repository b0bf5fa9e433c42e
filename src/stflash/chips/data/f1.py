"""STM32F101/F103 (RM0008): Cortex-M3, FPEC controller, 1 K pages (LD/MD) or 2 K pages (HD)."""

from __future__ import annotations

from ..model import Chip, Region
from .common import (
    CORE_M3,
    DPID_M3_R1,
    FLASH_BASE,
    FPEC_CHIP,
    IDCODE_CM3_CM4_CM7,
    KIB,
    boot,
    fpec_options,
    ram,
    uniform,
)

# The F1 ROM bootloader (protocol V2.2) has no bootloader id byte.
_BL_F1 = boot(0, 0, "USART1 PA9/PA10", uart_version=0x22, uart_ram=(0x2000_0200,), startup_ms=1.227)

_NOTES = (
    "RDP: 0xA5 means unprotected and any other value protects; there is no level 2. "
    "Erasing the option bytes leaves RDP=0xFF (protected) until 0xA5 is written back. "
    "Options load at the next reset (no OBL_LAUNCH on F1)."
)


def _f1(name: str, dev_id: int, description: str, flash_kib: int, page_kib: int, ram_kib: int,
        *, aliases: tuple[str, ...] = (), notes: str = _NOTES) -> Chip:
    page = page_kib * KIB
    pages_per_bit = 4 if page_kib == 1 else 2
    wrp_bits = min(32, flash_kib // (page_kib * pages_per_bit))
    return Chip(
        **FPEC_CHIP,
        name=name,
        family="F1",
        dev_id=dev_id,
        description=description,
        reference_manual="RM0008",
        cores=(CORE_M3,),
        banks=(uniform(FLASH_BASE, page, flash_kib * KIB),),
        ram=(ram("SRAM", 0x2000_0000, ram_kib),),
        system_memory=Region("system memory", 0x1FFF_F000, 0x800),
        idcode_address=IDCODE_CM3_CM4_CM7,
        flash_size_register=0x1FFF_F7E0,
        uid_address=0x1FFF_F7E8,
        dp_idcode=DPID_M3_R1,
        bootloader=_BL_F1,
        option_fields=fpec_options((), (wrp_bits + 7) // 8, f1=True),
        aliases=aliases,
        notes=notes,
        extra=(("wrp_pages_per_bit", pages_per_bit),),
    )


CHIPS: tuple[Chip, ...] = (
    _f1("STM32F103x4", 0x412, "F1 low density", 16, 1, 6),
    _f1("STM32F103x6", 0x412, "F1 low density", 32, 1, 10),
    _f1("STM32F103x8", 0x410, "F1 medium density", 64, 1, 20,
        notes=_NOTES + " Many F103C8 parts carry 128 KB of flash although the size register says 64 KB."),
    _f1("STM32F103xB", 0x410, "F1 medium density", 128, 1, 20),
    _f1("STM32F103xC", 0x414, "F1 high density", 256, 2, 48),
    _f1("STM32F103xD", 0x414, "F1 high density", 384, 2, 64),
    _f1("STM32F103xE", 0x414, "F1 high density", 512, 2, 64),
)
