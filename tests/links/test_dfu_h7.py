"""stflash against the H74x/H75x DFU ROMs that misbehave (dfu.md Q5-Q7): a rev V ROM that never
confirms a bank-2 sector erase, and bootloader V13.3 whose mass erase does nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from stflash.links.dfu.dfuse import DfuSe, DfuStatus, State, Status
from stflash.sim.bench import Bench

from linkbench import ScriptedDfu, flash_bytes, random_file

FLASH, BANK2 = 0x0800_0000, 0x0810_0000
KIB = 1024


def h743(bench, rom: str) -> Path:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-h743zi")
    with Bench.open(directory) as b:
        b.set("dfu-rom", rom)
    return directory


def test_rev_v_write_across_both_banks(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = h743(bench, "h7-rev-v")
    path, data = random_file(tmp_path, 160 * KIB)
    start = BANK2 - 128 * KIB  # the last sector of bank 1 and the first of bank 2
    r = run_cli("write", str(path), "-a", hex(start), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    assert flash_bytes(directory, start, len(data)) == data
    r = run_cli("erase", hex(BANK2), str(128 * KIB), "-c", "dfu")
    assert r.code == 0, r.err
    assert flash_bytes(directory, BANK2, 128 * KIB) == b"\xff" * (128 * KIB)


def test_rev_v_without_the_double_clrstatus_never_ends(bench, run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import stflash.links.dfu.dfuse as dfuse

    h743(bench, "h7-rev-v")
    monkeypatch.setattr(dfuse, "STUCK_BUSY_ANSWERS", 10**6)  # a host that only waits, as dfu-util does
    r = run_cli("erase", hex(BANK2), str(128 * KIB), "-c", "dfu")
    assert r.code == 11 and "did not finish" in r.err


def test_an_unconfirmed_erase_that_left_data_is_an_error(bench, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from stflash.sim.chip import SimChip
    from stflash.sim.flashctl import RomOutcome

    directory = h743(bench, "h7-rev-v")
    with Bench.open(directory) as b:
        b.chip.rom_program(BANK2, b"\x5a" * 32)
    monkeypatch.setattr(SimChip, "rom_erase", lambda self, sectors: RomOutcome(True))  # "done", nothing erased
    r = run_cli("erase", hex(BANK2), "32", "-c", "dfu")
    assert r.code == 14
    assert f"never confirmed the erase at {BANK2:#010x}" in r.err and "not blank" in r.err


def test_v13_3_chip_erase_goes_sector_by_sector(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = h743(bench, "h7-v13.3")
    with Bench.open(directory) as b:
        b.chip.rom_program(FLASH, b"\x5a" * 32)
        b.chip.rom_program(BANK2 + 0x1000, b"\x5a" * 32)
    r = run_cli("erase", "--all", "-c", "dfu")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.flash_empty(), "a DfuSe mass erase would have left both words"


# -- the recovery on the wire, against a scripted device -----------------------------------------------
BUSY = DfuStatus(Status.OK, 100, State.dfuDNBUSY)
DONE = DfuStatus(Status.OK, 0, State.dfuDNLOAD_IDLE)


def _erase(answers: list[DfuStatus | Exception]) -> tuple[bool, ScriptedDfu, list[float]]:
    dev, slept = ScriptedDfu(answers), []
    dfu = DfuSe(dev, 0, 1024, slept.append, poll="eager")
    return dfu.erase_page(BANK2, 5.0), dev, slept


def test_stuck_busy_is_cleared_as_cubeprogrammer_does() -> None:
    unconfirmed, dev, slept = _erase([BUSY, BUSY, BUSY, DfuStatus(Status.errUNKNOWN, 0, State.dfuERROR),
                                      DfuStatus(Status.OK, 0, State.dfuIDLE)])
    assert unconfirmed
    assert dev.names == ["DNLOAD", "GETSTATUS", "GETSTATUS", "GETSTATUS", "CLRSTATUS", "GETSTATUS", "CLRSTATUS",
                       "GETSTATUS"]
    assert slept == [0.1], "one bwPollTimeout is waited before giving up on the ROM"


def test_stalls_while_busy_are_not_a_stuck_rom() -> None:
    import usb.core

    stall = usb.core.USBError("Pipe error", -9, 32)
    unconfirmed, dev, _ = _erase([BUSY, stall, stall, DONE])  # the L433 ROM (dfu.md Q3)
    assert not unconfirmed and "CLRSTATUS" not in dev.names
    unconfirmed, dev, _ = _erase([BUSY, BUSY, DONE])  # busy once more, then done: an ordinary erase
    assert not unconfirmed and "CLRSTATUS" not in dev.names


def test_a_rom_that_will_not_clear_is_an_error() -> None:
    from stflash.errors import LinkError

    with pytest.raises(LinkError, match="stays in dfuDNBUSY"):
        _erase([BUSY, BUSY, BUSY, BUSY])
