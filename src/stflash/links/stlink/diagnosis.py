"""What a failed connection means, in the user's words, from the observations gathered on the way
(the keys are documented in :mod:`.identify`). Pure functions: they read the dict and say what
was seen and what to try; they never talk to the probe.
"""

from __future__ import annotations

NOT_POWERED_BELOW_V = 0.5  # below this the target has no supply (an unpowered probe input reads ~0)
LOW_VOLTAGE_BELOW_V = 1.6  # STM32 parts need 1.7 V (1.62 V on some) and more
H7_DP_IDCODE = 0x6BA0_2477

UNDER_RESET = "try --connect-under-reset: the probe holds NRST low while it attaches, so the firmware never runs " \
              "(NRST must be wired to the probe)"
BOOTLOADER = "or start the chip in its system bootloader (BOOT0 high, then reset) and erase it from there"
WIRING = "check SWDIO, SWCLK and GND between probe and target"


def _volts(obs: dict[str, object]) -> float | None:
    v = obs.get("target_voltage")
    return float(v) if isinstance(v, (int, float)) else None


def _seen_voltage(obs: dict[str, object]) -> str:
    v = _volts(obs)
    return f"target at {v:.2f} V" if v is not None else "target voltage not measurable with this probe firmware"


def not_powered(obs: dict[str, object]) -> tuple[str, str] | None:
    v = _volts(obs)
    if v is None or v >= NOT_POWERED_BELOW_V:
        return None
    return (f"the probe measures {v:.2f} V on the target: the target is not powered",
            "power the board; on a standalone ST-LINK also connect the target's supply to the probe's "
            "VAPP/VREF pin (pin 1 of the 20-pin connector), which is how the probe measures it")


def no_dp_answer(obs: dict[str, object]) -> tuple[str, str]:
    """ENTER or the DPIDR read got no answer."""
    powered = not_powered(obs)
    if powered:
        return powered
    status = obs.get("dp_error") or obs.get("enter")
    low = _volts(obs)
    supply = f" (only {low:.2f} V: too low for an STM32)" if low is not None and low < LOW_VOLTAGE_BELOW_V else ""
    if obs.get("connect_mode") == "under-reset":
        return (f"no answer from the target's debug port ({status}) even with NRST held low; "
                f"{_seen_voltage(obs)}{supply}",
                f"{WIRING}, and NRST to the probe's reset pin; if the wiring is right, read-out protection "
                "level 2 may have disabled debug for good (nothing can undo it), or an STM32H7 supply "
                "lock-up is latched: hold BOOT0 high, power-cycle the board and erase the flash")
    return (f"no answer from the target's debug port ({status}); {_seen_voltage(obs)}{supply}: the SWD pins are "
            "not connected, or the firmware turned them off or put the chip in a low-power mode "
            "(read-out protection level 2 looks the same)",
            f"{UNDER_RESET}; {WIRING}; {BOOTLOADER}")


def power_not_acknowledged(obs: dict[str, object]) -> tuple[str, str]:
    return (f"the debug port answers (DPIDR {obs.get('dp_idcode')}) but does not power up its debug domain "
            f"({obs.get('debug_power')}): the chip is in a low-power mode",
            f"{UNDER_RESET}; {BOOTLOADER}")


def core_not_answering(obs: dict[str, object], error: str) -> tuple[str, str]:
    """The DP answers but the core (or its access port) does not."""
    ap = obs.get("ap")
    ap = ap if isinstance(ap, int) else 0
    others = obs.get("other_core_aps")
    if isinstance(others, dict) and others:
        other, what = next(iter(others.items()))
        gated = {0: "; on a dual-core STM32H7 this is the Cortex-M7, gated off by option bit BCM7=0",
                 3: "; on a dual-core STM32H7 this is the Cortex-M4, gated off by option bit BCM4=0"}.get(ap, "")
        return (f"access port {ap} does not answer ({error}) but access port {other} does ({what}): the core "
                f"behind access port {ap} does not run{gated}",
                f"use --ap {other} to reach the chip through the other core (through it, the option bit that "
                "gates the first core can be set back to 1)")
    dpidr = obs.get("dp_idcode")
    if dpidr == f"{H7_DP_IDCODE:#010x}" and obs.get("chip_id_apb"):
        return (f"the debug port answers (DPIDR {dpidr}, chip id {obs.get('chip_id_apb')} through the debug "
                f"APB) but the Cortex-M7 on access port {ap} does not ({error}): the core is locked up or "
                "unpowered, as after firmware selected the wrong STM32H7 supply (SMPS/LDO)",
                f"{UNDER_RESET} (if the supply setting is already latched: hold NRST low while you power the "
                "board up, or hold BOOT0 high and power-cycle, then mass-erase)")
    return (f"the debug port answers (DPIDR {dpidr}) but the core on access port {ap} does not ({error}): it is "
            "held in reset, clock-gated or in a deep low-power mode",
            f"{UNDER_RESET}; {BOOTLOADER}")


def chip_id_zero(obs: dict[str, object]) -> tuple[str, str]:
    return (f"the chip id reads 0x000 at {obs.get('chip_id_address')} ({obs.get('core')}, DPIDR "
            f"{obs.get('dp_idcode')}): the firmware turned the debug block's clock off or put the chip in a "
            "low-power mode",
            f"{UNDER_RESET}; {BOOTLOADER}")


def unknown_dev_id(obs: dict[str, object]) -> tuple[str, str]:
    return (f"chip id {obs.get('chip_id_raw')} (DEV_ID {obs.get('dev_id')}, REV_ID {obs.get('rev_id')}) read at "
            f"{obs.get('chip_id_address')} on a {obs.get('core')} is not in stflash's chip table",
            "name the part with --chip if it is a close relative of a known one, and report the DEV_ID")


def no_chip_id(obs: dict[str, object]) -> tuple[str, str]:
    tried = obs.get("chip_id_tried")
    return (f"the core answers ({obs.get('core')}, CPUID {obs.get('cpuid')}) but no DBGMCU chip id could be read "
            f"(tried {tried})",
            f"{UNDER_RESET}; if the part is not an STM32 stflash cannot identify it")
