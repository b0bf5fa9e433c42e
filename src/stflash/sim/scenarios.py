"""Field scenarios: what users meet on real boards, as board, option-byte or firmware facts.

A scenario caused by firmware is tied to that firmware's bytes in flash: it holds while they are
there, ends when they are erased, and comes back when the same bytes are written again, as on
a real board. Option-byte scenarios are option values programmed before the board is handed
over; board scenarios are wiring or power facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chips.model import Chip, FlashKind

# FTDI's default latency timer: received bytes wait up to this long in the adapter (uart.md 13.2)
FTDI_LATENCY_US = 16_000
LOW_LATENCY_US = 1_000  # the latency timer with ASYNC_LOW_LATENCY set, and the bench's default adapter
DFU_RUNTIME = "dfu-runtime"
LOW_POWER = "low-power"
SUPPLY_LOCKUP = "h7-smps-lockup"


@dataclass(frozen=True)
class Scenario:
    name: str
    cause: str  # "firmware" | "options" | "board"
    summary: str
    options: tuple[tuple[str, int], ...] = ()
    effect_after_ns: int = 0  # firmware scenarios: how long after reset the effect starts
    families: tuple[str, ...] = ()  # empty = any
    needs_dual_core: bool = False
    needs_dfu: bool = False  # the part's ROM has a USB DFU bootloader

    def applies_to(self, chip: Chip) -> str | None:
        """None when the scenario makes sense for the chip, else the reason it does not."""
        if self.families and chip.family.upper() not in self.families:
            return f"{self.name} happens on {', '.join(self.families)} parts, not on {chip.name}"
        if self.needs_dual_core and not chip.dual_core:
            return f"{self.name} needs a dual-core part; {chip.name} has one core"
        if self.cause == "firmware" and chip.flash_kind is FlashKind.NONE:
            return f"{chip.name} has no internal flash to hold firmware"
        if self.needs_dfu and not chip.bootloader.dfu:
            return f"{self.name} needs a part whose ROM has a USB DFU bootloader; {chip.name} has none"
        return None


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(SUPPLY_LOCKUP, "firmware",
                 "firmware selects the wrong supply (LDO on an SMPS board) 2 ms after reset: the lock-up is "
                 "latched until the next power-on reset; meanwhile the debug port is silent in every connect "
                 "mode (under reset too), nothing runs, and neither the DFU nor the UART bootloader answers, "
                 "BOOT0 or not; power-cycle with NRST held low (then connect under reset) or with BOOT0 high "
                 "(the bootloader leaves PWR_CR3 alone), then mass-erase",
                 effect_after_ns=2_000_000, families=("H7",)),
        Scenario("m7-boot-disabled", "options",
                 "option bit BCM7=0: the Cortex-M7 does not run and access port 0 answers nothing; the "
                 "Cortex-M4 on access port 3 still works",
                 options=(("BCM7", 0),), families=("H7",), needs_dual_core=True),
        Scenario("swd-disabled", "firmware",
                 "firmware reassigns PA13/PA14 (SWDIO/SWCLK) a few ms after reset: a normal connect fails, "
                 "connect under reset works", effect_after_ns=5_000_000),
        Scenario(LOW_POWER, "firmware",
                 "firmware enters Stop mode with debug in low-power modes disabled (DBGMCU_CR) 10 ms after "
                 "reset: the SW-DP still answers (DPIDR, CTRL/STAT), but every memory access through an "
                 "access port answers WAIT (st-info shows chipid 0x0000); connect under reset works",
                 effect_after_ns=10_000_000),
        Scenario("rdp1", "options", "read-out protection level 1: flash not readable by debug or bootloader",
                 options=(("RDP", 0xBB),)),
        Scenario("rdp2", "options",
                 "read-out protection level 2: debug and the system bootloader are gone for good",
                 options=(("RDP", 0xCC),)),
        Scenario("no-target-power", "board", "the target has no supply: the probe reads about 0 V"),
        Scenario("ftdi-latency", "board",
                 "the USB-serial adapter is an FTDI chip with its default 16 ms latency timer: each UART "
                 "turnaround waits for it (a host asking for low-latency mode brings it to 1 ms, as ftdi_sio "
                 "does)"),
        Scenario(DFU_RUNTIME, "firmware",
                 "the application in flash has a USB device with a DFU runtime interface (0483:5740): "
                 "DFU_DETACH and a USB reset (or, with bitWillDetach, DFU_DETACH alone) make it start the "
                 "system bootloader, which enumerates as 0483:df11", needs_dfu=True),
        Scenario("bootloader-only", "board",
                 "the flash is empty, so the chip runs its system bootloader (BOOT0 held high on parts "
                 "without an empty-flash check)"),
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
