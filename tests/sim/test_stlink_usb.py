"""The simulated ST-LINK at command level, through pyusb: identity, versions, modes, voltage, clocks
and how unknown or unsupported commands are answered (stlink.md §1-§4).

``Probe`` is the small raw client the other ``test_stlink_*`` files share: it sends 16-byte command
blocks and reads replies exactly as a host tool does, with nothing of stflash's own client in
between.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import usb.core
import usb.util

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench
from stflash.sim.stlink import firmware as fw
from stflash.sim.usb.stlink_identity import KINDS

OK = 0x80


class Probe:
    """A raw ST-LINK host: command block, optional data OUT phase, reply IN phase."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        pids = {k.pid for k in KINDS.values()}
        dev = usb.core.find(idVendor=0x0483, custom_match=lambda d: d.idProduct in pids,
                            backend=pyusb_backend(directory))
        assert dev is not None, "no ST-LINK on the bench's bus"
        self.dev: Any = dev
        kind = next(k for k in KINDS.values() if k.pid == dev.idProduct)
        self.out_ep, self.in_ep, self.packet = kind.out_ep, kind.in_ep, kind.packet

    def close(self) -> None:
        usb.util.dispose_resources(self.dev)

    def send(self, *block: int, data: bytes | None = None) -> None:
        self.dev.write(self.out_ep, bytes(block).ljust(16, b"\x00"))
        if data is not None:
            self.dev.write(self.out_ep, data)

    def receive(self, n: int) -> bytes:
        return bytes(self.dev.read(self.in_ep, max(n, self.packet), 100))

    def cmd(self, *block: int, n: int = 0, data: bytes | None = None) -> bytes:
        self.send(*block, data=data)
        return self.receive(n) if n else b""

    # conveniences over the DEBUG_COMMAND set
    def enter_swd(self) -> int:
        return self.cmd(0xF2, 0x30, 0xA3, 0x00, n=2)[0]

    def connect(self) -> None:
        mode = self.cmd(0xF5, n=2)[0]
        if mode == 0x00:
            self.cmd(0xF3, 0x07)
        elif mode == 0x02:
            self.cmd(0xF2, 0x21)
        assert self.enter_swd() == OK

    def status2(self) -> tuple[int, int]:
        r = self.cmd(0xF2, 0x3E, n=12)
        return r[0], struct.unpack_from("<I", r, 4)[0]

    def read(self, addr: int, length: int, width: int = 4, ap: int = 0) -> bytes:
        sub = {4: 0x07, 2: 0x47, 1: 0x0C}[width]
        want = 2 if width == 1 and length == 1 else length
        return self.cmd(0xF2, sub, *struct.pack("<IHB", addr, length, ap), n=want)

    def write(self, addr: int, data: bytes, width: int = 4, ap: int = 0) -> None:
        sub = {4: 0x08, 2: 0x48, 1: 0x0D}[width]
        self.cmd(0xF2, sub, *struct.pack("<IHB", addr, len(data), ap), data=data)

    def read32(self, addr: int, ap: int = 0) -> int:
        data = self.read(addr, 4, ap=ap)
        return int(struct.unpack("<I", data)[0])

    def dap_read(self, port: int, addr: int) -> tuple[int, int]:
        r = self.cmd(0xF2, 0x45, *struct.pack("<HH", port, addr), n=8)
        return r[0], struct.unpack_from("<I", r, 4)[0]

    def dap_write(self, port: int, addr: int, value: int) -> int:
        return self.cmd(0xF2, 0x46, *struct.pack("<HHI", port, addr, value), n=2)[0]

    def debug_read(self, addr: int) -> tuple[int, int]:
        r = self.cmd(0xF2, 0x36, *struct.pack("<I", addr), n=8)
        return r[0], struct.unpack_from("<I", r, 4)[0]

    def debug_write(self, addr: int, value: int) -> int:
        return self.cmd(0xF2, 0x35, *struct.pack("<II", addr, value), n=2)[0]

    def init_ap(self, ap: int) -> int:
        return self.cmd(0xF2, 0x4B, ap, 0x00, n=2)[0]


@contextmanager
def bench_probe(tmp_path: Path, part: str = "nucleo-f401re", **kwargs: Any) -> Iterator[Probe]:
    Bench.create(tmp_path / "bench", part, **kwargs)
    probe = Probe(tmp_path / "bench")
    try:
        yield probe
    finally:
        probe.close()


def set_link_state(tmp_path: Path, **values: Any) -> None:
    with Bench.open(tmp_path / "bench") as bench:
        bench.board.link_state.setdefault("stlink", {}).update(values)


