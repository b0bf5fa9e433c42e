"""Everything a person would check before asking on a forum, as a list of findings.

Each finding says what was seen and, when something is wrong, what to do about it. Later
link-level checks (target voltage, RDP, boot option bits) append to the same list.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .finding import Finding as Finding  # re-exported: what callers of doctor get
from .links.usb_ids import DFU_PID, ST_VID, STLINK_PIDS

if TYPE_CHECKING:
    from .discovery import DeviceInfo


def udev_rules() -> str:
    """Rules that give the logged-in user access to ST-LINK probes and the DFU bootloader."""
    from .links.usb import udev_rule

    lines = ["# stflash: ST-LINK probes and the STM32 USB DFU bootloader, for the logged-in user"]
    lines += [udev_rule(ST_VID, pid) for pid in sorted(STLINK_PIDS) + [DFU_PID]]
    return "\n".join(lines) + "\n"


UDEV_PATH = "/etc/udev/rules.d/49-stflash.rules"


def check_all() -> list[Finding]:
    findings = [check_python()]
    usb = check_libusb()
    findings.append(usb)
    if usb.status == "ok":
        from .discovery import list_usb_devices

        devices = list_usb_devices()  # once: enumerating opens every device to read its strings
        findings += check_usb_devices(devices)
        findings += check_targets(devices)
    findings += check_serial_ports()
    return findings


def check_targets(devices: list[DeviceInfo]) -> list[Finding]:
    """Through each usable ST-LINK: its firmware, and the chip behind it or why it does not answer."""
    from .recover.checkup import check_stlink_targets
    from .session import host_sleep

    probes = [d.serial for d in devices if d.link == "stlink" and not d.problem]
    out: list[Finding] = []
    for check in check_stlink_targets(probes, host_sleep()):
        findings = list(check.findings)
        first = next((i for i, f in enumerate(findings) if f.check == "target"), None)
        if first is not None:  # the target's cause goes on its first line
            findings[first] = dataclasses.replace(findings[first], cause=check.cause)
        out += findings
    return out


def check_python() -> Finding:
    from . import __version__

    return Finding("stflash", "info", f"stflash {__version__} on Python {sys.version.split()[0]} ({sys.platform})")


def check_libusb() -> Finding:
    from .discovery import sim_dir, usb_backend

    try:
        backend = usb_backend()
    except Exception as exc:  # a broken bench or library is itself the finding
        return Finding("libusb", "fail", f"cannot load the USB backend: {exc}")
    if backend is None:
        return Finding(
            "libusb", "fail", "no libusb library could be loaded",
            fix="pip install --force-reinstall libusb-package, or install libusb-1.0 from your system's packages",
        )
    where = f"virtual bench {sim_dir()}" if sim_dir() else type(backend).__module__
    return Finding("libusb", "ok", f"USB backend loaded ({where})")


def check_usb_devices(devices: list[DeviceInfo]) -> list[Finding]:
    from .discovery import dfu_bootloaders, open_problem_hint, sim_dir

    out: list[Finding] = []
    probes = [d for d in devices if d.link == "stlink"]
    boots = dfu_bootloaders(devices)
    apps = [d for d in devices if d.mode == "runtime"]
    for d in devices:
        if d.problem:
            holders = _holders(d.location) if "busy" in d.problem and not sim_dir() else []
            held = f" (held by {', '.join(holders)})" if holders else ""
            out.append(Finding(d.link, "fail", f"{d.description} at {d.location} cannot be opened: {d.problem}{held}",
                               d.fix or open_problem_hint(d.problem)))
        elif d.mode == "runtime":
            out.append(Finding(
                "dfu", "info",
                f"{d.description} serial {d.serial} at {d.location}: an application that offers DFU_DETACH; "
                f"'stflash probe -c {d.connect}' sends it to its DFU bootloader"))
        else:
            out.append(Finding(d.link, "ok", f"{d.description} serial {d.serial} (-c {d.connect})"))
    out += _dfu_serial_clashes(boots)
    if not devices:
        out.append(Finding("usb", "warn", "no ST-LINK probe and no DFU bootloader on USB",
                           "check the cable (some are charge-only) and that the board is powered"))
    if probes and not boots and not apps:
        out.append(Finding(
            "dfu", "info",
            "an ST-LINK is attached but no DFU bootloader: for DFU, the cable must go to the target's own USB "
            "port (not the debugger's), with BOOT0 high at reset",
        ))
    if sys.platform.startswith("linux") and not sim_dir() and not Path(UDEV_PATH).exists():
        out.append(Finding("udev", "info", f"no {UDEV_PATH}: root can use probes, other users may not",
                           "sudo stflash udev-rules --install"))
    return out


def _holders(location: str | None) -> list[str]:
    """Who holds the device at "BUS-ADDRESS" open (Linux /proc; nothing elsewhere)."""
    bus, _, address = (location or "").partition("-")
    if not (bus.isdigit() and address.isdigit()):
        return []
    return usb_holders(int(bus), int(address))


def usb_holders(bus: int, address: int) -> list[str]:
    """Processes that hold /dev/bus/usb/BUS/ADDR open (Linux), as "name (pid N)"."""
    node = f"/dev/bus/usb/{bus:03d}/{address:03d}"
    proc = Path("/proc")
    found = []
    for pid in (p.name for p in proc.iterdir() if p.name.isdigit()) if proc.is_dir() else []:
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == node for fd in (proc / pid / "fd").iterdir()):
                found.append(f"{(proc / pid / 'comm').read_text().strip()} (pid {pid})")
    return found


def _dfu_serial_clashes(boots: list[DeviceInfo]) -> list[Finding]:
    """DFU bootloaders sharing a serial: the ROM builds it from part of the unique id."""
    by_serial: dict[str, list[DeviceInfo]] = {}
    for d in boots:
        if d.serial:
            by_serial.setdefault(d.serial, []).append(d)
    return [Finding("dfu", "warn",
                    f"{len(same)} DFU bootloaders share serial {serial} (at {', '.join(str(d.location) for d in same)}): "
                    "-c dfu:SERIAL cannot choose between them",
                    "flash them one at a time (leave only one plugged in)")
            for serial, same in by_serial.items() if len(same) > 1]


def check_serial_ports() -> list[Finding]:
    from .discovery import list_serial_ports

    out = []
    for port in list_serial_ports():
        detail = f"{port.description} at {port.port}"
        latency = _latency_timer(port.port)
        if latency is not None and latency > 1:
            out.append(Finding("uart", "warn", f"{detail}: latency timer {latency} ms slows the bootloader",
                               f"echo 1 | sudo tee /sys/bus/usb-serial/devices/{os.path.basename(port.port or '')}"
                               "/latency_timer (stflash also asks for low-latency mode itself)"))
        else:
            out.append(Finding("uart", "ok", detail))
    return out


def _latency_timer(port: str | None) -> int | None:
    if not port:
        return None
    path = Path("/sys/bus/usb-serial/devices") / os.path.basename(port) / "latency_timer"
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
