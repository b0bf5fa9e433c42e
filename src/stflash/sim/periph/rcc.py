"""The part of the RCC that decides a USART's fate: its bus clock enable, its pins' port clock
enable, and its kernel clock, as far as code needs to make that the HSI with every prescaler at /1.

Modelled: RCC_CR's HSION (forced on while the HSI is SYSCLK) with HSIRDY following it, the ready
flags of the other oscillators following their enable bits at once, RCC_CFGR.SWS mirroring SW, and
the prescaler and kernel-clock selector fields (``facts.RccFacts``). Every other RCC register keeps
the generic behaviour (reads back what was written, 0 after reset). The enables, prescalers and
selectors of each USART are its row in ``facts`` (``UsartFacts``). A clock tree the model does not
follow (SYSCLK from anything but the HSI, an AHB/core prescaler or HSIDIV other than /1, a kernel
clock other than PCLK/SYSCLK/HSI) is reported as unsupported: the USART then stops (the core keeps
the reset clock: ``cortexm.profile``).
"""

from __future__ import annotations

from ..bus import RegisterFile
from .facts import HSI, PCLK, SYSCLK, Bit, Field, RccFacts, UsartFacts
from .regs import Listener, StoredBlock

RCC_SIZE = 0x400
CR = 0x00


def field(word: int, f: Field) -> int:
    return (word >> f[1]) & ((1 << f[2]) - 1)


class Rcc(StoredBlock):
    def __init__(self, facts: RccFacts, hsi_hz: int, store: RegisterFile, listener: Listener) -> None:
        super().__init__("RCC", facts.base, RCC_SIZE, store, listener)
        self.facts = facts
        self.hsi_hz = hsi_hz

    def _real(self, offset: int) -> int:
        for alias, size, target in self.facts.aliases:
            if alias <= offset < alias + size:
                return target + offset - alias
        return offset

    def reset_value(self, offset: int) -> int:
        return self.facts.cr_reset if offset == CR else 0

    def stored(self, offset: int) -> int:
        return super().stored(self._real(offset))

    def keep(self, offset: int, value: int) -> None:
        super().keep(self._real(offset), value)

    def _sws(self) -> int:
        """What RCC_CFGR.SWS reports: the switch is immediate (SW mirrored)."""
        sw = self.facts.sw
        return field(self.stored(sw[0]), sw)

    def view(self, offset: int) -> int:
        f = self.facts
        word = self.stored(offset)
        real = self._real(offset)
        if real == CR:
            for on, ready in ((f.hsion, f.hsirdy), *f.ready):
                word = (word | 1 << ready) if word >> on & 1 else (word & ~(1 << ready))
        if real == f.sw[0]:
            width = f.sw[2]
            word = (word & ~(((1 << width) - 1) << f.sws_shift)) | self._sws() << f.sws_shift
        return word

    def accept(self, offset: int, value: int) -> int:
        f = self.facts
        real = self._real(offset)
        if real == CR:
            readonly = f.cr_readonly | 1 << f.hsirdy
            for _on, ready in f.ready:
                readonly |= 1 << ready
            value = (value & ~readonly) | (f.cr_reset & f.cr_readonly)
            if self._sws() == 0:
                value |= 1 << f.hsion  # the HSI cannot be stopped while it is SYSCLK
        if real == f.sw[0]:
            value &= ~(((1 << f.sw[2]) - 1) << f.sws_shift)
        return value

    # -- what a USART asks ----------------------------------------------------------------------
    def enabled(self, bit: Bit) -> bool:
        return bool(self.stored(bit[0]) >> bit[1] & 1)

    def kernel_hz(self, usart: UsartFacts) -> tuple[float | None, str]:
        """The kernel clock of ``usart`` in Hz, or None and why the model cannot tell."""
        f = self.facts
        sw = self._sws()
        if sw != 0:
            return None, f"SYSCLK switched to source {sw} (only the HSI is modelled)"
        if f.hsidiv is not None and field(self.stored(f.hsidiv[0]), f.hsidiv):
            return None, "HSI divided (HSIDIV other than /1 is not modelled)"
        for div in f.core_dividers:
            if field(self.stored(div[0]), div) & 0x8:
                return None, f"core clock prescaler at RCC+{div[0]:#x}[{div[1]}] other than /1 (not modelled)"
        apb = field(self.stored(usart.bus_divider[0]), usart.bus_divider)
        pclk = self.hsi_hz / (1 if apb < 4 else 2 << (apb - 4))
        source = PCLK
        if usart.kernel_sel is not None:
            sel = field(self.stored(usart.kernel_sel[0]), usart.kernel_sel)
            found = dict(usart.kernel_sources).get(sel)
            if found is None:
                return None, f"{usart.name} kernel clock selection {sel} (not modelled)"
            source = found
        return {PCLK: pclk, SYSCLK: float(self.hsi_hz), HSI: float(self.hsi_hz)}[source], ""
