"""STM32F4 (RM0090, RM0368, RM0383, RM0390, RM0402): sector flash programmed through PSIZE.

``write_unit`` 4 assumes PSIZE = x32 (supply above 2.7 V).
"""

from __future__ import annotations

from ..model import Bank, Bootloader, Chip, FlashKind, Geometry, OptionField, Region
from .common import (
    CORE_M4,
    DPID_M3_M4,
    FLASH_BASE,
    IDCODE_CM3_CM4_CM7,
    boot,
    f4_dual_banks,
    f4_options,
    f4_runs,
    ram,
)

_OTG = "USB OTG FS PA11/PA12"
_U1_U3 = "USART1 PA9/PA10; USART3 PB10/PB11 or PC10/PC11"
_U1_U2 = "USART1 PA9/PA10; USART2 PA2/PA3"
_U1_U2D = "USART1 PA9/PA10; USART2 PD5/PD6"  # F401/F411: USART2 on remapped pins (AN2606)
_PIN_NOTE = "USART2/USART3 pins follow the pattern of other F4 parts; not checked against AN2606 for this part."

_BL_F401 = boot(0xD1, 0x1FFF_76DE, _U1_U2D, dfu_pins=_OTG, uart_ram=(0x2000_3000,), startup_ms=74.5)
_BL_F40X = boot(0x91, 0x1FFF_77DE, _U1_U3, dfu_pins=_OTG, dfu_version=0x2100, uart_ram=(0x2000_3000,),
                 startup_ms=74)
_BL_F411 = boot(0xD0, 0x1FFF_76DE, _U1_U2D, dfu_pins=_OTG, uart_ram=(0x2000_3000,), startup_ms=74.5)
_BL_F412 = boot(0x91, 0x1FFF_76DE, _U1_U2, dfu_pins=_OTG, uart_ram=(0x2000_3000,))
_BL_F42X = boot(0x91, 0x1FFF_76DE, _U1_U3, dfu_pins=_OTG, uart_ram=(0x2000_3000,), startup_ms=74)
_BL_F446 = boot(0x90, 0x1FFF_76DE, _U1_U3, dfu_pins=_OTG, uart_ram=(0x2000_3000,), startup_ms=73.61)

_RAM_F40X = (ram("SRAM1", 0x2000_0000, 112), ram("SRAM2", 0x2001_C000, 16), ram("CCM", 0x1000_0000, 64))
_RAM_F42X = (*_RAM_F40X[:2], ram("SRAM3", 0x2002_0000, 64), _RAM_F40X[2])
_RAM_F446 = _RAM_F40X[:2]


def _f4(
    name: str,
    dev_id: int,
    description: str,
    manual: str,
    flash_kib: int,
    ram_regions: tuple[Region, ...],
    bootloader: Bootloader,
    options: tuple[OptionField, ...],
    *,
    banks: tuple[Bank, ...] = (),
    alt: tuple[Geometry, ...] = (),
    aliases: tuple[str, ...] = (),
    notes: str = "",
) -> Chip:
    return Chip(
        name=name,
        family="F4",
        dev_id=dev_id,
        description=description,
        reference_manual=manual,
        cores=(CORE_M4,),
        flash_kind=FlashKind.F2_F4,
        banks=banks or (Bank(FLASH_BASE, f4_runs(flash_kib)),),
        write_unit=4,
        erased_value=0xFF,
        ram=ram_regions,
        system_memory=Region("system memory", 0x1FFF_0000, 0x7800),
        option_bytes=Region("option bytes", 0x1FFF_C000, 16),
        otp=Region("OTP", 0x1FFF_7800, 512 + 16),
        flash_registers=0x4002_3C00,
        idcode_address=IDCODE_CM3_CM4_CM7,
        flash_size_register=0x1FFF_7A22,
        uid_address=0x1FFF_7A10,
        dp_idcode=DPID_M3_M4,
        bootloader=bootloader,
        option_fields=options,
        aliases=aliases,
        notes=notes,
        alt_geometries=alt,
    )


def _sectors(flash_kib: int) -> int:
    return sum(r.count for r in f4_runs(flash_kib))


def _pcrop(flash_kib: int) -> tuple[OptionField, ...]:
    return f4_options(_sectors(flash_kib), sprmod=True)


def _f42x(flash_kib: int) -> tuple[OptionField, ...]:
    bank2 = {512: 0, 1024: 8, 2048: 12}[flash_kib]
    return f4_options(min(12, _sectors(flash_kib)), bfb2=True, db1m=True, sprmod=True, bank2_sectors=bank2)


