"""What the peripheral models need to know about each family: where the RCC sits and how its clock
tree starts, every USART the system bootloader listens on (a row per instance: base, bus clock
enable, APB prescaler, kernel-clock selector) and every pin pair each one can use (a row per pair:
the GPIO port, its clock enable, TX, RX and the alternate function). Data only; the models read it.

Sources: the reference manuals' memory maps and RCC/GPIO/USART register maps (RM0090 F405/F407,
RM0368 F401, RM0433 H742/H743/H753/H750, RM0444 G0x1), the F401, F407, H743 and G071 datasheets'
alternate-function tables; offsets and bit positions cross-checked
against ST's CMSIS device headers (stm32f401xe.h, stm32f407xx.h, stm32h743xx.h, stm32g071xx.h: the
``*_BASE``, ``RCC_*ENR_*EN_Pos``, ``RCC_CFGR_PPRE*``, ``RCC_D2CFGR_D2PPRE*``, ``RCC_D2CCIP2R_*SEL``,
``RCC_CCIPR_*SEL`` definitions), the AF numbers against ST's HAL ``GPIO_AFn_USARTx`` names as the
STM32duino pin maps use them per package.

* F4 (F401, F405/F407, F411, F429, F446, ...). RCC at 0x4002_3800: CR (HSION 0, HSIRDY 1, reset
  0x0000_XX83), CFGR 0x08 (SW[1:0], SWS[3:2], HPRE[7:4], PPRE1[12:10] APB1, PPRE2[15:13] APB2),
  AHB1ENR 0x30 (GPIOAEN 0, GPIOBEN 1, GPIOCEN 2, GPIODEN 3), APB1ENR 0x40 (USART2EN 17, USART3EN
  18), APB2ENR 0x44 (USART1EN 4). USART1 0x4001_1000 (APB2), USART2 0x4000_4400 and USART3
  0x4000_4800 (APB1; the F401 has no USART3), all "legacy" (SR, DR, BRR, CR1..CR3, GTPR), kernel
  clock = their APB clock. GPIOA..D at 0x4002_0000 + 0x400 n; MODER reset A 0xA800_0000 (PA13-15 in
  their debug AF), B 0x0000_0280 (PB3/PB4), others 0. USART1 PA9/PA10, USART2 PA2/PA3 and PD5/PD6,
  USART3 PB10/PB11 and PC10/PC11: AF7.
* H7 (RM0433). RCC at 0x5802_4400: CR (HSION 0, HSIRDY 2, HSIDIV[4:3], HSIDIVF 5), CFGR 0x10
  (SW[2:0], SWS[5:3]), D1CFGR 0x18 (HPRE[3:0], D1CPRE[11:8]), D2CFGR 0x1C (D2PPRE1[6:4] APB1,
  D2PPRE2[10:8] APB2), D2CCIP2R 0x54 (USART16SEL[5:3], USART234578SEL[2:0]: 000 rcc_pclk2 /
  rcc_pclk1, 011 hsi_ker_ck), AHB4ENR 0xE0 (GPIOAEN 0, GPIOBEN 1, GPIOCEN 2), APB1LENR 0xE8
  (USART2EN 17, USART3EN 18), APB2ENR 0xF0 (USART1EN 4); the RCC_C1_* copies of RSR..APB4LPENR at
  0x130-0x17F reach the same registers. USART1 0x4001_1000 (APB2), USART2 0x4000_4400, USART3
  0x4000_4800 (APB1), "modern" layout with FIFO and PRESC. GPIOA..C at 0x5802_0000 + 0x400 n; MODER
  reset A 0xABFF_FFFF, B 0xFFFF_FEBF, others 0xFFFF_FFFF. USART1 PA9/PA10 AF7 and PB14/PB15 AF4,
  USART2 PA2/PA3 AF7, USART3 PB10/PB11 AF7.
* G0 (RM0444; the G071's instances). RCC at 0x4002_1000: CR (HSION 8, HSIRDY 10, HSIDIV[13:11],
  reset 0x0000_0500), CFGR 0x08 (SW[2:0], SWS[5:3], HPRE[11:8], PPRE[14:12]: one APB), IOPENR 0x34
  (GPIOAEN 0, GPIOBEN 1, GPIOCEN 2), APBENR1 0x3C (USART2EN 17, USART3EN 18), APBENR2 0x40 (USART1EN
  14), CCIPR 0x54 (USART1SEL[1:0], USART2SEL[3:2]: 00 PCLK, 01 SYSCLK, 10 HSI16, 11 LSE; the G071
  has no USART3SEL: USART3 runs on PCLK). USART1 0x4001_3800, USART2 0x4000_4400, USART3
  0x4000_4800, "modern" layout; USART1/USART2 have the FIFO, USART3 does not (stm32g071xx.h
  IS_UART_FIFO_INSTANCE). GPIOA..C at 0x5000_0000 + 0x400 n (IOPORT); MODER reset A 0xEBFF_FFFF,
  others 0xFFFF_FFFF. USART1 PA9/PA10 AF1, USART2 PA2/PA3 AF1, USART3 PC10/PC11 AF0.

The "ready" pairs are oscillator enable bits whose ready flag the model raises at once (start-up
times are not modelled); selecting anything but the HSI as SYSCLK is reported as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass

LEGACY, MODERN = "legacy", "modern"
PCLK, SYSCLK, HSI = "pclk", "sysclk", "hsi"
Field = tuple[int, int, int]  # (register offset, shift, width)
Bit = tuple[int, int]  # (register offset, bit number)


@dataclass(frozen=True)
class RccFacts:
    """The clock tree up to the APB prescalers, shared by every USART."""

    base: int
    cr_reset: int  # RCC_CR after reset (the HSI on and ready)
    cr_readonly: int  # RCC_CR bits software cannot change (they keep their reset value)
    hsion: int  # bit numbers in RCC_CR
    hsirdy: int
    ready: tuple[tuple[int, int], ...]  # (enable bit, ready bit) pairs in RCC_CR mirrored at once
    sw: Field  # RCC_CFGR.SW; 0 selects the HSI on every family here
    sws_shift: int  # RCC_CFGR.SWS (same width as SW)
    core_dividers: tuple[Field, ...]  # 4-bit AHB-style prescalers between SYSCLK and the core
    hsidiv: Field | None = None  # RCC_CR.HSIDIV
    aliases: tuple[Field, ...] = ()  # (alias offset, size, offset it reaches)


@dataclass(frozen=True)
class GpioFacts:
    """One GPIO port."""

    name: str  # "GPIOA"
    base: int
    enable: Bit  # its clock enable in the RCC
    moder_reset: int  # GPIOx_MODER after reset

    @property
    def letter(self) -> str:
        return self.name[-1]


@dataclass(frozen=True)
class PinPair:
    """Pins one USART can use: TX and RX on one port, both with alternate function ``af``."""

    gpio: GpioFacts
    tx: int
    rx: int
    af: int

    @property
    def label(self) -> str:
        """As AN2606 and the chip rows write it: "PA9/PA10"."""
        p = self.gpio.letter
        return f"P{p}{self.tx}/P{p}{self.rx}"


@dataclass(frozen=True)
class UsartFacts:
    """One USART instance."""

    name: str  # "USART1"
    base: int
    enable: Bit  # its bus clock enable in the RCC
    bus_divider: Field  # the 3-bit prescaler of its APB
    pins: tuple[PinPair, ...]
    kernel_sel: Field | None = None  # its kernel-clock selector (None: the APB clock)
    kernel_sources: tuple[tuple[int, str], ...] = ((0, PCLK),)  # selector value -> clock
    fifo: bool = False  # CR1.FIFOEN exists

    def pair(self, label: str) -> PinPair | None:
        return next((p for p in self.pins if p.label == label.upper()), None)


@dataclass(frozen=True)
class Family:
    layout: str  # LEGACY | MODERN (the same for every USART of the family)
    rcc: RccFacts
    usarts: tuple[UsartFacts, ...]

    def usart(self, name: str) -> UsartFacts | None:
        return next((u for u in self.usarts if u.name == name.upper()), None)


def _gpio(prefix: str, base: int, enable_reg: int, resets: dict[str, int], default: int,
          letters: str) -> dict[str, GpioFacts]:
    """Ports A, B, ... 0x400 apart, their clock enables bits 0, 1, ... of one RCC register."""
    return {c: GpioFacts(f"{prefix}{c}", base + 0x400 * i, (enable_reg, i), resets.get(c, default))
            for i, c in enumerate(letters)}


_F4_GPIO = _gpio("GPIO", 0x4002_0000, 0x30, {"A": 0xA800_0000, "B": 0x0000_0280}, 0, "ABCD")
_F4_APB1, _F4_APB2 = (0x08, 10, 3), (0x08, 13, 3)  # PPRE1, PPRE2
F4 = Family(
    layout=LEGACY,
    rcc=RccFacts(
        base=0x4002_3800, cr_reset=0x0000_0083, cr_readonly=0xFF00, hsion=0, hsirdy=1,
        ready=((16, 17), (24, 25), (26, 27)),  # HSE, PLL, PLLI2S
        sw=(0x08, 0, 2), sws_shift=2,
        core_dividers=((0x08, 4, 4),),  # HPRE
    ),
    usarts=(
        UsartFacts("USART1", 0x4001_1000, (0x44, 4), _F4_APB2, (PinPair(_F4_GPIO["A"], 9, 10, 7),)),
        UsartFacts("USART2", 0x4000_4400, (0x40, 17), _F4_APB1,
                   (PinPair(_F4_GPIO["A"], 2, 3, 7), PinPair(_F4_GPIO["D"], 5, 6, 7))),
        UsartFacts("USART3", 0x4000_4800, (0x40, 18), _F4_APB1,
                   (PinPair(_F4_GPIO["B"], 10, 11, 7), PinPair(_F4_GPIO["C"], 10, 11, 7))),
    ),
)

_H7_GPIO = _gpio("GPIO", 0x5802_0000, 0xE0, {"A": 0xABFF_FFFF, "B": 0xFFFF_FEBF}, 0xFFFF_FFFF, "ABC")
_H7_SOURCES = ((0, PCLK), (3, HSI))  # 000 rcc_pclk1/2, 011 hsi_ker_ck
H7 = Family(
    layout=MODERN,
    rcc=RccFacts(
        base=0x5802_4400, cr_reset=0x0000_0025, cr_readonly=1 << 5, hsion=0, hsirdy=2,
        ready=((7, 8), (12, 13), (16, 17), (24, 25), (26, 27), (28, 29)),  # CSI, HSI48, HSE, PLL1..3
        sw=(0x10, 0, 3), sws_shift=3,
        core_dividers=((0x18, 8, 4), (0x18, 0, 4)),  # D1CPRE, HPRE
        hsidiv=(0x00, 3, 2),
        aliases=((0x130, 0x50, 0xD0),),  # RCC_C1_RSR..RCC_C1_APB4LPENR
    ),
    usarts=(
        UsartFacts("USART1", 0x4001_1000, (0xF0, 4), (0x1C, 8, 3),  # D2PPRE2
                   (PinPair(_H7_GPIO["A"], 9, 10, 7), PinPair(_H7_GPIO["B"], 14, 15, 4)),
                   kernel_sel=(0x54, 3, 3), kernel_sources=_H7_SOURCES, fifo=True),  # USART16SEL
        UsartFacts("USART2", 0x4000_4400, (0xE8, 17), (0x1C, 4, 3),  # D2PPRE1
                   (PinPair(_H7_GPIO["A"], 2, 3, 7),),
                   kernel_sel=(0x54, 0, 3), kernel_sources=_H7_SOURCES, fifo=True),  # USART234578SEL
        UsartFacts("USART3", 0x4000_4800, (0xE8, 18), (0x1C, 4, 3),
                   (PinPair(_H7_GPIO["B"], 10, 11, 7),),
                   kernel_sel=(0x54, 0, 3), kernel_sources=_H7_SOURCES, fifo=True),
    ),
)

_G0_GPIO = _gpio("GPIO", 0x5000_0000, 0x34, {"A": 0xEBFF_FFFF}, 0xFFFF_FFFF, "ABC")
_G0_APB = (0x08, 12, 3)  # PPRE
_G0_SOURCES = ((0, PCLK), (1, SYSCLK), (2, HSI))  # 11 = LSE is not modelled
G0 = Family(
    layout=MODERN,
    rcc=RccFacts(
        base=0x4002_1000, cr_reset=0x0000_0500, cr_readonly=0, hsion=8, hsirdy=10,
        ready=((16, 17), (24, 25)),  # HSE, PLL
        sw=(0x08, 0, 3), sws_shift=3,
        core_dividers=((0x08, 8, 4),),  # HPRE
        hsidiv=(0x00, 11, 3),
    ),
    usarts=(
        UsartFacts("USART1", 0x4001_3800, (0x40, 14), _G0_APB, (PinPair(_G0_GPIO["A"], 9, 10, 1),),
                   kernel_sel=(0x54, 0, 2), kernel_sources=_G0_SOURCES, fifo=True),  # USART1SEL
        UsartFacts("USART2", 0x4000_4400, (0x3C, 17), _G0_APB, (PinPair(_G0_GPIO["A"], 2, 3, 1),),
                   kernel_sel=(0x54, 2, 2), kernel_sources=_G0_SOURCES, fifo=True),  # USART2SEL
        # G071: no selector and no FIFO (the G0B1's USART3 has both: not modelled)
        UsartFacts("USART3", 0x4000_4800, (0x3C, 18), _G0_APB, (PinPair(_G0_GPIO["C"], 10, 11, 0),)),
    ),
)

# Families whose USARTs are modelled. Code started by Go runs on the others too, with the generic
# register stubs: its USART accesses reach nothing.
FAMILIES: dict[str, Family] = {"F4": F4, "H7": H7, "G0": G0}


def family(name: str) -> Family | None:
    return FAMILIES.get(name.upper())
