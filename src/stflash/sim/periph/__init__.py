"""Peripherals the simulated chip models beyond its memories and flash controller: every USART the
system bootloader listens on (the chip row's ``bootloader.uart_pins``), with the parts of the RCC
and of the GPIO ports they depend on, for the families in ``facts.FAMILIES``. The bench's UART
adapter is wired to one of them and one pin pair (``wire``; the board's ``uart_port``).

* ``Peripherals``: builds them for a chip, maps them on its bus above the generic register stub,
  and is what the chip, its cores and the UART line talk to (time, events, reset, state);
* ``usart``/``usart_regs``: a USART on the virtual clock, legacy (F4) and modern (H7, G0) layouts;
* ``rcc``/``gpio``: clock enables, the kernel clock, pin modes and alternate functions;
* ``facts``: the per-family tables (a row per USART instance and per pin pair);
* ``wiring``: the ports a ROM lists, and which one a bench names.

A USART the ROM does not list (say the F407's USART2) is not modelled: its registers stay plain
storage in the generic stub, as on families without a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..bus import RegisterFile
from ..cortexm.profile import reset_clock_hz
from .facts import Family, PinPair, UsartFacts, family
from .gpio import AFRH, AFRL, MODER, GpioPort
from .rcc import CR, Rcc
from .usart import Usart
from .wiring import default_port, split_port

if TYPE_CHECKING:
    from ..chip import SimChip

__all__ = ["PRIORITY", "Peripherals"]

PRIORITY = 3  # above the generic "peripherals" stub (-5); nothing else is mapped there


class Peripherals:
    def __init__(self, sim: SimChip) -> None:
        self.sim = sim
        self.facts: Family | None = family(sim.chip.family)
        self.rcc: Rcc | None = None
        self.ports: dict[str, GpioPort] = {}  # by name ("GPIOA"), every port a modelled USART can use
        self.usarts: list[Usart] = []  # the ROM's USARTs, in the order it lists them
        self.rom_pins: list[tuple[UsartFacts, PinPair]] = []  # every instance and pin pair the ROM lists
        self.wired: tuple[str, PinPair] | None = None  # the instance and pins the adapter is on
        store = sim.bus.region_named("peripherals")
        if self.facts is None or not isinstance(store, RegisterFile):
            return
        f = self.facts
        self.rcc = Rcc(f.rcc, reset_clock_hz(sim.chip), store, self)
        for name, label in sim.chip.bootloader.uart_ports():
            row = f.usart(name)
            pair = row.pair(label) if row is not None else None
            if row is not None and pair is not None:
                self.rom_pins.append((row, pair))
        rows = list(dict.fromkeys(row for row, _pair in self.rom_pins))
        for row in rows:
            for pair in row.pins:
                if pair.gpio.name not in self.ports:
                    self.ports[pair.gpio.name] = GpioPort(pair.gpio, store, self)
        self.usarts = [Usart(self, row, f.layout) for row in rows]
        for region in (self.rcc, *self.ports.values(), *self.usarts):
            sim.bus.map(region, PRIORITY)
        self.wire(default_port(sim.chip.bootloader))

    def wire(self, port: str) -> None:
        """The adapter is on ``port`` ("USART2 PA2/PA3"; one the ROM lists, else on nothing the
        model knows): only that instance's TX and RX, through those pins, reach the line."""
        name, label = split_port(port)  # ("", "") for no port
        self.wired = next(((row.name, pair) for row, pair in self.rom_pins
                           if row.name == name and pair.label == label), None)
        for u in self.usarts:
            u.rewired()

    @property
    def usart(self) -> Usart | None:
        """The USART the adapter is wired to (None when it is not a modelled one)."""
        if self.wired is None:
            return None
        return next((u for u in self.usarts if u.name == self.wired[0]), None)

    # -- what the models ask each other ----------------------------------------------------------
    def now(self) -> int:
        return self.sim.clock.now

    def touch(self) -> None:
        for u in self.usarts:
            u.advance(self.now())

    def changed(self) -> None:
        for u in self.usarts:
            u.reconfigure()

    def usart_clocked(self, usart: UsartFacts) -> bool:
        return self.rcc is not None and self.rcc.enabled(usart.enable)

    def usart_kernel_hz(self, usart: UsartFacts) -> tuple[float | None, str]:
        return (None, "no RCC model") if self.rcc is None else self.rcc.kernel_hz(usart)

    def _carries(self, usart: UsartFacts, tx: bool) -> bool:
        """Does the wired pin (TX or RX) carry ``usart``: it is the wired instance, the pin's port
        is clocked and the pin is in alternate-function mode with the instance's AF there?"""
        if self.wired is None or self.rcc is None or self.wired[0] != usart.name:
            return False
        pair = self.wired[1]
        port = self.ports.get(pair.gpio.name)
        return port is not None and self.rcc.enabled(pair.gpio.enable) \
            and port.alternate(pair.tx if tx else pair.rx, pair.af)

    def tx_pin(self, usart: UsartFacts) -> bool:
        """Does ``usart``'s TX drive the pin the adapter listens on?"""
        return self._carries(usart, tx=True)

    def rx_pin(self, usart: UsartFacts) -> bool:
        """Does the pin the adapter drives reach ``usart``'s RX?"""
        return self._carries(usart, tx=False)

    def report(self, message: str) -> None:
        self.sim.events.append((self.now(), message))

    # -- what the chip, its cores and the UART line ask ----------------------------------------------
    def advance(self, t: int) -> None:
        for u in self.usarts:
            u.advance(t)

    def next_event(self, now: int) -> int | None:
        events = [e for e in (u.next_event(now) for u in self.usarts) if e is not None]
        return min(events) if events else None

    def reset(self, kind: str) -> None:
        """Any chip reset: the models return to their reset state (the RCC and GPIO words are in
        the generic stub, which the chip clears itself)."""
        for u in self.usarts:
            u.advance(self.now())  # what left the TX pin before the reset still arrives
            u.reset(self.now())

    def rom_exit(self) -> None:
        """What the system bootloader does to the peripherals it used before it jumps (AN3155
        3.5): every USART it listens on, their clock enables, the clock configuration and the
        ports of their pins back to reset."""
        f, rcc = self.facts, self.rcc
        if f is None or rcc is None:
            return
        self.advance(self.now())
        r = f.rcc
        fields = [CR, r.sw[0], *(d[0] for d in r.core_dividers)]
        if r.hsidiv is not None:
            fields.append(r.hsidiv[0])
        for row, pair in self.rom_pins:
            fields += [row.enable[0], row.bus_divider[0], pair.gpio.enable[0]]
            if row.kernel_sel is not None:
                fields.append(row.kernel_sel[0])
        blocks: list[tuple[Rcc | GpioPort, list[int]]] = [(rcc, fields)]
        used = dict.fromkeys(pair.gpio.name for _row, pair in self.rom_pins)
        blocks += [(self.ports[name], [MODER, AFRL, AFRH]) for name in used]
        for block, offsets in blocks:
            for off in offsets:
                block.store.words.pop(block.start + off - block.store.start, None)
        for u in self.usarts:
            u.reset(self.now())

    def state(self) -> dict[str, Any]:
        return {u.name.lower(): u.state() for u in self.usarts}

    def load(self, state: dict[str, Any]) -> None:
        for u in self.usarts:
            saved = state.get(u.name.lower())
            if saved:
                u.load(saved)
