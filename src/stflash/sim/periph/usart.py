"""A USART on the virtual clock (one object per instance the ROM listens on: ``facts.UsartFacts``):
its transmitter, its receiver and the two register layouts STM32s have (``usart_regs``), evaluated
lazily.

The USART runs in virtual time without being stepped: it keeps when it was last brought up to date
(``now``) and, before any access or configuration change, works out what happened since: frames
that left the transmit shift register (TXE/TC and the next frame from TDR), characters that
completed on the RX pin (RXNE, the parity/framing flags, ORE when RXNE was still set: that
character is lost), the idle line (IDLE). The configuration (clock, UE/TE/RE, format, rate, pins)
can only change at an access, so it is constant between two of them. Whoever drives the chip (a
core executing, the UART host's line) brings it up to a time only once nothing can still act
before that time.

The line side: ``line_in`` puts the host's characters (each with its own format and rate) on the RX
pin; ``take_tx`` hands over the frames that have left the TX pin. Only the instance the adapter is
wired to, with its pins in the right alternate function, reaches the line (``Peripherals.tx_pin``,
``rx_pin``): another one runs, but what it sends goes nowhere and its RX pin stays idle. What a
receiver makes of a frame sent in another format or at another rate is ``uart.frames``' waveform
sampling, in both directions. ``next_event`` tells the core's polling-loop shortcut when the next thing it could
see happens.

Policies (the reference manuals do not say, or the model stops short):

* A frame in the shift register is lost when the transmitter stops (TE or UE cleared, clock off);
  RM0090 lets a legacy USART finish the byte when UE is cleared.
* Noise (NF/NE), break characters (SBK/SBKRQ), LIN, smartcard, IrDA, half-duplex, synchronous
  mode, hardware flow control, DMA requests, auto-baud, mute mode, inversion, MSB-first, SWAP and
  the FIFO mode of H7/G0 are not modelled; enabling one of those that changes what is on the wire
  stops the USART and is reported (``problem``) instead of sending garbage silently. Interrupt
  enables are stored (the core model has no NVIC).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..bus import Region, lane_value, sub_word
from ..uart.frames import NS_PER_S, Char, Framing, Wire, low_spans, sample, samples_in_place
from . import usart_regs as layout
from .facts import MODERN, UsartFacts

if TYPE_CHECKING:
    from . import Peripherals

USART_SIZE = 0x400
HostChar = tuple[int, int, Framing | None, float]  # value, start_ns, format (None: the receiver's), rate
Frame = tuple[int, int, Framing, float]  # value, start_ns, format, rate: a frame that left the TX pin


@dataclass(frozen=True)
class Config:
    """What the registers and the RCC/GPIO say, constant between two accesses."""

    clocked: bool  # the bus clock (RCC enable): registers answer
    tx_on: bool  # the transmitter runs
    listening: bool  # the receiver runs and its pin carries the line
    tx_pin: bool  # TX reaches the adapter
    framing: Framing
    baud: float
    frame_ns: int
    problem: str  # why an enabled USART does not run ("" when it runs or is disabled)


class Usart(Region):
    def __init__(self, hub: Peripherals, facts: UsartFacts, layout_name: str) -> None:
        super().__init__(facts.name, facts.base, USART_SIZE)
        self.hub = hub
        self.facts = facts
        self.modern = layout_name == MODERN
        self.fifo = facts.fifo
        self.log: list[Frame] = []
        self.reset(hub.now())

    # -- reset and configuration -------------------------------------------------------------------
    def reset(self, now: int) -> None:
        """Every register at its reset value, nothing in flight; frames that already left the TX
        pin stay in ``log`` for the host."""
        self.cr1 = self.cr2 = self.cr3 = self.brr = self.gtpr = self.rtor = self.presc = 0
        self.rdr = 0
        self.rxne = self.pe = self.fe = self.ore = self.idle = False
        self.tc = True
        self.tdr: int | None = None
        self.shift: tuple[int, int, int, Framing, float] | None = None  # value, start, end, format, rate
        self.tx_ready = now  # the earliest start of the next frame (after TE: one idle frame)
        self.idle_at: int | None = None
        self.rx_from = float(now)  # the receiver looks for start bits from here
        self.sr_seen = -1  # legacy: error flags a read of SR saw, cleared by the next DR read
        self.tc_seq = False  # legacy: SR was read since the last DR write (a DR write clears TC)
        self.pin: deque[HostChar] = deque()
        self.breaks: list[tuple[int, int]] = []
        self.now = now
        self.reported = ""  # the problem last reported (see Config.problem)
        self._cfg: Config | None = None
        self._fits: dict[tuple[Framing | None, float], bool] = {}  # host format/rate read in place?

    @property
    def cfg(self) -> Config:
        if self._cfg is None:
            self._cfg = self._config()
        return self._cfg

    def _config(self) -> Config:
        hub, f = self.hub, self.facts
        clocked = hub.usart_clocked(f)
        ue, te, re = layout.enables(self)
        framing, problem = layout.framing(self)
        divisor = layout.divisor(self)
        baud = 0.0
        if clocked and ue and not problem:
            hz, why = hub.usart_kernel_hz(f)
            if hz is None:
                problem = why
            elif divisor is None:
                problem = f"BRR {self.brr:#x} below the minimum divider"
            else:
                baud = hz / divisor
        if not problem and clocked and ue:
            problem = layout.unsupported(self)
        runs = clocked and ue and not problem and baud > 0
        frame_ns = framing.char_ns(baud) if baud else 0
        return Config(clocked, runs and te, runs and re and hub.rx_pin(f), hub.tx_pin(f), framing, baud, frame_ns,
                      problem if clocked and ue else "")

    def rewired(self) -> None:
        """The bench's adapter was (re)attached: forget what was worked out about the pins. Only at
        the start of a bench's life (the wiring is a board fact that does not change). What fits the
        host's format and rate (``_fits``) depends on the registers and clocks only: it stays."""
        self._cfg = None

    def reconfigure(self) -> None:
        """After a change of registers, clocks or pins (the USART is up to date at ``now``)."""
        old, new = self.cfg, self._config()
        self._cfg = new
        self._fits.clear()
        now = self.now
        if new.listening and not old.listening:
            self.rx_from = float(now)
        if new.tx_on and not old.tx_on:
            self.tx_ready = now + new.frame_ns  # RM: setting TE sends an idle frame first
        if old.tx_on and not new.tx_on:
            self.shift = None  # policy: the frame on the wire is cut off
        if new.problem != self.reported:
            self.reported = new.problem
            if new.problem:
                self.hub.report(f"{self.name} stopped: {new.problem}")
        self._advance_tx(now)

    # -- time ------------------------------------------------------------------------------------------
    def advance(self, t: int) -> None:
        """Everything that happens up to ``t``."""
        self.cfg  # noqa: B018 - the configuration in force until now, before anything changes it
        if t <= self.now:
            return
        self._advance_tx(t)
        self._advance_rx(t)
        self.now = t

    def next_event(self, now: int) -> int | None:
        """The earliest moment something software can see may change (never later than that)."""
        cfg = self.cfg
        events = []
        if self.shift is not None:
            events.append(self.shift[2])
        elif self.tdr is not None and cfg.tx_on:
            events.append(max(now, self.tx_ready))
        if cfg.listening and (self.pin or self.breaks):
            # a start edge can come no earlier than the receiver looks, nor before the first
            # character (or break) still on the wire: characters are in the order they were sent
            first = min([b[0] for b in self.breaks], default=None)
            for c in self.pin:
                if c[1] >= self.rx_from or self._char_end(c) > self.rx_from:
                    first = c[1] if first is None else min(first, c[1])
                    break
            if first is not None:
                events.append(int(max(self.rx_from, first)) + cfg.frame_ns)
        if self.idle_at is not None:
            events.append(self.idle_at)
        return min(events) if events else None

    # -- transmitter ------------------------------------------------------------------------------------
    def _advance_tx(self, t: int) -> None:
        cfg = self.cfg
        cursor = self.now
        while True:
            if self.shift is not None:
                value, start, end, framing, baud = self.shift
                if end > t:
                    return
                self.shift = None
                if cfg.tx_pin:
                    self.log.append((value, start, framing, baud))
                if self.tdr is None:
                    self.tc = True
                cursor = end
            if self.tdr is None or not cfg.tx_on:
                return
            begin = max(cursor, self.tx_ready)
            if begin > t:
                return
            mask = (1 << cfg.framing.data_bits) - 1  # with parity, the word's MSB is replaced by it
            self.shift = (self.tdr & mask, begin, begin + cfg.frame_ns, cfg.framing, cfg.baud)
            self.tdr = None

    def write_data(self, value: int) -> None:
        """Software writes TDR (DR): the data waits there until the shift register is free."""
        self.tdr = value & 0x1FF
        self._advance_tx(self.now)

    # -- receiver ---------------------------------------------------------------------------------------
    def _advance_rx(self, t: int) -> None:
        cfg = self.cfg
        if not cfg.listening:
            while self.pin and self._char_end(self.pin[0]) <= t:
                self.pin.popleft()
            self.breaks = [b for b in self.breaks if b[1] > t]
            return
        rx, baud, span = cfg.framing, cfg.baud, cfg.frame_ns
        pin = self.pin
        # characters sent in the receiver's format at a rate it samples in place: each is read as
        # sent, one receiver frame after its start edge (frames.transcode's shortcut)
        waveform = bool(self.breaks)
        while pin and not waveform:
            value, start, fmt, rate = pin[0]
            if start >= t:
                break
            if not self._in_place(fmt, rate, cfg):
                waveform = True
                break
            if start < self.rx_from:
                pin.popleft()  # it started before the receiver listened
                continue
            if start + span > t:
                break
            pin.popleft()
            self._idle_before(start)
            self._receive(Char(value, start + span, parity=rx.parity_bit(value)), cfg)
            self.rx_from = start + 1.0
        if waveform:  # anything else: the line's waveform, sampled
            wire: list[Wire] = [(v, s, f or rx, r) for v, s, f, r in pin if s < t]
            got, self.rx_from = sample(low_spans(wire, self.breaks), rx, baud, self.rx_from, t)
            for char in got:
                self._idle_before(char.end_ns - cfg.frame_ns)
                self._receive(char, cfg)
            while pin and self._char_end(pin[0]) <= self.rx_from:
                pin.popleft()
            self.breaks = [b for b in self.breaks if b[1] > self.rx_from]
        if self.idle_at is not None and self.idle_at <= t and not (self.pin and self.pin[0][1] < self.idle_at):
            self._idle_before(self.idle_at)

    def _in_place(self, fmt: Framing | None, rate: float, cfg: Config) -> bool:
        key = (fmt, rate)
        fits = self._fits.get(key)
        if fits is None:
            fits = self._fits[key] = (fmt is None or fmt == cfg.framing) and samples_in_place(cfg.framing, rate, cfg.baud)
        return fits

    def _idle_before(self, start: float) -> None:
        """IDLE rises after one idle frame following a character, unless this one began first."""
        if self.idle_at is not None and self.idle_at <= start:
            self.idle = True
            self.idle_at = None

    def _receive(self, char: Char, cfg: Config) -> None:
        word = char.value | (char.parity or 0) << cfg.framing.data_bits  # RM: the parity bit is the MSB read
        self.idle_at = char.end_ns + cfg.frame_ns
        if self.rxne and not layout.overrun_disabled(self):
            self.ore = True  # the shift register's character is lost; RDR keeps the older one
            return
        self.rdr, self.rxne = word, True
        self.pe |= char.parity_error
        self.fe |= char.framing_error

    @staticmethod
    def _char_end(c: HostChar) -> int:
        """When a host character has left the wire (for one in the receiver's format, whatever that
        is: 13 bits, longer than any 8-bit frame)."""
        fmt = c[2]
        return c[1] + (fmt.char_ns(c[3]) if fmt is not None else round(13 * NS_PER_S / c[3]))

    # -- the line -------------------------------------------------------------------------------------
    def line_in(self, chars: list[tuple[int, int]], framing: Framing | None, baud: float,
                breaks: list[tuple[int, int]]) -> None:
        """The host's characters ((value, start_ns)) and breaks on the RX pin."""
        self.pin.extend((v, s, framing, baud) for v, s in chars)
        self.breaks.extend(breaks)

    def take_tx(self) -> list[Frame]:
        out, self.log = self.log, []
        return out

    # -- the bus ------------------------------------------------------------------------------------------
    def read(self, address: int, size: int, master: str) -> int:
        self.advance(self.hub.now())
        if not self.cfg.clocked:
            return 0  # no bus clock: the registers read as 0
        off = address - self.start
        return sub_word(layout.read(self, off & ~3), off & 3, size)

    def write(self, address: int, size: int, value: int, master: str) -> None:
        self.advance(self.hub.now())
        if not self.cfg.clocked:
            return  # no bus clock: writes are lost
        off = address - self.start
        lane, mask = lane_value(value, off & 3, size)
        layout.write(self, off & ~3, lane, mask)

    # -- state ----------------------------------------------------------------------------------------
    _INTS = ("cr1", "cr2", "cr3", "brr", "gtpr", "rtor", "presc", "rdr", "tx_ready", "sr_seen", "now")
    _BOOLS = ("rxne", "pe", "fe", "ore", "idle", "tc", "tc_seq")

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: int(getattr(self, name)) for name in self._INTS}
        out.update({name: bool(getattr(self, name)) for name in self._BOOLS})
        out.update(tdr=self.tdr, idle_at=self.idle_at, rx_from=self.rx_from, reported=self.reported,
                   shift=None if self.shift is None else [*self.shift[:3], _fmt(self.shift[3]), self.shift[4]],
                   pin=[[v, s, None if f is None else _fmt(f), r] for v, s, f, r in self.pin],
                   breaks=[list(b) for b in self.breaks],
                   log=[[v, s, _fmt(f), r] for v, s, f, r in self.log])
        return out

    def load(self, state: dict[str, Any]) -> None:
        for name in self._INTS:
            setattr(self, name, int(state[name]))
        for name in self._BOOLS:
            setattr(self, name, bool(state[name]))
        self.tdr = None if state["tdr"] is None else int(state["tdr"])
        self.idle_at = None if state["idle_at"] is None else int(state["idle_at"])
        self.rx_from = float(state["rx_from"])
        self.reported = str(state["reported"])
        shift = state["shift"]
        self.shift = None if shift is None else (int(shift[0]), int(shift[1]), int(shift[2]), _unfmt(shift[3]),
                                                 float(shift[4]))
        self.pin = deque((int(v), int(s), None if f is None else _unfmt(f), float(r)) for v, s, f, r in state["pin"])
        self.breaks = [(int(a), int(b)) for a, b in state["breaks"]]
        self.log = [(int(v), int(s), _unfmt(f), float(r)) for v, s, f, r in state["log"]]
        self._cfg = None
        self._fits.clear()


def _fmt(f: Framing) -> list[Any]:
    return [f.data_bits, f.parity, f.stop_bits]


def _unfmt(raw: list[Any]) -> Framing:
    return Framing(int(raw[0]), str(raw[1]), float(raw[2]))
