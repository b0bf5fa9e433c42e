"""How ST-LINK answers become stflash errors.

Every class here derives from one of :mod:`stflash.errors` (so the CLI's exit codes hold) and adds
what a caller needs to react: the status byte, the faulting address, what identification saw.
"""

from __future__ import annotations

from ...errors import (
    DeviceBusyError,
    LinkError,
    NoDeviceError,
    StflashError,
    TargetNotRespondingError,
    UnknownChipError,
)
from . import protocol as p

UDEV_HINT = "on Linux install the udev rule: sudo stflash udev-rules --install, then replug the probe"
BUSY_HINT = "another program holds it (STM32CubeProgrammer, OpenOCD, st-util, pyOCD, a debugger): close it"
REPLUG_HINT = "unplug the ST-LINK's USB cable and plug it in again"
FIRMWARE_HINT = "update the ST-LINK firmware (STM32CubeProgrammer: Firmware upgrade)"


class _WithStatus(StflashError):
    """Carries the probe's status byte and, for memory commands, the address it names. Mixed in
    ahead of the stflash class that sets the exit code."""

    def __init__(self, message: str, status: int, *, address: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.address = address


class _WithObservations(StflashError):
    """Carries what each level of a connection answered, for ``doctor`` and ``--json``."""

    def __init__(self, message: str, observations: dict[str, object], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.observations = observations

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "observations": self.observations}


class StlinkStatusError(_WithStatus, LinkError):
    """The probe answered a command with a status other than OK."""


class MemoryFault(StlinkStatusError):
    """A memory access through the MEM-AP ended in a bus fault at ``address``."""


class TargetNoAnswer(_WithStatus, TargetNotRespondingError):
    """The target did not answer on SWD (nobody drives SWDIO), or kept answering WAIT."""


class ProbeGone(LinkError):
    """The ST-LINK left the USB bus in the middle of a session."""


class ConnectFailed(_WithObservations, TargetNotRespondingError):
    """Connecting or identifying failed; ``observations`` holds what each level answered (the keys
    of :func:`stflash.links.stlink.identify.identify`)."""


class UnknownTarget(_WithObservations, UnknownChipError):
    """The target answers but its DEV_ID is not in the chip table; ``observations`` as above."""


def status_error(status: int, what: str, *, address: int | None = None) -> StlinkStatusError | TargetNoAnswer:
    """The error for a non-OK status of ``what`` (WAIT only after the retries are spent)."""
    where = f" at {address:#010x}" if address is not None else ""
    name = p.status_name(status)
    if status in p.WAIT_STATUSES:
        return TargetNoAnswer(
            f"{what}{where}: the target kept answering WAIT ({name}); its bus never completed the access",
            status, address=address,
            hint="the core or bus behind this access port may be clock-gated, in reset or in a low-power mode; "
            "try --connect-under-reset, or another access port (--ap)")
    if status in p.NO_ANSWER_STATUSES:
        return TargetNoAnswer(
            f"{what}: the target does not answer on SWD ({name})", status, address=address,
            hint="check the target's supply and the SWDIO/SWCLK/GND wiring; if its firmware turns the debug "
            "pins off or sleeps, try --connect-under-reset")
    if status in p.FAULT_STATUSES:
        return MemoryFault(
            f"{what}{where}: bus fault ({name}): the address is not mapped, its peripheral is not clocked, "
            "or read-out protection blocks it", status, address=address)
    if status == p.BAD_AP:
        return StlinkStatusError(
            f"{what}: the probe refused the access port ({name})", status, address=address,
            hint="the access port does not exist on this chip, or the probe's firmware does not allow it "
            "(recent firmware refuses non-ST targets); 'stflash probe -c stlink' lists the access ports")
    if status == p.UNKNOWN_CMD:
        return StlinkStatusError(
            f"{what}: the probe's firmware does not know this command ({name})", status, address=address,
            hint=FIRMWARE_HINT)
    return StlinkStatusError(f"{what}{where}: the probe answered {name}", status, address=address)


def usb_error(exc: Exception, what: str, *, opening: bool = False) -> LinkError | DeviceBusyError | NoDeviceError:
    """A pyusb error while talking to the probe, in the user's terms."""
    errno = getattr(exc, "errno", None)
    code = getattr(exc, "backend_error_code", None)
    if errno == 13 or code == -3:
        return DeviceBusyError(f"no permission to open {what}: {exc}", hint=UDEV_HINT)
    if errno == 16 or code == -6:
        return DeviceBusyError(f"{what} is held by another process: {exc}", hint=BUSY_HINT)
    if errno == 19 or code == -4:
        if opening:
            return NoDeviceError(f"{what} left the USB bus", hint=REPLUG_HINT)
        return ProbeGone(f"{what} left the USB bus", hint="check the USB cable, plug the probe in again, and retry")
    if errno in (110, 60) or code == -7:
        return LinkError(f"{what} did not answer in time: {exc}", hint=REPLUG_HINT)
    return LinkError(f"{what}: USB error: {exc}", hint=REPLUG_HINT)
