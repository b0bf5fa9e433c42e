"""Code downloaded into SRAM programs the flash through the flash controller's registers, as
st-flash's loader and pyOCD's flash algorithms do: the controller's rules and timings apply, and
busy-polling loops see BSY clear once the operation's virtual time has passed."""

from __future__ import annotations

import os
import time

from test_core_programs import PC, PROGRAMS, R2, Debugger

from stflash.sim.chip import SimChip

from sim_helpers import make

F4_FLASH = 0x4002_3C00
KEY1, KEY2 = 0x4567_0123, 0xCDEF_89AB
F4_PROGRAM_NS = 16_000  # one 32-bit program operation (docs/timing-model.md)


def _unlock(chip: SimChip, keyr: int, cr_address: int, cr: int) -> None:
    """FLASH_KEYR's two keys, then FLASH_CR = ``cr``."""
    chip.write32(keyr, KEY1)
    chip.write32(keyr, KEY2)
    chip.write32(cr_address, cr)


def _f4_unlock(chip: SimChip, cr: int) -> None:
    _unlock(chip, F4_FLASH + 0x04, F4_FLASH + 0x10, cr)


def _run_loader(dbg: Debugger, entry: int, sp: int, src: int, dst: int, count: int, r3: int = 0) -> int:
    """st-flash's way: r0..r3, PC, then run with C_MASKINTS and poll DHCSR; returns r2."""
    dbg.call(entry, sp, r0=src, r1=dst, r2=count, r3=r3)
    dbg.wait_halt()
    return dbg.reg(R2)


def test_f4_loader_programs_words_at_the_datasheet_pace() -> None:
    chip = make("stm32f401re")
    dbg = Debugger(chip)
    dbg.halt()
    dbg.load(PROGRAMS["f4_words"])
    _f4_unlock(chip, 0x201)  # PSIZE x32, PG
    data = os.urandom(1024)
    chip.write_block(0x2000_1000, data)
    start = chip.clock.now
    assert _run_loader(dbg, 0x2000_0000, 0x2000_8000, 0x2000_1000, 0x0800_4000, len(data)) == 0
    assert chip.read_block(0x0800_4000, len(data)) == data
    elapsed = chip.clock.now - start
    assert 256 * F4_PROGRAM_NS <= elapsed < 256 * F4_PROGRAM_NS * 1.2  # the core waited for each word
    assert chip.read32(F4_FLASH + 0x0C) & 0xF2 == 0


def test_f4_loader_sees_the_controllers_errors() -> None:
    chip = make("stm32f401re")
    dbg = Debugger(chip)
    dbg.halt()
    dbg.load(PROGRAMS["f4_words"])
    _f4_unlock(chip, 0x200)  # PSIZE x32 but no PG: the first write is a programming sequence error
    chip.write_block(0x2000_1000, b"\x11" * 64)
    left = _run_loader(dbg, 0x2000_0000, 0x2000_8000, 0x2000_1000, 0x0800_4000, 64)
    assert left == 64  # stopped on the first word
    assert chip.read32(F4_FLASH + 0x0C) & (1 << 7)  # PGSERR
    assert chip.read_block(0x0800_4000, 64) == b"\xff" * 64
    assert dbg.reg(PC) == 0x2000_001C  # the loader's BKPT


def test_h7_loader_programs_256_bit_flash_words() -> None:
    chip = make("stm32h743zi")
    dbg = Debugger(chip)
    dbg.halt()
    dbg.load(PROGRAMS["h7_flash_words"])
    bank1 = 0x5200_2000
    _unlock(chip, bank1 + 0x04, bank1 + 0x0C, 0x32)  # PSIZE x64, PG
    data = os.urandom(512)
    chip.write_block(0x2400_1000, data)
    start = chip.clock.now
    left = _run_loader(dbg, 0x2400_0000, 0x2400_8000, 0x2400_1000, 0x0802_0000, len(data), r3=bank1)
    assert left == 0
    assert chip.read_block(0x0802_0000, len(data)) == data
    assert chip.read32(bank1 + 0x10) & 0x07EE_0000 == 0
    assert chip.clock.now - start >= 16 * chip.timing.program_ns(64)  # sixteen flash words


def test_double_word_loader_on_g0_and_l4() -> None:
    for part in ("stm32g071rb", "stm32l476rg"):
        chip = make(part)
        dbg = Debugger(chip)
        dbg.halt()
        dbg.load(PROGRAMS["double_words"])
        flash = 0x4002_2000
        _unlock(chip, flash + 0x08, flash + 0x14, 1)  # PG
        data = os.urandom(256)
        chip.write_block(0x2000_1000, data)
        assert _run_loader(dbg, 0x2000_0000, 0x2000_4000, 0x2000_1000, 0x0800_2000, len(data), r3=flash) == 0
        assert chip.read_block(0x0800_2000, len(data)) == data, part
        assert chip.read32(flash + 0x10) & 0x3FA == 0, part


def test_f401_64k_through_a_loader_in_32k_chunks() -> None:
    """The st-flash pattern: 32 KiB buffer, resume, poll DHCSR. Wall time is what the performance
    target speaks of (a few seconds at most); it is measured, not asserted tightly."""
    chip = make("stm32f401re")
    dbg = Debugger(chip)
    dbg.halt()
    dbg.load(PROGRAMS["f4_words"])
    _f4_unlock(chip, 0x201)
    data = os.urandom(0x10000)
    wall, virtual = time.perf_counter(), chip.clock.now
    polls = 0
    for offset in range(0, len(data), 0x8000):
        chip.write_block(0x2000_1000, data[offset : offset + 0x8000])
        dbg.call(0x2000_0000, 0x2001_8000, r0=0x2000_1000, r1=0x0800_0000 + offset, r2=0x8000)
        polls += dbg.wait_halt()
        assert dbg.reg(R2) == 0
    wall = time.perf_counter() - wall
    virtual = chip.clock.now - virtual
    assert chip.read_block(0x0800_0000, len(data)) == data
    assert 16384 * F4_PROGRAM_NS <= virtual < 16384 * F4_PROGRAM_NS * 1.2
    assert polls < 40  # each DHCSR poll of a running loader lets it run 10 ms further
    assert wall < 30, f"64 KiB took {wall:.1f} s of wall time"


def test_loader_runs_ahead_only_until_it_halts() -> None:
    chip = make("stm32f401re")
    dbg = Debugger(chip)
    dbg.halt()
    dbg.load(PROGRAMS["f4_words"])
    _f4_unlock(chip, 0x201)
    chip.write_block(0x2000_1000, b"\x5a" * 8)
    before = chip.clock.now
    dbg.call(0x2000_0000, 0x2000_8000, r0=0x2000_1000, r1=0x0800_4000, r2=8)
    # the resume itself ran the loader to its BKPT: two words, not a whole 10 ms slice
    assert dbg.halted()
    assert 2 * F4_PROGRAM_NS <= chip.clock.now - before < 100_000


def test_straight_line_status_reads_are_not_a_polling_loop() -> None:
    chip = make("stm32f401re")
    dbg = Debugger(chip)
    dbg.halt()
    dbg.load(PROGRAMS["sr_reads"])
    _f4_unlock(chip, 0x201)
    dbg.call(0x2000_0000, 0x2000_8000, r1=0x0800_4000, r3=0x1234_5678)
    dbg.wait_halt()
    assert all(dbg.reg(r) & 1 << 16 for r in (5, 6, 7, 2))  # BSY in all four: 16 us had not passed
    chip.clock.advance(F4_PROGRAM_NS)
    assert chip.read32(0x0800_4000) == 0x1234_5678
