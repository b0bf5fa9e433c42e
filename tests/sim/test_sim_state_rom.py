"""Saving/restoring a bench chip, and the ROM-level helpers the bootloader simulators use."""

from __future__ import annotations

import json

import pytest

from stflash.sim.chip import SimChip
from stflash.sim.faults import BusFault, SimStateError

from sim_helpers import make, part

F4 = 0x4002_3C00
L4 = 0x4002_2000
MS, S = 1_000_000, 1_000_000_000


def reload(sim: SimChip) -> SimChip:
    """What the persistence layer will do: JSON for the state, raw bytes for the flash."""
    text = json.dumps(sim.to_state())
    images = [bytearray(bytes(b)) for b in sim.flash_banks]
    return SimChip.from_state(sim.chip, json.loads(text), images)


def test_state_round_trip_keeps_locks_busy_operations_and_content() -> None:
    sim = make("stm32f401re", seed=7)
    sim.write32(F4 + 0x04, 0x4567_0123)
    sim.write32(F4 + 0x04, 0xCDEF_89AB)
    sim.write32(F4 + 0x10, 0x201)
    sim.write32(0x0800_0000, 0x1234_5678)
    sim.write32(F4 + 0x10, 0x202 | (5 << 3) | (1 << 16))  # sector 5 erase under way (1 s)
    again = reload(sim)
    assert again.clock.now == sim.clock.now
    assert again.read32(F4 + 0x0C) & (1 << 16)  # still busy
    assert not again.read32(F4 + 0x10) & (1 << 31)  # still unlocked
    assert again.read32(0x0800_0000) == 0x1234_5678
    assert again.read_block(0x1FFF_7A10, 12) == sim.read_block(0x1FFF_7A10, 12)
    again.wait_idle()
    assert not again.read32(F4 + 0x0C) & (1 << 16)


def test_state_keeps_a_frozen_key_and_option_values() -> None:
    sim = make("stm32l476rg")
    with pytest.raises(BusFault):
        sim.write32(L4 + 0x08, 0x1111_1111)
    sim.set_option("RDP", 0xBB)
    again = reload(sim)
    with pytest.raises(BusFault):
        again.write32(L4 + 0x08, 0x4567_0123)  # locked until reset, across processes too
    assert again.rdp_level == 1
    again.reset("system")
    again.write32(L4 + 0x08, 0x4567_0123)
    again.write32(L4 + 0x08, 0xCDEF_89AB)


def test_state_keeps_ecc_history() -> None:
    sim = make("stm32l476rg")
    sim.write32(L4 + 0x08, 0x4567_0123)
    sim.write32(L4 + 0x08, 0xCDEF_89AB)
    sim.write32(L4 + 0x14, 1)
    sim.write32(0x0800_0000, 0xFFFF_FFFF)
    sim.write32(0x0800_0004, 0xFFFF_FFFF)  # programmed, although it still reads erased
    sim.wait_idle()
    again = reload(sim)
    again.write32(0x0800_0000, 1)
    again.write32(0x0800_0004, 1)
    assert again.read32(L4 + 0x10) & (1 << 3)  # PROGERR


def test_state_keeps_the_bank_layout() -> None:
    sim = make("stm32f767zi")
    sim.set_option("nDBANK", 0)
    assert len(sim.banks) == 2
    again = reload(sim)
    assert [b.base for b in again.banks] == [0x0800_0000, 0x0810_0000]


def test_state_for_another_chip_is_refused() -> None:
    sim = make("stm32f401re")
    with pytest.raises(SimStateError):
        SimChip.from_state(part("stm32f411re"), sim.to_state(), sim.flash_banks)


def test_flash_can_start_from_given_images() -> None:
    chip = part("stm32g071rb")
    image = bytearray(b"\xff" * chip.flash_size)
    image[:4] = b"\x00\x10\x00\x20"
    sim = SimChip(chip, flash_banks=[image])
    assert sim.read32(0x0800_0000) == 0x2000_1000
    assert not sim.boots_bootloader(False)  # not empty
    assert sim.flash_banks[0] is image


# -- ROM helpers ----------------------------------------------------------------------------------


def test_rom_erase_and_program_take_datasheet_time() -> None:
    sim = make("stm32f401re")
    t0 = sim.clock.now
    out = sim.rom_erase([5])
    assert out.ok and out.duration_ns == 1_000 * MS  # 128 K sector at x32
    assert sim.clock.now - t0 == 1_000 * MS
    out = sim.rom_program(0x0800_0001, b"\x01\x02\x03")  # padded to whole words with 0xFF
    assert out.ok and out.duration_ns == 16_000
    assert sim.read32(0x0800_0000) == 0x0302_01FF
    assert sim.rom_mass_erase().duration_ns == 8 * S


def test_rom_program_obeys_the_family_rules() -> None:
    l4 = make("stm32l476rg")
    assert l4.rom_program(0x0800_0000, b"\x11" * 8).ok
    out = l4.rom_program(0x0800_0000, b"\x22" * 8)
    assert not out.ok and out.error == "PROGERR" and out.address == 0x0800_0000
    h7 = make("stm32h743zi")
    out = h7.rom_program(0x0800_0000, b"\xaa" * 40)
    assert out.ok and out.duration_ns == 2 * 100_000
    assert h7.read_block(0x0800_0000, 64) == b"\xaa" * 40 + b"\xff" * 24


def test_rom_operations_refused_by_protection() -> None:
    sim = make("stm32f401re")
    sim.set_option("nWRP", 0xFE)
    sim.reset("system")
    out = sim.rom_erase([0])
    assert not out.ok and out.error == "WRPERR"
    assert not sim.rom_mass_erase().ok
    sim.set_option("RDP", 0x55)
    sim.reset("power")
    assert sim.rom_program(0x0800_8000, b"\0" * 4).error == "WRPERR"
    with pytest.raises(BusFault):
        sim.rom_read(0x0800_0000, 4)
    assert sim.rom_read(0x2000_0000, 4) == bytes(4)


def test_rom_readout_unprotect_mass_erases_and_resets() -> None:
    sim = make("stm32f401re")
    sim.rom_program(0x0800_0000, b"\x12\x34\x56\x78")
    sim.set_option("RDP", 0xBB)
    sim.reset("power", boot0=True)
    assert sim.boot_source == "bootloader"
    resets = sim.reset_count
    out = sim.rom_change_options({"RDP": 0xAA})
    assert out.ok and out.duration_ns == 250 * MS + 8 * S
    assert sim.reset_count == resets + 1
    assert sim.rdp_level == 0
    assert sim.read32(0x0800_0000) == 0xFFFF_FFFF


def test_rom_write_protect_via_options_on_l0() -> None:
    sim = make("stm32l053r8")
    out = sim.rom_change_options({"RDP": 0xBB})
    assert out.ok and sim.rdp_level == 1
    assert sim.rom_program(0x0800_0000, b"\1\2\3\4").error == "WRPERR"


def test_rom_writes_ram_directly() -> None:
    sim = make("stm32g071rb")
    assert sim.rom_program(0x2000_2000, b"hello").ok
    assert sim.rom_read(0x2000_2000, 5) == b"hello"
