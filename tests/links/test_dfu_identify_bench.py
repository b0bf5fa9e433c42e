"""Parts whose DFU bootloaders show the same memory map: told apart by what the ROM lets a host read
(the bootloader id byte at the end of system memory), or reported as every part they could be."""

from __future__ import annotations

import pytest

from stflash.chips.lookup import find_chip
from stflash.links.dfu.identify import shared_name, tell_apart

SAME_MAP = "the DFU bootloader does not tell them apart"


@pytest.mark.parametrize("part, chip, how", [
    ("nucleo-f401re", "STM32F401xE", "0xd1 at 0x1fff76de"),
    ("stm32f411re", "STM32F411xE", "0xd0 at 0x1fff76de"),
    ("nucleo-f446re", "STM32F446xE", "0x90 at 0x1fff76de"),
    ("stm32f401rc", "STM32F401xC", "0xd1"),
    ("stm32f411rc", "STM32F411xC", "0xd0"),
    ("stm32g0b1re", "STM32G0B1xE", "0x92 at 0x1fff9ffe"),
    ("stm32g474re", "STM32G474xE", "0xd5 at 0x1fff6ffe"),
    ("stm32f072rb", "STM32F072xB", "0xa1"),
    ("stm32f303cb", "STM32F303xB", "0x41"),
    ("stm32f746zg", "STM32F746xG", "0x90"),
])
def test_same_map_told_apart_by_the_bootloader_id(part: str, chip: str, how: str, bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench(part)
    r = run_cli("--json", "probe", "-c", "dfu")
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert r.json["chip"] == chip
    assert obs["same_memory_map"], "the memory map alone fits more than one part"
    assert how in obs["told_apart_by"] and "AN2606" in obs["told_apart_by"]
    assert r.json["dev_id"] == find_chip(chip).dev_id


@pytest.mark.parametrize("part, shown", [
    ("stm32f412ze", "STM32F412xE/F429xE"),
    ("stm32f429ze", "STM32F412xE/F429xE"),
    ("nucleo-f412zg", "STM32F412xG/F429xG"),
    ("nucleo-h743zi", "STM32H743xI/H745xI"),
])
def test_what_nothing_tells_apart_is_reported_as_all_of_it(part: str, shown: str, bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench(part)
    r = run_cli("--json", "probe", "-c", "dfu")
    assert r.code == 0, r.err
    assert r.json["chip"] == shown and SAME_MAP in r.json["description"]
    assert "dev_id" not in r.json or shown.startswith("STM32H7")  # H743/H745 share DEV_ID 0x450
    r = run_cli("probe", "-c", "dfu")
    assert f"chip: {shown}" in r.out


def test_options_where_the_candidates_differ_are_not_written_blind(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench("nucleo-h743zi")
    r = run_cli("ob", "set", "BOOT_ADD0=0x1FF0", "-c", "dfu")  # the H745 keeps its M7 boot address elsewhere
    assert r.code == 13
    assert "does not tell STM32H743xI from STM32H745xI" in r.err and "-c stlink" in r.err
    r = run_cli("ob", "set", "nRST_STOP_D1=0", "-c", "dfu")  # the same bits on both: written
    assert r.code == 0, r.err


def test_a_field_only_some_candidates_have_is_not_offered(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench("stm32f429ze")
    r = run_cli("ob", "set", "BFB2=1", "-c", "dfu")  # F429 only: the F412 reading of the map has no BFB2
    assert r.code == 2 and "STM32F412xE/F429xE" in r.err


def test_read_protection_leaves_the_candidates(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench("stm32f411re", "rdp1")
    r = run_cli("--json", "probe", "-c", "dfu")
    assert r.code == 0 and r.json["rdp_level"] == 1
    assert r.json["chip"].startswith("STM32F401xE/F411xE") and "told_apart_by" not in r.json["observations"]


# -- tell_apart without a bench: what each kind of answer leads to ------------------------------------
F4_512K = [find_chip(n) for n in ("STM32F401xE", "STM32F411xE", "STM32F412xE", "STM32F429xE", "STM32F446xE")]


def reader(memory: dict[int, bytes]):  # type: ignore[no-untyped-def]
    asked: list[int] = []

    def read(address: int, length: int) -> bytes | None:
        asked.append(address)
        data = memory.get(address)
        return None if data is None else data[:length]

    return read, asked


def test_a_readable_device_id_decides() -> None:
    read, asked = reader({0xE004_2000: (0x1000_6441).to_bytes(4, "little")})
    left, how = tell_apart(F4_512K, read)
    assert [c.name for c in left] == ["STM32F412xE"] and how is not None and "0x441" in how
    assert asked == [0xE004_2000]


def test_an_id_byte_shared_by_two_rows_keeps_both() -> None:
    read, asked = reader({0x1FFF_76DE: b"\x91\x00"})
    left, how = tell_apart(F4_512K, read)
    assert [c.name for c in left] == ["STM32F412xE", "STM32F429xE"] and "0x91" in (how or "")
    assert asked.count(0x1FFF_76DE) == 1, "one read per address"
    named = shared_name(left)
    assert named.name == "STM32F412xE/F429xE" and SAME_MAP in named.description
    assert named.sectors() == left[0].sectors()


@pytest.mark.parametrize("memory", [{}, {0x1FFF_76DE: b"\x70\x00"}])
def test_refused_reads_or_an_unknown_rom_guess_nothing(memory: dict[int, bytes]) -> None:
    left, how = tell_apart(F4_512K, reader(memory)[0])
    assert left == F4_512K and how is None
