"""What stflash leaves out over USB DFU, seen from the device: the class requests that reach the
bench's DfuSe ROM and the bytes that end up in its flash.

* a Set Address Pointer only where the block numbers cannot reach the address (AN3156 §4);
* an ABORT only where the next request is not taken in the state the last one left;
* on F2/F4/F7 (no ECC, bits only go 1 -> 0) no erase of a sector that reads back erased, on the
  ECC families (H7) every erase;
* a sector read only up to the first block that differs from the image;
* the leave without a pointer when the pointer is already at the flash base.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stflash.sim.bench import Bench
from stflash.sim.usb import backend as sim_backend

from linkbench import flash_bytes, random_file

FLASH = 0x0800_0000
KIB = 1024
SET_ADDRESS, ERASE = 0x21, 0x41


@dataclass(frozen=True)
class Request:
    """One DFU class request as the device received it."""

    name: str
    value: int
    data: bytes  # DNLOAD payload
    length: int

    @property
    def command(self) -> tuple[int, int] | None:
        """(command byte, address) of a DfuSe command with an address (Set Address Pointer, Erase)."""
        if self.name != "DNLOAD" or self.value != 0 or len(self.data) != 5:
            return None
        return self.data[0], int.from_bytes(self.data[1:], "little")


NAMES = {0: "DETACH", 1: "DNLOAD", 2: "UPLOAD", 3: "GETSTATUS", 4: "CLRSTATUS", 5: "GETSTATE", 6: "ABORT"}


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Request]]:
    """Every DFU class request the bench's devices receive, in order."""
    seen: list[Request] = []
    control = sim_backend.SimBackend._control

    def spy(self, handle, setup, data):  # type: ignore[no-untyped-def]
        if setup.kind == 1 and setup.recipient == 1:
            seen.append(Request(NAMES.get(setup.bRequest, str(setup.bRequest)), setup.wValue, bytes(data),
                                setup.wLength))
        return control(self, handle, setup, data)

    monkeypatch.setattr(sim_backend.SimBackend, "_control", spy)
    yield seen


def commands(seen: list[Request], byte: int) -> list[int]:
    return [c[1] for r in seen if (c := r.command) is not None and c[0] == byte]


def data_blocks(seen: list[Request]) -> list[int]:
    return [r.value for r in seen if r.name == "DNLOAD" and r.value >= 2 and r.data]


def program(directory: Path, address: int, data: bytes) -> None:
    with Bench.open(directory) as b:
        assert b.chip.rom_program(address, data).ok


