"""The bench as a user meets it: a directory that persists, serialises processes, and shows up
on the (simulated) USB bus."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import usb.core
import usb.util

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench, scenario_firmware


def test_sim_new_show_and_list(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    demo = tmp_path / "demo"
    r = run_cli("sim", "new", str(demo), "--chip", "nucleo-f401re")
    assert r.code == 0, r.err
    assert "STFLASH_SIM=" in r.out
    shown = run_cli("--json", "sim", "show", str(demo)).json
    assert shown["part"] == "STM32F401RE" and shown["chip"] == "STM32F401xE"  # type: ignore[index]
    assert shown["probe"] == "ST-LINK/V2-1" and shown["rdp_level"] == 0  # type: ignore[index]
    monkeypatch.setenv("STFLASH_SIM", str(demo))
    devices = run_cli("--json", "list").json["devices"]  # type: ignore[index]
    probes = [d for d in devices if d["link"] == "stlink"]
    assert len(probes) == 1 and probes[0]["usb_id"] == "0483:374b"
    assert len(probes[0]["serial"]) == 24 and probes[0]["connect"] == "stlink:" + probes[0]["serial"]
    assert any(d["connect"] == "uart:sim" for d in devices)


@pytest.mark.parametrize("probe, pid, packet", [("V2", 0x3748, 64), ("V2-1", 0x374B, 64), ("V3", 0x374E, 512)])
def test_probe_generations_on_pyusb(tmp_path: Path, probe: str, pid: int, packet: int) -> None:
    Bench.create(tmp_path / "b", "stm32f429zi", probe=probe)
    dev = usb.core.find(idVendor=0x0483, idProduct=pid, backend=pyusb_backend(tmp_path / "b"))
    assert dev is not None
    try:
        intf = dev.get_active_configuration()[(0, 0)]
        assert intf.bInterfaceClass == 0xFF
        eps = {e.bEndpointAddress: e.wMaxPacketSize for e in intf}
        assert set(eps) == ({0x02, 0x81, 0x83} if probe == "V2" else {0x01, 0x81, 0x82})
        assert set(eps.values()) == {packet}
        assert usb.util.get_string(dev, dev.iManufacturer) == "STMicroelectronics"
        # the raw descriptor, as libusb would read it from the bus
        raw = dev.ctrl_transfer(0x80, 6, 0x0100, 0, 18)
        assert bytes(raw[8:12]) == bytes([0x83, 0x04, pid & 0xFF, pid >> 8])
        with pytest.raises(usb.core.USBError) as exc:  # bad descriptor index: the device stalls
            dev.ctrl_transfer(0x80, 6, 0x0399, 0x0409, 255)
        assert exc.value.backend_error_code == -9
    finally:
        usb.util.dispose_resources(dev)


def test_usb_transfers_cost_virtual_time_and_are_traced(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-f401re")
    before = json.loads((tmp_path / "b" / "bench.json").read_text())["state"]["clock_ns"]
    dev = usb.core.find(idVendor=0x0483, backend=pyusb_backend(tmp_path / "b"))
    usb.util.get_string(dev, dev.iSerialNumber)
    usb.util.dispose_resources(dev)
    after = json.loads((tmp_path / "b" / "bench.json").read_text())["state"]["clock_ns"]
    lines = [json.loads(x) for x in (tmp_path / "b" / "trace.jsonl").read_text().splitlines()]
    assert lines and all(x["link"] == "usb" and x["end_ns"] > x["start_ns"] for x in lines)
    # full speed: each control transfer ends on a 1 ms frame boundary
    assert all(x["end_ns"] % 1_000_000 == 0 for x in lines)
    assert after >= before + 2_000_000


def test_state_persists_between_processes(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "stm32f103rc")
    payload = bytes(range(256)) * 8
    code = (
        "import sys; from stflash.sim.bench import Bench\n"
        "with Bench.open(sys.argv[1]) as b:\n"
        "    assert b.chip.rom_program(0x08000800, bytes(range(256)) * 8).ok\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True)
    with Bench.open(tmp_path / "b") as bench:
        assert bench.chip.rom_read(0x0800_0800, len(payload)) == payload
        assert bench.chip.rom_read(0x0800_0000, 16) == b"\xff" * 16


def test_concurrent_processes_are_serialised(tmp_path: Path) -> None:
    """Each process advances the clock by 1 ms ten times, each time load-modify-save; without the
    lock some increments would be lost."""
    Bench.create(tmp_path / "b", "stm32g071rb")
    with Bench.open(tmp_path / "b") as bench:
        start = bench.clock.now
    code = (
        "import sys; from stflash.sim.bench import Bench\n"
        "for _ in range(10):\n"
        "    with Bench.open(sys.argv[1]) as b:\n"
        "        t = b.clock.now\n"
        "        b.clock.advance(1_000_000)\n"
        "        assert b.clock.now == t + 1_000_000\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "b")]) for _ in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    with Bench.open(tmp_path / "b") as bench:
        assert bench.clock.now == start + 40 * 1_000_000


def test_firmware_scenario_ends_when_erased_and_returns_when_rewritten(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-f401re", scenarios=["swd-disabled"])
    with Bench.open(tmp_path / "b") as bench:
        assert bench.active_scenarios() == ["swd-disabled"]
        assert not bench.firmware_effect("swd-disabled")  # right after reset: the pins are still SWD
        bench.clock.advance(6_000_000)
        assert bench.firmware_effect("swd-disabled")  # 5 ms later the firmware has taken them
        bench.set("nrst", "0")
        assert not bench.firmware_effect("swd-disabled")  # held in reset, nothing runs
        bench.set("nrst", "1")
        firmware = scenario_firmware(bench.chip.chip, "swd-disabled")
        assert bench.chip.rom_read(0x0800_0000, len(firmware)) == firmware
        assert bench.chip.rom_erase([0]).ok
        assert bench.active_scenarios() == []
        assert bench.chip.rom_program(0x0800_0000, firmware).ok
        assert bench.active_scenarios() == ["swd-disabled"]


def test_option_scenarios_are_real_option_bytes(tmp_path: Path) -> None:
    Bench.create(tmp_path / "rdp", "stm32f407vg", scenarios=["rdp1"])
    with Bench.open(tmp_path / "rdp") as bench:
        assert bench.chip.rdp_level == 1 and bench.chip.option("RDP") == 0xBB
        assert bench.active_scenarios() == ["rdp1"]
    Bench.create(tmp_path / "h7", "nucleo-h755zi-q", scenarios=["m7-boot-disabled"])
    with Bench.open(tmp_path / "h7") as bench:
        assert not bench.chip.core_running(0) and bench.chip.core_running(1)
        assert bench.chip.access_port_available(3) and not bench.chip.access_port_available(0)


def test_scenario_that_does_not_fit_the_chip_is_refused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("sim", "new", str(tmp_path / "x"), "--chip", "nucleo-f401re", "--scenario", "m7-boot-disabled")
    assert r.code == 2 and "H7" in r.err
    r = run_cli("sim", "new", str(tmp_path / "y"), "--chip", "nucleo-f401re", "--scenario", "no-such")
    assert r.code == 2 and "swd-disabled" in r.err  # lists the known ones
    assert not (tmp_path / "x" / "bench.json").exists()


def test_boot0_and_reset_button(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("sim", "new", str(tmp_path / "b"), "--chip", "nucleo-f401re")
    assert run_cli("--json", "sim", "set", str(tmp_path / "b"), "boot0=1", "nrst=0").json["running"] == "flash"  # type: ignore[index]
    assert run_cli("--json", "sim", "set", str(tmp_path / "b"), "nrst=1").json["running"] == "bootloader"  # type: ignore[index]
    run_cli("sim", "set", str(tmp_path / "b"), "boot0=0")
    assert run_cli("--json", "sim", "power-cycle", str(tmp_path / "b")).json["running"] == "flash"  # type: ignore[index]
    assert run_cli("sim", "set", str(tmp_path / "b"), "boot0=maybe").code == 2


def test_bench_flash_file_is_the_flash(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-l476rg")
    with Bench.open(tmp_path / "b") as bench:
        assert bench.chip.rom_program(0x0808_0000, b"\x12" * 8).ok  # bank 2
    blob = (tmp_path / "b" / "flash.bin").read_bytes()
    assert len(blob) == 1024 * 1024
    assert blob[512 * 1024 : 512 * 1024 + 8] == b"\x12" * 8
    assert zlib.crc32(blob[:512 * 1024]) == zlib.crc32(b"\xff" * 512 * 1024)


def test_usb_unplug_fault_makes_the_device_leave_the_bus(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bench_dir = tmp_path / "b"
    run_cli("sim", "new", str(bench_dir), "--chip", "nucleo-f401re")
    assert run_cli("sim", "set", str(bench_dir), "usb-unplug-after=2").code == 0
    backend = pyusb_backend(bench_dir)
    dev = usb.core.find(idVendor=0x0483, backend=backend)
    assert dev is not None
    dev.ctrl_transfer(0x80, 6, 0x0100, 0, 18)  # 1
    dev.ctrl_transfer(0x80, 6, 0x0100, 0, 18)  # 2: the cable goes after this one
    with pytest.raises(usb.core.USBError) as exc:
        dev.ctrl_transfer(0x80, 6, 0x0100, 0, 18)
    assert exc.value.backend_error_code == -4  # LIBUSB_ERROR_NO_DEVICE
    usb.util.dispose_resources(dev)
    assert usb.core.find(idVendor=0x0483, backend=pyusb_backend(bench_dir)) is None
    shown = run_cli("--json", "sim", "set", str(bench_dir), "usb=1").json
    assert shown["usb_connected"] is True  # type: ignore[index]
    assert usb.core.find(idVendor=0x0483, backend=pyusb_backend(bench_dir)) is not None
    assert run_cli("sim", "set", str(bench_dir), "usb-unplug-after=soon").code == 2


def test_firmware_effect_survives_a_reload(tmp_path: Path) -> None:
    """What the firmware did to the pins is chip state: another process sees it too."""
    Bench.create(tmp_path, "nucleo-f429zi", scenarios=("swd-disabled",))
    with Bench.open(tmp_path) as b:
        b.clock.advance(20_000_000)
        assert b.firmware_effect("swd-disabled")
    with Bench.open(tmp_path) as b:
        assert b.firmware_effect("swd-disabled")


def test_no_target_power_starts_unpowered(tmp_path: Path) -> None:
    Bench.create(tmp_path, "nucleo-f401re", scenarios=("no-target-power",))
    with Bench.open(tmp_path) as b:
        assert not b.board.powered and "no-target-power" in b.active_scenarios()


def test_firmware_scenario_on_a_read_protected_board(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The firmware is flashed before the option bytes are set, as on a prepared board, and the
    bench still sees it in the cells under read-out protection."""
    bench_dir = tmp_path / "b"
    Bench.create(bench_dir, "nucleo-f401re", scenarios=["swd-disabled", "rdp1"])
    shown = run_cli("--json", "sim", "show", str(bench_dir))
    assert shown.code == 0, shown.err
    assert shown.json["active_scenarios"] == ["swd-disabled", "rdp1"]  # type: ignore[index]
    with Bench.open(bench_dir) as bench:
        bench.clock.advance(6_000_000)
        assert bench.firmware_effect("swd-disabled")  # it runs: no debugger was ever attached
    run_cli("sim", "new", str(tmp_path / "p"), "--chip", "nucleo-f401re", "--scenario", "rdp1")
    r = run_cli("sim", "set", str(tmp_path / "p"), "scenario=+swd-disabled")
    assert r.code == 2 and "read-out protected" in r.err and "Traceback" not in r.err
    r = run_cli("sim", "new", str(tmp_path / "two"), "--chip", "nucleo-f401re",
                "--scenario", "swd-disabled", "--scenario", "low-power")
    assert r.code == 2 and "one firmware" in r.err


def test_bootloader_only_scenario_moves_boot0(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bench_dir = str(tmp_path / "b")
    run_cli("sim", "new", bench_dir, "--chip", "nucleo-f401re")
    shown = run_cli("--json", "sim", "set", bench_dir, "scenario=+bootloader-only").json
    assert shown["running"] == "bootloader" and shown["boot0"] is True  # type: ignore[index]
    assert shown["active_scenarios"] == ["bootloader-only"]  # type: ignore[index]
    shown = run_cli("--json", "sim", "set", bench_dir, "scenario=-bootloader-only").json
    assert shown["running"] == "flash" and shown["boot0"] is False  # type: ignore[index]
    assert shown["active_scenarios"] == []  # type: ignore[index]
