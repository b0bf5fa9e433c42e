"""What is attached: ST-LINK probes, DFU bootloaders and serial ports, real or on the virtual bench.

``STFLASH_SIM=DIR`` swaps the real bus for the bench in DIR, so every verb runs unchanged
against simulated hardware.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .connect import ConnectSpec
from .errors import DeviceBusyError, MultipleDevicesError, NoDeviceError, NotSupportedError
from .links.usb_ids import DFU_PID, SERIAL_ADAPTERS, ST_VID, STLINK_PIDS

SIM_ENV = "STFLASH_SIM"


@dataclass(frozen=True)
class DeviceInfo:
    """One thing stflash could talk to."""

    link: str  # "stlink" | "dfu" | "uart"
    description: str
    serial: str | None = None
    vid: int | None = None
    pid: int | None = None
    port: str | None = None
    location: str | None = None
    problem: str | None = None  # why it cannot be used as it is (permissions, busy, ...)

    @property
    def connect(self) -> str:
        if self.link == "uart":
            return f"uart:{self.port}"
        return f"{self.link}:{self.serial}" if self.serial else self.link

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"link": self.link, "connect": self.connect, "description": self.description}
        for key in ("serial", "port", "location", "problem"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.vid is not None and self.pid is not None:
            out["usb_id"] = f"{self.vid:04x}:{self.pid:04x}"
        return out


def sim_dir() -> str | None:
    value = os.environ.get(SIM_ENV, "").strip()
    return value or None


def usb_backend() -> Any:
    """The pyusb backend to use: the bench's when STFLASH_SIM is set, else the system libusb."""
    bench = sim_dir()
    if bench:
        from . import sim

        make = getattr(sim, "pyusb_backend", None)
        if make is None:
            raise NotSupportedError(f"{SIM_ENV}={bench}: this build has no virtual bench USB backend yet")
        return make(bench)
    from .links.usb import system_backend

    return system_backend()


def list_usb_devices() -> list[DeviceInfo]:
    """ST-LINK probes and DFU devices on the bus (real or simulated)."""
    from .links.usb import enumerate_usb

    backend = usb_backend()
    if backend is None:
        return []
    match = {ST_VID: set(STLINK_PIDS) | {DFU_PID}}
    out: list[DeviceInfo] = []
    for dev in enumerate_usb(backend, match):
        if dev.pid == DFU_PID:
            desc = dev.product or "STM32 DFU bootloader"
            out.append(DeviceInfo("dfu", desc, dev.serial, dev.vid, dev.pid, None, dev.location, dev.open_error))
        else:
            _gen, label = STLINK_PIDS[dev.pid]
            out.append(DeviceInfo("stlink", label, dev.serial, dev.vid, dev.pid, None, dev.location, dev.open_error))
    return out


def list_serial_ports() -> list[DeviceInfo]:
    """USB-serial adapters and on-board virtual COM ports (candidates for ``-c uart:PORT``)."""
    out: list[DeviceInfo] = []
    if sim_dir():
        out.append(DeviceInfo("uart", "virtual bench UART bootloader", port="sim"))
        return out
    try:
        from serial.tools import list_ports
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return out
    for port in list_ports.comports():
        vid, pid = port.vid, port.pid
        if vid is None:
            continue
        adapter = SERIAL_ADAPTERS.get((vid, pid))
        if adapter is None and vid == ST_VID and pid in STLINK_PIDS:
            adapter = "ST-LINK virtual COM port"
        out.append(DeviceInfo("uart", adapter or (port.description or "USB serial port"),
                              port.serial_number, vid, pid, port.device))
    return out


def list_devices(include_serial: bool = True) -> list[DeviceInfo]:
    devices = list_usb_devices()
    if include_serial:
        devices += list_serial_ports()
    return devices


def select_device(spec: ConnectSpec | None, devices: list[DeviceInfo] | None = None) -> DeviceInfo:
    """The one device a verb should talk to; errors list what is there so the user can pick."""
    if spec is not None and spec.link == "uart":
        return DeviceInfo("uart", "serial port", port=spec.port)
    pool = list_usb_devices() if devices is None else [d for d in devices if d.link != "uart"]
    if spec is not None:
        pool = [d for d in pool if d.link == spec.link and (spec.serial is None or d.serial == spec.serial)]
    if not pool:
        what = f"no {spec} device" if spec else "no ST-LINK probe or DFU bootloader"
        raise NoDeviceError(
            f"{what} found",
            hint="check the cable and that the board is powered; 'stflash list' shows what is attached "
            "and 'stflash doctor' explains why something is missing",
        )
    if len(pool) > 1:
        listing = "; ".join(f"{d.description} (-c {d.connect})" for d in pool)
        raise MultipleDevicesError(f"{len(pool)} devices attached: {listing}", hint="choose one with -c")
    device = pool[0]
    if device.problem:
        raise DeviceBusyError(f"{device.description} ({device.connect}) cannot be opened: {device.problem}",
                              hint=_open_problem_hint(device.problem))
    return device


def _open_problem_hint(problem: str) -> str:
    if "permission" in problem:
        return "on Linux install the udev rule: sudo stflash udev-rules --install, then replug"
    if "busy" in problem:
        return "another program holds it (STM32CubeProgrammer, OpenOCD, st-util, a debugger): close it"
    return "run 'stflash doctor' for details"
