"""Pieces shared by the family tables: sizes, sector runs, memory regions and option-field sets.

Everything here returns plain model objects; the family modules only combine them into rows. The
``*_CHIP`` dictionaries hold the ``Chip`` fields a whole controller design shares, so a family's
row constructor spreads them in (``Chip(**FPEC_CHIP, ...)``) instead of listing them again.
Addresses and bit positions come from the ST reference manuals / CMSIS device headers as
summarised in the project's reference notes.
"""

from __future__ import annotations

from typing import Any

from ..model import Bank, Bootloader, FlashKind, OptionField, Region, SectorRun

KIB = 1024

FLASH_BASE = 0x0800_0000

# DBGMCU_IDCODE locations
IDCODE_CM0 = 0x4001_5800  # F0, L0, G0 (DBGMCU on APB)
IDCODE_CM3_CM4_CM7 = 0xE004_2000  # F1, F2, F3, F4, F7, L1, L4, G4, WB
IDCODE_H7 = 0x5C00_1000  # H7 through AP0 (0xE00E_1000 through AP2)
IDCODE_MP15 = 0xE008_1000  # MP15 through AP1

# SW-DP IDCODE values seen on the wire
DPID_M0 = 0x0BB1_1477  # F0
DPID_M0P = 0x0BC1_1477  # L0, G0
DPID_M3_R1 = 0x1BA0_1477  # F1
DPID_M3_M4 = 0x2BA0_1477  # F2, F3, F4, L1, L4, G4
DPID_F7 = 0x5BA0_2477  # F7
DPID_V2 = 0x6BA0_2477  # H7, WB, MP15

# Bit positions of the RDP byte and its meaning, shared by every family but F1
RDP_VALUES: tuple[tuple[int, str], ...] = (
    (0xAA, "level 0: no read protection"),
    (0xBB, "level 1: flash read protection (any value other than 0xAA and 0xCC)"),
    (0xCC, "level 2: chip protection, irreversible"),
)
RDP_DANGER: tuple[tuple[int, str], ...] = (
    (0xCC, "permanently disables debug and the bootloader; this cannot be undone"),
)

CORE_M0 = "cortex-m0"
CORE_M0P = "cortex-m0+"
CORE_M3 = "cortex-m3"
CORE_M4 = "cortex-m4"
CORE_M7 = "cortex-m7"
CORE_A7 = "cortex-a7"


