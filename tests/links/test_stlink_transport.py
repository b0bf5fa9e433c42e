"""stflash's ST-LINK link on USB: finding probes (several at once, by serial, old V2 serials),
claiming them, firmware versions and features, target voltage, leaving the mode a previous
session left, the SWD clock, and USB failures (busy, unplugged), against the bench's probe.

This module also holds what the other ``test_stlink_*`` link tests share: benches, the bench
clock as the host's ``sleep``, and ``Bus``, a pyusb backend that merges several benches' buses
(the bench holds one probe) and records every command block the host sends.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import usb.backend
import usb.core

from stflash.errors import DeviceBusyError, MultipleDevicesError, NoDeviceError, NotSupportedError
from stflash.links.stlink import MemoryFault, ProbeGone, StlinkProbe, find_probes, identify, normalize_serial
from stflash.links.stlink.clock import V2_SWD_DIVISORS
from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench
from stflash.sim.stlink.usb_device import probe_serial


# -- shared helpers ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_wall_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the link may sleep for real: every wait goes through the bench's clock."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called: waits must use the sleep the link was given")

    monkeypatch.setattr(time, "sleep", refuse)


def make_bench(tmp_path: Path, part: str, probe: str = "V2-1", *scenarios: str, name: str = "bench",
               firmware: str | None = None) -> Path:
    directory = tmp_path / name
    Bench.create(directory, part, probe=probe, scenarios=scenarios, force=True)
    if firmware:
        with Bench.open(directory) as bench:
            bench.board.link_state.setdefault("stlink", {})["firmware"] = firmware
    return directory


def bench_sleep(directory: Path) -> Callable[[float], None]:
    """The host's sleep on the bench: the bench's clock moves, nothing waits."""

    def sleep(seconds: float) -> None:
        with Bench.open(directory) as bench:
            bench.host_wait(int(seconds * 1e9))

    return sleep


def advance(directory: Path, seconds: float) -> None:
    bench_sleep(directory)(seconds)


def clock_ns(directory: Path) -> int:
    with Bench.open(directory) as bench:
        return bench.clock.now


class Bus(usb.backend.IBackend):  # type: ignore[misc]
    """The buses of several benches as one, recording each command block sent to a probe."""

    def __init__(self, *directories: Path) -> None:
        self.backends = [pyusb_backend(d) for d in directories]
        self.owner: dict[int, Any] = {}
        self.blocks: list[bytes] = []  # 16-byte command blocks, in order
        self.busy = False  # claim_interface answers LIBUSB_ERROR_BUSY (another process holds it)

    def _of(self, obj: Any) -> Any:
        return self.owner[id(obj)]

    def enumerate_devices(self) -> Iterator[Any]:
        for backend in self.backends:
            for dev in backend.enumerate_devices():
                self.owner[id(dev)] = backend
                yield dev

    def open_device(self, dev: Any) -> Any:
        handle = self._of(dev).open_device(dev)
        self.owner[id(handle)] = self._of(dev)
        return handle

    def claim_interface(self, handle: Any, intf: int) -> None:
        if self.busy:
            raise usb.core.USBError("Resource busy", -6, 16)
        self._of(handle).claim_interface(handle, intf)

    def bulk_write(self, handle: Any, ep: int, intf: int, data: Any, timeout: int) -> int:
        payload = bytes(data)
        if len(payload) == 16:
            self.blocks.append(payload)
        return int(self._of(handle).bulk_write(handle, ep, intf, data, timeout))

    def debug_commands(self, sub: int) -> list[bytes]:
        return [b for b in self.blocks if b[0] == 0xF2 and b[1] == sub]


def _forward(name: str) -> Any:
    def call(self: Bus, obj: Any, *args: Any) -> Any:
        return getattr(self._of(obj), name)(obj, *args)

    return call


for _name in ("get_device_descriptor", "get_configuration_descriptor", "get_interface_descriptor",
              "get_endpoint_descriptor", "get_parent", "close_device", "set_configuration", "get_configuration",
              "set_interface_altsetting", "release_interface", "is_kernel_driver_active", "detach_kernel_driver",
              "attach_kernel_driver", "reset_device", "clear_halt", "ctrl_transfer", "bulk_read"):
    setattr(Bus, _name, _forward(_name))


def open_probe(directory: Path, serial: str | None = None, bus: Bus | None = None) -> StlinkProbe:
    return StlinkProbe.open(bus or Bus(directory), serial, sleep=bench_sleep(directory))


def serial_of(directory: Path) -> str:
    with Bench.open(directory) as bench:
        return probe_serial(bench).hex().upper()


def probe_state(directory: Path) -> dict[str, Any]:
    """What the probe's firmware keeps (its mode, clock settings): the device side's view."""
    with Bench.open(directory) as bench:
        return dict(bench.board.link_state.get("stlink", {}))


# -- finding and choosing probes ------------------------------------------------------------------------------
def test_two_probes_are_listed_and_chosen_by_serial(tmp_path: Path) -> None:
    f401 = make_bench(tmp_path, "nucleo-f401re", "V2-1", name="a")
    f103 = make_bench(tmp_path, "bluepill", "V2", name="b")
    bus = Bus(f401, f103)
    found = {p.serial: p.label for p in find_probes(bus)}
    assert found == {serial_of(f401): "ST-LINK/V2-1", serial_of(f103): "ST-LINK/V2"}
    with StlinkProbe.open(bus, serial_of(f103).lower(), sleep=bench_sleep(f103)) as probe:  # case does not matter
        probe.connect()
        assert identify(probe).chip.name == "STM32F103x8"  # type: ignore[union-attr]


def test_several_probes_without_a_serial_is_an_error_listing_them(tmp_path: Path) -> None:
    a = make_bench(tmp_path, "nucleo-f401re", "V2-1", name="a")
    b = make_bench(tmp_path, "nucleo-h743zi", "V3", name="b")
    with pytest.raises(MultipleDevicesError) as err:
        StlinkProbe.open(Bus(a, b), None, sleep=bench_sleep(a))
    assert serial_of(a) in err.value.message and serial_of(b) in err.value.message
    assert "stlink:SERIAL" in (err.value.hint or "")


def test_unknown_serial_names_it_and_lists_the_attached_probes(tmp_path: Path) -> None:
    a = make_bench(tmp_path, "nucleo-f401re")
    with pytest.raises(NoDeviceError) as err:
        open_probe(a, "0123456789ABCDEF01234567")
    assert err.value.exit_code == 3
    assert "0123456789ABCDEF01234567" in err.value.message and serial_of(a) in err.value.message


def test_no_probe_on_the_bus(tmp_path: Path) -> None:
    a = make_bench(tmp_path, "nucleo-f401re")
    with Bench.open(a) as bench:
        bench.set("usb", "0")
    with pytest.raises(NoDeviceError, match="no ST-LINK"):
        open_probe(a)


def test_old_v2_raw_serial_is_hex_encoded_and_selectable(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "bluepill", "V2")
    with Bench.open(d) as bench:
        bench.board.link_state.setdefault("stlink", {})["raw_serial"] = True
    bus = Bus(d)
    (info,) = find_probes(bus)
    assert len(info.serial_raw or "") == 12  # one UTF-16 unit per raw byte on the wire
    assert info.serial == serial_of(d)  # what st-info, OpenOCD and pyOCD print
    probe = StlinkProbe.open(bus, serial_of(d), sleep=bench_sleep(d))
    probe.close()


def test_normalize_serial() -> None:
    assert normalize_serial("066dff555185754867") == "066DFF555185754867"
    assert normalize_serial("".join(map(chr, [0x06, 0x6D, 0xFF, 0x55, 0x51, 0x85, 0x75, 0x48, 0x67, 0x12,
                                              0x11, 0x39]))) == "066DFF555185754867121139"
    assert normalize_serial(None) is None


def test_probe_held_by_another_process(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re")
    bus = Bus(d)
    bus.busy = True
    with pytest.raises(DeviceBusyError, match="held by another process") as err:
        open_probe(d, bus=bus)
    assert err.value.exit_code == 5 and "close it" in (err.value.hint or "")


def test_probe_unplugged_mid_session(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re")
    with open_probe(d) as probe:
        access = probe.connect()
        with Bench.open(d) as bench:
            bench.set("usb-unplug-after", "1")
        with pytest.raises(ProbeGone, match="left the USB bus") as err:
            access.read_block(0x2000_0000, 64)
        assert err.value.exit_code == 14


# -- versions, voltage, modes --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, part, firmware, label", [
    ("V2", "bluepill", "V2J45S7", "ST-LINK/V2"),
    ("V2-1", "nucleo-f401re", "V2J45M31", "ST-LINK/V2-1"),
    ("V3", "nucleo-h743zi", "V3J16M8B5S1", "STLINK-V3E"),
])
def test_firmware_version_and_target_voltage(tmp_path: Path, kind: str, part: str, firmware: str, label: str) -> None:
    d = make_bench(tmp_path, part, kind)
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        assert probe.firmware == firmware
        assert probe.info.label == label
        assert probe.voltage == pytest.approx(3.3, abs=0.01)
        assert probe.observations["target_voltage"] == 3.3
        sent = [b[0] for b in bus.blocks]
        assert sent[0] == 0xF1 and (0xFB in sent) == (kind == "V3")  # GET_VERSION_EX only to a V3


def test_connect_asks_each_thing_once(tmp_path: Path) -> None:
    """Open then connect: the probe's mode is asked once (it was just left), the debug power is
    one CTRL/STAT read where ENTER already powered the domain up (no ABORT, no power request),
    and DHCSR is read once after the halt request; identification reuses that reading. A
    second connect asks the mode again (a failed ENTER may have left it in debug mode)."""
    d = make_bench(tmp_path, "nucleo-f401re")
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        probe.connect()
        identify(probe)
        assert [b[0] for b in bus.blocks].count(0xF5) == 1
        dap_writes = bus.debug_commands(0x46)
        assert not dap_writes and probe.observations["debug_power"] == "ok"
        dhcsr = [b for b in bus.debug_commands(0x36) if struct.unpack_from("<I", b, 2)[0] == 0xE000_EDF0]
        assert len(dhcsr) == 1 and probe.observations["core_state"] == "halted"
        probe.connect()
        assert [b[0] for b in bus.blocks].count(0xF5) == 2


def test_old_firmware_version_and_what_it_cannot_do(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re", "V2-1", firmware="V2J21M5")
    with open_probe(d) as probe:
        assert probe.firmware == "V2J21M5"
        access = probe.connect(frequency=1_000_000)
        assert probe.observations["frequency_hz"] is None  # no SWD_SET_FREQ before J22: left as it was
        assert identify(probe).chip.name == "STM32F401xE"  # type: ignore[union-attr]  # no DAP registers needed
        with pytest.raises(NotSupportedError, match="J26"):
            access.write16(0x2000_0000, 0x1234)
        with pytest.raises(NotSupportedError, match="J28"):
            probe.connect(ap=3)


def test_firmware_before_j15_uses_the_short_transfer_status(tmp_path: Path) -> None:
    """GETLASTRWSTATUS (no fault address) before J15: a fault names the command's start."""
    d = make_bench(tmp_path, "nucleo-f401re", "V2-1", firmware="V2J14M3")
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        access = probe.connect()
        access.write_block(0x2000_0001, b"abcdef")
        assert access.read_block(0x2000_0001, 6) == b"abcdef"
        assert bus.debug_commands(0x3B) and not bus.debug_commands(0x3E)
        with pytest.raises(MemoryFault) as err:
            access.read_block(0x3000_0000, 16)
        assert err.value.address == 0x3000_0000