# -- identity and versions -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind, pid, word", [("V2", 0x3748, 0x2B47), ("V2-1", 0x374B, 0x2B5F), ("V3", 0x374E, 0x3000)])
def test_get_version_word_vid_pid(tmp_path: Path, kind: str, pid: int, word: int) -> None:
    with bench_probe(tmp_path, probe=kind) as probe:
        r = probe.cmd(0xF1, n=6)
        assert struct.unpack(">H", r[:2])[0] == word  # V2J45S7 / V2J45M31 / V3 with J and S zero
        assert struct.unpack("<HH", r[2:6]) == (0x0483, pid)


def test_v3_answers_get_version_ex_with_its_real_numbers(tmp_path: Path) -> None:
    with bench_probe(tmp_path, probe="V3") as probe:
        r = probe.cmd(0xFB, n=12)
        assert tuple(r[:6]) == (3, 1, 16, 8, 5, 0)  # hw, SWIM, JTAG, MSD, bridge, power: V3J16M8B5S1
        assert struct.unpack("<HH", r[8:12]) == (0x0483, 0x374E)
        assert fw.FIRMWARE_V3.text() == "V3J16M8B5S1"


def test_v2_ignores_get_version_ex(tmp_path: Path) -> None:
    with bench_probe(tmp_path, probe="V2") as probe:
        probe.send(0xFB)
        with pytest.raises(usb.core.USBTimeoutError):
            probe.receive(12)


def test_old_v2_serial_descriptor_is_raw_bytes(tmp_path: Path) -> None:
    Bench.create(tmp_path / "bench", "stm32f103rc", probe="V2")
    set_link_state(tmp_path, raw_serial=True)
    dev: Any = usb.core.find(idVendor=0x0483, backend=pyusb_backend(tmp_path / "bench"))
    try:
        serial = usb.util.get_string(dev, dev.iSerialNumber)
        assert len(serial) == 12  # one UTF-16 unit per raw byte: hosts hex-encode it themselves
        raw = bytes(dev.ctrl_transfer(0x80, 6, 0x0303, 0x0409, 255))
        assert raw[0] == 26
    finally:
        usb.util.dispose_resources(dev)


# -- modes --------------------------------------------------------------------------------------------
def test_modes_dfu_mass_debug_and_persistence(tmp_path: Path) -> None:
    with bench_probe(tmp_path, probe="V2") as probe:
        assert probe.cmd(0xF5, n=2) == b"\x00\x00"  # a V2 comes up in DFU mode
        probe.cmd(0xF3, 0x07)  # DFU_EXIT: no reply
        assert probe.cmd(0xF5, n=2)[0] == 0x01
        assert probe.enter_swd() == OK
        assert probe.cmd(0xF5, n=2)[0] == 0x02
    probe = Probe(tmp_path / "bench")  # a later host session finds the probe still in debug mode
    try:
        assert probe.cmd(0xF5, n=2)[0] == 0x02
        probe.cmd(0xF2, 0x21)  # DEBUG_EXIT: no reply
        assert probe.cmd(0xF5, n=2)[0] == 0x01
        probe.cmd(0xF4, 0x01)  # SWIM_EXIT from mass storage mode: still idle, no reply
        assert probe.cmd(0xF5, n=2)[0] == 0x01
    finally:
        probe.close()


def test_v3_comes_up_in_mass_storage_mode(tmp_path: Path) -> None:
    with bench_probe(tmp_path, probe="V3") as probe:
        assert probe.cmd(0xF5, n=2)[0] == 0x01


