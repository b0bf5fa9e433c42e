"""Several DFU bootloaders on one bus, told apart by serial: two benches' USB devices merged into one
pyusb backend (each bench holds one board), with stflash's discovery pointed at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import usb.backend

import stflash.discovery as discovery
from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

from linkbench import flash_bytes, random_file

FLASH = 0x0800_0000


class MergedBus(usb.backend.IBackend):  # type: ignore[misc]
    """One bus holding every device of several pyusb backends; bus numbers 1, 2, ... per backend."""

    def __init__(self, backends: list[Any]) -> None:
        self.backends = backends
        self.owner: dict[int, tuple[int, Any]] = {}

    def enumerate_devices(self) -> Any:
        for n, backend in enumerate(self.backends):
            for dev in backend.enumerate_devices():
                self.owner[id(dev)] = (n, backend)
                yield dev

    def _of(self, dev: Any) -> Any:
        return self.owner[id(dev)][1]

    def get_device_descriptor(self, dev: Any) -> Any:
        n, backend = self.owner[id(dev)]
        view = backend.get_device_descriptor(dev)
        view.bus = n + 1
        return view

    def get_configuration_descriptor(self, dev: Any, config: int) -> Any:
        return self._of(dev).get_configuration_descriptor(dev, config)

    def get_interface_descriptor(self, dev: Any, intf: int, alt: int, config: int) -> Any:
        return self._of(dev).get_interface_descriptor(dev, intf, alt, config)

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> Any:
        return self._of(dev).get_endpoint_descriptor(dev, ep, intf, alt, config)

    def get_parent(self, dev: Any) -> None:
        return None

    def open_device(self, dev: Any) -> tuple[Any, Any]:
        backend = self._of(dev)
        return backend, backend.open_device(dev)

    def close_device(self, handle: tuple[Any, Any]) -> None:
        handle[0].close_device(handle[1])


def _forward(name: str) -> Any:
    """A handle call goes to the backend that opened the handle."""

    def call(self: MergedBus, handle: tuple[Any, Any], *args: Any) -> Any:
        return getattr(handle[0], name)(handle[1], *args)

    return call


for _name in ("set_configuration", "get_configuration", "set_interface_altsetting", "claim_interface",
              "release_interface", "is_kernel_driver_active", "detach_kernel_driver", "attach_kernel_driver",
              "reset_device", "clear_halt", "ctrl_transfer", "bulk_write", "bulk_read"):
    setattr(MergedBus, _name, _forward(_name))


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``two(seed_a, seed_b)``: two F401 boards in their DFU bootloader (no ST-LINK) on one bus."""

    def make(seed_a: int = 1, seed_b: int = 2) -> tuple[Path, Path]:
        dirs = []
        for name, seed in (("a", seed_a), ("b", seed_b)):
            d = tmp_path / name
            Bench.create(d, "nucleo-f401re", scenarios=["bootloader-only"], seed=seed)
            with Bench.open(d) as b:
                b.board.probe = ""
            dirs.append(d)
        bus = MergedBus([pyusb_backend(d) for d in dirs])
        monkeypatch.setattr(discovery, "usb_backend", lambda: bus)
        monkeypatch.setenv("STFLASH_SIM", str(dirs[0]))  # host pauses run on board a's clock
        return dirs[0], dirs[1]

    return make


def dfu_serials(run_cli) -> list[str]:  # type: ignore[no-untyped-def]
    r = run_cli("--json", "list", "--no-serial")
    assert r.code == 0, r.err
    return [d["serial"] for d in r.json["devices"] if d["link"] == "dfu"]


def test_two_bootloaders_need_a_serial(two, run_cli) -> None:  # type: ignore[no-untyped-def]
    two()
    serials = dfu_serials(run_cli)
    assert len(serials) == 2 and serials[0] != serials[1]
    r = run_cli("probe", "-c", "dfu")
    assert r.code == 4
    assert r.err.splitlines()[0].startswith("stflash: error: 2 DFU bootloaders attached")
    for s in serials:
        assert f"-c dfu:{s}" in r.err and f"serial {s}" in r.err
    assert "at 1-" in r.err and "at 2-" in r.err  # where each one is


def test_the_serial_picks_the_board(two, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = two()
    serials = dfu_serials(run_cli)
    with Bench.open(b) as bench:
        from stflash.sim.dfu.rom import serial_number

        serial_b = serial_number(bench.chip.chip, bench.chip.seed)
    assert serial_b in serials
    path, data = random_file(tmp_path, 6 * 1024)
    r = run_cli("write", str(path), "-c", f"dfu:{serial_b}", "--no-reset")
    assert r.code == 0, r.err
    assert flash_bytes(b, FLASH, len(data)) == data
    assert flash_bytes(a, FLASH, len(data)) == b"\xff" * len(data), "the other board is untouched"
    r = run_cli("--json", "probe", "-c", f"dfu:{serial_b}")
    assert r.code == 0 and r.json["serial"] == serial_b


def test_a_serial_shared_by_two_chips_is_refused(two, run_cli) -> None:  # type: ignore[no-untyped-def]
    two(7, 7)  # same unique id seed: the ROM's serial collides (dfu.md §2.11, field notes #18)
    serials = dfu_serials(run_cli)
    assert serials[0] == serials[1]
    r = run_cli("probe", "-c", f"dfu:{serials[0]}")
    assert r.code == 4
    assert f"2 DFU bootloaders have serial {serials[0]}" in r.err and "only one" in r.err
    r = run_cli("--json", "doctor")
    clash = [f for f in r.json["findings"] if f["status"] == "warn" and "share serial" in f["detail"]]
    assert clash and serials[0] in clash[0]["detail"]
