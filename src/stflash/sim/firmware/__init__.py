"""Firmware the bench puts in flash for its firmware scenarios: a real Thumb program
(``scenario.s``, bytes below) that the simulated core runs after reset, whose register writes make
the scenario happen, and the checks that read those effects back from the chip.

* ``swd-disabled``: a few ms after reset it turns PA13/PA14 (SWDIO/SWCLK) into GPIO inputs
  (GPIOA_MODER; on F1 AFIO_MAPR.SWJ_CFG = 100, JTAG-DP and SW-DP off).
* ``low-power``: it clears DBGMCU_CR (no debug in Sleep/Stop/Standby) and enters Stop: SLEEPDEEP
  and WFI. With HCLK stopped the SW-DP (clocked by SWCLK) still answers, but every memory access
  through an access port answers WAIT (``sim.stlink.dap``); NRST wakes the chip. A debugger that
  set DBG_STOP afterwards keeps its link, as on silicon.
* ``h7-smps-lockup``: it writes PWR_CR3 with the LDO alone (the wrong supply for an SMPS board)
  and the core locks up. The supply setting is write-once per power-on reset, so the bench
  latches the lock-up (``Board.supply_lockup``) until the next power-on reset: meanwhile the
  debug port is silent (under reset too), nothing runs and the system bootloader does not answer.
  A chip powered up with NRST held low or BOOT0 high never runs this program.

A system reset puts the peripherals back (the register stubs clear) and the firmware starts over
(the latched supply lock-up excepted).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...chips.model import Chip
from ..cortexm import reset_clock_hz

if TYPE_CHECKING:
    from ..chip import SimChip

# scenario.s assembled for the ARMv6-M subset, linked at 0x08000040 (position independent)
CODE = bytes.fromhex(
    "0fa73868 0138fdd1 79680837 002909d0 3a681368 7c68a343 bc682343 13600c37"
    "0139f3e7 38680128 02d00228 05d0fee7 024a0423 136030bf fde700de 10ed00e0".replace(" ", "")
)
CODE_OFFSET = 0x40  # after a 16-word vector table
FINISH_SPIN, FINISH_SLEEP, FINISH_LOCKUP = 0, 1, 2
CYCLES_PER_DELAY = 2  # subs + bne: two halfwords, two cycles in the core model

PERIPHERALS = 0x4000_0000
GPIOA = {"F0": 0x4800_0000, "F2": 0x4002_0000, "F3": 0x4800_0000, "F4": 0x4002_0000, "F7": 0x4002_0000,
         "L0": 0x5000_0000, "L1": 0x4002_0000, "L4": 0x4800_0000, "G0": 0x5000_0000, "G4": 0x4800_0000,
         "WB": 0x4800_0000, "H7": 0x5802_0000}
AFIO_MAPR = 0x4001_0004  # F1: SWJ_CFG [26:24]
PA13_PA14 = 0xF << 26  # their two MODER fields
PA13_PA14_AF = 0xA << 26  # alternate function: SWDIO/SWCLK (the reset state)
DBGMCU_CR_OFFSET = 4
DBG_STOP = 1 << 1  # DBG_STOP (DBG_STOPD1 on H7)
PWR_CR3 = 0x5802_480C
PWR_CR3_SUPPLY = 0x3F  # SMPSLEVEL, SMPSEXTHP, SMPSEN, LDOEN, BYPASS
PWR_CR3_LDO_ONLY = 1 << 1


def _writes(chip: Chip, name: str) -> tuple[list[tuple[int, int, int]], int]:
    """(register writes, finish) of a scenario on ``chip``."""
    family = chip.family.upper()
    if name == "swd-disabled":
        if family == "F1":
            return [(AFIO_MAPR, 7 << 24, 4 << 24)], FINISH_SPIN
        return [(GPIOA[family], PA13_PA14, 0)], FINISH_SPIN
    if name == "low-power":
        return [(chip.idcode_address + DBGMCU_CR_OFFSET, 0x7, 0)], FINISH_SLEEP
    if name == "h7-smps-lockup":
        return [(PWR_CR3, PWR_CR3_SUPPLY, PWR_CR3_LDO_ONLY)], FINISH_LOCKUP
    raise KeyError(f"no firmware for scenario {name!r}")


def scenario_image(chip: Chip, name: str, effect_after_ns: int) -> bytes:
    """The flash image of scenario ``name`` on ``chip``: vector table (stack at the top of the
    first RAM, reset handler right after the table, no other handlers), code, table, a tag."""
    ram = chip.ram[0] if chip.ram else None
    sp = (ram.start + ram.size) if ram else 0x2000_1000
    base = chip.flash_base
    vectors = struct.pack("<II", sp, base + CODE_OFFSET + 1) + bytes(4 * 14)
    writes, finish = _writes(chip, name)
    delay = max(1, effect_after_ns * reset_clock_hz(chip) // (1_000_000_000 * CYCLES_PER_DELAY))
    table = struct.pack("<II", delay, len(writes))
    table += b"".join(struct.pack("<III", a, c, s) for a, c, s in writes) + struct.pack("<I", finish)
    tag = f"stflash bench scenario firmware: {name}".encode()
    body = vectors + CODE + table + tag
    unit = max(chip.write_unit, 4)
    return body + b"\x00" * (-len(body) % unit)


def _peripheral_word(sim: SimChip, address: int) -> int | None:
    """A peripheral register the firmware wrote since the last reset, or None."""
    region = sim.bus.region_named("peripherals")
    words = getattr(region, "words", {})
    value = words.get(address - PERIPHERALS)
    return None if value is None else int(value)


def _swd_pins_taken(sim: SimChip) -> bool:
    family = sim.chip.family.upper()
    if family == "F1":
        mapr = _peripheral_word(sim, AFIO_MAPR)
        return mapr is not None and (mapr >> 24) & 7 == 4
    moder = _peripheral_word(sim, GPIOA.get(family, GPIOA["F4"]))
    return moder is not None and moder & PA13_PA14 != PA13_PA14_AF


def _stopped_without_debug(sim: SimChip) -> bool:
    debug_in_stop = sim.bus.read(sim.chip.idcode_address + DBGMCU_CR_OFFSET, 4, "cpu") & DBG_STOP
    return not debug_in_stop and any(
        core is not None and core.sleeping and core.debug.scr & 4 for core in sim.cores)


def _supply_lost(sim: SimChip) -> bool:
    cr3 = _peripheral_word(sim, PWR_CR3)
    return cr3 is not None and cr3 & PWR_CR3_SUPPLY == PWR_CR3_LDO_ONLY


EFFECTS: dict[str, Callable[[SimChip], bool]] = {
    "swd-disabled": _swd_pins_taken,
    "low-power": _stopped_without_debug,
    "h7-smps-lockup": _supply_lost,
}
