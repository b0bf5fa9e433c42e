"""STM32G47x/G48x (RM0440, category 3): L4-like controller, DBANK selects the layout.

Factory DBANK=1: two banks of 2 K pages, bank 2 always at 0x08040000 (smaller parts leave a hole
after bank 1). DBANK=0: one bank of 4 K pages.
"""

from __future__ import annotations

from ..model import Chip, FlashKind, Geometry, Region
from .common import (
    CORE_M4,
    DPID_M3_M4,
    FLASH_BASE,
    IDCODE_CM3_CM4_CM7,
    KIB,
    L4_CLASS_CHIP,
    boot,
    g4_options,
    ram,
    uniform,
)

_BL_G47X = boot(0xD5, 0x1FFF_6FFE, "USART1 PA9/PA10; USART2 PA2/PA3; USART3 PC10/PC11",
                dfu_pins="USB FS PA11/PA12", dfu_version=0x0200, uart_ram=(0x2000_4000,), startup_ms=0.39)
_BANK2 = 0x0804_0000
_NOTES = (
    "BKER is bit 11 of FLASH_CR on G4 (bit 13 is the G0 position). "
    "Bank-2 option words at 0x1FFFF800. USART2/USART3 pins not checked against AN2606."
)


def _g47x(size: str, flash_kib: int) -> Chip:
    half = flash_kib * KIB // 2
    return Chip(
        **L4_CLASS_CHIP,
        name=f"STM32G474x{size}",
        family="G4",
        dev_id=0x469,
        description="G47x/G48x",
        reference_manual="RM0440",
        cores=(CORE_M4,),
        flash_kind=FlashKind.G4,
        banks=(uniform(FLASH_BASE, 2 * KIB, half), uniform(_BANK2, 2 * KIB, half)),
        ram=(ram("SRAM1", 0x2000_0000, 80), ram("SRAM2", 0x2001_4000, 16), ram("CCM SRAM", 0x1000_0000, 32)),
        option_bytes=Region("option bytes", 0x1FFF_7800, 0x30),
        flash_registers=0x4002_2000,
        idcode_address=IDCODE_CM3_CM4_CM7,
        dp_idcode=DPID_M3_M4,
        bootloader=_BL_G47X,
        option_fields=g4_options(),
        aliases=tuple(f"STM32{line}x{size}" for line in ("G471", "G473", "G483", "G484")),
        notes=_NOTES,
        alt_geometries=(
            Geometry("DBANK", 0, (uniform(FLASH_BASE, 4 * KIB, flash_kib * KIB),), "DBANK=0: one bank of 4 KB pages"),
        ),
    )


CHIPS: tuple[Chip, ...] = (
    _g47x("B", 128),
    _g47x("C", 256),
    _g47x("E", 512),
)
