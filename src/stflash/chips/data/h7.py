"""STM32H7 (RM0433, RM0399, RM0468, RM0455): flash-word programming, one register set per bank.

Bank 2 has its own CR2/SR2/CCR2 at +0x100, so sector numbers restart at 0 in each bank and
bank 2 always starts at 0x08100000 (1 MB parts leave a hole at 0x08080000-0x080FFFFF). Option
bytes exist only as registers: fields are written in *_PRG and read back from *_CUR.
"""

from __future__ import annotations

from ..model import Bank, Bootloader, Chip, FlashKind, ForbiddenCombination, OptionField, Region
from .common import (
    CORE_M4,
    CORE_M7,
    DPID_V2,
    FLASH_BASE,
    IDCODE_H7,
    KIB,
    boot,
    h7_options,
    h72x_options,
    ram,
    uniform,
)

_BANK2 = 0x0810_0000
_PINS = "USART1 PA9/PA10 or PB14/PB15; USART2 PA2/PA3; USART3 PB10/PB11"
_OTG = "USB OTG FS PA11/PA12"
_BL_H74X = boot(0x92, 0x1FF1_E7FE, _PINS, dfu_pins=_OTG, dfu_version=0x0200,
                 uart_ram=(0x2000_4100, 0x2400_5000), dfu_mass_erase=False, startup_ms=53.975)  # AN2606: broken on V13.3
_BL_H72X = boot(0x93, 0x1FF1_E7FE, _PINS, dfu_pins=_OTG, dfu_version=0x0200,
                 uart_ram=(0x2000_4100, 0x2400_4000), startup_ms=53.975)
_BL_H7A3 = boot(0x92, 0x1FF1_3FFE, _PINS, dfu_pins=_OTG, uart_ram=(0x2000_4100, 0x2403_4000), startup_ms=545)

_RAM_H74X = (
    ram("DTCM", 0x2000_0000, 128),
    ram("AXI SRAM", 0x2400_0000, 512),
    ram("SRAM1", 0x3000_0000, 128),
    ram("SRAM2", 0x3002_0000, 128),
    ram("SRAM3", 0x3004_0000, 32),
    ram("SRAM4", 0x3800_0000, 64),
    ram("ITCM", 0x0000_0000, 64),
)
_RAM_H72X = (
    ram("DTCM", 0x2000_0000, 128),
    ram("AXI SRAM", 0x2400_0000, 320),  # with the factory TCM_AXI_SHARED=0
    ram("SRAM1", 0x3000_0000, 16),
    ram("SRAM2", 0x3000_4000, 16),
    ram("SRAM4", 0x3800_0000, 16),
    ram("ITCM", 0x0000_0000, 64),
)
_RAM_H7A3 = (
    ram("DTCM", 0x2000_0000, 128),
    ram("AXI SRAM1", 0x2400_0000, 256),
    ram("AXI SRAM2", 0x2404_0000, 384),
    ram("AXI SRAM3", 0x240A_0000, 384),
    ram("AHB SRAM1", 0x3000_0000, 64),
    ram("AHB SRAM2", 0x3001_0000, 64),
    ram("SRD SRAM", 0x3800_0000, 32),
    ram("ITCM", 0x0000_0000, 64),
)

_BOTH_GATED = ForbiddenCombination(
    (("BCM4", 0), ("BCM7", 0)),
    "both cores clock-gated at boot: no core left to reach through the debug port",
)
_SUPPLY_NOTE = "SMPS parts: firmware selecting the wrong PWR_CR3 supply mode locks the core until power-off."


def _h7(
    name: str,
    dev_id: int,
    description: str,
    manual: str,
    banks: tuple[Bank, ...],
    ram_regions: tuple[Region, ...],
    bootloader: Bootloader,
    options: tuple[OptionField, ...],
    *,
    write_unit: int = 32,
    dual_core: bool = False,
    h7a3: bool = False,
    aliases: tuple[str, ...] = (),
    notes: str = "",
) -> Chip:
    return Chip(
        name=name,
        family="H7",
        dev_id=dev_id,
        description=description,
        reference_manual=manual,
        cores=(CORE_M7, CORE_M4) if dual_core else (CORE_M7,),
        flash_kind=FlashKind.H7,
        banks=banks,
        write_unit=write_unit,
        erased_value=0xFF,
        ram=ram_regions,
        system_memory=Region("system memory", 0x1FF0_0000, 128 * KIB),
        option_bytes=None,
        otp=Region("OTP", 0x08FF_F000, 1024) if h7a3 else None,
        flash_registers=0x5200_2000,
        idcode_address=IDCODE_H7,
        flash_size_register=0x08FF_F80C if h7a3 else 0x1FF1_E880,
        uid_address=0x08FF_F800 if h7a3 else 0x1FF1_E800,
        dp_idcode=DPID_V2,
        bootloader=bootloader,
        option_fields=options,
        forbidden=(_BOTH_GATED,) if dual_core else (),
        aliases=aliases,
        access_ports=(0, 3) if dual_core else (0,),
        notes=notes,
        extra=(("wrp_sectors_per_bit", 4),) if h7a3 else (),
    )


