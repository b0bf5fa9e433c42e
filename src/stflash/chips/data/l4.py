"""STM32L4 / L4+ (RM0351, RM0432): 64-bit programming, pages numbered per bank (PNB + BKER)."""

from __future__ import annotations

from ..model import Bank, Bootloader, Chip, FlashKind, Geometry, OptionField, Region
from .common import (
    CORE_M4,
    DPID_M3_M4,
    FLASH_BASE,
    IDCODE_CM3_CM4_CM7,
    KIB,
    boot,
    l4_options,
    ram,
    region,
    uniform,
)

_PINS = "USART1 PA9/PA10; USART2 PA2/PA3; USART3 PC10/PC11"
_OTG = "USB OTG FS PA11/PA12"
_BL_L47X = boot(0xA3, 0x1FFF_6FFE, _PINS, dfu_pins=_OTG, uart_ram=(0x2000_3100,))
_BL_L4R = boot(0x95, 0x1FFF_6FFE, _PINS, dfu_pins=_OTG, uart_ram=(0x2000_3200,))
_PIN_NOTE = "USART pins follow the AN2606 L43x/L44x table; not checked for this part."

_RAM_L47X = (ram("SRAM1", 0x2000_0000, 96), ram("SRAM2", 0x1000_0000, 32))
_RAM_L4R = (ram("SRAM1", 0x2000_0000, 192), ram("SRAM2", 0x1000_0000, 64), ram("SRAM3", 0x2004_0000, 384))


def _l4(
    name: str,
    dev_id: int,
    description: str,
    manual: str,
    banks: tuple[Bank, ...],
    ram_regions: tuple[Region, ...],
    bootloader: Bootloader,
    options: tuple[OptionField, ...],
    option_base: int,
    *,
    alt: tuple[Geometry, ...] = (),
    aliases: tuple[str, ...] = (),
    notes: str = _PIN_NOTE,
) -> Chip:
    return Chip(
        name=name,
        family="L4",
        dev_id=dev_id,
        description=description,
        reference_manual=manual,
        cores=(CORE_M4,),
        flash_kind=FlashKind.L4,
        banks=banks,
        write_unit=8,
        erased_value=0xFF,
        ram=ram_regions,
        system_memory=Region("system memory", 0x1FFF_0000, 0x7000),
        option_bytes=region("option bytes", option_base, 0x28),
        otp=region("OTP", 0x1FFF_7000, 1024),
        flash_registers=0x4002_2000,
        idcode_address=IDCODE_CM3_CM4_CM7,
        flash_size_register=0x1FFF_75E0,
        uid_address=0x1FFF_7590,
        dp_idcode=DPID_M3_M4,
        bootloader=bootloader,
        option_fields=options,
        aliases=aliases,
        notes=notes,
        alt_geometries=alt,
    )


def _two(page: int, flash_kib: int) -> tuple[Bank, ...]:
    """Two equal banks, bank 2 right after bank 1, page numbers restarting at 0 (BKER=1)."""
    half = flash_kib * KIB // 2
    return (uniform(FLASH_BASE, page, half), uniform(FLASH_BASE + half, page, half))


def _l47x(size: str, flash_kib: int) -> Chip:
    aliases = tuple(f"STM32{line}x{size}" for line in ("L471", "L475", "L485", "L486"))
    alt: tuple[Geometry, ...] = ()
    notes = _PIN_NOTE + " Bootloader id 0xA3 is the V10.x ROM (V9.x: 0x92)."
    if flash_kib < 1024:
        alt = (Geometry("DUALBANK", 0, (uniform(FLASH_BASE, 2 * KIB, flash_kib * KIB),),
                        "DUALBANK=0: one bank of 2 KB pages"),)
    else:
        notes += " 1 MB parts are always dual bank."
    return _l4(f"STM32L476x{size}", 0x415, "L47x/L48x", "RM0351", _two(2 * KIB, flash_kib), _RAM_L47X,
               _BL_L47X, l4_options(), 0x1FFF_7800, alt=alt, aliases=aliases, notes=notes)


def _l4r(size: str, flash_kib: int) -> Chip:
    aliases = tuple(f"STM32{line}x{size}" for line in ("L4R7", "L4R9", "L4S5", "L4S7", "L4S9"))
    bit = "DBANK" if flash_kib == 2048 else "DB1M"
    alt = (Geometry(bit, 0, (uniform(FLASH_BASE, 8 * KIB, flash_kib * KIB),), f"{bit}=0: one bank of 8 KB pages"),)
    notes = (
        f"Dual bank with 4 KB pages while {bit}=1 (factory value assumed from the L4 default 0xFFEFF8AA). "
        "Option image at 0x1FF00000 (bank 2: 0x1FF01000) as in stlink; stm32flash lists 0x1FFF7800. "
        + _PIN_NOTE
    )
    return _l4(f"STM32L4R5x{size}", 0x470, "L4Rx/L4Sx", "RM0432", _two(4 * KIB, flash_kib), _RAM_L4R,
               _BL_L4R, l4_options(plus=True), 0x1FF0_0000, alt=alt, aliases=aliases, notes=notes)


CHIPS: tuple[Chip, ...] = (
    _l47x("C", 256),
    _l47x("E", 512),
    _l47x("G", 1024),
    _l4r("G", 1024),
    _l4r("I", 2048),
)