def test_v1_and_loader_probes_are_refused_by_name() -> None:
    from stflash.links.stlink.transport import V1, V3_LOADER, ProbeInfo, select_probe

    v1 = ProbeInfo(None, 0x3744, V1, "ST-LINK/V1", "AB", "AB", None)
    with pytest.raises(NotSupportedError, match="V1 protocol"):
        select_probe([v1], None)
    loader = ProbeInfo(None, 0x374D, V3_LOADER, "STLINK-V3 USB loader", None, None, None)
    with pytest.raises(NotSupportedError, match="firmware-update loader"):
        select_probe([loader], None)


def test_probe_left_in_debug_mode_by_a_crashed_session(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-h743zi", "V3")
    first = open_probe(d)
    first.connect()
    first.transport.close()  # the host process dies without leaving debug mode
    assert probe_state(d)["mode"] == 0x02
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        assert probe.observations["probe_mode_found"] == "debug"
        assert bus.debug_commands(0x21)  # DEBUG_EXIT, since it was in debug mode
        probe.connect()
    assert probe_state(d)["mode"] == 0x01  # close() left debug mode


def test_v3_in_mass_storage_mode_gets_no_debug_exit(tmp_path: Path) -> None:
    """A V3 stops answering after DEBUG_EXIT outside debug mode (stlink.md §1.6): never sent."""
    d = make_bench(tmp_path, "nucleo-h743zi", "V3")
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        assert probe.observations["probe_mode_found"] == "mass-storage"
        assert not bus.debug_commands(0x21)


# -- the SWD clock -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("requested, khz", [
    (4_000_000, 4000), (24_000_000, 4000), (2_000_000, 1800), (1_000_000, 950), (400_000, 400), (130_000, 125),
    (1_000, 5),  # below the slowest entry: the slowest, reported as set
])
def test_v2_clock_fastest_not_above_the_request(tmp_path: Path, requested: int, khz: int) -> None:
    d = make_bench(tmp_path, "nucleo-f401re", "V2-1")
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        probe.connect(frequency=requested)
        assert probe.observations["frequency_hz"] == khz * 1000
        (block,) = bus.debug_commands(0x43)
        divisor = struct.unpack_from("<H", block, 2)[0]
        assert V2_SWD_DIVISORS[divisor] == khz and probe_state(d)["swd_div"] == divisor


