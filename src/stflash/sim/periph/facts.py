"""What the peripheral models need to know about each family: where USART1, RCC and GPIOA sit,
which USART register layout the family has, and the RCC fields that decide whether USART1 and its
pins are clocked and at what rate. Data only; the models read it.

Sources (the reference manuals' register maps, with the CMSIS device headers as a cross-check of
offsets and bit positions):

* F4 (RM0090 F405/F407, RM0368 F401): USART1 at 0x4001_1000 (APB2), "legacy" layout (SR, DR, BRR,
  CR1..CR3, GTPR); RCC at 0x4002_3800: CR (HSION 0, HSIRDY 1, reset 0x0000_XX83), CFGR 0x08 (SW[1:0],
  SWS[3:2], HPRE[7:4], PPRE2[15:13]), AHB1ENR 0x30 (GPIOAEN 0), APB2ENR 0x44 (USART1EN 4); GPIOA at
  0x4002_0000, MODER reset 0xA800_0000 (RM0090; PA13/PA14/PA15 in their debug alternate function);
  USART1 on PA9/PA10 is AF7 (datasheets' alternate-function tables).
* H7 (RM0433 H742/H743/H753/H750): USART1 at 0x4001_1000 (APB2, D2), "modern" layout with FIFO and
  PRESC; RCC at 0x5802_4400: CR (HSION 0, HSIRDY 2, HSIDIV[4:3], HSIDIVF 5), CFGR 0x10 (SW[2:0],
  SWS[5:3]), D1CFGR 0x18 (HPRE[3:0], D1CPRE[11:8]), D2CFGR 0x1C (D2PPRE2[10:8]), D2CCIP2R 0x54
  (USART16SEL[5:3]: 000 rcc_pclk2, 011 hsi_ker_ck), AHB4ENR 0xE0 (GPIOAEN 0), APB2ENR 0xF0 (USART1EN
  4); the RCC_C1_* copies of RSR..APB4LPENR at 0x130-0x17F reach the same registers; GPIOA at
  0x5802_0000, MODER reset 0xABFF_FFFF; USART1 on PA9/PA10 is AF7.
* G0 (RM0444 G0x1): USART1 at 0x4001_3800, "modern" layout with FIFO and PRESC; RCC at
  0x4002_1000: CR (HSION 8, HSIRDY 10, HSIDIV[13:11], reset 0x0000_0500), CFGR 0x08 (SW[2:0],
  SWS[5:3], HPRE[11:8], PPRE[14:12]), IOPENR 0x34 (GPIOAEN 0), APBENR2 0x40 (USART1EN 14), CCIPR 0x54
  (USART1SEL[1:0]: 00 PCLK, 01 SYSCLK, 10 HSI16, 11 LSE); GPIOA at 0x5000_0000 (IOPORT), MODER reset
  0xEBFF_FFFF; USART1 on PA9/PA10 is AF1.

The "ready" pairs are oscillator enable bits whose ready flag the model raises at once (start-up
times are not modelled); selecting anything but the HSI as SYSCLK is reported as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass

LEGACY, MODERN = "legacy", "modern"
PCLK, SYSCLK, HSI = "pclk", "sysclk", "hsi"
Field = tuple[int, int, int]  # (register offset, shift, width)


@dataclass(frozen=True)
class RccFacts:
    base: int
    cr_reset: int  # RCC_CR after reset (the HSI on and ready)
    cr_readonly: int  # RCC_CR bits software cannot change (they keep their reset value)
    hsion: int  # bit numbers in RCC_CR
    hsirdy: int
    ready: tuple[tuple[int, int], ...]  # (enable bit, ready bit) pairs in RCC_CR mirrored at once
    sw: Field  # RCC_CFGR.SW; 0 selects the HSI on every family here
    sws_shift: int  # RCC_CFGR.SWS (same width as SW)
    usart_en: tuple[int, int]  # (register offset, bit) of USART1EN
    gpioa_en: tuple[int, int]
    core_dividers: tuple[Field, ...]  # 4-bit AHB-style prescalers between SYSCLK and the core
    bus_divider: Field  # the 3-bit APB prescaler of USART1's bus
    hsidiv: Field | None = None  # RCC_CR.HSIDIV
    kernel_sel: Field | None = None  # USART1's kernel clock selector
    kernel_sources: tuple[tuple[int, str], ...] = ((0, PCLK),)  # selector value -> clock
    aliases: tuple[Field, ...] = ()  # (alias offset, size, offset it reaches)


@dataclass(frozen=True)
class Family:
    usart_base: int
    layout: str  # LEGACY | MODERN
    fifo: bool  # CR1.FIFOEN exists
    rcc: RccFacts
    gpioa: int
    moder_reset: int  # GPIOA_MODER after reset
    af: int  # the alternate function that puts USART1 TX/RX on PA9/PA10


TX_PIN, RX_PIN = 9, 10  # PA9 = USART1_TX, PA10 = USART1_RX (the bootloader's pins, uart.md 11.6)

F4 = Family(
    usart_base=0x4001_1000, layout=LEGACY, fifo=False,
    rcc=RccFacts(
        base=0x4002_3800, cr_reset=0x0000_0083, cr_readonly=0xFF00, hsion=0, hsirdy=1,
        ready=((16, 17), (24, 25), (26, 27)),  # HSE, PLL, PLLI2S
        sw=(0x08, 0, 2), sws_shift=2, usart_en=(0x44, 4), gpioa_en=(0x30, 0),
        core_dividers=((0x08, 4, 4),),  # HPRE
        bus_divider=(0x08, 13, 3),  # PPRE2
    ),
    gpioa=0x4002_0000, moder_reset=0xA800_0000, af=7,
)
H7 = Family(
    usart_base=0x4001_1000, layout=MODERN, fifo=True,
    rcc=RccFacts(
        base=0x5802_4400, cr_reset=0x0000_0025, cr_readonly=1 << 5, hsion=0, hsirdy=2,
        ready=((7, 8), (12, 13), (16, 17), (24, 25), (26, 27), (28, 29)),  # CSI, HSI48, HSE, PLL1..3
        sw=(0x10, 0, 3), sws_shift=3, usart_en=(0xF0, 4), gpioa_en=(0xE0, 0),
        core_dividers=((0x18, 8, 4), (0x18, 0, 4)),  # D1CPRE, HPRE
        bus_divider=(0x1C, 8, 3),  # D2PPRE2
        hsidiv=(0x00, 3, 2),
        kernel_sel=(0x54, 3, 3), kernel_sources=((0, PCLK), (3, HSI)),
        aliases=((0x130, 0x50, 0xD0),),  # RCC_C1_RSR..RCC_C1_APB4LPENR
    ),
    gpioa=0x5802_0000, moder_reset=0xABFF_FFFF, af=7,
)
G0 = Family(
    usart_base=0x4001_3800, layout=MODERN, fifo=True,
    rcc=RccFacts(
        base=0x4002_1000, cr_reset=0x0000_0500, cr_readonly=0, hsion=8, hsirdy=10,
        ready=((16, 17), (24, 25)),  # HSE, PLL
        sw=(0x08, 0, 3), sws_shift=3, usart_en=(0x40, 14), gpioa_en=(0x34, 0),
        core_dividers=((0x08, 8, 4),),  # HPRE
        bus_divider=(0x08, 12, 3),  # PPRE
        hsidiv=(0x00, 11, 3),
        kernel_sel=(0x54, 0, 2), kernel_sources=((0, PCLK), (1, SYSCLK), (2, HSI)),
    ),
    gpioa=0x5000_0000, moder_reset=0xEBFF_FFFF, af=1,
)

# Families whose USART1 is modelled. Code started by Go runs on the others too, with the generic
# register stubs: its USART accesses reach nothing.
FAMILIES: dict[str, Family] = {"F4": F4, "H7": H7, "G0": G0}


def family(name: str) -> Family | None:
    return FAMILIES.get(name.upper())
