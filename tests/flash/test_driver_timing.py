"""The drivers on the bench's virtual clock: an operation takes about its datasheet time (the
polling neither returns before the controller is done nor sleeps far past it), and the register
path costs a bounded number of probe transactions per KiB."""

from __future__ import annotations

import random

import pytest

from stflash.flash.drivers import driver_for
from stflash.flash.drivers.limits import timeout

from simaccess import SimAccess


def seconds(access: SimAccess, start_ns: int) -> float:
    return (access.chip.clock.now - start_ns) / 1e9


@pytest.mark.parametrize(
    ("part", "index", "psize", "typical_s"),
    [
        ("stm32f401re", 5, 32, 1.0),  # 128 K sector at x32: 1 s typical (DS8626)
        ("stm32f401re", 5, 16, 1.3),  # ... at x16: 1.3 s
        ("stm32f401re", 0, 32, 0.25),  # 16 K sector: 250 ms
        ("stm32h743zi", 3, 64, 1.0),  # 128 K sector at x64: 1 s (DS12110)
        ("stm32l476rg", 3, None, 0.022),  # 2 K page: 22 ms
        ("stm32f103rc", 3, None, 0.030),  # 2 K page: 20-40 ms
        ("stm32l053r8", 3, None, 0.0032),  # 128-byte page: one 3.2 ms high-voltage cycle
    ],
)
def test_erase_takes_about_the_datasheet_time(part: str, index: int, psize: int | None, typical_s: float) -> None:
    access = SimAccess.of(part)
    d = driver_for(access.chip.chip, access, psize=psize)
    s = d.chip.sectors()[index]
    start = access.chip.clock.now
    d.erase_sector(s)
    took = seconds(access, start)
    assert typical_s <= took < typical_s * 1.15 + 0.003  # at most ~15 % late, never early
    assert took < timeout(d.limits.erase_s(s.size, d.parallelism))


def test_f4_mass_erase_time() -> None:
    access = SimAccess.of("stm32f401re")
    d = driver_for(access.chip.chip, access)
    start = access.chip.clock.now
    d.mass_erase()
    assert 8.0 <= seconds(access, start) < 8.2  # 8 s typical at x32


# transactions per KiB on the register path (aligned 16 KiB), and the program time per KiB
BUDGET = [
    ("stm32f401re", 3, 0.006),  # one 1 KiB block write + a status read; 256 words x 16 us
    ("stm32f767zi", 3, 0.006),
    ("stm32l476rg", 3, 0.012),  # 128 double words x 82 us
    ("stm32g071rb", 3, 0.012),
    ("stm32wb55rg", 3, 0.012),
    ("stm32h743zi", 4, 0.005),  # plus the blank check's block read
    ("stm32f103rc", 520, 0.070),  # one probe write per halfword: the loader's job to do better
    ("stm32l053r8", 200, 0.060),  # 16 half pages of 3.2 ms
    ("stm32l152re", 100, 0.030),  # 8 half pages
]


@pytest.mark.parametrize(("part", "max_tx_per_kib", "max_s_per_kib"), BUDGET)
def test_register_path_cost(part: str, max_tx_per_kib: int, max_s_per_kib: float) -> None:
    access = SimAccess.of(part)
    d = driver_for(access.chip.chip, access)
    data = random.Random(7).randbytes(16 * 1024)
    n, start = access.transactions, access.chip.clock.now
    d.program(d.chip.flash_base, data)
    assert access.chip.read_block(d.chip.flash_base, len(data)) == data
    assert (access.transactions - n) / 16 <= max_tx_per_kib
    assert seconds(access, start) / 16 <= max_s_per_kib
