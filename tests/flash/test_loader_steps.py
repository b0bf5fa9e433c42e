"""The loader erases as the driver describes it, inside its programming run: each sector right
before its first byte, while the probe already fills the buffers behind it. What is asserted is
what the flash holds (the image, erased bytes where old ones were, neighbours untouched), what an
error says, and the virtual time (the erase and the transfer overlap). Its blank check compares
every word on the target."""

from __future__ import annotations

import random

import pytest
from test_loader_sim import ConcurrentSimAccess

from stflash.chips.lookup import find_chip
from stflash.chips.model import Sector
from stflash.errors import ProtectedError
from stflash.flash.drivers import FlashDriver, driver_for
from stflash.flash.loader import FlashLoader
from stflash.sim.chip import SimChip

F4_CR = 0x4002_3C10


def _data(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _dirty(acc: ConcurrentSimAccess, sectors: list[Sector], seed: int) -> None:
    """Old firmware in ``sectors``, written the way the ROM would (no loader involved)."""
    for s in sectors:
        assert acc.chip.rom_program(s.address, _data(1024, seed + s.index)).ok
        assert acc.chip.rom_program(s.end - 64, _data(64, seed + 100 + s.index)).ok


def _erase_and_program(loader: FlashLoader, driver: FlashDriver, address: int, data: bytes,
                       erase: list[Sector]) -> None:
    handed = driver.loader_setup(address)
    assert handed is not None
    setup, begin, end = handed
    steps = []
    for s in erase:
        group = driver.loader_erase_steps(s)
        assert group is not None
        steps.append((s.address, group))
    loader.program_segments([(address, data)], setup, steps=steps, begin=begin, end=end,
                            step_failure=driver.step_failure)


def test_f4_sectors_erased_right_before_their_data_while_the_probe_sends() -> None:
    """Sectors 1-4 of an F401 held old firmware; 20 KiB into sector 1, all of 2 and 3, and 8 KiB
    into sector 4 are written: every byte of the four sectors is the image's or erased, sector 5
    keeps its bytes, the controller ends locked out of program mode (CR = 0). The erases (250,
    250, 250, 550 ms) and the programming run back to back: the probe's writes (1 us per 64
    bytes on this probe, plus a round trip each) hide behind them."""
    acc = ConcurrentSimAccess.of("stm32f401re", ns_per_byte=200.0)
    chip = acc.chip.chip
    sectors = chip.sectors()
    _dirty(acc, sectors[1:6], 5)
    keep = acc.chip.read_block(sectors[5].address, sectors[5].size)
    driver = driver_for(chip, acc)
    loader = FlashLoader(acc, chip)
    start, data = sectors[1].address + 4096, _data(16 * 1024 - 4096 + 32 * 1024 + 8 * 1024, 6)
    erase = sectors[1:5]
    begin = acc.chip.clock.now
    _erase_and_program(loader, driver, start, data, erase)
    elapsed = acc.chip.clock.now - begin
    assert acc.chip.read_block(start, len(data)) == data
    assert acc.chip.read_block(sectors[1].address, 4096) == b"\xff" * 4096  # old bytes before the image: erased
    end = start + len(data)
    assert acc.chip.read_block(end, sectors[4].end - end) == b"\xff" * (sectors[4].end - end)
    assert acc.chip.read_block(sectors[5].address, sectors[5].size) == keep
    assert acc.read32(F4_CR) == 0
    timing = acc.chip.timing
    flash_ns = sum(timing.erase_ns(s.size, 32) for s in erase) + len(data) // 4 * timing.program_ns(32)
    wire_ns = len(data) * 20_000
    assert flash_ns <= elapsed < flash_ns + wire_ns / 4, (elapsed, flash_ns)  # not erase, then transfer


def test_a_sector_the_controller_refuses_to_erase_stops_the_run_there() -> None:
    """Sector 2 is write-protected: sectors 0 and 1 are erased and programmed, the error is the
    driver's own (WRPERR, "sector 2 at 0x08008000 is write-protected", exit code 9) and says
    what landed; sector 2 keeps its old bytes."""
    acc = ConcurrentSimAccess.of("stm32f401re")
    chip = acc.chip.chip
    sectors = chip.sectors()
    _dirty(acc, sectors[:3], 7)
    acc.chip.set_option("nWRP", 0xFF & ~(1 << 2))
    old = acc.chip.read_block(sectors[2].address, 1024)
    driver = driver_for(chip, acc)
    data = _data(40 * 1024, 8)
    with pytest.raises(ProtectedError, match=r"^WRPERR: sector 2 at 0x08008000 is write-protected") as info:
        _erase_and_program(FlashLoader(acc, chip), driver, chip.flash_base, data, sectors[:3])
    assert info.value.written == [(chip.flash_base, 32 * 1024)]
    assert acc.chip.read_block(chip.flash_base, 32 * 1024) == data[: 32 * 1024]
    assert acc.chip.read_block(sectors[2].address, 1024) == old


@pytest.mark.parametrize("part, bank", [("stm32g071rb", None), ("stm32h743zi", 0)])
def test_a_mass_or_bank_erase_first(part: str, bank: int | None) -> None:
    """The whole flash (G0) or one bank (H7) erased by the loader before the first byte: a page
    far from the image is erased too."""
    acc = ConcurrentSimAccess.of(part)
    chip = acc.chip.chip
    far = [s for s in chip.sectors() if s.bank == (bank or 0)][-1]
    _dirty(acc, [chip.sectors()[0], far], 9)
    driver = driver_for(chip, acc)
    handed = driver.loader_setup(chip.flash_base)
    group = driver.loader_mass_erase_steps(bank)
    assert handed is not None and group is not None
    setup, begin, end = handed
    data = _data(24 * 1024, 10)
    FlashLoader(acc, chip).program_segments([(chip.flash_base, data)], setup, steps=[(chip.flash_base, group)],
                                            begin=begin, end=end)
    assert acc.chip.read_block(chip.flash_base, len(data)) == data
    assert acc.chip.read_block(far.address, far.size) == b"\xff" * far.size


def test_both_h7_banks_at_once_are_no_loader_step() -> None:
    """They erase in parallel only when started together from the host: no steps for that."""
    acc = ConcurrentSimAccess.of("stm32h743zi")
    driver = driver_for(acc.chip.chip, acc)
    assert driver.loader_mass_erase_steps(None) is None and driver.loader_mass_erase_steps(1) is not None


def test_a_descriptor_left_by_an_earlier_run_is_never_programmed() -> None:
    """A run that starts with an erase lets the core go before its first chunk is in RAM. The
    previous run's descriptors (here another loader's, in the same RAM) are still there and must
    not pass for this run's: the flash holds only what this run sent."""
    acc = ConcurrentSimAccess.of("stm32f401re")
    chip = acc.chip.chip
    driver = driver_for(chip, acc)
    first = _data(6000, 11)
    handed = driver.loader_setup(0x0800_4000)
    assert handed is not None
    FlashLoader(acc, chip).program_segments([(0x0800_4000, first)], handed[0], begin=handed[1], end=handed[2])
    second = _data(6000, 12)
    _erase_and_program(FlashLoader(acc, chip), driver, 0x0800_8000, second, [chip.sectors()[2]])
    assert acc.chip.read_block(0x0800_4000, len(first)) == first
    assert acc.chip.read_block(0x0800_8000, len(second)) == second


@pytest.mark.parametrize("part, erased", [("stm32f401re", 0xFF), ("stm32l053r8", 0x00)])
def test_blank_check_compares_every_word(part: str, erased: int) -> None:
    acc = ConcurrentSimAccess.of(part)
    chip = acc.chip.chip
    sectors = chip.sectors()
    last = sectors[3]
    word = bytes([erased ^ 0x01]) + bytes([erased]) * 3
    assert acc.chip.rom_program(last.end - 4, word).ok  # one bit in the sector's last word
    loader = FlashLoader(acc, chip)
    assert loader.blank([(s.address, s.size) for s in sectors[:4]]) == [True, True, True, False]
    # CRCs and blank checks in one run, in the order asked
    found = loader.check([(sectors[0].address, 64, False), (last.address, last.size, True)])
    assert found[1] == 0 and found[0] == __import__("zlib").crc32(bytes([erased]) * 64)
    with pytest.raises(ValueError, match="whole words"):
        loader.blank([(sectors[0].address + 2, 8)])


def test_an_erase_that_ends_early_is_noticed_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host does not know when the core began an erase, nor that it may end sooner than the
    datasheet's typical time: it looks after 20 ms, then after as long again as it has waited.
    With the bench's costs at zero every erase ends at once: 1 KiB into each of three sectors,
    whose erases typically take 750 ms, is over in a few looks."""
    from stflash.sim.clock import ZERO_COSTS_ENV

    monkeypatch.setenv(ZERO_COSTS_ENV, "1")
    acc = ConcurrentSimAccess(SimChip(find_chip("stm32f401re")), round_trip_ns=0)  # a probe that takes no time
    chip = acc.chip.chip
    driver = driver_for(chip, acc)
    handed = driver.loader_setup(chip.flash_base)
    assert handed is not None
    sectors = chip.sectors()[:3]
    steps = [(s.address, driver.loader_erase_steps(s) or []) for s in sectors]
    segments = [(s.address, _data(1024, 14 + s.index)) for s in sectors]
    loader = FlashLoader(acc, chip, buffers=2)
    start = acc.chip.clock.now
    loader.program_segments(segments, handed[0], steps=steps, begin=handed[1], end=handed[2])
    for address, data in segments:
        assert acc.chip.read_block(address, len(data)) == data
    assert acc.chip.clock.now - start < 100_000_000