def test_target_commands_need_debug_mode(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        status, value = probe.debug_read(0xE0042000)
        assert (status, value) == (0x05, 0)  # JTAG_NO_DEVICE_CONNECTED before ENTER
        assert probe.read(0x20000000, 8) == bytes(8)
        assert probe.status2()[0] == 0x05
        probe.connect()
        assert probe.debug_read(0xE0042000) == (OK, 0x1000_0433)


# -- target voltage ---------------------------------------------------------------------------------------
def _volts(r: bytes) -> float:
    a0, a1 = struct.unpack("<II", r)
    return 2 * 1.2 * a1 / a0


def test_target_voltage_follows_the_supply(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        assert _volts(probe.cmd(0xF7, n=8)) == pytest.approx(3.3, abs=0.01)
        with Bench.open(tmp_path / "bench") as bench:
            bench.set("power", "0")
        assert _volts(probe.cmd(0xF7, n=8)) < 0.05


def test_no_target_power_scenario_reads_zero_volts_and_no_idcode(tmp_path: Path) -> None:
    with bench_probe(tmp_path, scenarios=["no-target-power"]) as probe:
        assert _volts(probe.cmd(0xF7, n=8)) < 0.05
        probe.cmd(0xF3, 0x07)
        assert probe.enter_swd() == 0x09  # JTAG_GET_IDCODE_ERROR
        r = probe.cmd(0xF2, 0x31, n=12)
        assert r[0] == 0x09 and r[4:8] == bytes(4)


# -- SWD entry, IDCODE, clocks -------------------------------------------------------------------------------
def test_enter_swd_and_read_the_dp_idcode(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        r = probe.cmd(0xF2, 0x31, n=12)  # READ_IDCODES
        assert r[0] == OK and struct.unpack_from("<I", r, 4)[0] == 0x2BA01477
        assert probe.cmd(0xF2, 0x22, n=4) == struct.pack("<I", 0x2BA01477)  # API v1 READCOREID
        assert probe.dap_read(0xFFFF, 0x0) == (OK, 0x2BA01477)


def test_jtag_entry_reads_the_jtag_idcode_and_m0plus_has_no_jtag(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.cmd(0xF3, 0x07)
        assert probe.cmd(0xF2, 0x30, 0xA4, 0, n=2)[0] == OK
        assert probe.cmd(0xF2, 0x22, n=4) == struct.pack("<I", 0x4BA00477)
    with bench_probe(tmp_path / "g0", "nucleo-g071rb") as probe:
        probe.cmd(0xF3, 0x07)
        assert probe.cmd(0xF2, 0x30, 0xA4, 0, n=2)[0] == 0x09


def test_v2_swd_divisors_set_the_wire_speed(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        times = {}
        for divisor in (1, 0, 40):
            assert probe.cmd(0xF2, 0x43, divisor, 0, n=2)[0] == OK
            with Bench.open(tmp_path / "bench") as bench:
                t0 = bench.clock.now
                probe.read(0x20000000, 4096)
                times[divisor] = bench.clock.now - t0
        assert times[0] < times[1] < times[40]  # 4 MHz < 1.8 MHz < 100 kHz


def test_v3_com_freq_tables_and_prescaler(tmp_path: Path) -> None:
    with bench_probe(tmp_path, probe="V3") as probe:
        r = probe.cmd(0xF2, 0x62, 0x00, n=52)
        current, count = struct.unpack_from("<II", r, 4)
        freqs = list(struct.unpack_from(f"<{count}I", r, 12))
        assert r[0] == OK and current == fw.V3_DEFAULT_KHZ
        assert freqs == [24000, 8000, 3300, 1000, 200, 50]
        r = probe.cmd(0xF2, 0x61, 0x00, 0x00, *struct.pack("<I", 4000), n=8)
        assert r[0] == OK and struct.unpack_from("<I", r, 4)[0] == 3300  # highest entry not above
        r = probe.cmd(0xF2, 0x63, 0x02, n=8)
        assert r[0] == 0x40  # SWITCH_STLINK_FREQ answers CONF_CHANGED
        r = probe.cmd(0xF2, 0x62, 0x00, n=52)
        assert struct.unpack_from("<6I", r, 12) == (12000, 4000, 1600, 1000, 200, 50)
        assert struct.unpack_from("<I", r, 4)[0] == 1600
        assert probe.cmd(0xF2, 0x43, 0x01, n=2)[0] == 0x42  # the V2 divisor command is not a V3 command


# -- unknown and unsupported commands -------------------------------------------------------------------
def test_unknown_debug_subcommand_is_unknown_cmd(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        assert probe.cmd(0xF2, 0x7E, n=2) == b"\x42\x00"


def test_old_firmware_rejects_newer_commands(tmp_path: Path) -> None:
    with bench_probe(tmp_path, probe="V2") as probe:
        set_link_state(tmp_path, firmware="V2J21S4")
        r = probe.cmd(0xF1, n=6)
        assert struct.unpack(">H", r[:2])[0] == (2 << 12) | (21 << 6) | 4
        probe.connect()
        assert probe.cmd(0xF2, 0x43, 0x01, 0x00, n=2)[0] == 0x42  # SWD_SET_FREQ needs J22
        assert probe.cmd(0xF2, 0x45, 0xFF, 0xFF, 0, 0, n=2)[0] == 0x42  # READ_DAP_REG needs J24
        assert probe.cmd(0xF2, 0x47, 0, 0, 0, 0x20, 4, 0, n=2)[0] == 0x42  # 16-bit needs J26
        assert probe.debug_read(0xE0042000) == (OK, 0x1000_0433)  # the old API still works


def test_board_identifier_of_an_on_board_probe(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        r = probe.cmd(0xF2, 0x56, n=128)
        assert r[0] == OK and r[2:6] == b"0720"  # NUCLEO-F401RE's Mbed board id
    with bench_probe(tmp_path / "v2", probe="V2") as probe:
        assert probe.cmd(0xF2, 0x56, n=128)[2:6] == bytes(4)  # a standalone V2 has none


def test_unread_replies_stay_queued_until_the_host_reads(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.send(0xF5)
        probe.send(0xF1)
        assert probe.receive(2) == b"\x00\x00"  # the stale mode reply comes first
        assert len(probe.receive(6)) == 6
        with pytest.raises(usb.core.USBTimeoutError):
            probe.receive(2)
