"""Consistency checks over the whole chip table, plus spot checks of known facts and the lookups."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pytest

from stflash.chips import (
    BOARDS,
    Bank,
    Chip,
    FlashKind,
    all_chips,
    chips_for_dev_id,
    find_chip,
    identify,
)
from stflash.chips.lookup import resolve_part
from stflash.errors import UnknownChipError

KIB = 1024
CHIPS = all_chips()
MCUS = [c for c in CHIPS if c.flash_kind is not FlashKind.NONE]

# STM32 flash-size code letter -> KiB
SIZE_CODES = {"4": 16, "6": 32, "8": 64, "B": 128, "Z": 192, "C": 256, "D": 384, "E": 512, "F": 768,
              "G": 1024, "H": 1536, "I": 2048}
NAME_RE = re.compile(r"^STM32[A-Z][0-9A-Z]{2,3}x([0-9A-Z])")


def ids(chips: list[Chip]) -> list[str]:
    return [c.name for c in chips]


def all_layouts(chip: Chip) -> list[tuple[str, tuple[Bank, ...]]]:
    return [("default", chip.banks)] + [(f"{g.option}={g.value}", g.banks) for g in chip.alt_geometries]


def assemble(chip: Chip, register: str) -> tuple[int, int]:
    """(value built from the fields' defaults, mask of the bits the fields cover) for one register."""
    value = mask = 0
    for f in chip.option_fields:
        if f.register == register:
            value = f.insert(value, f.default)
            mask |= f.mask
    return value, mask


def sample_part(pattern: str) -> str:
    """A concrete part name that the pattern should match (e.g. STM32F401xE -> STM32F401RET6)."""
    return pattern.replace("x", "R") + "T6"


# -- table structure -----------------------------------------------------------------------------


def test_table_covers_the_required_dev_ids() -> None:
    required = {0x440, 0x444, 0x448, 0x410, 0x414, 0x422, 0x446, 0x423, 0x433, 0x413, 0x431, 0x441, 0x419,
                0x421, 0x452, 0x449, 0x451, 0x417, 0x416, 0x429, 0x437, 0x415, 0x470, 0x460, 0x469, 0x495,
                0x450, 0x483, 0x480, 0x500}
    assert required <= {c.dev_id for c in CHIPS}


def test_names_and_aliases_are_unique() -> None:
    names = Counter(p.lower() for c in CHIPS for p in (c.name, *c.aliases))
    assert [n for n, k in names.items() if k > 1] == []


@pytest.mark.parametrize("chip", MCUS, ids=ids(MCUS))
def test_flash_size_matches_the_size_code_in_the_name(chip: Chip) -> None:
    m = NAME_RE.match(chip.name)
    assert m, chip.name
    expected = SIZE_CODES[m.group(1)] * KIB
    for label, banks in all_layouts(chip):
        assert sum(b.size for b in banks) == expected, label


@pytest.mark.parametrize("chip", MCUS, ids=ids(MCUS))
def test_banks_are_sorted_and_do_not_overlap(chip: Chip) -> None:
    for label, banks in all_layouts(chip):
        assert banks, label
        assert banks[0].base == 0x0800_0000, label
        for a, b in zip(banks, banks[1:], strict=False):
            assert a.end <= b.base, label
        for bank in banks:
            assert all(r.size > 0 and r.count > 0 for r in bank.runs), label


@pytest.mark.parametrize("chip", MCUS, ids=ids(MCUS))
def test_write_unit_divides_every_sector(chip: Chip) -> None:
    assert chip.write_unit in (2, 4, 8, 16, 32)
    for label, banks in all_layouts(chip):
        for bank in banks:
            assert bank.base % chip.write_unit == 0
            for r in bank.runs:
                assert r.size % chip.write_unit == 0, label


@pytest.mark.parametrize("chip", CHIPS, ids=ids(list(CHIPS)))
def test_erased_value(chip: Chip) -> None:
    assert chip.erased_value == (0x00 if chip.family in ("L0", "L1") else 0xFF)


@pytest.mark.parametrize("chip", CHIPS, ids=ids(list(CHIPS)))
def test_memory_regions_are_sane(chip: Chip) -> None:
    rams = sorted(chip.ram, key=lambda r: r.start)
    for a, b in zip(rams, rams[1:], strict=False):
        assert a.end <= b.start, (a, b)
    assert len(chip.cores) == len(chip.access_ports)
    others = [r for r in (chip.system_memory, chip.option_bytes, chip.otp) if r is not None]
    for r in others:
        assert r.size > 0
        if chip.banks:
            assert r.end <= chip.flash_base or r.start >= chip.flash_end or not any(
                b.base <= r.start < b.end for b in chip.banks
            ), r
    bl = chip.bootloader
    assert bl.dfu == bool(bl.dfu_pins)
    if bl.id:
        assert chip.system_memory.contains(bl.id_address), hex(bl.id_address)


def test_alt_geometries_name_a_real_non_default_option() -> None:
    seen = 0
    for chip in CHIPS:
        for g in chip.alt_geometries:
            seen += 1
            f = chip.option_field(g.option)
            assert f is not None, (chip.name, g.option)
            assert g.value != f.default, (chip.name, g.option)
            assert g.size == chip.flash_size
    assert seen >= 8


# -- option fields -------------------------------------------------------------------------------


@pytest.mark.parametrize("chip", CHIPS, ids=ids(list(CHIPS)))
def test_option_fields_fit_their_registers(chip: Chip) -> None:
    names = [f.name.lower() for f in chip.option_fields]
    assert len(names) == len(set(names))
    addresses: dict[str, int] = {}
    for f in chip.option_fields:
        assert f.width >= 1 and f.shift >= 0 and f.shift + f.width <= 32, f.name
        assert 0 <= f.default < (1 << f.width), f.name
        for v, _ in (*f.values, *f.dangerous):
            assert 0 <= v < (1 << f.width), (f.name, v)
        assert addresses.setdefault(f.register, f.address) == f.address, f.register
    # fields of one register do not overlap
    by_register: dict[str, int] = {}
    for f in chip.option_fields:
        used = by_register.get(f.register, 0)
        assert used & f.mask == 0, f.name
        by_register[f.register] = used | f.mask


@pytest.mark.parametrize("chip", MCUS, ids=ids(MCUS))
def test_rdp_field(chip: Chip) -> None:
    rdp = chip.option_field("RDP")
    assert rdp is not None and rdp.width == 8
    if chip.family == "F1":
        assert rdp.default == 0xA5
        assert rdp.danger(0xCC) is None
    else:
        assert rdp.default == 0xAA
        reason = rdp.danger(0xCC)
        assert reason is not None and "permanently" in reason
        assert rdp.danger(0xAA) is None


def _chips(family: str, *names: str) -> list[Chip]:
    out = [c for c in CHIPS if c.family == family and (not names or any(c.name.startswith(n) for n in names))]
    assert out, (family, names)
    return out


@pytest.mark.parametrize(
    ("chips", "register", "factory"),
    [
        (_chips("F4"), "OPTCR", 0x0FFF_AAED),
        (_chips("F7", "STM32F722", "STM32F746"), "OPTCR", 0xC0FF_AAFD),
        (_chips("F7", "STM32F767"), "OPTCR", 0xFFFF_AAFD),
        (_chips("F7"), "OPTCR1", 0x0040_0080),
        (_chips("L4"), "OPTR", 0xFFEF_F8AA),
        (_chips("G4"), "OPTR", 0xFFEF_F8AA),
        (_chips("G0"), "OPTR", 0xFFFF_FEAA),
        (_chips("F0"), "OB_RDP_USER", 0x00FF_55AA),
        (_chips("F3"), "OB_RDP_USER", 0x00FF_55AA),
        (_chips("F1"), "OB_RDP_USER", 0x00FF_5AA5),
        (_chips("L0"), "OB_RDP", 0xFF55_00AA),
        (_chips("L0"), "OB_USER", 0x7F8F_8070),
        (_chips("H7", "STM32H745"), "OPTSR_PRG", 0x17C6_AAF0),
        (_chips("H7", "STM32H743", "STM32H750"), "OPTSR_PRG", 0x1006_AAF0),
        (_chips("H7", "STM32H743", "STM32H723", "STM32H7A3"), "BOOT_PRGR", 0x1FF0_0800),
        (_chips("H7", "STM32H745"), "BOOT7_PRGR", 0x1FF0_0800),
        (_chips("H7", "STM32H745"), "BOOT4_PRGR", 0x1000_0810),
    ],
    ids=lambda v: v if isinstance(v, str) else (hex(v) if isinstance(v, int) else None),
)
def test_field_defaults_rebuild_the_factory_word(chips: list[Chip], register: str, factory: int) -> None:
    for chip in chips:
        value, mask = assemble(chip, register)
        assert mask & 0xFF != 0 or mask & 0xFFFF_0000 != 0, (chip.name, register)
        assert value == factory & mask, (chip.name, register, hex(value), hex(factory & mask))


def test_rdp_is_covered_by_the_factory_words() -> None:
    # the masked comparison above must include the RDP byte for the RDP registers
    for chip in MCUS:
        rdp = chip.option_field("RDP")
        assert rdp is not None
        value, mask = assemble(chip, rdp.register)
        assert mask & rdp.mask == rdp.mask
        assert rdp.extract(value) == rdp.default


def test_h7_fields_write_prg_and_read_cur() -> None:
    for chip in _chips("H7"):
        rdp = chip.option_field("RDP")
        assert rdp is not None
        assert (rdp.register, rdp.address, rdp.current_address) == ("OPTSR_PRG", 0x5200_2020, 0x5200_201C)
        assert chip.option_bytes is None
        for f in chip.option_fields:
            assert f.register.endswith(("_PRG", "_PRGR")) and f.current_address is not None, f.name


def test_only_irreversible_or_harmful_values_are_dangerous() -> None:
    # ``dangerous`` values are refused without --allow-permanent: keep the list to what cannot be undone
    allowed = {("RDP", 0xCC), ("SECURITY", 1), ("IO_HSLV", 1), ("VDDMMC_HSLV", 1)}
    for chip in CHIPS:
        for f in chip.option_fields:
            for value, reason in f.dangerous:
                assert (f.name, value) in allowed, (chip.name, f.name, value)
                assert reason


def test_dual_core_h7_forbids_gating_both_cores() -> None:
    dual = [c for c in CHIPS if c.family == "H7" and c.dual_core]
    assert dual
    for chip in dual:
        assert chip.cores == ("cortex-m7", "cortex-m4")
        assert chip.access_ports == (0, 3)
        combos = [dict(fc.fields) for fc in chip.forbidden]
        assert {"BCM4": 0, "BCM7": 0} in combos
        for name, _ in chip.forbidden[0].fields:
            assert chip.option_field(name) is not None
        bcm7 = chip.option_field("BCM7")
        assert bcm7 is not None and bcm7.default == 1
        assert bcm7.address == 0x5200_2020 and bcm7.shift == 23
        assert bcm7.danger(0) is None  # M7 gated alone is recoverable through AP3; only both is refused
    for chip in CHIPS:
        if not chip.dual_core or chip.family != "H7":
            assert chip.option_field("BCM7") is None or chip.family == "MP1"


# -- known facts ---------------------------------------------------------------------------------


def test_f401re_board() -> None:
    chip = find_chip("nucleo-f401re")
    assert chip.flash_size == 512 * KIB
    assert chip.dev_id == 0x433
    assert [s.size // KIB for s in chip.sectors()] == [16, 16, 16, 16, 64, 128, 128, 128]


def test_f407_sector_4() -> None:
    s = find_chip("stm32f407vg").sectors()[4]
    assert (s.address, s.size, s.number) == (0x0801_0000, 64 * KIB, 4)
    assert find_chip("stm32f4-discovery").name == "STM32F407xG"


def test_f429_two_megabytes_is_dual_bank_with_snb_0x10() -> None:
    chip = find_chip("stm32f429zi")
    assert chip.dual_bank and chip.flash_size == 2 * 1024 * KIB
    bank2 = [s for s in chip.sectors() if s.bank == 1]
    assert bank2[0].address == 0x0810_0000 and bank2[0].number == 0x10
    assert bank2[-1].number == 0x1B
    one_mb = find_chip("stm32f429zg")
    assert not one_mb.dual_bank
    db = one_mb.with_options({"DB1M": 1})
    assert db.dual_bank and db.banks[1].base == 0x0808_0000 and db.banks[1].first_number == 0x10


def test_f767_single_bank_by_default_dual_with_ndbank_0() -> None:
    chip = find_chip("nucleo-f767zi")
    assert not chip.dual_bank
    assert [s.size // KIB for s in chip.sectors()] == [32] * 4 + [128] + [256] * 7
    dual = chip.with_options({"nDBANK": 0})
    assert dual.banks[1].base == 0x0810_0000 and dual.banks[1].first_number == 0x10
    assert [r.size // KIB for r in dual.banks[1].runs] == [16, 64, 128]
    assert chip.banks_for({"nDBANK": 1}) is chip.banks


def test_h743_banks() -> None:
    chip = find_chip("nucleo-h743zi2")
    assert chip.name == "STM32H743xI" and chip.write_unit == 32
    bank2 = chip.banks[1]
    assert bank2.base == 0x0810_0000 and bank2.first_number == 0
    assert [(r.size, r.count) for r in bank2.runs] == [(128 * KIB, 8)]
    g = find_chip("stm32h743vg")
    assert g.banks[1].base == 0x0810_0000 and g.banks[0].end == 0x0808_0000  # the hole


def test_h7a3_and_h723() -> None:
    a3 = find_chip("nucleo-h7a3zi-q")
    assert a3.write_unit == 16 and a3.banks[0].runs[0].size == 8 * KIB and a3.banks[0].runs[0].count == 128
    assert a3.flash_size_register == 0x08FF_F80C
    h723 = find_chip("nucleo-h723zg")
    assert len(h723.banks) == 1 and h723.flash_size == 1024 * KIB and h723.option_field("SWAP_BANK") is None


def test_l476_two_banks_of_2k_pages() -> None:
    chip = find_chip("nucleo-l476rg")
    assert [(b.base, b.size, b.first_number) for b in chip.banks] == [
        (0x0800_0000, 512 * KIB, 0), (0x0808_0000, 512 * KIB, 0)]
    assert {r.size for b in chip.banks for r in b.runs} == {2 * KIB}
    assert chip.write_unit == 8


def test_g071_pages_and_g474_bank2() -> None:
    g071 = find_chip("nucleo-g071rb")
    assert [(r.size, r.count) for r in g071.banks[0].runs] == [(2 * KIB, 64)]
    g474 = find_chip("nucleo-g474re")
    assert g474.banks[1].base == 0x0804_0000 and g474.banks[1].first_number == 0
    small = find_chip("stm32g474rb")
    assert small.banks[0].end == 0x0801_0000 and small.banks[1].base == 0x0804_0000
    single = g474.with_options({"DBANK": 0})
    assert len(single.banks) == 1 and single.banks[0].runs[0].size == 4 * KIB


def test_f103c8_and_f1_rdp() -> None:
    chip = find_chip("bluepill")
    assert chip.flash_size == 64 * KIB and chip.banks[0].runs[0].size == 1 * KIB
    assert chip.bootloader.uart_version == 0x22 and not chip.bootloader.dfu
    rdp = chip.option_field("RDP")
    assert rdp is not None and rdp.default == 0xA5


def test_mp157_has_no_flash() -> None:
    chip = find_chip("stm32mp157c-dk2")
    assert chip.flash_kind is FlashKind.NONE and chip.banks == () and chip.dev_id == 0x500
    assert chip.bootloader.dfu and chip.option_bytes is None


def test_l0_l1_geometry() -> None:
    l053 = find_chip("nucleo-l053r8")
    assert l053.banks[0].runs[0].size == 128 and l053.extra_value("eeprom_base") == 0x0808_0000
    l152 = find_chip("nucleo-l152re")
    assert l152.dev_id == 0x437 and l152.banks[1].base == 0x0804_0000


# -- lookups -------------------------------------------------------------------------------------


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_every_board_resolves(board: str) -> None:
    chip, part = resolve_part(board)
    assert part == BOARDS[board].upper()
    assert chip.matches(part)


@pytest.mark.parametrize(
    ("board", "row"),
    [
        ("nucleo-f401re", "STM32F401xE"),
        ("nucleo-f429zi", "STM32F429xI"),
        ("nucleo-f767zi", "STM32F767xI"),
        ("nucleo-g071rb", "STM32G071xB"),
        ("nucleo-l476rg", "STM32L476xG"),
        ("nucleo-h743zi", "STM32H743xI"),
        ("nucleo-h743zi2", "STM32H743xI"),
        ("nucleo-h755zi-q", "STM32H745xI"),
        ("nucleo-h745zi-q", "STM32H745xI"),
        ("nucleo-h723zg", "STM32H723xG"),
        ("stm32f4-discovery", "STM32F407xG"),
        ("bluepill", "STM32F103x8"),
        ("NUCLEO_F446RE", "STM32F446xE"),
        ("nucleo-wb55", "STM32WB55xG"),
        ("nucleo-l4r5zi", "STM32L4R5xI"),
    ],
)
def test_board_rows(board: str, row: str) -> None:
    assert find_chip(board).name == row


@pytest.mark.parametrize("chip", CHIPS, ids=ids(list(CHIPS)))
def test_every_pattern_resolves_to_its_own_row(chip: Chip) -> None:
    for pattern in (chip.name, *chip.aliases):
        assert find_chip(pattern) is chip
        assert find_chip(sample_part(pattern)) is chip
        assert find_chip(sample_part(pattern).lower()) is chip


def test_part_name_forms() -> None:
    assert resolve_part("stm32f401re") == (find_chip("STM32F401xE"), "STM32F401RE")
    assert resolve_part("STM32F401RET6")[1] == "STM32F401RET6"
    assert find_chip("f401re").name == "STM32F401xE"
    assert find_chip("stm32l152rbt6a").name == "STM32L152xBxxA"
    assert find_chip("stm32l152rbt6").name == "STM32L152xB"
    assert find_chip("STM32F405RGT6").name == "STM32F407xG"


def test_lookup_by_dev_id() -> None:
    assert find_chip("0x413").dev_id == 0x413
    assert find_chip("449").name == "STM32F746xG"
    assert find_chip("0x0451").name == "STM32F767xI"
    assert find_chip("0x450").name == "STM32H743xI"
    assert [c.name for c in chips_for_dev_id(0x419)] == ["STM32F429xE", "STM32F429xG", "STM32F429xI"]
    assert chips_for_dev_id(0x123) == []


@pytest.mark.parametrize("chip", CHIPS, ids=ids(list(CHIPS)))
def test_identify_tells_every_row_apart(chip: Chip) -> None:
    core = chip.cores[-1] if chip.dual_core else chip.cores[0]
    assert identify(chip.dev_id, chip.flash_size // KIB, core) is chip


def test_dev_id_flash_core_combinations_are_unique() -> None:
    keys = Counter((c.dev_id, c.flash_size, c.cores) for c in CHIPS)
    assert [k for k, n in keys.items() if n > 1] == []


def test_identify_rules() -> None:
    assert identify(0x450).name == "STM32H743xI"  # type: ignore[union-attr]
    assert identify(0x450, core="cortex-m7").name == "STM32H743xI"  # type: ignore[union-attr]
    assert identify(0x450, core="cortex-m4").name == "STM32H745xI"  # type: ignore[union-attr]
    assert identify(0x450, 1024, "Cortex-M4").name == "STM32H745xG"  # type: ignore[union-attr]
    assert identify(0x450, 1024).name == "STM32H743xG"  # type: ignore[union-attr]
    assert identify(0x419, 1024).name == "STM32F429xG"  # type: ignore[union-attr]
    assert identify(0x433, 384).name == "STM32F401xD"  # type: ignore[union-attr]
    assert identify(0x433, 0xFFFF).name == "STM32F401xE"  # type: ignore[union-attr]
    assert identify(0x410, 96).name == "STM32F103xB"  # type: ignore[union-attr]  # next larger row
    assert identify(0x411, core="cortex-m4").dev_id == 0x413  # type: ignore[union-attr]
    assert identify(0x413, core="cortex-m7") is None
    assert identify(0x123) is None
    assert identify(0x1000_6413) is not None  # REV_ID bits are ignored


def test_unknown_names_raise_with_suggestions() -> None:
    with pytest.raises(UnknownChipError) as e:
        find_chip("stm32f401zz")
    assert "did you mean" in e.value.message and "STM32F401" in e.value.message
    assert "\n" not in e.value.message
    with pytest.raises(UnknownChipError) as e:
        find_chip("nucleo-f401rf")
    assert "nucleo-f401re" in e.value.message
    with pytest.raises(UnknownChipError) as e:
        find_chip("stm32f401")  # no flash-size letter
    assert "STM32F401xE" in e.value.message
    with pytest.raises(UnknownChipError):
        find_chip("0x123")
    with pytest.raises(UnknownChipError):
        find_chip("")


def test_importing_the_package_does_not_load_the_table() -> None:
    code = "import sys, stflash.chips; print('stflash.chips.data' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