def test_fresh_f4_write_erases_nothing_and_points_once(bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 72 * KIB)  # sectors 0-3 (16 KiB) and part of sector 4 (64 KiB)
    r = run_cli("write", str(path), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    assert flash_bytes(directory, FLASH, len(data)) == data
    assert commands(wire, ERASE) == []  # every sector read back erased: an F4 programs over that
    first = next(i for i, q in enumerate(wire) if q.name == "DNLOAD" and q.value >= 2)
    last = max(i for i, q in enumerate(wire) if q.name == "DNLOAD" and q.value >= 2 and q.data)
    # the five sectors' writes are one run of blocks from the one pointer, with nothing in between
    # but the GETSTATUS pairs: no pointer per sector, no ABORT
    assert data_blocks(wire) == list(range(2, 2 + 36))
    run = wire[first : last + 3]
    assert [q.name for q in run] == ["DNLOAD", "GETSTATUS", "GETSTATUS"] * 36


def test_sectors_holding_data_are_erased_and_blank_ones_are_not(bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    program(directory, 0x0800_4000, b"\x00" * 16)  # sector 1: data at its start
    program(directory, 0x0800_C000 + 16 * KIB - 32, b"\x12" * 32)  # sector 3: data in its last block only
    path, data = random_file(tmp_path, 64 * KIB, seed=2)
    r = run_cli("--json", "write", str(path), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    assert commands(wire, ERASE) == [0x0800_4000, 0x0800_C000]
    assert flash_bytes(directory, FLASH, len(data)) == data  # old bits are gone, not ANDed in
    # the record says which sectors were erased and which were found blank and left alone
    result = json.loads(r.out)["result"]
    assert [e["address"] for e in result["erased"]] == [0x0800_4000, 0x0800_C000]
    assert [e["address"] for e in result["found_blank"]] == [0x0800_0000, 0x0800_8000]


def test_the_summary_says_how_many_sectors_were_found_blank(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bench("nucleo-f401re")
    path, _ = random_file(tmp_path, 40 * KIB)
    r = run_cli("write", str(path), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    assert "3 sector(s) read back blank and were not erased" in r.out


def test_h7_erases_blank_sectors_too(bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """ECC: a flash word programmed with all ones reads like an erased one but takes no second
    program, so reading a sector back proves nothing there."""
    directory = bench("nucleo-h743zi")
    path, data = random_file(tmp_path, 130 * KIB)
    r = run_cli("write", str(path), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    assert commands(wire, ERASE) == [0x0800_0000, 0x0802_0000]
    assert flash_bytes(directory, FLASH, len(data)) == data


def test_blank_sectors_are_erased_with_the_skip_turned_off(bench, run_cli, wire, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from stflash.links.dfu import link

    monkeypatch.setattr(link, "SKIP_BLANK_ERASE", False)
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 40 * KIB)
    assert run_cli("write", str(path), "-c", "dfu", "--no-reset").code == 0
    assert commands(wire, ERASE) == [0x0800_0000, 0x0800_4000, 0x0800_8000]
    assert flash_bytes(directory, FLASH, len(data)) == data


def test_a_changed_sector_is_read_up_to_the_change(bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 128 * KIB)  # sectors 0-3 and 4 (64 KiB)
    assert run_cli("write", str(path), "-c", "dfu", "--no-reset").code == 0
    changed = bytearray(data)
    at = 0x1_0000 + 10 * 2048 + 100  # inside the 11th 2 KiB block of sector 4
    changed[at] ^= 0xFF
    path.write_bytes(changed)
    wire.clear()
    r = run_cli("--json", "write", str(path), "-c", "dfu", "--no-reset", "--no-verify")
    assert r.code == 0, r.err
    result = r.json["result"]
    assert [s["address"] for s in result["skipped"]] == [0x0800_0000, 0x0800_4000, 0x0800_8000, 0x0800_C000]
    assert result["written"] == [{"address": 0x0801_0000, "length": 64 * KIB}]
    uploads = [q for q in wire if q.name == "UPLOAD" and q.value >= 2 and q.length > 32]
    # sectors 0-3 in full (8 blocks each), sector 4 up to the block with the change: 11 of 32
    assert len(uploads) == 4 * 8 + 11
    assert commands(wire, ERASE) == [0x0801_0000]
    assert flash_bytes(directory, FLASH, len(data)) == bytes(changed)


def test_reset_leaves_without_a_pointer_when_it_is_at_the_base(bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 16 * KIB)
    data = (0x2000_2000).to_bytes(4, "little") + (FLASH + 0x201).to_bytes(4, "little") + data[8:]
    path.write_bytes(data)
    r = run_cli("write", str(path), "-c", "dfu", "--no-verify")
    assert r.code == 0, r.err
    leave = next(i for i, q in enumerate(wire) if q.name == "DNLOAD" and not q.data)
    # right after the last block's two GETSTATUS: no ABORT, no GETSTATUS, no pointer in between
    assert [q.name for q in wire[leave - 3 : leave + 2]] == ["DNLOAD", "GETSTATUS", "GETSTATUS", "DNLOAD",
                                                             "GETSTATUS"]
    assert wire[leave - 3].data and wire[leave - 3].value == 2 + 7
    with Bench.open(directory) as b:
        assert b.chip.boot_source == "flash"  # the application runs
    assert flash_bytes(directory, FLASH, len(data)) == data


def test_reset_points_at_the_base_when_the_writes_started_elsewhere(bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    program(directory, FLASH, (0x2000_2000).to_bytes(4, "little") + (FLASH + 0x201).to_bytes(4, "little"))
    path, data = random_file(tmp_path, 2 * KIB)
    r = run_cli("write", str(path), "--address", "0x08004000", "-c", "dfu", "--no-verify")
    assert r.code == 0, r.err
    leave = next(i for i, q in enumerate(wire) if q.name == "DNLOAD" and not q.data)
    assert wire[leave - 3].command == (SET_ADDRESS, FLASH)
    with Bench.open(directory) as b:
        assert b.chip.boot_source == "flash"
    assert flash_bytes(directory, 0x0800_4000, len(data)) == data


def mass_erases(seen: list[Request]) -> int:
    return sum(1 for r in seen if r.name == "DNLOAD" and r.value == 0 and r.data == bytes([ERASE]))


def test_an_explicit_erase_all_erases_even_a_blank_f4(bench, run_cli, wire) -> None:  # type: ignore[no-untyped-def]
    """``stflash erase`` asks for an erase: it gets one, blank or not (only a write trusts a read-back)."""
    directory = bench("nucleo-f401re")
    r = run_cli("erase", "--all", "-c", "dfu")
    assert r.code == 0, r.err
    assert mass_erases(wire) == 1
    assert flash_bytes(directory, FLASH, 512 * KIB) == b"\xff" * (512 * KIB)


def test_force_erases_blank_sectors_too(bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 40 * KIB)
    r = run_cli("--json", "write", str(path), "-c", "dfu", "--no-reset", "--force")
    assert r.code == 0, r.err
    assert commands(wire, ERASE) == [0x0800_0000, 0x0800_4000, 0x0800_8000]
    assert json.loads(r.out)["result"]["found_blank"] == []
    assert flash_bytes(directory, FLASH, len(data)) == data


def test_erase_all_with_data_in_the_last_sector_mass_erases(bench, run_cli, wire) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    program(directory, 0x0807_FFF0, b"\x5a" * 16)
    r = run_cli("erase", "--all", "-c", "dfu")
    assert r.code == 0, r.err
    assert mass_erases(wire) == 1
    assert flash_bytes(directory, 0x0806_0000, 128 * KIB) == b"\xff" * (128 * KIB)


@pytest.mark.parametrize("old_data", [False, True])
def test_write_with_a_chip_erase_reads_the_flash_first(old_data: bool, bench, run_cli, wire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``write --erase chip`` on an F4: a flash that reads erased to its last byte is not erased;
    one with data anywhere (here its last 16 bytes) is, and that data is gone afterwards."""
    directory = bench("nucleo-f401re")
    if old_data:
        program(directory, 0x0807_FFF0, b"\x5a" * 16)
    path, data = random_file(tmp_path, 8 * KIB)
    r = run_cli("write", str(path), "-c", "dfu", "--no-reset", "--erase", "chip")
    assert r.code == 0, r.err
    assert mass_erases(wire) == (1 if old_data else 0)
    assert flash_bytes(directory, FLASH, len(data)) == data
    assert flash_bytes(directory, 0x0807_FFF0, 16) == b"\xff" * 16
