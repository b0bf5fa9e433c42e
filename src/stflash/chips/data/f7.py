"""STM32F7 (RM0431, RM0385, RM0410): F4-like sector flash; boot addresses in FLASH_OPTCR1.

``write_unit`` 4 assumes PSIZE = x32. F76x/F77x leave the factory single-bank (nDBANK=1); the
dual-bank layout (nDBANK=0) is an alternative geometry of the same row.
"""

from __future__ import annotations

from ..model import Bank, Bootloader, Chip, FlashKind, Geometry, OptionField, Region
from .common import (
    CORE_M7,
    DPID_F7,
    FLASH_BASE,
    IDCODE_CM3_CM4_CM7,
    KIB,
    boot,
    f4_dual_banks,
    f4_runs,
    f7_options,
    ram,
)

_PINS = "USART1 PA9/PA10; USART3 PB10/PB11 or PC10/PC11"
_OTG = "USB OTG FS PA11/PA12"
_BL_F72X = boot(0x90, 0x1FF0_EDBE, _PINS, dfu_pins=_OTG, dfu_version=0x2200, uart_ram=(0x2000_4000,),
                 startup_ms=17.93)
_BL_F74X = boot(0x90, 0x1FF0_EDBE, _PINS, dfu_pins=_OTG, uart_ram=(0x2000_4000,), startup_ms=16.63)
_BL_F76X = boot(0x93, 0x1FF0_EDBE, _PINS, dfu_pins=_OTG, uart_ram=(0x2000_4000,))
_NOTES = "USART3 pins follow the F4 pattern; AN2606 only names USART1/USART3 in the reference notes."

_RAM_F72X = (ram("DTCM", 0x2000_0000, 64), ram("SRAM1", 0x2001_0000, 176), ram("SRAM2", 0x2003_C000, 16),
             ram("ITCM", 0x0000_0000, 16))
_RAM_F74X = (ram("DTCM", 0x2000_0000, 64), ram("SRAM1", 0x2001_0000, 240), ram("SRAM2", 0x2004_C000, 16),
             ram("ITCM", 0x0000_0000, 16))
_RAM_F76X = (ram("DTCM", 0x2000_0000, 128), ram("SRAM1", 0x2002_0000, 368), ram("SRAM2", 0x2007_C000, 16),
             ram("ITCM", 0x0000_0000, 16))


def _f7(
    name: str,
    dev_id: int,
    description: str,
    manual: str,
    banks: tuple[Bank, ...],
    ram_regions: tuple[Region, ...],
    bootloader: Bootloader,
    options: tuple[OptionField, ...],
    *,
    small: bool,
    alt: tuple[Geometry, ...] = (),
    aliases: tuple[str, ...] = (),
    notes: str = _NOTES,
) -> Chip:
    """``small``: F72x/F73x (ID area at 0x1FF07A00, 528-byte OTP) instead of F74x-F77x."""
    return Chip(
        name=name,
        family="F7",
        dev_id=dev_id,
        description=description,
        reference_manual=manual,
        cores=(CORE_M7,),
        flash_kind=FlashKind.F7,
        banks=banks,
        write_unit=4,
        erased_value=0xFF,
        ram=ram_regions,
        system_memory=Region("system memory", 0x1FF0_0000, 0xEDC0),
        option_bytes=Region("option bytes", 0x1FFF_0000, 0x20),
        otp=Region("OTP", 0x1FF0_7800, 512 + 16) if small else Region("OTP", 0x1FF0_F000, 1024 + 16),
        flash_registers=0x4002_3C00,
        idcode_address=IDCODE_CM3_CM4_CM7,
        flash_size_register=0x1FF0_7A22 if small else 0x1FF0_F442,
        uid_address=0x1FF0_7A10 if small else 0x1FF0_F420,
        dp_idcode=DPID_F7,
        bootloader=bootloader,
        option_fields=options,
        aliases=aliases,
        notes=notes,
        alt_geometries=alt,
    )


def _single(flash_kib: int, first_sector_kib: int) -> tuple[Bank, ...]:
    return (Bank(FLASH_BASE, f4_runs(flash_kib, first_sector_kib)),)


def _ndbank(flash_kib: int) -> Geometry:
    half = flash_kib // 2
    return Geometry(
        "nDBANK", 0, f4_dual_banks(half),
        f"nDBANK=0: two {half} KB banks of 16/64/128 KB sectors, bank 2 at {FLASH_BASE + half * KIB:#010x} "
        "(SNB 0x10+); one nWRP bit per sector pair",
    )


_F72X_ALIASES = ("STM32F723x{0}", "STM32F732x{0}", "STM32F733x{0}")
_F74X_ALIASES = ("STM32F745x{0}", "STM32F756x{0}")
_F76X_ALIASES = ("STM32F765x{0}", "STM32F769x{0}", "STM32F777x{0}", "STM32F778x{0}", "STM32F779x{0}")


def _aliases(patterns: tuple[str, ...], size: str) -> tuple[str, ...]:
    return tuple(p.format(size) for p in patterns)


CHIPS: tuple[Chip, ...] = (
    _f7("STM32F722xC", 0x452, "F72x/F73x", "RM0431", _single(256, 16), _RAM_F72X, _BL_F72X,
        f7_options(6), small=True, aliases=_aliases(_F72X_ALIASES, "C")),
    _f7("STM32F722xE", 0x452, "F72x/F73x", "RM0431", _single(512, 16), _RAM_F72X, _BL_F72X,
        f7_options(8), small=True, aliases=_aliases(_F72X_ALIASES, "E")),
    _f7("STM32F746xE", 0x449, "F74x/F75x", "RM0385", _single(512, 32), _RAM_F74X, _BL_F74X,
        f7_options(6), small=False, aliases=_aliases(_F74X_ALIASES, "E")),
    _f7("STM32F746xG", 0x449, "F74x/F75x", "RM0385", _single(1024, 32), _RAM_F74X, _BL_F74X,
        f7_options(8), small=False, aliases=_aliases(_F74X_ALIASES, "G"),
        notes=_NOTES + " Bootloader id 0x90 is the V9.x ROM (V7.x: 0x70)."),
    _f7("STM32F767xG", 0x451, "F76x/F77x", "RM0410", _single(1024, 32), _RAM_F76X, _BL_F76X,
        f7_options(8, dual_bank=True), small=False, alt=(_ndbank(1024),), aliases=_aliases(_F76X_ALIASES, "G"),
        notes=_NOTES + " Single bank by default (nDBANK=1)."),
    _f7("STM32F767xI", 0x451, "F76x/F77x", "RM0410", _single(2048, 32), _RAM_F76X, _BL_F76X,
        f7_options(12, dual_bank=True), small=False, alt=(_ndbank(2048),), aliases=_aliases(_F76X_ALIASES, "I"),
        notes=_NOTES + " Single bank by default (nDBANK=1)."),
)
