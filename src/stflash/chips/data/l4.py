"""STM32L4 / L4+ (RM0351, RM0432): 64-bit programming, pages numbered per bank (PNB + BKER)."""

from __future__ import annotations

from functools import partial

from ..model import Bank, Chip, FlashKind, Geometry, Region
from .common import (
    CORE_M4,
    DPID_M3_M4,
    FLASH_BASE,
    IDCODE_CM3_CM4_CM7,
    KIB,
    L4_CLASS_CHIP,
    boot,
    l4_options,
    ram,
    uniform,
)

_PINS = "USART1 PA9/PA10; USART2 PA2/PA3; USART3 PC10/PC11"
_OTG = "USB OTG FS PA11/PA12"
_BL_L47X = boot(0xA3, 0x1FFF_6FFE, _PINS, dfu_pins=_OTG, uart_ram=(0x2000_3100,),
                 startup_ms=55)  # with the LSE crystal fitted (Nucleo boards); 2560 without one
_BL_L4R = boot(0x95, 0x1FFF_6FFE, _PINS, dfu_pins=_OTG, uart_ram=(0x2000_3200,))
_PIN_NOTE = "USART pins follow the AN2606 L43x/L44x table; not checked for this part."

_RAM_L47X = (ram("SRAM1", 0x2000_0000, 96), ram("SRAM2", 0x1000_0000, 32))
_RAM_L4R = (ram("SRAM1", 0x2000_0000, 192), ram("SRAM2", 0x1000_0000, 64), ram("SRAM3", 0x2004_0000, 384))

_l4 = partial(
    Chip,
    **L4_CLASS_CHIP,
    family="L4",
    cores=(CORE_M4,),
    flash_kind=FlashKind.L4,
    flash_registers=0x4002_2000,
    idcode_address=IDCODE_CM3_CM4_CM7,
    dp_idcode=DPID_M3_M4,
)


def _two(page: int, flash_kib: int) -> tuple[Bank, ...]:
    """Two equal banks, bank 2 right after bank 1, page numbers restarting at 0 (BKER=1)."""
    half = flash_kib * KIB // 2
    return (uniform(FLASH_BASE, page, half), uniform(FLASH_BASE + half, page, half))


def _l47x(size: str, flash_kib: int) -> Chip:
    alt: tuple[Geometry, ...] = ()
    notes = _PIN_NOTE + " Bootloader id 0xA3 is the V10.x ROM (V9.x: 0x92)."
    if flash_kib < 1024:
        alt = (Geometry("DUALBANK", 0, (uniform(FLASH_BASE, 2 * KIB, flash_kib * KIB),),
                        "DUALBANK=0: one bank of 2 KB pages"),)
    else:
        notes += " 1 MB parts are always dual bank."
    return _l4(
        name=f"STM32L476x{size}",
        dev_id=0x415,
        description="L47x/L48x",
        reference_manual="RM0351",
        banks=_two(2 * KIB, flash_kib),
        ram=_RAM_L47X,
        option_bytes=Region("option bytes", 0x1FFF_7800, 0x28),
        bootloader=_BL_L47X,
        option_fields=l4_options(),
        aliases=tuple(f"STM32{line}x{size}" for line in ("L471", "L475", "L485", "L486")),
        notes=notes,
        alt_geometries=alt,
    )


def _l4r(size: str, flash_kib: int) -> Chip:
    bit = "DBANK" if flash_kib == 2048 else "DB1M"
    return _l4(
        name=f"STM32L4R5x{size}",
        dev_id=0x470,
        description="L4Rx/L4Sx",
        reference_manual="RM0432",
        banks=_two(4 * KIB, flash_kib),
        ram=_RAM_L4R,
        option_bytes=Region("option bytes", 0x1FF0_0000, 0x28),
        bootloader=_BL_L4R,
        option_fields=l4_options(plus=True),
        aliases=tuple(f"STM32{line}x{size}" for line in ("L4R7", "L4R9", "L4S5", "L4S7", "L4S9")),
        notes=(
            f"Dual bank with 4 KB pages while {bit}=1 (factory value assumed from the L4 default 0xFFEFF8AA). "
            "Option image at 0x1FF00000 (bank 2: 0x1FF01000) as in stlink; stm32flash lists 0x1FFF7800. "
            + _PIN_NOTE
        ),
        alt_geometries=(
            Geometry(bit, 0, (uniform(FLASH_BASE, 8 * KIB, flash_kib * KIB),), f"{bit}=0: one bank of 8 KB pages"),
        ),
    )


CHIPS: tuple[Chip, ...] = (
    _l47x("C", 256),
    _l47x("E", 512),
    _l47x("G", 1024),
    _l4r("G", 1024),
    _l4r("I", 2048),
)
