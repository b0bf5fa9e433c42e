"""The rate the ROM sets after measuring the host's 0x7F (uart.md 1.2, 1.3).

Two detection methods (AN2606 "Bootloader UART baudrate detection", its Table 6):

* software: the ROM times the 0x7F frame on the RX pin with SysTick/a timer. Its error is a
  fixed amount of time (edge-detection latency), so relative to the frame it grows with the host's
  rate; Table 6 gives the worst case at 115200 per family, always a *lower* measured rate.
* hardware: the USART's own auto-baud counts the start bit in kernel-clock cycles. No software
  jitter, but the count is a whole number of cycles (BRR), so the error grows as fCK/baud shrinks;
  below 16 cycles a bit (oversampling by 16) the USART cannot follow at all.

Either way the rate is then quantised to BRR = fCK / rate. The error is drawn once per run of the
ROM, from the bench's seed and the chip's reset count: the same bench replays the same rates, and a
reset re-rolls it (uart.md 1.2: "Retrying (reset + new 0x7F) re-rolls the jitter"). Whether a host
copes is not decided here: the line samples the host's frames at the rate set here (``frames.py``),
so a deviation beyond what mid-bit sampling tolerates (about 4.5 % for 8E1) garbles characters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..bench import Bench

REFERENCE_BAUD = 115200  # the rate AN2606 Table 6 states the software jitter at
MIN_BRR = 16  # oversampling by 16: the USART's baud rate is at most fCK / 16 (reference manuals, USART BRR)
# Policy [UNCONFIRMED]: Table 6 gives worst cases (over voltage, temperature and parts); a bench part
# draws its error uniformly between 0 and this fraction of it. With the full figure, F4/F7 (-6 %)
# would lose 1 connection in 4 at 115200, the rate AN3155 2.2 says was tested and the one every tool
# uses on those parts daily; at 70 % every part keeps 115200 (the F767 V9.3 failures at 115200 that
# AN2606 Table 104 mentions are not modelled).
JITTER_SPAN = 0.7


@dataclass(frozen=True)
class Detection:
    """How one family's ROM measures 0x7F on the USART a host uses (USART1 PA9/PA10)."""

    method: str  # "software" | "hardware"
    jitter_115200: float  # worst-case relative error of a software measurement at 115200 (negative: slower)
    clock_hz: int  # the USART kernel clock while the ROM runs [UNCONFIRMED: AN2606 names the ROM's
    # clock setup per part, not its USART clock; these are each family's HSI or the PLL figure the ROM
    # is commonly reported to use. They matter only through BRR quantisation (and, for hardware
    # detection, the 16-cycle limit).]


# AN2606 Table 6 (uart.md 1.2): software jitter at 115200, and which interfaces detect in hardware.
DETECTION: dict[str, Detection] = {
    "F0": Detection("software", -0.01, 48_000_000),
    "F1": Detection("software", -0.03, 24_000_000),
    "F2": Detection("software", -0.05, 60_000_000),
    "F3": Detection("software", -0.02, 24_000_000),
    "F4": Detection("software", -0.06, 60_000_000),
    "F7": Detection("software", -0.06, 96_000_000),
    "L0": Detection("software", -0.02, 16_000_000),
    "L1": Detection("software", -0.03, 16_000_000),
    "L4": Detection("software", -0.05, 72_000_000),
    # G07x/G08x USART1 and G03x/G04x USART1 detect in hardware; their USART2/3 in software (-4 %)
    "G0": Detection("hardware", 0.0, 16_000_000),
    "G4": Detection("hardware", 0.0, 16_000_000),
    "H7": Detection("hardware", 0.0, 64_000_000),
    "WB": Detection("hardware", 0.0, 32_000_000),
}
# a family missing above [UNCONFIRMED]: software detection with the largest Table 6 jitter
DEFAULT_DETECTION = Detection("software", -0.06, 16_000_000)


def detection(family: str) -> Detection:
    return DETECTION.get(family, DEFAULT_DETECTION)


def measured_rate(bench: Bench, host_baud: int) -> int:
    """The rate the ROM's USART runs at after a 0x7F sent at ``host_baud`` (bits per second)."""
    chip = bench.chip
    det = detection(chip.chip.family)
    draw = random.Random(f"uart-baud:{bench.board.seed}:{chip.reset_count}").random()
    if det.method == "hardware":
        # the start bit is counted from an edge at a random phase of the kernel clock
        brr = int(det.clock_hz / host_baud + draw)
    else:
        error = -det.jitter_115200 * JITTER_SPAN * draw * host_baud / REFERENCE_BAUD
        brr = round(det.clock_hz / (host_baud / (1 + error)))
    return round(det.clock_hz / max(brr, MIN_BRR))