def _two(sector: int, bank_kib: int) -> tuple[Bank, ...]:
    return (uniform(FLASH_BASE, sector, bank_kib * KIB), uniform(_BANK2, sector, bank_kib * KIB))


def _one(sector: int, flash_kib: int) -> tuple[Bank, ...]:
    return (uniform(FLASH_BASE, sector, flash_kib * KIB),)


_S128 = 128 * KIB
_S8 = 8 * KIB
_H74X_NOTES = (
    "Shares DEV_ID 0x450 with the dual-core H745/H747/H755/H757. "
    "Bootloader id 0x92 is V9.2 (0x90/0x91 on older ROMs)."
)
_DUAL_NOTES = (
    "Cortex-M7 on AP0, Cortex-M4 on AP3 (APB-D debug bus on AP2). The M4 cannot read the flash-size "
    "register. With BCM7=0 only AP3 answers. Bootloader data assumed equal to the single-core H74x "
    "(AN2606 groups them under DEV_ID 0x450). " + _SUPPLY_NOTE
)
_H7A3_NOTES = (
    "128-bit flash word; FLASH_CR has no PSIZE (FW bit 4, START bit 5, SNB bits 12:6). One WPSN bit per "
    "group of 4 sectors. OTP programmed through OPTCR.PG_OTP with 16-bit writes. DFU bcdDevice not known. "
    "Q variants embed an SMPS: " + _SUPPLY_NOTE
)

CHIPS: tuple[Chip, ...] = (
    _h7("STM32H743xG", 0x450, "H74x/H75x", "RM0433", _two(_S128, 512), _RAM_H74X, _BL_H74X, h7_options(),
        notes="1 MB: 4 sectors per bank, hole at 0x08080000-0x080FFFFF. " + _H74X_NOTES),
    _h7("STM32H743xI", 0x450, "H74x/H75x", "RM0433", _two(_S128, 1024), _RAM_H74X, _BL_H74X, h7_options(),
        aliases=("STM32H753xI",), notes=_H74X_NOTES),
    _h7("STM32H750xB", 0x450, "H74x/H75x", "RM0433", _one(_S128, 128), _RAM_H74X, _BL_H74X,
        h7_options(swap_bank=False), notes="Value line: a single 128 KB sector. " + _H74X_NOTES),
    _h7("STM32H745xG", 0x450, "H745/H747/H755/H757", "RM0399", _two(_S128, 512), _RAM_H74X, _BL_H74X,
        h7_options(dual_core=True), dual_core=True, aliases=("STM32H747xG",),
        notes="1 MB: hole at 0x08080000-0x080FFFFF. " + _DUAL_NOTES),
    _h7("STM32H745xI", 0x450, "H745/H747/H755/H757", "RM0399", _two(_S128, 1024), _RAM_H74X, _BL_H74X,
        h7_options(dual_core=True), dual_core=True, aliases=("STM32H747xI", "STM32H755xI", "STM32H757xI"),
        notes=_DUAL_NOTES),
    _h7("STM32H723xE", 0x483, "H72x/H73x", "RM0468", _one(_S128, 512), _RAM_H72X, _BL_H72X, h72x_options(),
        aliases=("STM32H725xE",), notes="Single bank. H725/H735 embed an SMPS: " + _SUPPLY_NOTE),
    _h7("STM32H723xG", 0x483, "H72x/H73x", "RM0468", _one(_S128, 1024), _RAM_H72X, _BL_H72X, h72x_options(),
        aliases=("STM32H725xG", "STM32H733xG", "STM32H735xG"),
        notes="Single bank. H725/H735 embed an SMPS: " + _SUPPLY_NOTE),
    _h7("STM32H730xB", 0x483, "H72x/H73x", "RM0468", _one(_S128, 128), _RAM_H72X, _BL_H72X, h72x_options(),
        notes="Value line: a single 128 KB sector."),
    _h7("STM32H7A3xG", 0x480, "H7Ax/H7Bx", "RM0455", _two(_S8, 512), _RAM_H7A3, _BL_H7A3,
        h7_options(vddmmc=True), write_unit=16, h7a3=True,
        notes="1 MB: two banks of 64 sectors, bank 2 at 0x08100000 (CMSIS FLASH_BANK_SIZE, OpenOCD). "
              + _H7A3_NOTES),
    _h7("STM32H7A3xI", 0x480, "H7Ax/H7Bx", "RM0455", _two(_S8, 1024), _RAM_H7A3, _BL_H7A3,
        h7_options(vddmmc=True), write_unit=16, h7a3=True, aliases=("STM32H7B3xI",), notes=_H7A3_NOTES),
    _h7("STM32H7B0xB", 0x480, "H7Ax/H7Bx", "RM0455", _one(_S8, 128), _RAM_H7A3, _BL_H7A3,
        h7_options(vddmmc=True, swap_bank=False), write_unit=16, h7a3=True,
        notes="Value line: 16 sectors of 8 KB, single bank. " + _H7A3_NOTES),
)
