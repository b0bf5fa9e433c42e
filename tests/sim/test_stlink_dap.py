"""The SW-DP and MEM-APs behind the simulated ST-LINK, through READ/WRITE_DAP_REG and INIT_AP:
power-up handshake, sticky errors and ABORT, banked DPv2 registers, AP identification, CSW
behaviour, and the CoreSight ROM tables a debugger walks."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from test_stlink_usb import OK, bench_probe, set_link_state

DP = 0xFFFF
CTRL_STAT, SELECT, RDBUFF = 0x4, 0x8, 0xC
PWRUP_REQ = 0x5000_0000
PWRUP_ACK = 0xA000_0000
STICKYERR = 0x20


def test_power_up_handshake(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()  # ENTER powers the debug domain up
        status, ctrl = probe.dap_read(DP, CTRL_STAT)
        assert status == OK and ctrl & PWRUP_ACK == PWRUP_ACK
        assert probe.dap_write(DP, CTRL_STAT, 0) == OK  # drop both requests: the ACKs follow
        assert probe.dap_read(DP, CTRL_STAT)[1] & PWRUP_ACK == 0
        assert probe.dap_read(0, 0x0C)[0] == 0x11  # AP access with the debug domain off faults
        assert probe.dap_read(DP, CTRL_STAT)[1] & STICKYERR
        assert probe.dap_write(DP, 0x0, 0x1E) == OK  # ABORT clears the sticky flags
        assert probe.dap_write(DP, CTRL_STAT, 0x5000_0F00) == OK  # what pyOCD writes
        status, ctrl = probe.dap_read(DP, CTRL_STAT)
        assert ctrl & PWRUP_ACK == PWRUP_ACK and ctrl & 0xF00 == 0xF00 and not ctrl & STICKYERR


def test_sticky_error_blocks_until_abort(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        assert probe.dap_write(0, 0x00, 0x2300_0012) == OK
        assert probe.dap_write(0, 0x04, 0x1000_0000) == OK  # nothing mapped on an F401
        assert probe.dap_read(0, 0x0C)[0] == 0x11  # SWD_AP_FAULT
        assert probe.dap_read(DP, CTRL_STAT)[1] & STICKYERR
        assert probe.dap_read(0, 0x00)[0] == 0x11  # every AP access faults while STICKYERR is set
        assert probe.dap_read(0, 0xFC)[0] == 0x15  # and so does the SELECT write in front of it
        assert probe.dap_write(DP, SELECT, 0) == 0x15  # DP writes other than ABORT: SWD_DP_FAULT
        assert probe.dap_read(DP, 0x0) == (OK, 0x2BA01477)  # DPIDR still reads
        assert probe.dap_write(DP, 0x0, 0x04) == OK  # ABORT.STKERRCLR
        assert probe.dap_read(0, 0xFC) == (OK, 0x2477_0011)


def test_rdbuff_and_resend_return_the_last_ap_read(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.write(0x2000_0000, struct.pack("<I", 0x600D_CAFE))
        probe.dap_write(0, 0x04, 0x2000_0000)
        assert probe.dap_read(0, 0x0C) == (OK, 0x600D_CAFE)
        assert probe.dap_read(DP, RDBUFF) == (OK, 0x600D_CAFE)
        assert probe.dap_read(DP, SELECT) == (OK, 0x600D_CAFE)  # 0x8 reads RESEND


def test_banked_dpv2_registers(tmp_path: Path) -> None:
    with bench_probe(tmp_path, "nucleo-h743zi", probe="V3") as probe:
        probe.connect()
        assert probe.dap_read(DP, 0x24) == (OK, 0x0450_0041)  # TARGETID: ST, part 0x4500 (as probe-rs shows)
        assert probe.dap_read(DP, 0x34) == (OK, 0x0000_0001)  # DLPIDR
        assert probe.dap_read(DP, CTRL_STAT)[1] & PWRUP_ACK == PWRUP_ACK  # bank 0 is CTRL/STAT again


def test_banked_registers_need_j32(tmp_path: Path) -> None:
    with bench_probe(tmp_path, "nucleo-h743zi", probe="V2") as probe:
        set_link_state(tmp_path, firmware="V2J28S7")
        probe.connect()
        assert probe.dap_read(DP, 0x24)[0] == 0x08


@pytest.mark.parametrize("part, idrs", [
    ("nucleo-f401re", {0: 0x2477_0011}),
    ("stm32f103rc", {0: 0x1477_0011}),
    ("nucleo-g071rb", {0: 0x0477_0031}),
    ("nucleo-f767zi", {0: 0x7477_0001}),
    ("nucleo-h743zi", {0: 0x8477_0001, 1: 0x8477_0001, 2: 0x5477_0002}),
    ("nucleo-h755zi-q", {0: 0x8477_0001, 1: 0x8477_0001, 2: 0x5477_0002, 3: 0x2477_0011}),
])
def test_ap_identification(tmp_path: Path, part: str, idrs: dict[int, int]) -> None:
    with bench_probe(tmp_path, part) as probe:
        probe.connect()
        for ap in range(6):
            assert probe.dap_read(ap, 0xFC) == (OK, idrs.get(ap, 0)), f"AP{ap}"


@pytest.mark.parametrize("part, ap, base", [
    ("nucleo-f401re", 0, 0xE00F_F003),
    ("nucleo-g071rb", 0, 0xF000_0003),
    ("nucleo-f767zi", 0, 0xE00F_D003),
    ("nucleo-h743zi", 0, 0xE00F_E003),
    ("nucleo-h743zi", 1, 0x0000_0002),  # AP1: no ROM table
    ("nucleo-h743zi", 2, 0xE00E_0003),
])
def test_ap_base(tmp_path: Path, part: str, ap: int, base: int) -> None:
    with bench_probe(tmp_path, part) as probe:
        probe.connect()
        if ap:
            assert probe.dap_read(ap, 0xF8)[0] == 0x1D  # BAD_AP: INIT_AP comes first
            assert probe.init_ap(ap) == OK
        assert probe.dap_read(ap, 0xF8) == (OK, base)
        assert probe.dap_read(ap, 0xF4) == (OK, 0)  # CFG: no large address/data, little endian


def test_init_ap_and_close(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        assert probe.init_ap(0) == OK
        assert probe.init_ap(5) == 0x1D  # nothing at APSEL 5
        assert probe.cmd(0xF2, 0x4C, 0, n=2)[0] == OK
        assert probe.cmd(0xF2, 0x4C, 0, n=2)[0] == 0x1D  # closing a closed AP


def test_csw_size_support_per_ap(tmp_path: Path) -> None:
    """pyOCD probes transfer sizes by writing CSW.Size and reading it back: the AHB-AP keeps
    16-bit, the H7's APB-AP only does 32-bit."""
    with bench_probe(tmp_path, "nucleo-h743zi") as probe:
        probe.connect()
        assert probe.init_ap(2) == OK
        for ap, expected in ((0, 1), (2, 2)):
            csw = probe.dap_read(ap, 0x00)[1]
            assert csw & 0x40  # DeviceEn
            probe.dap_write(ap, 0x00, (csw & ~7) | 1)
            assert probe.dap_read(ap, 0x00)[1] & 7 == expected
        csw0 = probe.dap_read(0, 0x00)[1]
        assert csw0 & 0x0080_0000  # SPIDEN reads 1 on the H7's AHB-AP
        probe.dap_write(0, 0x00, csw0 | 0x4F00_0000)
        assert probe.dap_read(0, 0x00)[1] & 0x4F00_0000 == 0x4F00_0000  # HPROT[3:0] and HNONSEC


