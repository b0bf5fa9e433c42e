"""When the controller refuses a unit, the loader stops there and the host says which address,
which status flags, and how much of the call did land; when the loader cannot run at all, the
caller gets LoaderUnavailable before anything was programmed."""

from __future__ import annotations

import dataclasses
import random

import pytest
from test_loader_sim import DHCSR, S_HALT, ConcurrentSimAccess, ready

from stflash.chips.model import Region
from stflash.errors import LinkError, OperationTimeoutError, ProtectedError, VerifyError
from stflash.flash.debug import ProgramSetup
from stflash.flash.loader import (
    FlashLoader,
    FlashProgramError,
    FlashProtectedError,
    LoaderFault,
    LoaderUnavailable,
)

from simaccess import SimAccess


def _data(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.mark.parametrize("key, flag, sr_bit", [
    ("stm32f103rc", "PGERR", 1 << 2),
    ("stm32l476rg", "PROGERR", 1 << 3),
    ("stm32l053r8/words", "NOTZEROERR", 1 << 16),
])
def test_a_word_that_is_not_erased_stops_the_run_there(key: str, flag: str, sr_bit: int) -> None:
    acc, part = ready(key)
    unit = part.setup.unit
    base = 0x0800_8000
    bad = base + 0x1A0 * unit  # in the third 256-byte buffer
    FlashLoader(acc, acc.chip.chip, max_buffer=256).program(bad, b"\x5a" * unit, part.setup)
    loader = FlashLoader(acc, acc.chip.chip, max_buffer=256)
    data = _data(0x200 * unit, 8)
    with pytest.raises(FlashProgramError) as info:
        loader.program(base, data, part.setup)
    exc = info.value
    assert isinstance(exc, VerifyError)  # exit code 10: the flash does not hold what was sent
    assert exc.address == bad and f"{bad:#010x}" in exc.message
    assert exc.sr & sr_bit and flag in exc.message
    assert exc.written_upto == bad - base
    assert exc.written == [(base, bad - base)]  # type: ignore[attr-defined]
    assert acc.chip.read_block(base, bad - base) == data[: bad - base]
    assert acc.read32(DHCSR) & S_HALT


@pytest.mark.parametrize("key, options, address, flag", [
    ("stm32f401re", {"nWRP": 0xFE}, 0x0800_0000, "WRPERR"),  # sector 0 protected (nWRP bit 0 = 0)
    ("stm32f103rc", {"WRP0": 0xFE}, 0x0800_0000, "WRPRTERR"),  # pages 0-1 protected
])
def test_a_write_protected_sector_names_the_address(key: str, options: dict[str, int], address: int,
                                                    flag: str) -> None:
    acc, part = ready(key, options=options)
    loader = FlashLoader(acc, acc.chip.chip)
    with pytest.raises(FlashProtectedError) as info:
        loader.program(address, _data(1024, 9), part.setup)
    exc = info.value
    assert isinstance(exc, ProtectedError)  # exit code 9
    assert exc.address == address and flag in exc.message and f"{address:#010x}" in exc.message
    assert exc.written_upto == 0
    assert acc.chip.read_block(address, 16) == b"\xff" * 16


def test_segments_that_landed_before_a_failure_are_listed() -> None:
    acc, part = ready("stm32f401re", options={"nWRP": 0xFD})  # sector 1 (0x0800_4000) protected
    loader = FlashLoader(acc, acc.chip.chip)
    with pytest.raises(FlashProtectedError) as info:
        loader.program_segments([(0x0800_0000, b"a" * 100), (0x0800_3FF0, b"b" * 32)], part.setup)
    assert info.value.address == 0x0800_4000
    assert info.value.written == [(0x0800_0000, 100), (0x0800_3FF0, 16)]  # type: ignore[attr-defined]
    assert info.value.written_upto == 16


def test_a_probe_lost_mid_run_still_says_what_landed() -> None:
    """The probe's USB link fails while the loader works through the buffers: the error is the
    link's, and it carries the range the loader had reported programmed, which is in the flash."""
    acc, part = ready("stm32f401re")
    loader = FlashLoader(acc, acc.chip.chip, buffers=2, max_buffer=1024)
    data = _data(16 * 1024, 21)
    fills = 0
    write_block = acc.write_block

    def failing_write_block(address: int, chunk: bytes) -> None:
        nonlocal fills
        if loader.layout.buffers[0] <= address < loader.layout.end:  # one write fills one buffer
            fills += 1
            if fills == 6:  # the sixth chunk waited for the fourth to be programmed
                raise LinkError("the ST-LINK left the USB bus")
        write_block(address, chunk)

    acc.write_block = failing_write_block  # type: ignore[method-assign]
    with pytest.raises(LinkError) as info:
        loader.program(0x0800_4000, data, part.setup)
    (written,) = info.value.written  # type: ignore[attr-defined]
    assert written[0] == 0x0800_4000 and written[1] == info.value.written_upto >= 4 * 1024 - 4
    assert acc.chip.read_block(0x0800_4000, written[1]) == data[: written[1]]


def test_a_controller_that_stays_busy_times_out_with_the_core_halted() -> None:
    acc, part = ready("stm32f401re")
    stuck = dataclasses.replace(part.setup, sr=0x4002_3C10, busy_mask=0x200)  # CR.PSIZE never clears
    loader = FlashLoader(acc, acc.chip.chip)
    with pytest.raises(OperationTimeoutError) as info:
        loader.program(0x0800_4000, b"\x11" * 64, stuck)
    assert info.value.written_upto == 0
    assert acc.read32(DHCSR) & S_HALT


def test_too_little_ram_asks_for_the_register_path() -> None:
    acc = ConcurrentSimAccess.of("stm32f401re")
    tiny = dataclasses.replace(acc.chip.chip, ram=(Region("SRAM", 0x2000_0000, 1024),))
    with pytest.raises(LoaderUnavailable, match="no room"):
        FlashLoader(acc, tiny)


class _Unhaltable(SimAccess):
    def halt(self) -> None:
        pass

    def is_halted(self) -> bool:
        return False


def test_a_core_that_does_not_halt_asks_for_the_register_path() -> None:
    acc = _Unhaltable.of("stm32f401re")
    with pytest.raises(LoaderUnavailable, match="does not halt"):
        FlashLoader(acc, acc.chip.chip).load()


def test_ram_the_core_cannot_fetch_from_asks_for_the_register_path() -> None:
    """The Cortex-M4 of an H745 (AP3) has no path to the M7's DTCM, the chip's first RAM: the
    probe writes the loader there, but the core faults on its first fetch. Nothing is programmed;
    from the AXI SRAM the same core runs it."""
    from stflash.chips.lookup import find_chip
    from stflash.sim.chip import SimChip

    chip = find_chip("stm32h745zi")
    acc = ConcurrentSimAccess(SimChip(chip), ap=3)
    acc.write32(0x5200_2004, 0x4567_0123)
    acc.write32(0x5200_2004, 0xCDEF_89AB)
    acc.write32(0x5200_200C, 0x32)
    setup = ProgramSetup(0x5200_2010, 1 << 2, 0x07EE_0000, 4, 32)
    with pytest.raises(LoaderUnavailable) as info:
        FlashLoader(acc, chip).program(0x0802_0000, b"\x22" * 64, setup)
    assert not isinstance(info.value, LoaderFault) and "did not start" in info.value.message
    assert acc.chip.read_block(0x0802_0000, 64) == b"\xff" * 64
    axi = next(r for r in chip.ram if r.name == "AXI SRAM")
    data = _data(4096, 10)
    FlashLoader(acc, chip, ram=axi).program(0x0802_0000, data, setup)
    assert acc.chip.read_block(0x0802_0000, len(data)) == data


def test_read_protection_stops_the_crc_job_with_a_fault() -> None:
    """RDP level 1 with a debugger attached: the core's flash reads fault (and the fault handler's
    vector is in flash too: lockup). The caller learns it from LoaderFault and reads back instead,
    which reports the protection."""
    acc = ConcurrentSimAccess.of("stm32f401re", options={"RDP": 0xBB})
    with pytest.raises(LoaderFault, match="lockup"):
        FlashLoader(acc, acc.chip.chip).crc32([(0x0800_0000, 256)])
    assert acc.read32(DHCSR) & S_HALT
