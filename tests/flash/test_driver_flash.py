"""Flash drivers on simulated chips of every controller kind: erase, program, mass erase, and the
program set-up a loader relies on. What is asserted is what the flash holds afterwards."""

from __future__ import annotations

import random

import pytest

from stflash.chips.model import FlashKind
from stflash.errors import ImageDoesNotFitError, UsageError
from stflash.flash.drivers import (
    DwordDriver,
    FlashDriver,
    FpecDriver,
    H7Driver,
    PecrDriver,
    SectorDriver,
    driver_for,
)

from simaccess import SimAccess

# one part per controller kind (and per register variant inside a kind)
PARTS = [
    "stm32f103rc",  # F1 FPEC, 2 K pages
    "stm32f072rb",  # F0 FPEC
    "stm32f303re",  # F3 FPEC
    "stm32f401re",  # F4, one bank
    "stm32f429zi",  # F4, two banks (bank-2 SNB 0x10+)
    "stm32f767zi",  # F7
    "stm32l053r8",  # L0, erased = 0x00, 64-byte half pages
    "stm32l152re",  # L1, two banks, 128-byte half pages
    "stm32l476rg",  # L4, two banks (BKER)
    "stm32g071rb",  # G0 (CFGBSY)
    "stm32g0b1re",  # G0, two banks (BKER at bit 13)
    "stm32g474re",  # G4, two banks, bank 2 at 0x08040000
    "stm32wb55rg",  # WB, registers at 0x58004000, CPU2 secure area
    "stm32h743zi",  # H7, two banks with their own registers, 256-bit words
    "stm32h7a3zi",  # H7A3, 128-bit words, other CR layout
]
DUAL = [p for p in PARTS if p in ("stm32f429zi", "stm32l152re", "stm32l476rg", "stm32g0b1re", "stm32g474re",
                                  "stm32h743zi", "stm32h7a3zi")]


def seeded(part: str, seed: int = 5) -> tuple[SimAccess, FlashDriver]:
    """A chip whose flash holds random bytes (so that erased and kept bytes can be told apart)."""
    from stflash.chips.lookup import find_chip

    chip = find_chip(part)
    rnd = random.Random(seed)
    banks = [bytearray(rnd.randbytes(b.size)) for b in chip.banks]
    access = SimAccess.of(part, flash_banks=banks)
    return access, driver_for(access.chip.chip, access)


def fresh(part: str) -> tuple[SimAccess, FlashDriver]:
    access = SimAccess.of(part)
    return access, driver_for(access.chip.chip, access)


def flash(access: SimAccess, address: int, length: int) -> bytes:
    return access.chip.read_block(address, length)


def test_driver_class_follows_the_controller_kind() -> None:
    expected = {
        "stm32f103rc": FpecDriver, "stm32f401re": SectorDriver, "stm32f767zi": SectorDriver,
        "stm32l053r8": PecrDriver, "stm32l476rg": DwordDriver, "stm32g071rb": DwordDriver,
        "stm32g474re": DwordDriver, "stm32wb55rg": DwordDriver, "stm32h743zi": H7Driver,
    }
    for part, cls in expected.items():
        _, d = fresh(part)
        assert type(d) is cls, part


