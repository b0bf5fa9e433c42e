"""The target half of ``stflash doctor``: through each ST-LINK, the probe's firmware and what it
lacks, the target's supply, and the chip behind it (name, RDP, boot option bits) or, when it does
not answer, the diagnosis. A chip that ignores a normal connect is tried once more under reset
(that resets it, as any debugger would), because the two answers together tell a firmware that
shuts debug out from a lock-up or the wiring.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import StflashError
from ..finding import Finding
from .diagnose import FIRMWARE_BLOCKS_DEBUG, Diagnosis, diagnose

# the features an old ST-LINK firmware lacks, and what stflash cannot do without them
FIRMWARE_FEATURES = (
    ("has_voltage", "measuring the target voltage (diagnosis of an unpowered target)"),
    ("has_dap_registers", "reading DP registers (finer diagnosis when the debug port is half-alive)"),
    ("has_multi_ap", "--ap (the second core of a dual-core STM32H7)"),
    ("has_mem16", "16-bit memory accesses"),
)


@dataclass
class TargetCheck:
    """One ST-LINK's findings, check "stlink" (the probe) or "target" (the chip behind it), and the
    cause code of the target (known only once every check ran, so no finding carries it yet)."""

    serial: str | None
    cause: str = "ok"
    findings: list[Finding] = field(default_factory=list)
    diagnosis: Diagnosis | None = None


def check_stlink_targets(serials: list[str | None], sleep: Callable[[float], None]) -> list[TargetCheck]:
    return [check_stlink_target(serial, sleep) for serial in serials]


def check_stlink_target(serial: str | None, sleep: Callable[[float], None]) -> TargetCheck:
    from ..discovery import usb_backend
    from ..links.stlink import StlinkProbe

    out = TargetCheck(serial)
    try:
        probe = StlinkProbe.open(usb_backend(), serial, sleep=sleep)
    except StflashError as exc:
        out.cause = "probe-unusable"
        name = f"ST-LINK {serial}" if serial else "ST-LINK"
        out.findings.append(Finding("stlink", "fail", f"{name} cannot be used: {exc.message}", exc.hint))
        return out
    try:
        _probe_findings(probe, out)
        _target_findings(probe, out)
    finally:
        with contextlib.suppress(StflashError):
            probe.close(resume=True)
    return out


def _probe_findings(probe: Any, out: TargetCheck) -> None:
    version = probe.cmds.version
    missing = [what for attr, what in FIRMWARE_FEATURES if not getattr(version, attr)]
    detail = f"{probe.info.label} serial {probe.serial}: firmware {probe.firmware}"
    if missing:
        out.findings.append(Finding("stlink", "warn", f"{detail}, too old for " + "; ".join(missing),
                                    "update it with STM32CubeProgrammer (Firmware upgrade) or ST's STSW-LINK007"))
    else:
        out.findings.append(Finding("stlink", "ok", detail))


def _target_findings(probe: Any, out: TargetCheck) -> None:
    from ..links.stlink.errors import ConnectFailed
    from ..stlink_target import StlinkTarget

    try:
        target = StlinkTarget(probe, mode="normal")
        info = target.identify()
    except ConnectFailed as exc:
        said = diagnose(exc.observations)
        if said.code == "firmware-blocks-debug":
            said = _under_reset(probe, said)
        out.diagnosis, out.cause = said, said.code
        first = said.causes[0] if said.causes else None
        out.findings.append(Finding("target", "fail", said.summary + (f"; most likely {first.what}" if first else ""),
                                    said.command))
        return
    said = diagnose(info.observations, rdp_level=info.rdp_level)
    out.diagnosis = said
    volts = probe.voltage
    supply = f" at {volts:.2f} V" if volts is not None else ""
    chip = info.chip.name if info.chip else "?"
    out.findings.append(Finding("target", "ok", f"{chip}{supply}, RDP level {info.rdp_level or 0}"))
    if said.causes:
        out.cause = said.code
        out.findings.append(Finding("target", "warn", said.causes[0].what, said.command))
    if not info.rdp_level:
        _boot_bits(target, out)
        _empty_flash(target, out)


def _under_reset(probe: Any, normal: Diagnosis) -> Diagnosis:
    """The same chip under reset: it answers (firmware shuts debug out) or not (lock-up, wiring)."""
    from ..links.stlink.errors import ConnectFailed
    from ..stlink_target import StlinkTarget

    try:
        target = StlinkTarget(probe, mode="under-reset")
        info = target.identify()
    except ConnectFailed as exc:
        return diagnose(exc.observations)
    chip = info.chip.name if info.chip else "the chip"
    return Diagnosis(f"no answer from the debug port while the firmware runs, but {chip} answers a connect under "
                     "reset", normal.levels, [FIRMWARE_BLOCKS_DEBUG])


def _boot_bits(target: Any, out: TargetCheck) -> None:
    try:
        values = target.read_option_bytes()
    except StflashError as exc:
        out.findings.append(Finding("target", "warn", f"option bytes not readable: {exc.message}"))
        return
    boot = {k: v for k, v in values.items() if "BOOT" in k.upper() or k.upper().startswith("BCM")}
    if boot:
        shown = ", ".join(f"{k}={v:#x}" if v > 1 else f"{k}={v}" for k, v in boot.items())
        out.findings.append(Finding("target", "info", f"boot option bits {shown}"))


def _empty_flash(target: Any, out: TargetCheck) -> None:
    chip = target.chip
    with contextlib.suppress(StflashError):
        if target.read(chip.flash_base, 8) == b"\xff" * 8:
            if out.cause == "ok":
                out.cause = "flash-empty"
            out.findings.append(Finding("target", "info", f"the flash of {chip.name} is empty (no reset vector): the "
                                        "chip runs nothing, or its system bootloader where BOOT0 or the empty-flash "
                                        "check selects it", "stflash write firmware.hex"))
