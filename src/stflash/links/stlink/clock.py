"""Choosing the SWD clock (stlink.md §2.7): a V2's divisor table, a V3's published list.

The rule is the same on both: the fastest frequency not above the request (OpenOCD's rule;
stlink-org's "closest" could pick a faster clock than a long cable allows). A request below the
slowest entry gets the slowest, and the caller reports what was set.
"""

from __future__ import annotations

# SWD_SET_FREQ divisor -> nominal kHz. Divisor 0 is 4000 kHz in stlink-org and OpenOCD, "4600" in
# pyOCD/probe-rs labels; the nominal 4000 is used, so a 4 MHz request selects it.
V2_SWD_DIVISORS: dict[int, int] = {0: 4000, 1: 1800, 2: 1200, 3: 950, 5: 650, 7: 480, 9: 400, 10: 360, 15: 240,
                                   25: 150, 31: 125, 40: 100, 79: 50, 158: 25, 265: 15, 798: 5}
V2_DEFAULT_KHZ = 1800  # the probe's power-up setting (divisor 1)

# What stflash asks for when the user gives no --freq. STM32CubeProgrammer offers 4000 kHz as its
# SWD default; a V2 then runs at 4.0 MHz, a V3 at 3.3 MHz (its list has nothing between 3300 and
# 8000 kHz). A policy, not a fact from the references.
DEFAULT_FREQUENCY_HZ = 4_000_000


def pick(available_khz: list[int] | tuple[int, ...], requested_hz: int) -> int:
    """The fastest entry (kHz) not above ``requested_hz``, else the slowest entry."""
    if not available_khz:
        raise ValueError("no frequencies to choose from")
    fits = [k for k in available_khz if k * 1000 <= requested_hz]
    return max(fits) if fits else min(available_khz)


def v2_divisor(requested_hz: int) -> tuple[int, int]:
    """(divisor, kHz) for a V2's SWD_SET_FREQ."""
    khz = pick(tuple(V2_SWD_DIVISORS.values()), requested_hz)
    divisor = next(d for d, k in V2_SWD_DIVISORS.items() if k == khz)
    return divisor, khz