@pytest.mark.parametrize("part", PARTS)
def test_erase_one_sector_keeps_its_neighbours(part: str) -> None:
    access, d = seeded(part)
    sectors = d.chip.sectors()
    s = sectors[len(sectors) // 2]  # on dual-bank parts: the first sector of bank 2
    before, after = sectors[s.index - 1], sectors[s.index + 1]
    keep = flash(access, before.address, before.size), flash(access, after.address, after.size)
    d.erase_sector(s)
    assert flash(access, s.address, s.size) == bytes([d.erased]) * s.size
    assert (flash(access, before.address, before.size), flash(access, after.address, after.size)) == keep


@pytest.mark.parametrize("part", PARTS)
def test_program_random_data_across_sectors(part: str) -> None:
    access, d = fresh(part)
    rnd = random.Random(part)
    data = rnd.randbytes(3000)
    start = max(d.chip.sectors()[2].address - 1000, d.chip.flash_base + 0x1000 + 7)
    touched = [s for s in d.chip.sectors() if s.address < start + len(data) + 64 and s.end > start - 64]
    assert len(touched) >= 2
    d.erase_sectors(touched)
    d.program(start, data)
    assert flash(access, start, len(data)) == data
    # the bytes around the range stay erased
    assert flash(access, start - 64, 64) == bytes([d.erased]) * 64
    assert flash(access, start + len(data), 64) == bytes([d.erased]) * 64


@pytest.mark.parametrize("part", PARTS)
def test_unaligned_start_and_length_pad_with_the_erased_value(part: str) -> None:
    access, d = fresh(part)
    s = d.chip.sectors()[3]
    d.erase_sector(s)
    address = s.address + 0x41
    data = bytes([0x5A, 0x01, 0x80, 0x7F, 0x33])
    d.program(address, data)
    assert flash(access, address, len(data)) == data
    assert flash(access, address - 0x41, 0x41) == bytes([d.erased]) * 0x41
    assert flash(access, address + len(data), 64) == bytes([d.erased]) * 64
    # a second unaligned piece right after (in a fresh program unit) lands too
    d.program(address + 0x40 - 1, b"\x12")
    assert flash(access, address + 0x3F, 1) == b"\x12"


@pytest.mark.parametrize("part", DUAL)
def test_program_across_the_bank_boundary(part: str) -> None:
    access, d = fresh(part)
    bank1, bank2 = d.chip.banks
    last, first = d.chip.sector_at(bank1.end - 1), d.chip.sector_at(bank2.base)
    assert last is not None and first is not None
    d.erase_sectors([last, first])
    if bank1.end != bank2.base:  # a hole between the banks: the call is refused, nothing written
        with pytest.raises(ImageDoesNotFitError, match="not all inside the flash"):
            d.program(bank1.end - 16, bytes(range(32)))
        assert flash(access, bank1.end - 16, 16) == bytes([d.erased]) * 16
        return
    data = random.Random(1).randbytes(600)
    d.program(bank1.end - 300, data)
    assert flash(access, bank1.end - 300, 600) == data


@pytest.mark.parametrize("part", PARTS)
def test_mass_erase_whole_chip(part: str) -> None:
    access, d = seeded(part)
    d.mass_erase()
    for bank in d.chip.banks:
        got = flash(access, bank.base, bank.size)
        if d.chip.flash_kind is FlashKind.WB:
            # the CPU2 secure area (from SFSA, here the top 12 pages) is not the debugger's to erase
            secure = bank.end - 12 * 4096
            assert got[: secure - bank.base] == b"\xff" * (secure - bank.base)
            assert got[secure - bank.base :] != b"\xff" * (bank.end - secure)
        else:
            assert got == bytes([d.erased]) * bank.size


@pytest.mark.parametrize("part", DUAL)
def test_mass_erase_one_bank(part: str) -> None:
    access, d = seeded(part)
    bank1, bank2 = d.chip.banks
    keep = flash(access, bank1.base, bank1.size)
    d.mass_erase(bank=1)
    assert flash(access, bank2.base, bank2.size) == bytes([d.erased]) * bank2.size
    assert flash(access, bank1.base, bank1.size) == keep
    d.mass_erase(bank=0)
    assert flash(access, bank1.base, bank1.size) == bytes([d.erased]) * bank1.size


def test_no_such_bank() -> None:
    _, d = fresh("stm32f401re")
    with pytest.raises(UsageError, match="no bank 2"):
        d.mass_erase(bank=1)


@pytest.mark.parametrize("part", PARTS)
def test_program_setup_lets_a_loader_stream_units(part: str) -> None:
    """What a loader on the target does with ProgramSetup, played through the probe: store
    ``unit`` bytes with ``width``-byte stores, poll ``sr`` until ``busy_mask`` clears, check
    ``error_mask``."""
    access, d = fresh(part)
    sectors = d.chip.sectors()
    s = sectors[len(sectors) // 2 + 1]
    d.erase_sector(s)
    setup = d.program_setup(s.address)
    assert setup.erased == access.chip.chip.erased_value
    assert setup.unit % setup.width == 0
    data = random.Random(2).randbytes(4 * setup.unit)
    for off in range(0, len(data), setup.unit):
        unit = data[off : off + setup.unit]
        if setup.width == 2:
            for i in range(0, len(unit), 2):
                access.write16(s.address + off + i, int.from_bytes(unit[i : i + 2], "little"))
        else:
            access.write_block(s.address + off, unit)
        status = access.read32(setup.sr)
        while status & setup.busy_mask:
            access.wait(10e-6)
            status = access.read32(setup.sr)
        assert not status & setup.error_mask, hex(status)
    d.program_end(s.address)
    assert flash(access, s.address, len(data)) == data


@pytest.mark.parametrize("part", ["stm32f401re", "stm32l476rg", "stm32h743zi", "stm32l053r8", "stm32f103rc"])
def test_lock_and_unlock_never_trip_the_key_lockout(part: str) -> None:
    """Keying an unlocked register locks it until reset (and faults): the driver reads LOCK first."""
    access, d = fresh(part)
    d.unlock()
    d.unlock()
    d.lock()
    d.lock()
    d.unlock()
    s = d.chip.sectors()[1]
    d.erase_sector(s)
    d.program(s.address, b"\x11" * 16)
    assert flash(access, s.address, 16) == b"\x11" * 16


@pytest.mark.parametrize("psize", [8, 16, 32, 64])
def test_f4_every_parallelism(psize: int) -> None:
    access = SimAccess.of("stm32f401re")
    d = driver_for(access.chip.chip, access, psize=psize)
    assert d.unit == psize // 8
    s = d.chip.sectors()[1]
    d.erase_sector(s)
    data = random.Random(psize).randbytes(203)
    d.program(s.address + 3, data)
    assert flash(access, s.address + 3, len(data)) == data


def test_h7_bank2_uses_its_own_registers() -> None:
    """Bank 2 of an H7 is erased and programmed through KEYR2/CR2/SR2 (+0x100): with bank 1 locked
    and its registers untouched, bank 2 still works."""
    access, d = fresh("stm32h743zi")
    s = d.chip.sectors()[9]  # bank 2, sector 1
    assert s.bank == 1 and s.number == 1
    d.lock()
    d.erase_sector(s)
    d.program(s.address, b"\xA5" * 64)
    assert flash(access, s.address, 64) == b"\xA5" * 64
    assert access.read32(0x5200_200C) & 1  # FLASH_CR1 still locked
    assert not access.read32(0x5200_210C) & 1  # FLASH_CR2 was unlocked


def test_f1_xl_density_drives_bank_2_through_its_own_registers() -> None:
    """The chip table has no XL-density F103 row yet; built from the F103xE row with the XL
    layout (two 512 K banks, bank 2 at 0x08080000, its KEYR2/SR2/CR2/AR2 at +0x40)."""
    import dataclasses

    from stflash.chips.data.common import uniform
    from stflash.chips.lookup import find_chip
    from stflash.sim.chip import SimChip

    row = find_chip("stm32f103ze")
    xl = dataclasses.replace(row, name="STM32F103xG", dev_id=0x430, banks=(
        uniform(0x0800_0000, 2048, 512 * 1024), uniform(0x0808_0000, 2048, 512 * 1024, first_number=256)))
    access = SimAccess(SimChip(xl))
    d = driver_for(xl, access)
    d.lock()
    s = xl.sectors()[300]
    assert s.bank == 1
    d.erase_sector(s)
    d.program(0x0807_FFFC, b"\x01\x02\x03\x04\x05\x06\x07\x08")  # across the two banks
    assert access.chip.read_block(0x0807_FFFC, 8) == b"\x01\x02\x03\x04\x05\x06\x07\x08"
    d.program(s.address, b"\x99" * 6)
    assert access.chip.read_block(s.address, 6) == b"\x99" * 6
    assert not access.read32(0x4002_2050) & 0x80  # CR2 unlocked by the driver
    d.mass_erase(bank=1)
    assert access.chip.read_block(0x0808_0000, 4) == b"\xff" * 4
    assert access.chip.read_block(0x0807_FFFC, 4) == b"\x01\x02\x03\x04"
