"""Core control through the simulated ST-LINK as its firmware does it: halt/run/step as DHCSR writes,
core registers through DCRSR/DCRDR with S_REGRDY polls (API v2 and the v1 forms tools still send).
These need the Cortex-M core model in the chip."""

from __future__ import annotations

import struct
from pathlib import Path

from test_stlink_usb import OK, Probe, bench_probe

SRAM = 0x2000_0000
DHCSR = 0xE000_EDF0
S_HALT = 1 << 17
# movs r0, #1 ; adds r0, #2 ; b .
PROGRAM = bytes.fromhex("0120 0230 fee7".replace(" ", "")).ljust(8, b"\x00")


def _read_reg(probe: Probe, index: int) -> tuple[int, int]:
    r = probe.cmd(0xF2, 0x33, index, n=8)
    return r[0], struct.unpack_from("<I", r, 4)[0]


def _write_reg(probe: Probe, index: int, value: int) -> int:
    return probe.cmd(0xF2, 0x34, index, *struct.pack("<I", value), n=2)[0]


def _halted(probe: Probe) -> bool:
    return probe.cmd(0xF2, 0x01, n=2)[0] == 0x81  # API v1 GETSTATUS


def test_halt_registers_step_run(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        assert probe.cmd(0xF2, 0x02, n=2)[0] == OK  # FORCEDEBUG
        assert _halted(probe)
        assert probe.debug_read(DHCSR)[1] & S_HALT
        probe.write(SRAM, PROGRAM)
        assert _write_reg(probe, 15, SRAM) == OK
        assert _write_reg(probe, 16, 0x0100_0000) == OK  # xPSR with the Thumb bit
        assert _write_reg(probe, 0, 0xDEAD_BEEF) == OK
        assert _read_reg(probe, 0) == (OK, 0xDEAD_BEEF)
        assert probe.cmd(0xF2, 0x05, 0, n=4) == struct.pack("<I", 0xDEAD_BEEF)  # API v1 READREG
        assert probe.cmd(0xF2, 0x0A, n=2)[0] == OK  # STEPCORE
        assert _read_reg(probe, 15) == (OK, SRAM + 2) and _read_reg(probe, 0) == (OK, 1)
        assert probe.cmd(0xF2, 0x0A, n=2)[0] == OK
        regs = probe.cmd(0xF2, 0x3A, n=88)  # READALLREGS: status, r0..r15, xPSR, MSP, PSP, ...
        assert regs[0] == OK
        words = struct.unpack_from("<21I", regs, 4)
        assert words[0] == 3 and words[15] == SRAM + 4 and words[16] & 0x0100_0000
        assert probe.cmd(0xF2, 0x09, n=2)[0] == OK  # RUNCORE
        assert not _halted(probe)
        assert probe.cmd(0xF2, 0x02, n=2)[0] == OK
        assert _read_reg(probe, 15) == (OK, SRAM + 4)  # spinning on "b ."