_DB1M = Geometry("DB1M", 1, f4_dual_banks(512), "DB1M=1: two 512 KB banks, bank 2 at 0x08080000 (SNB 0x10-0x17)")
_F40X_NOTES = (
    "Bootloader id 0x91 is the V9.x ROM; older V3.x ROMs report 0x31 and keep RAM from 0x20002000. "
    "Early silicon (rev A) reports DEV_ID 0x411 (the F2 value)."
)
_F42X_NOTES = "Bootloader id 0x91 is the V9.x ROM (V7.x: 0x70). Bank-2 option image at 0x1FFEC000."

CHIPS: tuple[Chip, ...] = (
    _f4("STM32F401xB", 0x423, "F401xB/C", "RM0368", 128, (ram("SRAM", 0x2000_0000, 64),), _BL_F401,
        _pcrop(128), notes=_PIN_NOTE),
    _f4("STM32F401xC", 0x423, "F401xB/C", "RM0368", 256, (ram("SRAM", 0x2000_0000, 64),), _BL_F401,
        _pcrop(256), notes=_PIN_NOTE),
    _f4("STM32F401xD", 0x433, "F401xD/E", "RM0368", 384, (ram("SRAM", 0x2000_0000, 96),), _BL_F401,
        _pcrop(384), notes=_PIN_NOTE),
    _f4("STM32F401xE", 0x433, "F401xD/E", "RM0368", 512, (ram("SRAM", 0x2000_0000, 96),), _BL_F401,
        _pcrop(512), notes=_PIN_NOTE),
    _f4("STM32F407xE", 0x413, "F405/F407/F415/F417", "RM0090", 512, _RAM_F40X, _BL_F40X,
        f4_options(8), aliases=("STM32F417xE",), notes=_F40X_NOTES),
    _f4("STM32F407xG", 0x413, "F405/F407/F415/F417", "RM0090", 1024, _RAM_F40X, _BL_F40X,
        f4_options(12), aliases=("STM32F405xG", "STM32F415xG", "STM32F417xG"), notes=_F40X_NOTES),
    _f4("STM32F411xC", 0x431, "F411xC/E", "RM0383", 256, (ram("SRAM", 0x2000_0000, 128),), _BL_F411,
        _pcrop(256), notes=_PIN_NOTE),
    _f4("STM32F411xE", 0x431, "F411xC/E", "RM0383", 512, (ram("SRAM", 0x2000_0000, 128),), _BL_F411,
        _pcrop(512), notes=_PIN_NOTE),
    _f4("STM32F412xE", 0x441, "F412", "RM0402", 512, (ram("SRAM", 0x2000_0000, 256),), _BL_F412,
        _pcrop(512), notes=_PIN_NOTE + " AN2606 gives bootloader id 0x91 (table 3) and 0x90 (table 226)."),
    _f4("STM32F412xG", 0x441, "F412", "RM0402", 1024, (ram("SRAM", 0x2000_0000, 256),), _BL_F412,
        _pcrop(1024), notes=_PIN_NOTE + " AN2606 gives bootloader id 0x91 (table 3) and 0x90 (table 226)."),
    _f4("STM32F429xE", 0x419, "F42x/F43x", "RM0090", 512, _RAM_F42X, _BL_F42X, _f42x(512),
        aliases=("STM32F427xE", "STM32F437xE", "STM32F439xE"), notes=_F42X_NOTES),
    _f4("STM32F429xG", 0x419, "F42x/F43x", "RM0090", 1024, _RAM_F42X, _BL_F42X, _f42x(1024),
        alt=(_DB1M,), aliases=("STM32F427xG", "STM32F437xG", "STM32F439xG"),
        notes=_F42X_NOTES + " Single bank unless DB1M=1."),
    _f4("STM32F429xI", 0x419, "F42x/F43x", "RM0090", 2048, _RAM_F42X, _BL_F42X, _f42x(2048),
        banks=f4_dual_banks(1024), aliases=("STM32F427xI", "STM32F437xI", "STM32F439xI"), notes=_F42X_NOTES),
    _f4("STM32F446xC", 0x421, "F446", "RM0390", 256, _RAM_F446, _BL_F446, _pcrop(256), notes=_PIN_NOTE),
    _f4("STM32F446xE", 0x421, "F446", "RM0390", 512, _RAM_F446, _BL_F446, _pcrop(512), notes=_PIN_NOTE),
)
