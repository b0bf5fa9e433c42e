"""What the drivers say when the flash refuses: programming over data, write-protected sectors,
the CPU2 area of a WB, a controller that never finishes, and how much of a failed program call
is known to be written."""

from __future__ import annotations

import random

import pytest

from stflash.errors import (
    ImageDoesNotFitError,
    LinkError,
    OperationTimeoutError,
    ProtectedError,
    StflashError,
)
from stflash.flash.drivers import FlashDriver, driver_for

from simaccess import SimAccess


def fresh(part: str, **kwargs: object) -> tuple[SimAccess, FlashDriver]:
    access = SimAccess.of(part, **kwargs)
    return access, driver_for(access.chip.chip, access)


# Controllers that refuse to program a location that is not erased (F2/F4/F7 AND the new bits
# into the cell and L1 ORs them in, both by design, so they have nothing to report).
NOT_ERASED = [
    ("stm32f103rc", "PGERR"),
    ("stm32f072rb", "PGERR"),
    ("stm32l053r8", "NOTZEROERR"),
    ("stm32l476rg", "PROGERR"),
    ("stm32g071rb", "PROGERR"),
    ("stm32g474re", "PROGERR"),
    ("stm32wb55rg", "PROGERR"),
    ("stm32h743zi", "not erased"),
    ("stm32h7a3zi", "not erased"),
]


@pytest.mark.parametrize(("part", "flag"), NOT_ERASED)
def test_programming_over_data_names_the_flag_and_the_place(part: str, flag: str) -> None:
    access, d = fresh(part)
    s = d.chip.sectors()[2]
    area = [x for x in d.chip.sectors() if s.address <= x.address < s.address + 1024]
    d.erase_sectors(area)
    first = bytes(range(1, 65))
    d.program(s.address + 256, first)
    data = random.Random(3).randbytes(1024)
    with pytest.raises(StflashError, match=flag) as info:
        d.program(s.address, data)  # 256 bytes of erased flash, then the programmed part
    assert f"{s.address + 256:#010x}" in info.value.message
    assert info.value.written_upto == 256
    assert access.chip.read_block(s.address, 256) == data[:256]
    assert access.chip.read_block(s.address + 256, 64) == first  # untouched
    # the controller is usable again right away
    d.erase_sectors(area)
    d.program(s.address, data)
    assert access.chip.read_block(s.address, len(data)) == data


def _protect(part: str, access: SimAccess) -> int:
    """Write-protect one sector of the simulated chip (as the option bytes would); return its index."""
    ctl = access.chip.controller
    assert ctl is not None
    if part == "stm32f103rc":
        access.chip.set_option("WRP0", 0xFD)  # bit 1: pages 2-3 (2 pages per bit)
        return 2
    if part in ("stm32f401re", "stm32f767zi"):
        access.chip.set_option("nWRP", 0xFF & ~(1 << 3))
        return 3
    if part == "stm32l053r8":
        assert ctl.poke_option(0x1FF8_0008, 0, 16, 0x0001)  # WRP bit 0 = first 4 K = pages 0-31
        return 2
    if part in ("stm32l476rg", "stm32g071rb"):
        assert ctl.poke_option(0x4002_202C, 0, 32, 2 | 2 << 16)  # WRP1AR: pages 2..2
        return 2
    if part == "stm32h743zi":
        assert ctl.poke_option(0x5200_2038, 0, 32, 0xFF & ~(1 << 3))  # WPSN_CUR1: sector 3
        return 3
    raise AssertionError(part)


@pytest.mark.parametrize(
    "part", ["stm32f103rc", "stm32f401re", "stm32f767zi", "stm32l053r8", "stm32l476rg", "stm32g071rb", "stm32h743zi"]
)
def test_write_protected_sector(part: str) -> None:
    access, d = fresh(part)
    index = _protect(part, access)
    s = d.chip.sectors()[index]
    before = access.chip.read_block(s.address, 64)
    with pytest.raises(ProtectedError, match=rf"^WRP\w*ERR: \w+ {index} at {s.address:#010x} is write-protected"):
        d.erase_sector(s)
    with pytest.raises(ProtectedError, match="write-protected") as info:
        d.program(s.address, b"\x00\x11\x22\x33" * 16)
    assert info.value.written_upto == 0
    assert access.chip.read_block(s.address, 64) == before
    # the neighbour is not protected
    other = d.chip.sectors()[index + 2 if part != "stm32l053r8" else 40]
    d.erase_sector(other)
    d.program(other.address, b"\x42" * 8)
    assert access.chip.read_block(other.address, 8) == b"\x42" * 8


def test_the_brief_example_message() -> None:
    access, d = fresh("stm32f401re")
    _protect("stm32f401re", access)
    with pytest.raises(ProtectedError) as info:
        d.erase_sector(d.chip.sectors()[3])
    assert info.value.message.startswith("WRPERR: sector 3 at 0x0800c000 is write-protected")


def test_program_into_a_protected_sector_reports_what_landed_before_it() -> None:
    access, d = fresh("stm32f401re")
    _protect("stm32f401re", access)
    s2, s3 = d.chip.sectors()[2:4]
    d.erase_sector(s2)
    data = random.Random(9).randbytes(3000)
    start = s3.address - 2048
    with pytest.raises(ProtectedError, match="WRPERR") as info:
        d.program(start, data)
    assert info.value.written_upto == 2048
    assert access.chip.read_block(start, 2048) == data[:2048]


