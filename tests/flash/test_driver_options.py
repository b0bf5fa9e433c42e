"""Option bytes through the drivers: every field reads as the chip holds it, a change touches only
the named field and survives the family's reload, RDP goes 0 -> 1 -> 0 with the mass erase the
regression implies, and bank layouts follow DB1M/DBANK."""

from __future__ import annotations

import random

import pytest

from stflash.errors import ProtectedError, UsageError
from stflash.flash.drivers import FlashDriver, driver_for
from stflash.sim.faults import BusFault

from simaccess import SimAccess


def fresh(part: str, **kwargs: object) -> tuple[SimAccess, FlashDriver]:
    access = SimAccess.of(part, **kwargs)
    return access, driver_for(access.chip.chip, access)


# part, field, new value, how the options get applied
CHANGES = [
    ("stm32f103rc", "DATA0", 0x5A, "system"),  # F1: no OBL_LAUNCH, options load at reset
    ("stm32f103rc", "nRST_STOP", 0, "system"),
    ("stm32f072rb", "nRST_STOP", 0, "obl"),
    ("stm32f303re", "DATA1", 0x3C, "obl"),
    ("stm32f401re", "BOR_LEV", 1, "system"),
    ("stm32f429zi", "nWRP_BANK2", 0xFFE, "system"),  # OPTCR1, written before OPTCR/OPTSTRT
    ("stm32f767zi", "BOOT_ADD0", 0x0081, "system"),
    ("stm32l053r8", "BOR_LEV", 9, "obl"),
    ("stm32l152re", "nRST_STOP", 0, "obl"),
    ("stm32l476rg", "BOR_LEV", 2, "obl"),
    ("stm32g071rb", "nRST_STOP", 0, "obl"),
    ("stm32g474re", "BOR_LEV", 3, "obl"),
    ("stm32wb55rg", "nRST_STDBY", 0, "obl"),
    ("stm32h743zi", "BOOT_ADD0", 0x0801, "system"),
    ("stm32h745zi", "BCM4", 0, "system"),  # the M4 stays clock-gated after the reset
    ("stm32h7a3zi", "BOR_LEV", 2, "system"),
]


@pytest.mark.parametrize("part", sorted({c[0] for c in CHANGES}))
def test_read_options_equals_what_the_chip_holds(part: str) -> None:
    access, d = fresh(part)
    assert d.read_options() == access.chip.option_values()
    assert set(d.read_options()) == {f.name for f in d.chip.option_fields}


@pytest.mark.parametrize(("part", "name", "value", "reload"), CHANGES)
def test_write_one_field(part: str, name: str, value: int, reload: str) -> None:
    access, d = fresh(part)
    before = access.chip.option_values()
    assert before[name] != value
    resets = access.chip.reset_count
    result = d.write_options({name: value}, verify=True)
    assert result.changed == {name: value}
    assert result.reset == reload and result.reconnect == (reload == "obl")
    assert not result.erased
    assert access.chip.reset_count == resets + 1  # the reload reset the chip once
    assert access.chip.option_values() == {**before, name: value}
    assert d.read_options() == {**before, name: value}


def test_unchanged_values_do_nothing() -> None:
    access, d = fresh("stm32f103rc")
    resets, n = access.chip.reset_count, access.transactions
    result = d.write_options({"RDP": 0xA5, "DATA0": 0xFF})
    assert result.changed == {} and result.reset is None
    assert access.chip.reset_count == resets
    assert access.transactions - n < 10  # only the option area was read


def test_store_without_applying() -> None:
    access, d = fresh("stm32l476rg")
    result = d.write_options({"BOR_LEV": 4}, apply=False)
    assert result.reset is None
    assert access.chip.option("BOR_LEV") == 0  # stored, not loaded yet
    assert access.read32(0x4002_2014) & (3 << 30) == 3 << 30  # LOCK and OPTLOCK set again
    access.chip.reset("power")
    assert access.chip.option("BOR_LEV") == 4


def test_unknown_field_and_value_too_wide() -> None:
    _, d = fresh("stm32f401re")
    with pytest.raises(UsageError, match="no option field 'BOOT_ADD0'"):
        d.write_options({"BOOT_ADD0": 1})
    with pytest.raises(UsageError, match="does not fit"):
        d.write_options({"BOR_LEV": 4})


def test_f1_option_change_rewrites_the_area_with_complements() -> None:
    access, d = fresh("stm32f103rc")
    d.write_options({"WRP3": 0x7F, "DATA0": 0x12})
    raw = access.chip.read_block(0x1FFF_F800, 16)
    for i in range(0, 16, 2):
        assert raw[i] ^ raw[i + 1] == 0xFF, raw.hex()
    assert raw[0] == 0xA5 and raw[4] == 0x12 and raw[14] == 0x7F