def uniform(base: int, page: int, total: int, first_number: int = 0) -> Bank:
    """One bank of ``total`` bytes cut into equal ``page``-byte erase units."""
    assert total % page == 0, (base, page, total)
    return Bank(base, (SectorRun(page, total // page),), first_number)


def f4_runs(flash_kib: int, first_kib: int = 16) -> tuple[SectorRun, ...]:
    """4 sectors of ``first_kib``, one of 4x that, then 8x that: 16/64/128 K on F2/F4, F72x/F73x and
    the halves of dual-bank F42x/F76x; 32/128/256 K on F74x/F75x and single-bank F76x/F77x."""
    big = 8 * first_kib
    out = [SectorRun(first_kib * KIB, 4), SectorRun(4 * first_kib * KIB, 1)]
    rest = flash_kib - big
    assert rest >= 0 and rest % big == 0, flash_kib
    if rest:
        out.append(SectorRun(big * KIB, rest // big))
    return tuple(out)


def f4_dual_banks(half_kib: int) -> tuple[Bank, ...]:
    """Two banks of 16/64/128 K sectors (dual-bank F42x, F76x with nDBANK=0); bank-2 sectors are
    numbered from SNB 0x10."""
    return (
        Bank(FLASH_BASE, f4_runs(half_kib)),
        Bank(FLASH_BASE + half_kib * KIB, f4_runs(half_kib), first_number=0x10),
    )


def ram(name: str, start: int, size_kib: int) -> Region:
    return Region(name, start, size_kib * KIB)


def boot(
    id: int,
    id_address: int,
    uart_pins: str,
    *,
    uart_version: int = 0x31,
    dfu_pins: str = "",
    dfu_version: int = 0,
    uart_ram: tuple[int, ...] = (),
    mass_erase: bool = True,
    dfu_mass_erase: bool = True,
    startup_ms: float | None = None,
) -> Bootloader:
    """The ROM bootloader; it speaks DFU exactly when it has DFU pins."""
    return Bootloader(
        id=id,
        uart_version=uart_version,
        uart_pins=uart_pins,
        dfu=bool(dfu_pins),
        dfu_pins=dfu_pins,
        dfu_version=dfu_version,
        id_address=id_address,
        uart_ram=uart_ram,
        mass_erase=mass_erase,
        dfu_mass_erase=dfu_mass_erase,
        startup_ms=startup_ms,
    )


# -- option fields --------------------------------------------------------------------------


def flag(
    name: str,
    register: str,
    address: int,
    shift: int,
    default: int,
    description: str,
    off: str = "",
    on: str = "",
    *,
    dangerous: tuple[tuple[int, str], ...] = (),
    current_address: int | None = None,
) -> OptionField:
    """A one-bit field; ``off``/``on`` name what 0 and 1 mean."""
    values = ((0, off), (1, on)) if off or on else ()
    return OptionField(name, register, address, shift, 1, default, description, values, dangerous, current_address)


def rdp(register: str, address: int, shift: int = 0, current_address: int | None = None) -> OptionField:
    """Read-out protection byte with levels 0 (0xAA), 1 (other) and 2 (0xCC)."""
    return OptionField(
        "RDP", register, address, shift, 8, 0xAA, "read-out protection level",
        RDP_VALUES, RDP_DANGER, current_address,
    )


# F0/F1/F3: memory-mapped option bytes, each byte followed by its complement.
OB_F0_WORD0 = 0x1FFF_F800  # RDP, nRDP, USER, nUSER
OB_F0_DATA = 0x1FFF_F804
OB_F0_WRP01 = 0x1FFF_F808
OB_F0_WRP23 = 0x1FFF_F80C
_NRST_STOP = ("reset when entering Stop", "no reset when entering Stop")
_NRST_STDBY = ("reset when entering Standby", "no reset when entering Standby")
_WDG = ("hardware watchdog (started at reset)", "software watchdog")

FPEC_CHIP: dict[str, Any] = {  # F0, F1, F3
    "flash_kind": FlashKind.F0_F1_F3,
    "write_unit": 2,
    "erased_value": 0xFF,
    "option_bytes": Region("option bytes", OB_F0_WORD0, 16),
    "otp": None,
    "flash_registers": 0x4002_2000,
}


def fpec_options(user: tuple[OptionField, ...], wrp_bytes: int, *, f1: bool = False) -> tuple[OptionField, ...]:
    """Option bytes of the F0/F1/F3 controller, as 32-bit words of the option area at 0x1FFFF800.

    Value bytes sit at bits [7:0] and [23:16]; bits [15:8] and [31:24] hold the complements, which
    the programming code has to write too. FLASH_OBR (0x4002201C) shows the loaded values in a
    different layout.
    """
    reg0 = "OB_RDP_USER"
    if f1:
        rdp_field = OptionField(
            "RDP", reg0, OB_F0_WORD0, 0, 8, 0xA5, "read-out protection (F1 has no level 2)",
            ((0xA5, "unprotected"), (0x00, "read protected (any value other than 0xA5)")),
        )
    else:
        rdp_field = rdp(reg0, OB_F0_WORD0)
    common = (
        rdp_field,
        flag("WDG_SW", reg0, OB_F0_WORD0, 16, 1, "independent watchdog mode", *_WDG),
        flag("nRST_STOP", reg0, OB_F0_WORD0, 17, 1, "reset on Stop entry", *_NRST_STOP),
        flag("nRST_STDBY", reg0, OB_F0_WORD0, 18, 1, "reset on Standby entry", *_NRST_STDBY),
    )
    data = (
        OptionField("DATA0", "OB_DATA", OB_F0_DATA, 0, 8, 0xFF, "user data byte 0"),
        OptionField("DATA1", "OB_DATA", OB_F0_DATA, 16, 8, 0xFF, "user data byte 1"),
    )
    wrp_names = (("WRP0", OB_F0_WRP01, 0), ("WRP1", OB_F0_WRP01, 16), ("WRP2", OB_F0_WRP23, 0), ("WRP3", OB_F0_WRP23, 16))
    wrp = tuple(
        OptionField(n, "OB_WRP01" if a == OB_F0_WRP01 else "OB_WRP23", a, s, 8, 0xFF,
                    "write protection, one bit per page group (0 = protected)")
        for n, a, s in wrp_names[:wrp_bytes]
    )
    return common + user + data + wrp


def fpec_user(parity: str) -> tuple[OptionField, ...]:
    """USER bits [22:20] of F0/F3 (F1 has none); ``parity`` is the manual's name for bit 22."""
    reg = "OB_RDP_USER"
    return (
        flag("nBOOT1", reg, OB_F0_WORD0, 20, 1, "with BOOT0=1: 1 = system memory, 0 = SRAM"),
        flag("VDDA_MONITOR", reg, OB_F0_WORD0, 21, 1, "VDDA supervisor", "disabled", "enabled"),
        flag(parity, reg, OB_F0_WORD0, 22, 1, "SRAM parity check", "enabled", "disabled"),
    )


# F2/F4: FLASH_OPTCR / FLASH_OPTCR1
F4_OPTCR = 0x4002_3C14
F4_OPTCR1 = 0x4002_3C18
_F4_BOR = (
    (0, "BOR level 3 (about 2.7 V)"),
    (1, "BOR level 2 (about 2.4 V)"),
    (2, "BOR level 1 (about 2.1 V)"),
    (3, "BOR off"),
)


def f4_options(
    sectors: int, *, bfb2: bool = False, db1m: bool = False, sprmod: bool = False, bank2_sectors: int = 0
) -> tuple[OptionField, ...]:
    """FLASH_OPTCR fields of an F2/F4 part with ``sectors`` write-protectable sectors in bank 1."""
    r, a = "OPTCR", F4_OPTCR
    out = [
        OptionField("BOR_LEV", r, a, 2, 2, 3, "brown-out reset threshold", _F4_BOR),
    ]
    if bfb2:
        out.append(flag("BFB2", r, a, 4, 0, "dual-bank boot", "boot from bank 1", "boot from bank 2 if valid"))
    out += [
        flag("WDG_SW", r, a, 5, 1, "independent watchdog mode", *_WDG),
        flag("nRST_STOP", r, a, 6, 1, "reset on Stop entry", *_NRST_STOP),
        flag("nRST_STDBY", r, a, 7, 1, "reset on Standby entry", *_NRST_STDBY),
        rdp(r, a, 8),
        OptionField("nWRP", r, a, 16, sectors, (1 << sectors) - 1,
                    "write protection of sectors 0..n, one bit per sector (0 = protected)"),
    ]
    if db1m:
        out.append(flag("DB1M", r, a, 30, 0, "1 MB parts: dual-bank layout", "single bank", "two 512 KB banks"))
    if sprmod:
        out.append(flag(
            "SPRMOD", r, a, 31, 0,
            "meaning of the nWRP bits; with SPRMOD=1 a 1 in nWRP makes the sector execute-only (PCROP), "
            "so the factory nWRP would protect every sector (removed only by an RDP 1 -> 0 regression)",
            "write protection", "PCROP (execute-only)",
        ))
    if bank2_sectors:
        out.append(OptionField("nWRP_BANK2", "OPTCR1", F4_OPTCR1, 16, bank2_sectors, (1 << bank2_sectors) - 1,
                               "write protection of bank-2 sectors, one bit per sector (0 = protected)"))
    return tuple(out)


# F7: FLASH_OPTCR / FLASH_OPTCR1
def f7_options(wrp_bits: int, *, dual_bank: bool = False) -> tuple[OptionField, ...]:
    r, a = "OPTCR", F4_OPTCR
    out = [
        OptionField("BOR_LEV", r, a, 2, 2, 3, "brown-out reset threshold", _F4_BOR),
        flag("WWDG_SW", r, a, 4, 1, "window watchdog mode", "hardware", "software"),
        flag("IWDG_SW", r, a, 5, 1, "independent watchdog mode", *_WDG),
        flag("nRST_STOP", r, a, 6, 1, "reset on Stop entry", *_NRST_STOP),
        flag("nRST_STDBY", r, a, 7, 1, "reset on Standby entry", *_NRST_STDBY),
        rdp(r, a, 8),
        OptionField("nWRP", r, a, 16, wrp_bits, (1 << wrp_bits) - 1,
                    "write protection, one bit per sector (dual bank: per sector pair); 0 = protected"),
    ]
    if dual_bank:
        out += [
            flag("nDBOOT", r, a, 28, 1, "dual-bank boot", "enabled", "disabled"),
            flag("nDBANK", r, a, 29, 1, "flash organisation", "dual bank (2 x half size)", "single bank"),
        ]
    out += [
        flag("IWDG_STDBY", r, a, 30, 1, "IWDG in Standby", "frozen", "running"),
        flag("IWDG_STOP", r, a, 31, 1, "IWDG in Stop", "frozen", "running"),
        OptionField("BOOT_ADD0", "OPTCR1", F4_OPTCR1, 0, 16, 0x0080,
                    "boot address with BOOT0=0, address bits [29:14] (0x0080 = 0x00200000 flash on ITCM)"),
        OptionField("BOOT_ADD1", "OPTCR1", F4_OPTCR1, 16, 16, 0x0040,
                    "boot address with BOOT0=1, address bits [29:14] (0x0040 = 0x00100000 system memory)"),
    ]
    return tuple(out)


# L0/L1: memory-mapped option words at 0x1FF80000 (value in [15:0], complement in [31:16]).
OB_L0_RDP = 0x1FF8_0000
OB_L0_USER = 0x1FF8_0004

PECR_CHIP: dict[str, Any] = {  # L0, L1
    "flash_kind": FlashKind.L0_L1,
    "write_unit": 4,
    "erased_value": 0x00,
    "option_bytes": Region("option bytes", OB_L0_RDP, 0x20),
    "otp": None,
}
_L01_BOR = (
    (0, "BOR off (0x0-0x7)"),
    (8, "BOR threshold about 1.7-1.8 V"),
    (9, "BOR threshold about 1.9-2.1 V"),
    (10, "BOR threshold about 2.3-2.5 V"),
    (11, "BOR threshold about 2.5-2.7 V"),
    (12, "BOR threshold about 2.8-3.0 V"),
)


def l01_options(*, l1: bool, bor_default: int, nbfb2: bool = False) -> tuple[OptionField, ...]:
    """Option words of the L0/L1 controller (program with OPTLOCK cleared, then OBL_LAUNCH)."""
    out = [
        rdp("OB_RDP", OB_L0_RDP),
        flag("SPRMOD" if l1 else "WPRMOD", "OB_RDP", OB_L0_RDP, 8, 0, "meaning of the WRP bits",
             "write protection", "PCROP (read protection of sectors)"),
        OptionField("BOR_LEV", "OB_USER", OB_L0_USER, 0, 4, bor_default, "brown-out reset level", _L01_BOR),
        flag("IWDG_SW", "OB_USER", OB_L0_USER, 4, 1, "independent watchdog mode", *_WDG),
        flag("nRST_STOP", "OB_USER", OB_L0_USER, 5, 1, "reset on Stop entry", *_NRST_STOP),
        flag("nRST_STDBY", "OB_USER", OB_L0_USER, 6, 1, "reset on Standby entry", *_NRST_STDBY),
    ]
    if nbfb2:
        out.append(flag("nBFB2", "OB_USER", OB_L0_USER, 7, 1, "dual-bank boot",
                        "boot from bank 2 if valid", "boot from bank 1"))
    if not l1:
        out.append(flag("nBOOT1", "OB_USER", OB_L0_USER, 15, 1, "with BOOT0=1: 1 = system memory, 0 = SRAM"))
    return tuple(out)


# L4 / L4+ / G4 / WB (and G0): FLASH_OPTR
L4_OPTR = 0x4002_2020
WB_OPTR = 0x5800_4020
_L4_BOR = (
    (0, "BOR level 0 (about 1.7 V)"),
    (1, "BOR level 1 (about 2.0 V)"),
    (2, "BOR level 2 (about 2.2 V)"),
    (3, "BOR level 3 (about 2.5 V)"),
    (4, "BOR level 4 (about 2.8 V)"),
)
_NRST_MODE = (
    (1, "reset input only"),
    (2, "GPIO: no external reset, connect-under-reset stops working"),
    (3, "bidirectional reset"),
)

L4_CLASS_CHIP: dict[str, Any] = {  # L4, G0, G4, WB: system memory, OTP and ID words in one place
    "write_unit": 8,
    "erased_value": 0xFF,
    "system_memory": Region("system memory", 0x1FFF_0000, 0x7000),
    "otp": Region("OTP", 0x1FFF_7000, 1024),
    "flash_size_register": 0x1FFF_75E0,
    "uid_address": 0x1FFF_7590,
}


def _l4_common(a: int, bor_shift: int = 8) -> list[OptionField]:
    """OPTR bits [19:0], the same on L4, L4+, G4 and WB but for where BOR_LEV starts."""
    r = "OPTR"
    return [
        rdp(r, a),
        OptionField("BOR_LEV", r, a, bor_shift, 3, 0, "brown-out reset level", _L4_BOR),
        flag("nRST_STOP", r, a, 12, 1, "reset on Stop entry", *_NRST_STOP),
        flag("nRST_STDBY", r, a, 13, 1, "reset on Standby entry", *_NRST_STDBY),
        flag("nRST_SHDW", r, a, 14, 1, "reset on Shutdown entry", "reset", "no reset"),
        flag("IWDG_SW", r, a, 16, 1, "independent watchdog mode", *_WDG),
        flag("IWDG_STOP", r, a, 17, 1, "IWDG in Stop", "frozen", "running"),
        flag("IWDG_STDBY", r, a, 18, 1, "IWDG in Standby", "frozen", "running"),
        flag("WWDG_SW", r, a, 19, 1, "window watchdog mode", "hardware", "software"),
    ]


def _l4_bfb2(a: int) -> OptionField:
    return flag("BFB2", "OPTR", a, 20, 0, "dual-bank boot", "boot from bank 1", "boot from bank 2 if valid")


def _l4_nboot1(a: int) -> OptionField:
    return flag("nBOOT1", "OPTR", a, 23, 1, "with BOOT0=1: 1 = system memory, 0 = SRAM1")


def _l4_sram2(a: int) -> list[OptionField]:
    return [
        flag("SRAM2_PE", "OPTR", a, 24, 1, "SRAM2 parity check", "enabled", "disabled"),
        flag("SRAM2_RST", "OPTR", a, 25, 1, "SRAM2 erase on system reset", "erased", "kept"),
    ]


def _l4_boot0_source(a: int) -> list[OptionField]:
    return [
        flag("nSWBOOT0", "OPTR", a, 26, 1, "BOOT0 source", "nBOOT0 option bit", "BOOT0 pin"),
        flag("nBOOT0", "OPTR", a, 27, 1, "BOOT0 value when nSWBOOT0=0"),
    ]


def l4_options(*, plus: bool = False) -> tuple[OptionField, ...]:
    """FLASH_OPTR of L47x/L48x (``plus=False``) or L4R/L4S (``plus=True``)."""
    r, a = "OPTR", L4_OPTR
    if plus:
        banks = [
            flag("DB1M", r, a, 21, 1, "1 MB parts: bank layout", "single bank, 8 KB pages", "two banks, 4 KB pages"),
            flag("DBANK", r, a, 22, 1, "2 MB parts: bank layout", "single bank, 8 KB pages", "two banks, 4 KB pages"),
        ]
    else:
        banks = [flag("DUALBANK", r, a, 21, 1, "256/512 KB parts: bank layout", "single bank", "two banks")]
    boot0 = _l4_boot0_source(a) if plus else []
    return (*_l4_common(a), _l4_bfb2(a), *banks, _l4_nboot1(a), *_l4_sram2(a), *boot0)


def g4_options() -> tuple[OptionField, ...]:
    r, a = "OPTR", L4_OPTR
    return (
        *_l4_common(a),
        _l4_bfb2(a),
        flag("DBANK", r, a, 22, 1, "bank layout", "single bank, 4 KB pages", "two banks, 2 KB pages"),
        _l4_nboot1(a),
        flag("SRAM_PE", r, a, 24, 1, "SRAM1/CCM SRAM parity check", "enabled", "disabled"),
        flag("CCMSRAM_RST", r, a, 25, 1, "CCM SRAM erase on system reset", "erased", "kept"),
        *_l4_boot0_source(a),
        OptionField("NRST_MODE", r, a, 28, 2, 3, "NRST pin mode", _NRST_MODE),
        flag("IRHEN", r, a, 30, 1, "internal reset holder on NRST", "disabled", "enabled"),
    )


def wb_options() -> tuple[OptionField, ...]:
    """WB5x: the L4 OPTR at 0x58004020 with BOR_LEV one bit up, one bank, BOOT0 from pin or bit."""
    a = WB_OPTR
    return (*_l4_common(a, bor_shift=9), _l4_nboot1(a), *_l4_sram2(a), *_l4_boot0_source(a))


def g0_options() -> tuple[OptionField, ...]:
    r, a = "OPTR", L4_OPTR
    return (
        rdp(r, a),
        flag("BOR_EN", r, a, 8, 0, "brown-out reset", "disabled", "enabled"),
        OptionField("BORR_LEV", r, a, 9, 2, 3, "BOR rising threshold (0 = about 2.1 V ... 3 = about 2.9 V)"),
        OptionField("BORF_LEV", r, a, 11, 2, 3, "BOR falling threshold (0 = about 2.0 V ... 3 = about 2.8 V)"),
        flag("nRST_STOP", r, a, 13, 1, "reset on Stop entry", *_NRST_STOP),
        flag("nRST_STDBY", r, a, 14, 1, "reset on Standby entry", *_NRST_STDBY),
        flag("nRST_SHDW", r, a, 15, 1, "reset on Shutdown entry", "reset", "no reset"),
        flag("IWDG_SW", r, a, 16, 1, "independent watchdog mode", *_WDG),
        flag("IWDG_STOP", r, a, 17, 1, "IWDG in Stop", "frozen", "running"),
        flag("IWDG_STDBY", r, a, 18, 1, "IWDG in Standby", "frozen", "running"),
        flag("WWDG_SW", r, a, 19, 1, "window watchdog mode", "hardware", "software"),
        flag("RAM_PARITY_CHECK", r, a, 22, 1, "SRAM parity check", "enabled", "disabled"),
        flag("nBOOT_SEL", r, a, 24, 1, "BOOT0 source", "BOOT0 pin", "nBOOT0 option bit (pin ignored)"),
        flag("nBOOT1", r, a, 25, 1, "with BOOT0=1: 1 = system memory, 0 = SRAM"),
        flag("nBOOT0", r, a, 26, 1, "BOOT0 value when nBOOT_SEL=1", "boot per nBOOT1", "main flash"),
        OptionField("NRST_MODE", r, a, 27, 2, 3, "NRST pin mode", _NRST_MODE),
        flag("IRHEN", r, a, 29, 1, "internal reset holder on NRST", "disabled", "enabled"),
    )


# H7: option registers only (no memory-mapped option area). Fields are written in the *_PRG
# register and read back from the *_CUR register.
H7_OPTSR_CUR = 0x5200_201C
H7_OPTSR_PRG = 0x5200_2020
H7_BOOT_CUR = 0x5200_2040  # BOOT7_CURR on dual core
H7_BOOT_PRG = 0x5200_2044  # BOOT7_PRGR on dual core
H7_BOOT4_CUR = 0x5200_2048
H7_BOOT4_PRG = 0x5200_204C
H7_OPTSR2_CUR = 0x5200_2070  # H72x/H73x
H7_OPTSR2_PRG = 0x5200_2074


def h7_options(*, dual_core: bool = False, swap_bank: bool = True, vddmmc: bool = False) -> tuple[OptionField, ...]:
    r, a, cur = "OPTSR_PRG", H7_OPTSR_PRG, H7_OPTSR_CUR

    def f(name: str, shift: int, default: int, description: str, off: str = "", on: str = "",
          dangerous: tuple[tuple[int, str], ...] = ()) -> OptionField:
        return flag(name, r, a, shift, default, description, off, on, dangerous=dangerous, current_address=cur)

    out = [
        OptionField("BOR_LEV", r, a, 2, 2, 0, "brown-out reset level",
                    ((0, "BOR off (POR/PDR only)"), (1, "BOR level 1 (about 2.1 V)"),
               (2, "BOR level 2 (about 2.4 V)"), (3, "BOR level 3 (about 2.7 V)")),
                    current_address=cur),
        f("IWDG1_SW", 4, 1, "IWDG1 mode", *_WDG),
    ]
    if dual_core:
        out.append(f("IWDG2_SW", 5, 1, "IWDG2 (Cortex-M4) mode", *_WDG))
    out += [
        f("nRST_STOP_D1", 6, 1, "reset when D1 enters DStop", "reset", "no reset"),
        f("nRST_STBY_D1", 7, 1, "reset when D1 enters DStandby", "reset", "no reset"),
        rdp(r, a, 8, current_address=cur),
    ]
    if vddmmc:
        out.append(f("VDDMMC_HSLV", 16, 0, "VDDMMC I/O high speed at low voltage", "off",
                     "on (VDDMMC below 2.7 V only)",
                     dangerous=((1, "only allowed while VDDMMC stays below 2.7 V"),)))
    out += [
        f("FZ_IWDG_STOP", 17, 1, "IWDG in Stop", "frozen", "running"),
        f("FZ_IWDG_SDBY", 18, 1, "IWDG in Standby", "frozen", "running"),
        OptionField("ST_RAM_SIZE", r, a, 19, 2, 0, "DTCM RAM reserved for the ST secure library (SECURITY=1)",
                    current_address=cur),
        f("SECURITY", 21, 0, "secure access mode", "disabled", "enabled",
          dangerous=((1, "enables secure access mode and the ST root secure services at boot; "
                         "returning to 0 may not be possible"),)),
    ]
    if dual_core:
        out += [
            f("BCM4", 22, 1, "Cortex-M4 boot", "M4 clock-gated at boot", "M4 boots"),
            f("BCM7", 23, 1, "Cortex-M7 boot; with 0 the default access port AP0 stops answering and only "
              "the Cortex-M4 on AP3 can reach the part", "M7 clock-gated at boot", "M7 boots"),
            f("nRST_STOP_D2", 24, 1, "reset when D2 enters DStop", "reset", "no reset"),
            f("nRST_STBY_D2", 25, 1, "reset when D2 enters DStandby", "reset", "no reset"),
        ]
    out.append(f("IO_HSLV", 29, 0, "I/O high speed at low voltage", "off", "on (VDD below 2.7 V only)",
                 dangerous=((1, "only allowed while VDD stays below 2.7 V"),)))
    if swap_bank:
        out.append(f("SWAP_BANK", 31, 0, "swap the two banks after the next reset", "not swapped", "swapped"))

    if dual_core:
        out += [
            OptionField("BOOT_CM7_ADD0", "BOOT7_PRGR", H7_BOOT_PRG, 0, 16, 0x0800,
                        "Cortex-M7 boot address with BOOT0=0, address bits [31:16]", current_address=H7_BOOT_CUR),
            OptionField("BOOT_CM7_ADD1", "BOOT7_PRGR", H7_BOOT_PRG, 16, 16, 0x1FF0,
                        "Cortex-M7 boot address with BOOT0=1, address bits [31:16] (0x1FF0 = bootloader)",
                        current_address=H7_BOOT_CUR),
            OptionField("BOOT_CM4_ADD0", "BOOT4_PRGR", H7_BOOT4_PRG, 0, 16, 0x0810,
                        "Cortex-M4 boot address with BOOT0=0, address bits [31:16] (0x0810 = flash bank 2)",
                        current_address=H7_BOOT4_CUR),
            OptionField("BOOT_CM4_ADD1", "BOOT4_PRGR", H7_BOOT4_PRG, 16, 16, 0x1000,
                        "Cortex-M4 boot address with BOOT0=1, address bits [31:16] (0x1000 = D2 SRAM)",
                        current_address=H7_BOOT4_CUR),
        ]
    else:
        out += [
            OptionField("BOOT_ADD0", "BOOT_PRGR", H7_BOOT_PRG, 0, 16, 0x0800,
                        "boot address with BOOT0=0, address bits [31:16]", current_address=H7_BOOT_CUR),
            OptionField("BOOT_ADD1", "BOOT_PRGR", H7_BOOT_PRG, 16, 16, 0x1FF0,
                        "boot address with BOOT0=1, address bits [31:16] (0x1FF0 = bootloader)",
                        current_address=H7_BOOT_CUR),
        ]
    return tuple(out)


def h72x_options() -> tuple[OptionField, ...]:
    """H72x/H73x: no bank swap, plus OPTSR2 (TCM/AXI RAM split, CPU frequency boost)."""
    return (*h7_options(swap_bank=False),
        OptionField("TCM_AXI_SHARED", "OPTSR2_PRG", H7_OPTSR2_PRG, 0, 2, 0,
                    "split of the shared 192 KB RAM between ITCM and AXI SRAM",
                    ((0, "ITCM 64 KB, AXI 320 KB"), (1, "ITCM 128 KB, AXI 256 KB"),
               (2, "ITCM 192 KB, AXI 192 KB"), (3, "ITCM 256 KB, AXI 128 KB")),
                    current_address=H7_OPTSR2_CUR),
        flag("CPUFREQ_BOOST", "OPTSR2_PRG", H7_OPTSR2_PRG, 2, 0, "allow the 550 MHz CPU frequency",
             "disabled", "enabled", current_address=H7_OPTSR2_CUR),
    )
