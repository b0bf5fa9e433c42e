"""A write through the ST-LINK erases inside the flash loader's run: each sector right before its
first byte while the probe fills the buffers, so the transfer goes by during the erases. Checked
on the bench through the whole session: the bytes in the flash, the commands on the USB wire (the
host never polls an erase; one loader run checks, one writes), the virtual time against the
chip's own erase and program time, and what a refused erase reports."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from test_stlink_access import COUNTER, flash_counter_program
from test_stlink_transport import Bus, advance, bench_sleep, clock_ns, make_bench

from stflash.chips.model import Chip
from stflash.errors import PartialWriteError
from stflash.image.model import Image, Segment
from stflash.session import Session
from stflash.sim.bench import Bench
from stflash.stlink_target import StlinkTarget

from linkbench import flash_bytes

F4_SR, F4_CR = 0x4002_3C0C, 0x4002_3C10
G0_SR = 0x4002_2010
PC = 15


def _session(directory: Path, bus: Bus) -> Session:
    target = StlinkTarget.open(bus, None, sleep=bench_sleep(directory))
    return Session(target, target.identify())


def _reads_of(bus: Bus, address: int) -> int:
    return sum(1 for b in bus.debug_commands(0x36) if struct.unpack_from("<I", b, 2)[0] == address)


def _loader_runs(bus: Bus) -> int:
    """Each run of the loader starts with its PC written (WRITEREG 15)."""
    return sum(1 for b in bus.debug_commands(0x34) if b[2] == PC)


def _fill(directory: Path, address: int, data: bytes) -> None:
    with Bench.open(directory) as bench:
        assert bench.chip.rom_program(address, data).ok


def _chip_seconds(directory: Path, chip: Chip, size: int) -> float:
    """The flash's own time for sector erases and x32 words over ``size`` bytes from the base."""
    with Bench.open(directory) as bench:
        timing = bench.chip.timing
    sectors = [s for s in chip.sectors() if s.address < chip.flash_base + size]
    return (sum(timing.erase_ns(s.size, 32) for s in sectors) + size // 4 * timing.program_ns(32)) / 1e9


def test_f401_erases_in_the_loader_and_the_transfer_hides_behind_them(tmp_path: Path) -> None:
    """256 KiB over old firmware on an F401 (ST-LINK/V2-1, full speed: the transfer alone takes
    1.4 s): the flash holds the image, the old bytes past it in the last sector are erased, the
    host never reads FLASH_SR (the core waits for each erase), and the write takes the chip's
    erase and program time (3.6 s) and little more, not erase plus transfer."""
    directory = make_bench(tmp_path, "nucleo-f401re")
    old = random.Random(1).randbytes(1024)
    for address in (0x0800_0000, 0x0802_0000, 0x0803_FC00, 0x0804_0000):
        _fill(directory, address, old)
    data = random.Random(2).randbytes(256 * 1024 - 1024)
    bus = Bus(directory)
    session = _session(directory, bus)
    try:
        start = clock_ns(directory)
        result = session.write(Image([Segment(0x0800_0000, data)]), verify=False)
        elapsed = (clock_ns(directory) - start) / 1e9
    finally:
        session.close()
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data
    assert flash_bytes(directory, 0x0803_FC00, 1024) == b"\xff" * 1024  # sector 5's old tail: erased
    assert flash_bytes(directory, 0x0804_0000, 1024) == old  # sector 6: not touched
    assert [s.index for s in result.erased] == [0, 1, 2, 3, 4, 5]
    assert _reads_of(bus, F4_SR) == 0
    assert _loader_runs(bus) == 2  # one check of the sectors' first bytes, one erase-and-write
    chip = session.chip
    flash_s = _chip_seconds(directory, chip, 256 * 1024)
    assert flash_s < elapsed < flash_s + 0.25, (elapsed, flash_s)


def test_g071_checks_blank_with_the_samples_and_mass_erases(tmp_path: Path) -> None:
    """A G071 (128 KiB) gets 64 KiB: the first loader run reads each page's first bytes and
    checks the other 64 KiB blank word by word, so one 22 ms mass erase replaces 32 page erases
    (704 ms); the second run erases and writes."""
    directory = make_bench(tmp_path, "nucleo-g071rb")
    data = random.Random(3).randbytes(64 * 1024)
    bus = Bus(directory)
    session = _session(directory, bus)
    try:
        plan = session.plan(Image([Segment(0x0800_0000, data)]), verify=False)
        assert plan.mass_erase
        assert _loader_runs(bus) == 1
        session.execute(plan)
    finally:
        session.close()
    assert _loader_runs(bus) == 2
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data
    assert _reads_of(bus, G0_SR) == 0


def test_g071_keeps_a_page_that_is_not_blank(tmp_path: Path) -> None:
    """One word beyond the image: the blank check sees it, the pages under the image are erased
    one by one (in the loader) and the word is still there."""
    directory = make_bench(tmp_path, "nucleo-g071rb")
    _fill(directory, 0x0801_F000, b"\x12\x34\x56\x78\x9a\xbc\xde\xf0")
    data = random.Random(4).randbytes(16 * 1024)
    bus = Bus(directory)
    session = _session(directory, bus)
    try:
        result = session.write(Image([Segment(0x0800_0000, data)]), verify=False)
    finally:
        session.close()
    assert not result.plan.mass_erase and len(result.erased) == 8
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data
    assert flash_bytes(directory, 0x0801_F000, 8) == b"\x12\x34\x56\x78\x9a\xbc\xde\xf0"
    assert _reads_of(bus, G0_SR) == 0


def test_an_erase_the_controller_refuses_leaves_a_partial_write_that_says_so(tmp_path: Path) -> None:
    """Sector 2 of the F401 is write-protected: sectors 0 and 1 are erased and written before the
    loader meets it; the error is a partial write (exit code 16) naming the sector, the flag and
    what landed, and the controller is left out of program mode."""
    directory = make_bench(tmp_path, "nucleo-f401re")
    with Bench.open(directory) as bench:
        bench.chip.set_option("nWRP", 0xFF & ~(1 << 2))
    data = random.Random(5).randbytes(48 * 1024)
    bus = Bus(directory)
    session = _session(directory, bus)
    try:
        with pytest.raises(PartialWriteError) as info:
            session.write(Image([Segment(0x0800_0000, data)]), verify=False)
        assert session.link.access.read32(F4_CR) & 0xFFFF == 0  # type: ignore[attr-defined]
    finally:
        session.close()
    err = info.value
    assert err.exit_code == 16
    assert "WRPERR" in err.message and "sector 2 at 0x08008000" in err.message
    assert err.written == [(0x0800_0000, 16 * 1024), (0x0800_4000, 16 * 1024)]
    assert "0x08008000-0x0800bfff erased or old" in err.message
    assert flash_bytes(directory, 0x0800_0000, 32 * 1024) == data[: 32 * 1024]


def test_write_progress_ends_once_at_the_total(tmp_path: Path) -> None:
    directory = make_bench(tmp_path, "nucleo-f401re")
    data = random.Random(6).randbytes(40 * 1024)
    session = _session(directory, Bus(directory))
    seen: list[tuple[str, int, int]] = []
    try:
        session.write(Image([Segment(0x0800_0000, data)]), verify=False, progress=lambda *p: seen.append(p))
    finally:
        session.close()
    writes = [p for p in seen if p[0] == "write"]
    assert writes[-1] == ("write", len(data), len(data)) and writes.count(writes[-1]) == 1
    assert [d for _, d, _ in writes] == sorted(d for _, d, _ in writes)


def test_hot_plug_write_halts_the_running_firmware_first(tmp_path: Path) -> None:
    """Attached without halting, the firmware (it counts in RAM) runs until the write: the loader
    halts it before it runs (its RAM is the loader's from then on) and the image lands in
    sectors 1-2."""
    directory = make_bench(tmp_path, "nucleo-f401re")
    flash_counter_program(directory)
    advance(directory, 0.001)
    target = StlinkTarget.open(Bus(directory), None, sleep=bench_sleep(directory), mode="hot-plug")
    session = Session(target, target.identify())
    data = random.Random(7).randbytes(24 * 1024)
    try:
        assert not target.access.is_halted()
        counted = target.access.read32(COUNTER)
        session.write(Image([Segment(0x0800_4000, data)]), verify=False)
        assert counted > 0 and target.access.is_halted()
    finally:
        session.close()
    assert flash_bytes(directory, 0x0800_4000, len(data)) == data