@pytest.mark.parametrize("requested, khz", [
    (4_000_000, 3300), (24_000_000, 24000), (50_000_000, 24000), (8_000_000, 8000), (999_999, 200), (10_000, 50),
])
def test_v3_clock_from_its_published_list(tmp_path: Path, requested: int, khz: int) -> None:
    d = make_bench(tmp_path, "nucleo-h743zi", "V3")
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        probe.connect(frequency=requested)
        assert probe.observations["frequency_hz"] == khz * 1000
        assert bus.debug_commands(0x62)  # the list is asked first
        (block,) = bus.debug_commands(0x61)
        assert struct.unpack_from("<I", block, 4)[0] == khz and probe_state(d)["khz"] == khz


def test_default_clock_and_slower_clock_costs_more_time(tmp_path: Path) -> None:
    times = {}
    for hz in (4_000_000, 100_000):
        d = make_bench(tmp_path, "nucleo-f401re", "V2-1", name=f"b{hz}")
        with open_probe(d) as probe:
            access = probe.connect(frequency=hz)
            start = clock_ns(d)
            access.read_block(0x2000_0000, 6144)
            times[hz] = clock_ns(d) - start
    # 1536 words x 46 clocks: ~17.7 ms at 4 MHz, ~707 ms at 100 kHz on the wire
    assert times[100_000] > 0.7e9 > times[4_000_000]
