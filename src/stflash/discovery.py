"""What is attached: ST-LINK probes, DFU bootloaders and serial ports, real or on the virtual bench.

``STFLASH_SIM=DIR`` swaps the real bus for the bench in DIR, so every verb runs unchanged
against simulated hardware.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .connect import ConnectSpec
from .errors import DeviceBusyError, MultipleDevicesError, NoDeviceError, NotSupportedError
from .links.usb_ids import DFU_PID, SERIAL_ADAPTERS, ST_VID, STLINK_PIDS

if TYPE_CHECKING:
    from .links.usb import UsbDevice

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
    fix: str | None = None  # what to do about ``problem`` on this system
    mode: str | None = None  # "runtime": an application that detaches into its DFU bootloader

    @property
    def connect(self) -> str:
        if self.link == "uart":
            return f"uart:{self.port}"
        return f"{self.link}:{self.serial}" if self.serial else self.link

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"link": self.link, "connect": self.connect, "description": self.description}
        for key in ("serial", "port", "location", "problem", "fix", "mode"):
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
    from .links.stlink.transport import normalize_serial
    from .links.usb import enumerate_usb

    backend = usb_backend()
    if backend is None:
        return []
    match = {ST_VID: set(STLINK_PIDS) | {DFU_PID}}
    out: list[DeviceInfo] = []
    for dev in enumerate_usb(backend, match):
        if dev.pid == DFU_PID:
            out.append(_usb_info("dfu", dev.product or "STM32 DFU bootloader", dev, dev.serial))
        else:
            out.append(_usb_info("stlink", STLINK_PIDS[dev.pid][1], dev, normalize_serial(dev.serial)))
    return out + list_dfu_runtime(backend)


def _usb_info(link: str, description: str, dev: UsbDevice, serial: str | None, mode: str | None = None) -> DeviceInfo:
    problem = dev.problem
    return DeviceInfo(link, description, serial, dev.vid, dev.pid, None, dev.location,
                      problem.text if problem else None, problem.fix if problem else None, mode)


def list_dfu_runtime(backend: Any, *, any_vendor: bool = False) -> list[DeviceInfo]:
    """Applications whose USB device has a DFU runtime interface: ``-c dfu`` detaches them into
    their DFU bootloader. Only ST's VID unless ``any_vendor``: other makers' devices have DFU runtime
    interfaces too (Bluetooth adapters, probes, keyboards), and are detached only when their serial
    is asked for."""
    from .links.dfu.runtime import find_runtime

    out = []
    for rt in find_runtime(backend):
        dev = rt.usb
        if dev.vid != ST_VID and not any_vendor:
            continue
        name = dev.product or f"USB device {dev.vid:04x}:{dev.pid:04x}"
        out.append(_usb_info("dfu", f"{name} (DFU runtime: -c dfu detaches it)", dev, dev.serial, "runtime"))
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
                              hint=device.fix or open_problem_hint(device.problem) or "run 'stflash doctor' for details")
    return device


# -- the DFU bootloader -----------------------------------------------------------------------------
BUS_POLL_S = 0.1


def dfu_bootloaders(present: Sequence[DeviceInfo]) -> list[DeviceInfo]:
    """The DFU-mode devices (0483:df11) among what is attached."""
    return [d for d in present if d.link == "dfu" and d.mode != "runtime"]


def find_dfu(spec: ConnectSpec, *, wait: float, sleep: Callable[[float], None]) -> tuple[DeviceInfo, list[str]]:
    """The DFU bootloader ``spec`` names, polling the bus for up to ``wait`` seconds, and what was
    done to get there. An application with a DFU runtime interface (and the serial asked for, if
    any) is detached into its bootloader; a bootloader this host may not open is an error with the
    fix for this system; when nothing fits, the error says what else is on the bus."""
    waited = 0.0
    while True:
        present = list_usb_devices()
        boot = dfu_bootloaders(present)
        check_dfu_choice(spec, boot)
        try:
            return select_device(spec, boot), []
        except NoDeviceError:
            pass
        runtime = [d for d in present if d.mode == "runtime" and (spec.serial is None or d.serial == spec.serial)]
        if not runtime and spec.serial is not None:  # asked for by serial: any maker's application
            runtime = [d for d in list_dfu_runtime(usb_backend(), any_vendor=True) if d.serial == spec.serial]
        if runtime:
            return detach_to_bootloader(runtime, wait=max(0.0, wait - waited), sleep=sleep)
        if waited >= wait:
            raise _no_dfu(spec, present)
        sleep(BUS_POLL_S)
        waited += BUS_POLL_S


def check_dfu_choice(spec: ConnectSpec | None, boot: Sequence[DeviceInfo]) -> None:
    """Several DFU bootloaders: ``-c dfu`` must name one by serial, and one serial on several
    devices (the ROM builds it from part of the unique id) cannot be told apart at all."""
    serial = spec.serial if spec is not None else None
    pool = [d for d in boot if serial is None or d.serial == serial]
    if len(pool) < 2:
        return
    where = "; ".join(f"{d.description} serial {d.serial or '(unreadable)'} at {d.location}" for d in pool)
    if serial is not None:
        raise MultipleDevicesError(
            f"{len(pool)} DFU bootloaders have serial {serial}: {where}",
            hint="the ROM derives the serial from part of the unique id, so two chips can share it: "
            "leave only one of them plugged in")
    serials = [d.serial for d in pool if d.serial]
    raise MultipleDevicesError(
        f"{len(pool)} DFU bootloaders attached: {where}",
        hint=("choose one with " + " or ".join(f"-c dfu:{s}" for s in serials)) if serials
        else "leave only one plugged in")


def detach_to_bootloader(runtime: Sequence[DeviceInfo], *, wait: float,
                         sleep: Callable[[float], None]) -> tuple[DeviceInfo, list[str]]:
    """DFU_DETACH (and a USB reset) to an application with a DFU runtime interface, then the DFU
    bootloader that enumerates: the one with the application's serial (ST's USB library builds it
    from the unique id as the ROM does), else the one new on the bus."""
    from .links.dfu.runtime import DETACH_ENUMERATION_S, detach, find_runtime

    if len(runtime) > 1:
        raise MultipleDevicesError(
            f"{len(runtime)} applications with a DFU runtime interface attached: "
            + "; ".join(f"{d.description} (-c {d.connect})" for d in runtime),
            hint="choose the one to detach with -c dfu:SERIAL")
    app = runtime[0]
    if app.problem:
        raise DeviceBusyError(f"{app.description} at {app.location} cannot be opened to detach it: {app.problem}",
                              hint=app.fix or "run 'stflash doctor' for details")
    handle = next((r for r in find_runtime(usb_backend())
                   if r.usb.serial == app.serial and r.usb.location == app.location), None)
    if handle is None:
        raise NoDeviceError(f"{app.description} left the bus before it could be detached")
    before = {d.location for d in dfu_bootloaders(list_usb_devices())}
    done = detach(handle)
    waited, budget = 0.0, max(wait, DETACH_ENUMERATION_S)
    while waited < budget:
        sleep(BUS_POLL_S)
        waited += BUS_POLL_S
        boot = dfu_bootloaders(list_usb_devices())
        mine = [d for d in boot if d.serial is not None and d.serial == app.serial]
        fresh = [d for d in boot if d.location not in before]
        pool = mine or (fresh if len(fresh) == 1 else [])
        if pool:
            check_dfu_choice(None, pool)
            device = select_device(None, pool)  # with the fix if this host may not open it
            return device, [f"{handle.label} at {app.location}: {done}; its DFU bootloader enumerated "
                            f"{waited:.1f} s later at {device.location}"]
    raise NoDeviceError(
        f"sent {done} to {handle.label}, but no DFU bootloader appeared within {budget:.0f} s",
        hint="its firmware may not start the system bootloader on a detach: hold BOOT0 high while it resets "
        "instead (or give it longer with --wait)")


def _no_dfu(spec: ConnectSpec, present: Sequence[DeviceInfo]) -> Exception:
    """The named DFU bootloader is not there: one this host may not open (its serial cannot be read)
    is the likeliest reason; else say what is on the bus instead."""
    from .links.dfu.link import NO_DFU_HINT

    which = f" with serial {spec.serial}" if spec.serial else ""
    locked = [d for d in dfu_bootloaders(present) if d.problem]
    if locked:
        d = locked[0]
        return DeviceBusyError(f"no DFU bootloader{which} could be read: {d.description} at {d.location} cannot be "
                               f"opened: {d.problem}", hint=d.fix or "run 'stflash doctor' for details")
    return NoDeviceError(f"no DFU bootloader (USB {ST_VID:04x}:{DFU_PID:04x}){which} found{_instead(present)}",
                         hint=NO_DFU_HINT)


def _instead(present: Sequence[DeviceInfo]) -> str:
    """What is on the bus when the DFU bootloader is not, and what that means."""
    dfu = [d for d in dfu_bootloaders(present) if d.serial]
    if dfu:
        return "; DFU bootloaders with other serials: " + ", ".join(f"-c {d.connect}" for d in dfu)
    apps = [d for d in present if d.mode == "runtime"]
    if apps:  # the target's port is cabled: its application runs, and can be detached
        return "; applications with a DFU runtime interface (detached by -c dfu:SERIAL): " + ", ".join(
            f"-c {d.connect}" for d in apps)
    probes = [d for d in present if d.link == "stlink"]
    if probes:
        return (f"; {probes[0].description} is attached: that cable is on the debugger's USB port, not the "
                "target's (or use it: -c stlink)")
    return ""


def open_problem_hint(problem: str) -> str | None:
    """What to do about a device that will not open, from the words of its ``problem`` (for the
    devices whose ``fix`` the enumeration could not name)."""
    if "permission" in problem:
        return "on Linux install the udev rule: sudo stflash udev-rules --install, then replug"
    if "busy" in problem:
        return "another program holds it (STM32CubeProgrammer, OpenOCD, st-util, a debugger): close it"
    return None
