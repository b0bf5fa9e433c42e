"""The loader programs what the host streams into it, on every controller kind, at about the
flash's own pace: the bytes read back are the bytes sent (padded with the erased value), and the
virtual time is the datasheet time of the units plus little."""

from __future__ import annotations

import random

import pytest
from test_loader_sim import DHCSR, S_HALT, S_LOCKUP, ConcurrentSimAccess, h7_setup, ready, unit_ns

from stflash.flash.debug import PC
from stflash.flash.loader import FlashLoader

IWDG_KR = 0x4000_3000
CCR = 0xE000_ED14


def _data(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.mark.parametrize("key, address, length", [
    ("stm32f103rc", 0x0801_0000, 14_001),  # Cortex-M3, half-word stores (width 2)
    ("stm32f401re", 0x0800_4000, 14_000),  # word stores, PSIZE x32
    ("stm32f401re/x8", 0x0800_4001, 1_000),  # byte stores, PSIZE x8 (256-byte buffers here)
    ("stm32f429zi", 0x080F_E000, 14_002),  # x32, across the bank-1/bank-2 boundary (one SR)
    ("stm32l476rg", 0x0800_8000, 14_003),  # double word: two stores, then the poll
    ("stm32h743zi", 0x0802_0000, 14_000),  # 256-bit flash word: eight stores
    ("stm32l053r8", 0x0800_2000, 9_000),  # Cortex-M0+, half page of 16 words, erased = 0x00
    ("stm32l053r8/words", 0x0800_4000, 700),  # word programming (256-byte buffers here)
    ("stm32g071rb", 0x0800_4000, 14_001),  # Cortex-M0+, double word, BSY1 + CFGBSY
])
def test_programs_what_was_sent(key: str, address: int, length: int) -> None:
    """4 KiB buffers (3.25 KiB on the L053's 8 KiB of RAM): each buffer is refilled once or more."""
    acc, part = ready(key)
    loader = FlashLoader(acc, acc.chip.chip, max_buffer=256 if key.endswith(("words", "x8")) else 4096)
    data = _data(length, 1)
    unit = part.setup.unit
    padded = -length % unit
    start, before = acc.chip.clock.now, acc.transactions
    seen: list[tuple[int, int]] = []
    loader.program(address, data, part.setup, progress=lambda done, total: seen.append((done, total)))
    elapsed = acc.chip.clock.now - start
    got = acc.chip.read_block(address, length + padded)
    assert got[:length] == data
    assert got[length:] == bytes([part.setup.erased]) * padded  # the unit's rest: erased value
    units = (length + padded) // unit
    lower = units * unit_ns(acc, part)
    assert lower <= elapsed < lower * 1.15 + 10_000_000, (elapsed, lower)
    buffers = -(-(length + padded) // loader.layout.buffer_size)
    assert buffers >= 3
    assert acc.transactions - before < 25 + 6 * buffers  # paced waits, not a polling loop
    assert seen[-1] == (length + padded, length + padded)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert acc.read32(DHCSR) & S_HALT  # the loader ended on its BKPT


def test_h7_both_banks_each_with_its_status_register() -> None:
    acc, _ = ready("stm32h743zi")
    loader = FlashLoader(acc, acc.chip.chip)
    one, two = _data(20_000, 2), _data(20_000, 3)
    loader.program(0x080E_0000, one, h7_setup(0))
    loader.program(0x0810_0000, two, h7_setup(1))  # bank 2: SR2 at 0x5200_2110
    assert acc.chip.read_block(0x080E_0000, len(one)) == one
    assert acc.chip.read_block(0x0810_0000, len(two)) == two
    assert acc.read32(0x5200_2010) & 0x07EE_0000 == 0
    assert acc.read32(0x5200_2110) & 0x07EE_0000 == 0


def test_several_segments_in_one_run_and_an_unaligned_start() -> None:
    acc, part = ready("stm32l476rg")
    loader = FlashLoader(acc, acc.chip.chip)
    a, b, c = _data(100, 4), _data(5000, 5), _data(3, 6)
    loader.program_segments([(0x0800_0003, a), (0x0800_1000, b), (0x0801_0000, c)], part.setup)
    flash = acc.chip.read_block(0x0800_0000, 0x20)
    assert flash[:3] == b"\xff" * 3 and flash[3:0x20] == a[:0x1D]  # the unit's head: erased value
    assert acc.chip.read_block(0x0800_0003, 100) == a
    assert acc.chip.read_block(0x0800_1000, 5000) == b
    assert acc.chip.read_block(0x0801_0000, 8) == c + b"\xff" * 5


@pytest.mark.parametrize("key", ["stm32f401re", "stm32l053r8"])
def test_blank_chip_core_locked_up_at_its_empty_reset_vector(key: str) -> None:
    """An erased chip's core locks up at once (no vector table); the loader still runs, with the
    core halted out of lockup, or halted at the reset vector by reset_and_halt."""
    acc, part = ready(key)
    assert acc.read32(DHCSR) & S_LOCKUP
    loader = FlashLoader(acc, acc.chip.chip)
    data = _data(3000, 7)
    loader.program(0x0800_0000, data, part.setup)
    assert acc.chip.read_block(0x0800_0000, len(data)) == data

    fresh, part = ready(key)
    fresh.reset_and_halt()
    part.enter(fresh)  # the reset locked the controller again
    loader = FlashLoader(fresh, fresh.chip.chip)
    loader.program(0x0800_0000, data, part.setup)
    assert fresh.chip.read_block(0x0800_0000, len(data)) == data


def test_the_watchdog_is_refreshed_only_when_asked() -> None:
    acc, part = ready("stm32f401re")
    FlashLoader(acc, acc.chip.chip, watchdog=False).program(0x0800_4000, b"\x12" * 64, part.setup)
    assert acc.read32(IWDG_KR) == 0  # an unmodelled peripheral word reads back what was written
    FlashLoader(acc, acc.chip.chip).program(0x0800_8000, b"\x34" * 64, part.setup)
    assert acc.read32(IWDG_KR) == 0xAAAA


def test_buffers_follow_the_ram() -> None:
    f4 = ConcurrentSimAccess.of("stm32f401re")
    big = FlashLoader(f4, f4.chip.chip)
    # as many 16 KiB buffers as its 96 KiB hold: the probe can fill them all while a sector erases
    assert big.layout.buffer_size == 16 * 1024 and len(big.layout.buffers) == 5
    assert big.layout.end <= f4.chip.chip.ram[0].end
    small_acc = ConcurrentSimAccess.of("stm32l053r8")  # 8 KiB of SRAM
    small = FlashLoader(small_acc, small_acc.chip.chip)
    lay = small.layout
    assert 2 * 1024 <= lay.buffer_size < 4 * 1024
    ram = small_acc.chip.chip.ram[0]
    assert lay.code == ram.start and lay.end <= ram.end
    assert len(lay.buffers) == 2
    assert lay.code + len(small.code) + 256 <= lay.stack_top <= lay.control
    assert lay.control + 0x60 <= lay.buffers[0]
    h7 = ConcurrentSimAccess.of("stm32h743zi")
    assert FlashLoader(h7, h7.chip.chip).layout.code == 0x2000_0000  # the DTCM, the chip's first RAM
    assert FlashLoader(h7, h7.chip.chip, ram=h7.chip.chip.ram[1]).layout.code == 0x2400_0000


def test_m7_caches_go_off_before_the_loader_runs() -> None:
    """The probe writes the buffers into RAM behind the core's D-cache: with it on, the loader
    could read stale descriptors and data."""
    acc, part = ready("stm32h743zi")
    acc.reset_and_halt()
    part.enter(acc)
    acc.write32(CCR, acc.read32(CCR) | 3 << 16)  # DC and IC, as a firmware's SystemInit leaves them
    data = _data(2048, 15)
    FlashLoader(acc, acc.chip.chip).program(0x0804_0000, data, part.setup)
    assert acc.read32(CCR) & 3 << 16 == 0
    assert acc.chip.read_block(0x0804_0000, len(data)) == data


def test_a_firmware_run_between_calls_does_not_break_the_next_one() -> None:
    """After a reset the firmware runs and may use the loader's RAM: the next call puts the
    loader back (here the RAM is scribbled over while the core runs on)."""
    acc, part = ready("stm32f401re")
    loader = FlashLoader(acc, acc.chip.chip)
    loader.program(0x0800_4000, _data(2048, 16), part.setup)
    acc.write_block(0x2000_0000, b"\xfe\xe7" + b"\xa5" * 1022)  # "b ." and a firmware's data
    acc.write_core_register(PC, 0x2000_0000)
    acc.run()
    assert not acc.is_halted()
    data = _data(2048, 17)
    loader.program(0x0800_8000, data, part.setup)
    assert acc.chip.read_block(0x0800_8000, len(data)) == data
