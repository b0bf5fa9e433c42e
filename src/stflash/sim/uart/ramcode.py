"""Code the USART bootloader started with Go into RAM (AN3155 3.5): the jump, and running it while
the host on the UART line waits.

After the Go's second ACK has left its TX pin the ROM puts the peripherals it used back (policy
``ROM_LEAVES_ON_GO``) and loads MSP and PC from the vector table at the Go address; from then on
the chip's core executes that code (``SimChip.boot_source == "ram"``) and the ROM answers nothing.
The code talks to the host through the USART the bench's adapter is wired to (``board.uart_port``,
``sim.periph``); the line runs the core up to each moment the host acts at or waits until (``run``). Any reset ends it: the chip boots as BOOT0 says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..faults import BusFault, PowerLost

if TYPE_CHECKING:
    from ..bench import Bench

RAM = "ram"  # SimChip.boot_source while code started by Go runs
# Policy: what the ROM leaves behind when it jumps. AN3155 3.5: before jumping "the bootloader
# de-initializes the hardware peripherals used" (every USART it listens on, the clocks and the pin
# settings it made: all back to their reset values, the core on the HSI). AN2606 4.1 disagrees in part: not
# every register is at its reset value after the jump on every product ("occasionally not all reset
# values are set"; its known-limitations tables list leftovers such as the IWDG prescaler at its
# maximum, AHB1ENR cleared on F40x V3.0, RTCAPBEN cleared on L43x), without saying what is left per
# part. The bench follows AN3155: "reset" (the only value modelled). Code that does not set up
# what it uses therefore fails here as it would on a part that resets everything.
ROM_LEAVES_ON_GO = "reset"


def start(bench: Bench, address: int, at: int) -> None:
    """Go to ``address`` in RAM: the code starts at ``at`` (the ROM's last ACK has left by then)."""
    chip = bench.chip
    core = chip.cores[0] if chip.cores else None
    try:
        sp, pc = chip.read(address, 4, "bootloader"), chip.read(address + 4, 4, "bootloader")
    except BusFault:
        sp = pc = 0
    assert ROM_LEAVES_ON_GO == "reset"
    chip.clock.advance_to(at)
    chip.peripherals.rom_exit()
    chip.boot_source = RAM
    chip.events.append((at, f"UART bootloader Go {address:#010x}: code in RAM runs (PC {pc:#010x})"))
    if core is not None:
        core.jump(sp, pc, at)


def running(bench: Bench) -> bool:
    """Does code started by Go run now (powered, out of reset, not ended by a reset)?"""
    board = bench.board
    return bench.chip.boot_source == RAM and board.powered and not board.nrst_held


def run(bench: Bench, t: int) -> int | None:
    """Let the code run up to ``t`` (and the peripherals go on to ``t``). Returns the earliest
    moment the device may do something again: None when nothing will change before someone acts
    (the code waits on nothing scheduled, or none runs), a later time when it stands polling until
    a scheduled event, else ``t``."""
    chip = bench.chip
    waiting, quiet = True, None
    core = chip.cores[0] if chip.cores else None
    if running(bench) and core is not None:
        if core.time < t:
            try:
                core.run_to(t)
            except PowerLost:  # the supply failed under a flash operation (an injected fault): the
                chip.clock.advance_to(t)  # code is gone, the USART with it; nothing more comes out
                return None
        waiting, quiet = core.waiting, core.quiet_until  # already there: as it stopped
        pending = chip.take_pending_reset()
        if pending is not None:  # SYSRESETREQ, OBL_LAUNCH: the chip samples BOOT0 as it is now
            kind, cause = pending
            # at the moment the code asked for it (the core's time), not when the host next looked:
            # the ROM's start-up runs from there (a host that slept meanwhile finds it listening)
            with chip.clock.behind(core.time):
                chip.reset(kind, boot0=bench.board.boot0, cause=cause)
            waiting, quiet = True, None
    chip.peripherals.advance(t)
    chip.clock.advance_to(t)
    event = chip.peripherals.next_event(t)
    if waiting:
        return event if event is not None and event > t else (None if event is None else t)
    return max(t, min(x for x in (quiet, event) if x is not None)) if quiet is not None else t
