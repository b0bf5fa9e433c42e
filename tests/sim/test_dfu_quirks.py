"""DFU ROM behaviour a bare host sees: what it may read (AN2662: flash, RAM, system memory, option
bytes; no peripherals), and the H74x/H75x ROM versions that misbehave (dfu.md Q5-Q7)."""

from __future__ import annotations

import struct
from pathlib import Path

import usb.core

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

IDLE, DNBUSY, DNLOAD_IDLE, ERROR = 2, 4, 5, 10
OK, ERR_TARGET, ERR_UNKNOWN = 0x00, 0x01, 0x0E
BANK2 = 0x0810_0000


class Host:
    """The requests of DFU 1.1 / DfuSe, one method each."""

    def __init__(self, directory: Path) -> None:
        dev = usb.core.find(idVendor=0x0483, idProduct=0xDF11, backend=pyusb_backend(directory))
        assert dev is not None
        self.dev = dev

    def status(self) -> tuple[int, int, int]:
        r = bytes(self.dev.ctrl_transfer(0xA1, 3, 0, 0, 6))
        return r[0], int.from_bytes(r[1:4], "little"), r[4]

    def clear(self) -> None:
        self.dev.ctrl_transfer(0x21, 4, 0, 0, None)

    def abort(self) -> None:
        self.dev.ctrl_transfer(0x21, 6, 0, 0, None)

    def idle(self) -> None:
        if self.status()[2] == ERROR:
            self.clear()
        assert self.status() == (OK, 0, IDLE)

    def command(self, payload: bytes) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        self.dev.ctrl_transfer(0x21, 1, 0, 0, payload)
        return self.status(), self.status()

    def read(self, address: int, length: int) -> bytes | tuple[int, int, int]:
        first, second = self.command(struct.pack("<BI", 0x21, address))
        if second[2] == ERROR:
            return second
        self.abort()
        try:
            data = bytes(self.dev.ctrl_transfer(0xA1, 2, 2, 0, length))
        except usb.core.USBError:
            return self.status()
        self.abort()  # out of dfuUPLOAD-IDLE
        return data


def board(tmp_path: Path, part: str, rom: str = "") -> Path:
    d = tmp_path / part
    Bench.create(d, part, scenarios=["bootloader-only"])
    if rom:
        with Bench.open(d) as b:
            b.set("dfu-rom", rom)
    return d


def test_system_memory_reads_and_peripherals_do_not(tmp_path: Path) -> None:
    d = board(tmp_path, "stm32f411re")
    host = Host(d)
    host.idle()
    assert host.read(0x1FFF_76DE, 2)[:1] == b"\xd0"  # the F411 bootloader id (AN2606)
    assert host.read(0xE004_2000, 4) == (ERR_TARGET, 0, ERROR)  # DBGMCU_IDCODE: not a memory the ROM lists
    host.clear()
    assert host.read(0x1FFF_7A10, 12) == (ERR_TARGET, 0, ERROR)  # the UID area after the OTP (community, 2013)
    host.clear()
    first, second = host.command(struct.pack("<BI", 0x21, 0x1FFF_0000))
    host.dev.ctrl_transfer(0x21, 1, 2, 0, b"\x00" * 16)  # a write there
    assert host.status()[2] == DNBUSY and host.status() == (ERR_TARGET, 0, ERROR)


def test_rev_v_bank2_erase_never_leaves_dnbusy_until_cleared_twice(tmp_path: Path) -> None:
    d = board(tmp_path, "nucleo-h743zi", "h7-rev-v")
    with Bench.open(d) as b:
        b.chip.rom_program(BANK2, b"\x5a" * 32)
        b.chip.rom_program(0x0800_0000, b"\x5a" * 32)
    host = Host(d)
    host.idle()
    # bank 1 as usual: dfuDNBUSY (after the erase), then dfuDNLOAD-IDLE
    assert host.command(struct.pack("<BI", 0x41, 0x0800_0000)) == ((OK, 100, DNBUSY), (OK, 0, DNLOAD_IDLE))
    first, second = host.command(struct.pack("<BI", 0x41, BANK2))
    assert first == second == (OK, 100, DNBUSY)
    with Bench.open(d) as b:
        b.host_wait(500_000_000)  # well past bwPollTimeout
    assert host.status() == (OK, 100, DNBUSY)
    host.abort()  # ignored in dfuDNBUSY
    assert host.status()[2] == DNBUSY
    host.clear()
    assert host.status() == (ERR_UNKNOWN, 0, ERROR)  # Betaflight's (14, 10)
    host.clear()
    assert host.status() == (OK, 0, IDLE)
    with Bench.open(d) as b:
        assert b.chip.rom_read(BANK2, 32) == b"\xff" * 32, "the erase itself was done"


def test_the_ordinary_h7_rom_confirms_bank2_erases(tmp_path: Path) -> None:
    d = board(tmp_path, "nucleo-h743zi")
    host = Host(d)
    host.idle()
    assert host.command(struct.pack("<BI", 0x41, BANK2)) == ((OK, 100, DNBUSY), (OK, 0, DNLOAD_IDLE))


def test_v13_3_mass_erase_answers_ok_and_erases_nothing(tmp_path: Path) -> None:
    d = board(tmp_path, "nucleo-h743zi", "h7-v13.3")
    with Bench.open(d) as b:
        b.chip.rom_program(0x0800_0000, b"\x5a" * 32)
    host = Host(d)
    host.idle()
    assert host.command(b"\x41") == ((OK, 100, DNBUSY), (OK, 0, DNLOAD_IDLE))
    with Bench.open(d) as b:
        assert b.chip.rom_read(0x0800_0000, 32) == b"\x5a" * 32
    assert host.command(struct.pack("<BI", 0x41, 0x0800_0000))[1] == (OK, 0, DNLOAD_IDLE)  # sector erase works
    with Bench.open(d) as b:
        assert b.chip.rom_read(0x0800_0000, 32) == b"\xff" * 32
