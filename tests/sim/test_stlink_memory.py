"""Memory commands of the simulated ST-LINK: 8/16/32-bit reads and writes with their limits, the
status and fault address GETLASTRWSTATUS2 reports, debug-register and batched accesses, and how
the MEM-AP's auto-increment wrap shows through raw DAP accesses."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from test_stlink_usb import OK, bench_probe

from stflash.sim.bench import Bench

SRAM = 0x2000_0000


def test_32_16_8_bit_writes_and_reads(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        payload = bytes(range(64))
        probe.write(SRAM, payload)
        assert probe.status2() == (OK, 0)
        assert probe.read(SRAM, 64) == payload
        probe.write(SRAM + 2, b"\xaa\xbb", width=2)
        probe.write(SRAM + 5, b"\xcc", width=1)
        assert probe.read(SRAM, 8, width=2) == bytes([0, 1, 0xAA, 0xBB, 4, 0xCC, 6, 7])
        assert probe.read(SRAM + 3, 3, width=1) == bytes([0xBB, 4, 0xCC])
        with Bench.open(tmp_path / "bench") as bench:  # the bytes really are in the chip's SRAM
            assert bench.chip.read_block(SRAM, 8) == bytes([0, 1, 0xAA, 0xBB, 4, 0xCC, 6, 7])


def test_one_byte_read_returns_two_bytes(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.write(SRAM, b"\x5a\x66\x77\x88")
        probe.send(0xF2, 0x0C, *struct.pack("<IHB", SRAM, 1, 0))
        assert probe.receive(2) == b"\x5a\x00"


@pytest.mark.parametrize("kind, limit", [("V2-1", 64), ("V3", 512)])
def test_8_bit_transfer_limit_is_the_usb_packet(tmp_path: Path, kind: str, limit: int) -> None:
    with bench_probe(tmp_path, probe=kind) as probe:
        probe.connect()
        probe.write(SRAM, bytes([0x11]) * limit, width=1)
        assert probe.status2()[0] == OK
        probe.write(SRAM, bytes(limit + 1), width=1)  # one more than the firmware takes
        assert probe.status2()[0] == 0x08
        assert probe.read(SRAM, limit, width=1) == bytes([0x11]) * limit
        assert probe.read(SRAM, limit + 1, width=1) == bytes(limit + 1)
        assert probe.status2()[0] == 0x08


def test_32_bit_read_limit_and_large_write(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        big = bytes(i & 0xFF for i in range(8192))
        probe.write(SRAM, big)  # writes beyond the 6 KiB buffer are taken (probe-rs, stlink-org)
        assert probe.status2()[0] == OK
        assert probe.read(SRAM, 6144) == big[:6144]
        assert probe.read(SRAM, 6148)[:4] == bytes(4)
        assert probe.status2()[0] == 0x08


def test_unaligned_wide_access_is_an_alignment_error(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.read(SRAM + 2, 4)
        assert probe.status2() == (0x0A, SRAM + 2)
        probe.read(SRAM + 1, 2, width=2)
        assert probe.status2()[0] == 0x0A


def test_fault_status_and_fault_address(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        ram_end = SRAM + 96 * 1024  # F401xE: 96 KiB of SRAM, nothing mapped behind it
        probe.write(ram_end - 8, bytes(range(8)))
        data = probe.read(ram_end - 8, 16)
        assert data[:8] == bytes(range(8))
        assert probe.status2() == (0x11, ram_end)  # SWD_AP_FAULT at the first unmapped word
        assert probe.read(SRAM, 4) is not None and probe.status2() == (OK, 0)  # the probe recovered
        assert probe.cmd(0xF2, 0x3B, n=2) == b"\x80\x00"  # GETLASTRWSTATUS, the pre-J15 form


def test_debug_register_commands_and_chip_id(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        assert probe.debug_read(0xE0042000) == (OK, 0x1000_0433)  # DBGMCU_IDCODE: F401xD/E
        assert probe.debug_write(SRAM, 0x1234_5678) == OK
        assert probe.read32(SRAM) == 0x1234_5678
        assert probe.debug_read(0x6000_0000)[0] == 0x11  # FMC bank: nothing there on an F401


@pytest.mark.parametrize("part, address, dev_id", [
    ("nucleo-g071rb", 0x4001_5800, 0x460),  # Cortex-M0+: DBGMCU on the APB
    ("nucleo-h743zi", 0x5C00_1000, 0x450),  # H7 through AP0
    ("stm32f103rc", 0xE004_2000, 0x414),
])
def test_chip_id_at_the_family_address(tmp_path: Path, part: str, address: int, dev_id: int) -> None:
    with bench_probe(tmp_path, part) as probe:
        probe.connect()
        status, value = probe.debug_read(address)
        assert status == OK and value & 0xFFF == dev_id


def test_no_increment_commands_hit_one_address(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.cmd(0xF2, 0x50, *struct.pack("<IHB", SRAM + 16, 12, 0), data=struct.pack("<III", 1, 2, 3))
        assert probe.status2()[0] == OK
        assert probe.read(SRAM + 16, 12) == struct.pack("<III", 3, 0, 0)
        r = probe.cmd(0xF2, 0x54, *struct.pack("<IHB", SRAM + 16, 8, 0), n=8)
        assert r == struct.pack("<II", 3, 3)


def test_rw_misc_batches_reads_and_writes(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.write(SRAM, struct.pack("<I", 0xCAFE_F00D))
        cmds = bytes([5, 1, 2, 3])  # APNUM 0, ADDRESS, WRITE, READ
        values = struct.pack("<IIII", 0, SRAM + 4, 0x0BAD_BEEF, SRAM)
        probe.cmd(0xF2, 0x51, *struct.pack("<I", 4), data=cmds + values)
        r = probe.cmd(0xF2, 0x52, n=32)
        assert struct.unpack_from("<I", r, 12)[0] == 0xCAFE_F00D
        assert struct.unpack_from("<4I", r, 16) == (OK,) * 4
        assert probe.read32(SRAM + 4) == 0x0BAD_BEEF


@pytest.mark.parametrize("part, wrap", [("nucleo-f401re", 0x1000), ("nucleo-g071rb", 0x400)])
def test_tar_auto_increment_wraps(tmp_path: Path, part: str, wrap: int) -> None:
    """DRW with CSW.AddrInc carries only inside the AP's auto-increment block: 4 KiB on the
    Cortex-M3/M4 AHB-AP, 1 KiB elsewhere (ADIv5 C2.2.7; pyOCD/OpenOCD use the same sizes)."""
    with bench_probe(tmp_path, part) as probe:
        probe.connect()
        probe.write(SRAM, struct.pack("<I", 0x1111_1111))
        probe.write(SRAM + wrap, struct.pack("<I", 0x2222_2222))
        assert probe.dap_write(0, 0x00, 0x2300_0012) == OK  # CSW: 32-bit, single increment
        assert probe.dap_write(0, 0x04, SRAM + wrap - 4) == OK  # TAR: last word of the block
        probe.dap_read(0, 0x0C)
        assert probe.dap_read(0, 0x04) == (OK, SRAM)  # TAR wrapped to the start of the block
        assert probe.dap_read(0, 0x0C) == (OK, 0x1111_1111)


def test_memory_commands_handle_the_wrap_themselves(tmp_path: Path) -> None:
    with bench_probe(tmp_path, "nucleo-g071rb") as probe:
        probe.connect()
        data = bytes(i * 7 & 0xFF for i in range(2048))
        probe.write(SRAM + 0x200, data)
        assert probe.read(SRAM + 0x200, 2048) == data  # crosses two 1 KiB boundaries