def _fill(access: SimAccess, d: FlashDriver) -> bytes:
    s = d.chip.sectors()[1]
    d.erase_sector(s)
    data = random.Random(4).randbytes(256)
    d.program(s.address, data)
    assert access.chip.read_block(s.address, 256) == data
    return data


@pytest.mark.parametrize(("part", "reload"), [
    ("stm32f401re", "system"),
    ("stm32l476rg", "obl"),
    ("stm32g071rb", "obl"),
    ("stm32f072rb", "obl"),
    ("stm32l053r8", "obl"),
    ("stm32h743zi", "system"),
])
def test_rdp_0_1_0(part: str, reload: str) -> None:
    access, d = fresh(part)
    _fill(access, d)
    s = d.chip.sectors()[1]
    result = d.write_options({"RDP": 0xBB})
    assert result.reset == reload and not result.erased
    assert access.chip.rdp_level == 1 and d.rdp_level() == 1
    with pytest.raises(BusFault, match="read-out protection"):
        access.read_block(s.address, 16)  # level 1 with a debugger attached: no flash reads
    with pytest.raises(ProtectedError, match="RDP level 1"):
        d.erase_sector(s)
    begin = access.chip.clock.now
    result = d.regress_rdp()
    took = (access.chip.clock.now - begin) / 1e9
    assert result.erased and result.reset == reload
    assert access.chip.rdp_level == 0 and d.rdp_level() == 0
    for bank in d.chip.banks:
        assert access.read_block(bank.base, bank.size) == bytes([d.erased]) * bank.size
    # the regression waited for the mass erase it triggered, and not for the whole timeout
    assert took < d.limits.regression_s()
    # flash is usable again
    d.program(s.address, b"\x01\x02\x03\x04" * 4)
    assert access.read_block(s.address, 16) == b"\x01\x02\x03\x04" * 4


def test_f1_regression() -> None:
    access, d = fresh("stm32f103rc")
    _fill(access, d)
    d.write_options({"RDP": 0x00, "DATA1": 0x77})
    assert access.chip.rdp_level == 1
    result = d.regress_rdp()
    assert result.erased and result.reset == "system"
    assert access.chip.rdp_level == 0
    assert access.chip.option("DATA1") == 0x77  # the other option bytes came back
    assert access.read_block(0x0800_0000, 4096) == b"\xff" * 4096


@pytest.mark.parametrize(("part", "name", "value", "banks", "reload"), [
    ("stm32f429zg", "DB1M", 1, 2, "system"),  # 1 MB F42x: two 512 K banks, bank 2 from SNB 0x10
    ("stm32f767zi", "nDBANK", 0, 2, "system"),
    ("stm32g474re", "DBANK", 0, 1, "obl"),
    ("stm32l476rc", "DUALBANK", 0, 1, "obl"),
])
def test_bank_layout_follows_the_options(part: str, name: str, value: int, banks: int, reload: str) -> None:
    access, d = fresh(part)
    result = d.write_options({name: value})
    assert result.reset == reload
    d.refresh_geometry()  # after a reconnect (OBL) the caller asks; after a system reset it is done
    assert len(d.chip.banks) == banks
    assert [(b.base, b.size) for b in d.chip.banks] == [(b.base, b.size) for b in access.chip.banks]
    last = d.chip.sectors()[-1]
    d.erase_sector(last)
    d.program(last.address + last.size - 8, b"\x5A" * 8)
    assert access.chip.read_block(last.address + last.size - 8, 8) == b"\x5A" * 8
    assert access.chip.read_block(last.address, 8) == b"\xff" * 8
    d.mass_erase(bank=banks - 1)
    assert access.chip.read_block(last.address + last.size - 8, 8) == b"\xff" * 8


def test_h7_dual_core_boot_address_of_the_m4() -> None:
    access, d = fresh("stm32h745zi")
    before = access.chip.option_values()
    d.write_options({"BOOT_CM4_ADD0": 0x0812})
    assert access.chip.option_values() == {**before, "BOOT_CM4_ADD0": 0x0812}


def test_fpec_any_option_change_at_level_1_wipes_the_flash() -> None:
    """F0/F1/F3 erase the option page for every change, and erasing it under read protection
    mass-erases the flash: the driver says so (the caller must ask first)."""
    access, d = fresh("stm32f072rb")
    _fill(access, d)
    d.write_options({"RDP": 0xBB})
    result = d.write_options({"DATA0": 0x11})
    assert result.erased
    assert access.chip.rdp_level == 1 and access.chip.option("DATA0") == 0x11
    assert access.chip.banks[0].data[:4096] == b"\xff" * 4096