def test_wb_cpu2_area_is_named() -> None:
    access, d = fresh("stm32wb55rg")
    top = d.chip.sectors()[-1]
    with pytest.raises(ProtectedError, match="CPU2 secure area"):
        d.erase_sector(top)


def test_outside_the_flash_nothing_is_touched() -> None:
    access, d = fresh("stm32h743zg")  # 1 MB: a hole between 0x08080000 and bank 2 at 0x08100000
    n = access.transactions
    with pytest.raises(ImageDoesNotFitError, match="0x08080000"):
        d.program(0x0808_0000, b"\x00" * 32)
    with pytest.raises(ImageDoesNotFitError):
        d.program(0x0800_0000 - 4, b"\x00" * 8)
    assert access.transactions == n


class DyingAccess(SimAccess):
    """A probe that leaves the USB bus after ``budget`` writes into the flash: from then on every
    access fails, the driver's clean-up included."""

    budget = 1 << 30

    def _tick(self, nbytes: int = 4) -> None:
        if self.budget < 0:
            raise LinkError("the ST-LINK left the USB bus")
        super()._tick(nbytes)

    def _flash_write(self, address: int) -> None:
        if self.chip.chip.flash_base <= address < self.chip.chip.flash_end:
            self.budget -= 1  # the write itself fails when this was the last one allowed

    def write32(self, address: int, value: int) -> None:
        self._flash_write(address)
        super().write32(address, value)

    def write16(self, address: int, value: int) -> None:
        self._flash_write(address)
        super().write16(address, value)

    def write_block(self, address: int, data: bytes) -> None:
        self._flash_write(address)
        super().write_block(address, data)


@pytest.mark.parametrize(("part", "writes", "landed"), [
    ("stm32f401re", 3, 3 * 1024),  # 1 KiB block writes
    ("stm32f103rc", 1000, 3 * 512),  # halfword writes, checked every 512 bytes
    ("stm32l053r8", 10, 10 * 64),  # half pages of 64 bytes
    ("stm32h743zi", 2, 2 * 1024),
])
def test_a_probe_lost_mid_program_says_what_landed(part: str, writes: int, landed: int) -> None:
    from stflash.chips.lookup import find_chip
    from stflash.sim.chip import SimChip

    access = DyingAccess(SimChip(find_chip(part)))
    d = driver_for(access.chip.chip, access)
    s = d.chip.sectors()[2]
    data = random.Random(11).randbytes(8 * 1024)
    d.erase_sectors([x for x in d.chip.sectors() if s.address <= x.address < s.address + len(data)])
    access.budget = writes
    with pytest.raises(LinkError, match="left the USB bus") as info:
        d.program(s.address, data)
    assert info.value.written_upto == landed
    assert access.chip.read_block(s.address, landed) == data[:landed]


class StuckAccess(SimAccess):
    """A probe onto a chip whose status register keeps its busy bit once an erase was started."""

    stuck: tuple[int, int] = (0, 0)  # status register, busy bit
    trigger: tuple[int, int] = (0, 0)  # control register, start bit
    armed = False

    def write32(self, address: int, value: int) -> None:
        super().write32(address, value)
        if (address, value & self.trigger[1]) == self.trigger:
            self.armed = True

    def read32(self, address: int) -> int:
        value = super().read32(address)
        register, bit = self.stuck
        return value | bit if self.armed and address == register else value


@pytest.mark.parametrize(
    ("part", "sr", "bit", "cr", "start", "name", "limit_s"),
    [
        ("stm32f401re", 0x4002_3C0C, 1 << 16, 0x4002_3C10, 1 << 16, "BSY", 2.0),  # 128 K sector, x32: 2 s max
        ("stm32l476rg", 0x4002_2010, 1 << 16, 0x4002_2014, 1 << 16, "BSY", 24.5e-3),
        ("stm32h743zi", 0x5200_2010, 1 << 2, 0x5200_200C, 1 << 7, "QW", 2.0),
        ("stm32f103rc", 0x4002_200C, 1 << 0, 0x4002_2010, 1 << 6, "BSY", 40e-3),
    ],
)
def test_timeout_names_the_operation_and_the_bit(
    part: str, sr: int, bit: int, cr: int, start: int, name: str, limit_s: float
) -> None:
    from stflash.chips.lookup import find_chip
    from stflash.sim.chip import SimChip

    access = StuckAccess(SimChip(find_chip(part)))
    d = driver_for(access.chip.chip, access)
    s = max(d.chip.sectors()[:8], key=lambda x: x.size)
    access.stuck, access.trigger = (sr, bit), (cr, start)
    begin = access.chip.clock.now
    with pytest.raises(OperationTimeoutError, match=rf"erasing \w+ {s.index} at {s.address:#010x}.*{name}"):
        d.erase_sector(s)
    elapsed = (access.chip.clock.now - begin) / 1e9
    assert 1.5 * limit_s < elapsed < 2.5 * limit_s + 0.05