def _words(probe: object, address: int, count: int, ap: int = 0) -> list[int]:
    data = probe.read(address, 4 * count, ap=ap)  # type: ignore[attr-defined]
    return list(struct.unpack(f"<{count}I", data))


def _component(probe: object, base: int, ap: int = 0) -> tuple[int, int, int]:
    """(designer, part, class) from a component's PIDR/CIDR, as a debugger decodes them."""
    pidr4, _, _, _, pidr0, pidr1, pidr2, _, _, cidr1, _, _ = _words(probe, base + 0xFD0, 12, ap)
    part = pidr0 | (pidr1 & 0xF) << 8
    designer = ((pidr4 & 0xF) << 8) | ((pidr2 & 0x7) << 4) | (pidr1 >> 4)
    return designer, part, cidr1 >> 4


def test_rom_table_walk_f401(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        assert _component(probe, 0xE00F_F000) == (0x020, 0x433, 1)  # ST's table, part = DEV_ID
        entries = _words(probe, 0xE00F_F000, 7)
        assert entries[-1] == 0
        targets = [(0xE00F_F000 + (e & 0xFFFF_F000)) & 0xFFFF_FFFF for e in entries[:-1]]
        assert targets == [0xE000_E000, 0xE000_1000, 0xE000_2000, 0xE000_0000, 0xE004_0000, 0xE004_1000]
        parts = [_component(probe, t) for t in targets]
        assert parts == [(0x43B, 0x00C, 0xE), (0x43B, 0x002, 0xE), (0x43B, 0x003, 0xE), (0x43B, 0x001, 0xE),
                         (0x43B, 0x9A1, 0x9), (0x43B, 0x925, 0x9)]


def test_rom_tables_h7_per_ap(tmp_path: Path) -> None:
    with bench_probe(tmp_path, "nucleo-h743zi") as probe:
        probe.connect()
        assert probe.init_ap(2) == OK
        assert _component(probe, 0xE00F_E000) == (0x020, 0x450, 1)
        assert _component(probe, 0xE00F_F000) == (0x43B, 0x4C7, 1)  # the Cortex-M7 core table
        assert _component(probe, 0xE004_1000)[1] == 0x975  # M7 ETM
        assert _component(probe, 0xE00E_0000, ap=2) == (0x020, 0x450, 1)  # APB-D system table
        assert _component(probe, 0xE00F_5000, ap=2)[1] == 0x912  # CoreSight TPIU
        assert probe.read(0x0800_0000, 4, ap=2) == bytes(4)  # the debug APB does not reach flash
        assert probe.status2()[0] == 0x11
