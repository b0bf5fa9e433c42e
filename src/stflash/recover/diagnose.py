"""What a board's answers mean: every level that was seen, and the likely causes in order, each
with the command that tells it apart from the next one or fixes it.

It reads the observations an ST-LINK connection gathers (keys documented in
:mod:`stflash.links.stlink.identify`) and never talks to a device, so ``probe``, ``recover`` and
``doctor`` reason the same way on the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..links.stlink.diagnosis import LOW_VOLTAGE_BELOW_V, NOT_POWERED_BELOW_V


@dataclass(frozen=True)
class Cause:
    """One explanation of what was seen. ``code`` is stable (JSON, tests); ``what`` is for people;
    ``command`` tells this cause apart from the others or fixes it."""

    code: str
    what: str
    command: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "what": self.what, "command": self.command}


@dataclass
class Diagnosis:
    summary: str
    levels: list[tuple[str, str]] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)

    @property
    def code(self) -> str:
        """The most likely cause's code ("ok" when nothing is wrong)."""
        return self.causes[0].code if self.causes else "ok"

    @property
    def command(self) -> str | None:
        """The most likely cause's command (None when nothing is wrong)."""
        return self.causes[0].command if self.causes else None

    def as_dict(self) -> dict[str, object]:
        return {"summary": self.summary, "cause": self.code,
                "levels": [{"level": k, "seen": v} for k, v in self.levels],
                "causes": [c.as_dict() for c in self.causes]}

    def render(self) -> str:
        lines = [self.summary, "what answered:"]
        lines += [f"  {k + ':':<16} {v}" for k, v in self.levels]
        if self.causes:
            lines.append("likely causes, most likely first:")
            for i, c in enumerate(self.causes, 1):
                lines.append(f"  {i}. {c.what}")
                lines.append(f"     -> {c.command}")
        return "\n".join(lines)


# -- the causes, worded once ---------------------------------------------------------------------
def _not_powered(volts: float) -> Cause:
    return Cause("not-powered", f"the target has no supply (the probe measures {volts:.2f} V)",
                 "power the board; on a standalone ST-LINK also wire the target's VDD to the probe's VREF pin "
                 "(pin 1), then: stflash probe")


def _low_supply(volts: float) -> Cause:
    return Cause("low-supply", f"the target's supply is too low for an STM32 ({volts:.2f} V)",
                 "check the board's regulator and the VREF wire, then: stflash probe")


FIRMWARE_BLOCKS_DEBUG = Cause(
    "firmware-blocks-debug",
    "the firmware takes the debug pins (SWDIO/SWCLK as GPIO) or stops the chip soon after reset, so only a "
    "connection made before it runs gets in",
    "stflash probe --connect-under-reset   (the probe holds NRST while it attaches; if this works, "
    "'stflash recover --yes' erases that firmware)")
SUPPLY_LOCKUP = Cause(
    "h7-supply-lockup",
    "on an STM32H7: firmware selected the wrong supply (LDO on an SMPS board, HAL_PWREx_ConfigSupply); the "
    "lock-up is latched until the power is cut, and a reset alone does not clear it",
    "stflash recover --wait 120   (stflash holds NRST low while you power-cycle the board, then erases the "
    "firmware; on a Nucleo, where the ST-LINK shares the cable, hold RESET while you plug it back in)")
WIRING = Cause(
    "wiring", "SWDIO, SWCLK or GND is not connected between the probe and the target (or NRST, for a connect "
    "under reset)",
    "check the wires and the solder bridges, then retry slower: stflash probe --connect-under-reset --freq 100K")
RDP2 = Cause(
    "rdp2", "read-out protection level 2 turned debug off for good (nothing can undo it)",
    "if the system bootloader still answers (BOOT0 high, reset) it is not level 2: stflash probe -c dfu --wait 30")
LOW_POWER = Cause(
    "low-power",
    "the firmware put the chip in Stop or Standby with debug in low-power modes off (DBGMCU_CR): the debug "
    "port answers, the core's bus does not (st-info shows this as chipid 0x0000)",
    "stflash probe --connect-under-reset   (a reset wakes the chip before the firmware sleeps again)")
CORE_HELD = Cause(
    "core-held", "the core is held in reset or clock-gated (NRST held low by the board, or a watchdog loop)",
    "check that nothing holds NRST low, then: stflash probe --connect-under-reset")
READ_PROTECTED = Cause(
    "read-protected", "read-out protection level 1: debug and the bootloader may not read the flash",
    "stflash recover --yes   (RDP 1 -> 0: the chip erases its whole flash as it lowers the level)")
UNKNOWN_CHIP = Cause(
    "unknown-chip", "the chip answers with a DEV_ID stflash's chip table does not have",
    "name a close relative with --chip, and report the DEV_ID")
NOT_STM32 = Cause("not-stm32", "the core answers but no STM32 chip id could be read",
                  "stflash probe --connect-under-reset; a part that is not an STM32 cannot be identified")


GATED_BIT = {0: "BCM7", 3: "BCM4"}  # a dual-core H7's access port -> the option bit that starts its core


def _core_gated(ap: int, other: str, what: str) -> Cause:
    bit = GATED_BIT.get(ap, "its boot option bit")
    return Cause("core-gated",
                 f"the core behind access port {ap} is switched off by option bit {bit}=0 (a dual-core STM32H7); "
                 f"access port {other} reaches the other core ({what})",
                 f"stflash recover --ap {other} --yes   (through access port {other}: shows the boot bits, sets "
                 f"{bit}=1 and checks access port {ap} again)")


# -- reading the observations -------------------------------------------------------------------
def _volts(obs: Mapping[str, object]) -> float | None:
    v = obs.get("target_voltage")
    return float(v) if isinstance(v, (int, float)) else None


