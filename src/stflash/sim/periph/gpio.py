"""A GPIO port as far as pin muxing goes: GPIOx_MODER with its reset value (so code that sets a
pin's mode without clearing the field first gets what the silicon gives), GPIOx_AFRL/AFRH, and the
question a USART asks: is this pin in alternate-function mode with that AF number?

Limitation: the registers answer whether or not the port clock is on (on the silicon they read 0
and ignore writes then; the bench's scenario firmware writes GPIOA_MODER without enabling the
clock). Whether a pin carries a USART does check the port clock (``Peripherals``). The other
registers (OTYPER, OSPEEDR, PUPDR, IDR, ODR, BSRR, LCKR) keep the generic behaviour.
"""

from __future__ import annotations

from ..bus import RegisterFile
from .facts import GpioFacts
from .regs import Listener, StoredBlock

GPIO_SIZE = 0x400
MODER, AFRL, AFRH = 0x00, 0x20, 0x24
MODE_AF = 0b10


class GpioPort(StoredBlock):
    def __init__(self, facts: GpioFacts, store: RegisterFile, listener: Listener) -> None:
        super().__init__(facts.name, facts.base, GPIO_SIZE, store, listener)
        self.facts = facts

    def reset_value(self, offset: int) -> int:
        return self.facts.moder_reset if offset == MODER else 0

    def alternate(self, pin: int, af: int) -> bool:
        """Is ``pin`` in alternate-function mode with function ``af``?"""
        mode = self.stored(MODER) >> (2 * pin) & 0b11
        selected = self.stored(AFRL + 4 * (pin // 8)) >> (4 * (pin % 8)) & 0xF
        return mode == MODE_AF and selected == af
