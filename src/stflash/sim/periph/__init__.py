"""Peripherals the simulated chip models beyond its memories and flash controller: USART1 (the
USART the system bootloader listens on, wired to the bench's UART adapter on PA9/PA10), with the
parts of the RCC and of GPIOA it depends on, for the families in ``facts.FAMILIES``.

* ``Peripherals``: builds them for a chip, maps them on its bus above the generic register stub,
  and is what the chip, its cores and the UART line talk to (time, events, reset, state);
* ``usart``/``usart_regs``: USART1 on the virtual clock, legacy (F4) and modern (H7, G0) layouts;
* ``rcc``/``gpio``: clock enables, the kernel clock, pin modes and alternate functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..bus import RegisterFile
from ..cortexm.profile import reset_clock_hz
from .facts import RX_PIN, TX_PIN, Family, family
from .gpio import AFRL, MODER, GpioPort
from .rcc import CR, Rcc
from .usart import Usart

if TYPE_CHECKING:
    from ..chip import SimChip

__all__ = ["PRIORITY", "Peripherals"]

PRIORITY = 3  # above the generic "peripherals" stub (-5); nothing else is mapped there


class Peripherals:
    def __init__(self, sim: SimChip) -> None:
        self.sim = sim
        self.facts: Family | None = family(sim.chip.family)
        self.rcc: Rcc | None = None
        self.gpioa: GpioPort | None = None
        self.usart: Usart | None = None
        store = sim.bus.region_named("peripherals")
        if self.facts is None or not isinstance(store, RegisterFile):
            return
        f = self.facts
        self.rcc = Rcc(f.rcc, reset_clock_hz(sim.chip), store, self)
        self.gpioa = GpioPort("GPIOA", f.gpioa, f.moder_reset, store, self)
        self.usart = Usart(self, f)
        for region in (self.rcc, self.gpioa, self.usart):
            sim.bus.map(region, PRIORITY)

    # -- what the models ask each other ----------------------------------------------------------
    def now(self) -> int:
        return self.sim.clock.now

    def touch(self) -> None:
        if self.usart is not None:
            self.usart.advance(self.now())

    def changed(self) -> None:
        if self.usart is not None:
            self.usart.reconfigure()

    def usart_clocked(self) -> bool:
        return self.rcc is not None and self.rcc.usart_clocked()

    def usart_kernel_hz(self) -> tuple[float | None, str]:
        return (None, "no RCC model") if self.rcc is None else self.rcc.usart_kernel_hz()

    def _pin(self, pin: int) -> bool:
        f, rcc, port = self.facts, self.rcc, self.gpioa
        return f is not None and rcc is not None and port is not None and rcc.gpioa_clocked() \
            and port.alternate(pin, f.af)

    def tx_pin(self) -> bool:
        """Does USART1_TX drive PA9, the pin the adapter listens on?"""
        return self._pin(TX_PIN)

    def rx_pin(self) -> bool:
        """Does PA10, the pin the adapter drives, reach USART1_RX?"""
        return self._pin(RX_PIN)

    def report(self, message: str) -> None:
        self.sim.events.append((self.now(), message))

    # -- what the chip, its cores and the UART line ask ----------------------------------------------
    def advance(self, t: int) -> None:
        if self.usart is not None:
            self.usart.advance(t)

    def next_event(self, now: int) -> int | None:
        return None if self.usart is None else self.usart.next_event(now)

    def reset(self, kind: str) -> None:
        """Any chip reset: the models return to their reset state (the RCC and GPIO words are in
        the generic stub, which the chip clears itself)."""
        if self.usart is not None:
            self.usart.advance(self.now())  # what left the TX pin before the reset still arrives
            self.usart.reset(self.now())

    def rom_exit(self) -> None:
        """What the system bootloader does to the peripherals it used before it jumps (AN3155
        3.5): USART1, its clock enables, the clock configuration and PA9/PA10 back to reset."""
        f, rcc, port = self.facts, self.rcc, self.gpioa
        if f is None or rcc is None or port is None or self.usart is None:
            return
        self.usart.advance(self.now())
        r = f.rcc
        fields = [CR, r.sw[0], r.usart_en[0], r.gpioa_en[0], r.bus_divider[0], *(d[0] for d in r.core_dividers)]
        fields += [x[0] for x in (r.hsidiv, r.kernel_sel) if x is not None]
        for block, offsets in ((rcc, fields), (port, [MODER, AFRL, AFRL + 4])):
            for off in offsets:
                block.store.words.pop(block.start + off - block.store.start, None)
        self.usart.reset(self.now())

    def state(self) -> dict[str, Any]:
        return {} if self.usart is None else {"usart1": self.usart.state()}

    def load(self, state: dict[str, Any]) -> None:
        saved = state.get("usart1")
        if self.usart is not None and saved:
            self.usart.load(saved)