def levels(obs: Mapping[str, object]) -> list[tuple[str, str]]:
    """One line per level that was reached, in the order a connection climbs them."""
    out: list[tuple[str, str]] = []
    if "probe" in obs:
        found = obs.get("probe_mode_found")
        tail = f", found in {found} mode" if found and found != "debug" else ""
        out.append(("probe", f"{obs.get('probe')} firmware {obs.get('firmware')}, serial {obs.get('serial')}{tail}"))
    if "target_voltage" in obs:
        v = _volts(obs)
        out.append(("target voltage", "not measurable with this probe firmware" if v is None else f"{v:.2f} V"))
    if "enter" in obs or "dp_idcode" in obs:
        freq = obs.get("frequency_hz")
        how = f"{obs.get('connect_mode')} connect" + (f", SWD at {int(freq) // 1000} kHz" if isinstance(freq, int) else "")
        if obs.get("dp_idcode"):
            power = obs.get("debug_power")
            extra = f"; debug power {power}" if power and power != "ok" else ""
            out.append(("debug port", f"DPIDR {obs.get('dp_idcode')} ({how}){extra}"))
        else:
            out.append(("debug port", f"no answer: {obs.get('dp_error') or obs.get('enter')} ({how})"))
    aps = obs.get("aps")
    if isinstance(aps, dict) and aps:
        out.append(("access ports", ", ".join(f"AP{k} {v}" for k, v in aps.items())))
    others = obs.get("other_core_aps")
    if isinstance(others, dict) and others:
        out.append(("other cores", ", ".join(f"AP{k}: {v}" for k, v in others.items())))
    if obs.get("cpuid"):
        state = obs.get("core_state")
        out.append(("core", f"{obs.get('core') or 'not a Cortex-M'} (CPUID {obs.get('cpuid')})"
                    + (f", {state}" if state else "")))
    elif obs.get("cpuid_error"):
        out.append(("core", f"no answer on AP{obs.get('ap')}: {obs.get('cpuid_error')}"))
    if obs.get("chip_id_raw"):
        out.append(("chip id", f"{obs.get('chip_id_raw')} at {obs.get('chip_id_address')} (AP{obs.get('chip_id_ap')})"))
    elif isinstance(tried := obs.get("chip_id_tried"), list) and tried:
        out.append(("chip id", "none readable: " + "; ".join(str(t) for t in tried)))
    if "chip" in obs:
        out.append(("chip", str(obs.get("chip") or f"not in the chip table (DEV_ID {obs.get('dev_id')})")))
    rdp = obs.get("rdp")
    if isinstance(rdp, dict):
        out.append(("protection", f"RDP level {rdp.get('level')} ({rdp.get('register')} = {rdp.get('value')})"))
    elif obs.get("rdp_inferred"):
        out.append(("protection", "RDP level 1 (flash reads refused)"))
    return out


def diagnose(obs: Mapping[str, object], *, rdp_level: int | None = None) -> Diagnosis:
    """The diagnosis of one ST-LINK connection attempt (failed or not)."""
    seen = levels(obs)
    v = _volts(obs)
    if v is not None and v < NOT_POWERED_BELOW_V:
        return Diagnosis("the target is not powered", seen, [_not_powered(v)])
    low = [_low_supply(v)] if v is not None and v < LOW_VOLTAGE_BELOW_V else []
    under_reset = obs.get("connect_mode") == "under-reset"
    if ("enter" in obs or "dp_idcode" in obs) and not obs.get("dp_idcode"):
        if under_reset:
            return Diagnosis("no answer from the debug port, even with NRST held low", seen,
                             low + [SUPPLY_LOCKUP, WIRING, RDP2])
        return Diagnosis("no answer from the debug port", seen, low + [FIRMWARE_BLOCKS_DEBUG, WIRING, SUPPLY_LOCKUP, RDP2])
    power = obs.get("debug_power")
    if isinstance(power, str) and power.startswith("not acknowledged"):
        return Diagnosis("the debug port answers but does not power up its debug domain", seen, low + [LOW_POWER, CORE_HELD])
    others = obs.get("other_core_aps")
    if isinstance(others, dict) and others:
        ap = obs.get("ap")
        other, what = next(iter(others.items()))
        return Diagnosis(f"access port {ap} does not answer, access port {other} does", seen,
                         [_core_gated(ap if isinstance(ap, int) else 0, str(other), str(what))])
    if obs.get("cpuid_error") or (obs.get("ap_init") not in (None, "ok")):
        return Diagnosis("the debug port answers but the core does not", seen,
                         low + ([CORE_HELD, LOW_POWER] if under_reset else [LOW_POWER, CORE_HELD]))
    if obs.get("chip_id_raw") == "0x00000000":
        return Diagnosis("the chip id reads 0x000", seen, [LOW_POWER, CORE_HELD])
    if obs.get("dev_id") and obs.get("chip") is None and "chip" in obs:
        return Diagnosis(f"DEV_ID {obs.get('dev_id')} is not in the chip table", seen, [UNKNOWN_CHIP])
    if obs.get("chip_id_tried") and not obs.get("chip_id_raw"):
        return Diagnosis("no chip id", seen, [NOT_STM32])
    level = rdp_level
    if level is None:
        rdp = obs.get("rdp")
        raw = rdp.get("level") if isinstance(rdp, dict) else None
        level = raw if isinstance(raw, int) else None
        if level is None and obs.get("rdp_inferred"):
            level = 1
    if level == 1:
        return Diagnosis(f"{obs.get('chip')}: read-out protection level 1", seen, [READ_PROTECTED])
    if level == 2:
        return Diagnosis(f"{obs.get('chip')}: read-out protection level 2", seen, [RDP2])
    return Diagnosis(f"{obs.get('chip')} answers", seen, [])
