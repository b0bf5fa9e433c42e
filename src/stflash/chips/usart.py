"""How code in RAM takes over the USART the system bootloader listened on, per family: the clock
steps that make the USARTs' kernel clock the HSI with every prescaler at /1 (whatever the ROM left
running: AN2606 §4.1 says not all registers are back at their reset values after Go), and for
each USART and pin pair a ROM of the family listens on (AN2606, the chips' ``uart_pins``) its
clocks, its pins' alternate function and its own registers. Nothing after Go says which of them
the host is wired to (the ROM put them all back), so the UART stub makes them all receive and
answers on the one the host's wake pair comes in on. A new family is a new row.

Sources: RM0368 (F401) / RM0090 (F405/F407) §6-§8 (RCC, GPIO), §30 (USART); RM0433 (H743) §8
(RCC), §11 (GPIO), §48 (USART); RM0444 (G071) §5 (RCC), §7 (GPIO), §33 (USART). AF numbers from
the datasheets' alternate-function tables (F401/F407/H743: USART1-3 = AF7; G071: USART1/2 = AF1 on
PA9/PA10 and PA2/PA3, USART3 = AF0 on PC10/PC11).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .model import Bootloader

MHZ = 1_000_000

# step kinds the stub runs (stub.S): store, modify (clear EXTRA, set VALUE), wait until equal
STORE, MODIFY, UNTIL = "store", "modify", "until"
Step = tuple[str, int, int, int]  # (kind, address, value, extra)


@dataclass(frozen=True)
class UsartRegs:
    """One USART register layout (offsets) and the bits the stub needs."""

    sr: int  # status: SR (F1/F2/F4) or ISR
    rdr: int
    tdr: int
    brr: int
    cr1: int
    cr2: int
    cr3: int
    icr: int | None  # None: reading SR then the data register clears the error flags
    presc: int | None
    rxne: int = 1 << 5
    txe: int = 1 << 7
    errors: int = 0xF  # PE, FE, NE/NF, ORE (bits 0-3 in SR and ISR alike; ICR clears the same bits)
    ue: int = 1 << 13
    m: int = 1 << 12  # M (M0): 9-bit word = 8 data bits + parity
    pce: int = 1 << 10
    te: int = 1 << 3
    re: int = 1 << 2
    over8: int = 1 << 15


# F1/F2/F4 USART (RM0090 §30.6): SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C, CR2 0x10, CR3 0x14
LEGACY = UsartRegs(sr=0x00, rdr=0x04, tdr=0x04, brr=0x08, cr1=0x0C, cr2=0x10, cr3=0x14, icr=None, presc=None)
# H7/G0/L4 USART (RM0433 §48.7, RM0444 §33.8): UE is bit 0, the data registers are split
MODERN = UsartRegs(sr=0x1C, rdr=0x24, tdr=0x28, brr=0x0C, cr1=0x00, cr2=0x04, cr3=0x08, icr=0x20, presc=0x2C,
                   ue=1 << 0)


@dataclass(frozen=True)
class UsartPort:
    """One USART and the pin pair a ROM listens on (AN2606's "USARTx PTx/PTy")."""

    name: str  # "USART2"
    pins: str  # "PA2/PA3": TX/RX
    base: int
    enable: tuple[Step, ...]  # its bus clock and its GPIO port's clock
    rx_pin: tuple[Step, ...]  # RX in its alternate function: listening drives nothing
    tx_pin: tuple[Step, ...]  # TX in its alternate function, once the host's wake pair came in here


@dataclass(frozen=True)
class UsartWiring:
    """The bootloader USARTs of one family, as the stub takes them over."""

    family: str
    regs: UsartRegs
    kernel_hz: int  # every port's kernel clock once ``clock`` has run
    clock: tuple[Step, ...]  # SYSCLK = HSI, prescalers /1, the USARTs' kernel clocks = their PCLK
    ports: tuple[UsartPort, ...]
    extra: tuple[Step, ...] = ()  # anything else a stub needs first (caches that would hide a change)
    # IWDG_KR: refreshed in every wait (a key write does not start a watchdog that is not running;
    # with the hardware-watchdog option it runs from reset)
    iwdg_kr: int = 0

    def ports_for(self, rom: Bootloader) -> list[UsartPort]:
        """The ports ``rom`` listens on that this row knows, in its order. Where it lists two pin
        pairs for one USART ("USART3 PB10/PB11 or PC10/PC11"), only the first: two pins in one
        USART's RX function would fight."""
        first: dict[str, str] = {}
        for name, pins in rom.uart_ports():
            first.setdefault(name, pins)
        return [p for name, pins in first.items() for p in self.ports if (p.name, p.pins) == (name, pins)]

    def steps(self, ports: list[UsartPort], brr: int, over8: bool) -> list[Step]:
        """From whatever the ROM left to every port in ``ports`` receiving 8E1 at ``brr`` (their
        transmitters run too, on pins not yet given to them)."""
        r = self.regs
        frame = r.m | r.pce | r.te | r.re | (r.over8 if over8 else 0)  # even parity: PS = 0
        out: list[Step] = [*self.clock, *self.extra]
        for port in ports:
            base = port.base
            out += [s for s in port.enable if s not in out]  # (one GPIO port's clock may serve two)
            out += port.rx_pin
            out += [(STORE, base + r.cr1, 0, 0), (STORE, base + r.cr2, 0, 0), (STORE, base + r.cr3, 0, 0)]
            if r.presc is not None:
                out.append((STORE, base + r.presc, 0, 0))
            out += [(STORE, base + r.brr, brr, 0), (STORE, base + r.cr1, frame, 0), (STORE, base + r.cr1, frame | r.ue, 0)]
        return out

    def eight_n1_steps(self, port: UsartPort, over8: bool) -> list[Step]:
        """From 8E1 to 8N1 (M and PCE are written with UE clear, RM0433 §48.8.1): one bit less per
        byte once both ends carry a CRC of their own."""
        r, base = self.regs, port.base
        frame = r.te | r.re | (r.over8 if over8 else 0)
        return [(STORE, base + r.cr1, 0, 0), (STORE, base + r.cr1, frame, 0), (STORE, base + r.cr1, frame | r.ue, 0)]


def _pin(gpio: int, pin: int, af: int) -> tuple[Step, ...]:
    """One pin in alternate function ``af``: its AFRL/AFRH field first, then MODER = 0b10."""
    afr, shift = gpio + 0x20 + 4 * (pin // 8), 4 * (pin % 8)
    return (
        (MODIFY, afr, af << shift, 0xF << shift),
        (MODIFY, gpio + 0x00, 2 << (2 * pin), 3 << (2 * pin)),
    )


@dataclass(frozen=True)
class GpioPorts:
    """A family's GPIO ports, which follow from their letter: port x (A = 0) sits 0x400 * x past
    GPIOA and is clocked by bit x of one RCC enable register."""

    gpioa: int
    enable: int  # the RCC register with GPIOAEN at bit 0

    def base(self, letter: str) -> int:
        return self.gpioa + 0x400 * _index(letter)

    def clock(self, letter: str) -> Step:
        return (MODIFY, self.enable, 1 << _index(letter), 0)


def _index(letter: str) -> int:
    return ord(letter) - ord("A")


def _port(name: str, base: int, bus_clock: Step, gpio: GpioPorts, letter: str, tx: int, rx: int,
          af: int) -> UsartPort:
    """A USART on P<letter><tx>/P<letter><rx>: its bus clock, then its GPIO port's."""
    port = gpio.base(letter)
    return UsartPort(name, f"P{letter}{tx}/P{letter}{rx}", base, (bus_clock, gpio.clock(letter)),
                     _pin(port, rx, af), _pin(port, tx, af))


_F4_RCC = 0x4002_3800
_F4_ACR = 0x4002_3C00
_F4_GPIO = GpioPorts(0x4002_0000, _F4_RCC + 0x30)  # AHB1ENR.GPIOxEN
_F4 = UsartWiring(
    family="F4",
    regs=LEGACY,
    iwdg_kr=0x4000_3000,
    kernel_hz=16 * MHZ,
    clock=(
        (MODIFY, _F4_RCC + 0x00, 1 << 0, 0),  # RCC_CR.HSION
        (UNTIL, _F4_RCC + 0x00, 1 << 1, 1 << 1),  # HSIRDY
        (MODIFY, _F4_RCC + 0x08, 0, 0x3 | (0xF << 4) | (0x7 << 10) | (0x7 << 13)),  # CFGR: SW=HSI, HPRE, PPRE1/2 = /1
        (UNTIL, _F4_RCC + 0x08, 0x3 << 2, 0),  # SWS = HSI
    ),
    # FLASH_ACR: ART caches off and reset, so a read after an erase or program sees the flash
    extra=(
        (MODIFY, _F4_ACR, 0, (1 << 9) | (1 << 10)),  # ICEN, DCEN off
        (MODIFY, _F4_ACR, (1 << 11) | (1 << 12), 0),  # ICRST, DCRST
        (MODIFY, _F4_ACR, 0, (1 << 11) | (1 << 12)),
    ),
    ports=(
        # APB2ENR.USART1EN
        _port("USART1", 0x4001_1000, (MODIFY, _F4_RCC + 0x44, 1 << 4, 0), _F4_GPIO, "A", 9, 10, 7),
        # APB1ENR.USART2EN; on PD5/PD6 (F401, F411) or PA2/PA3
        _port("USART2", 0x4000_4400, (MODIFY, _F4_RCC + 0x40, 1 << 17, 0), _F4_GPIO, "D", 5, 6, 7),
        _port("USART2", 0x4000_4400, (MODIFY, _F4_RCC + 0x40, 1 << 17, 0), _F4_GPIO, "A", 2, 3, 7),
        # APB1ENR.USART3EN (F405/F407, F42x/F43x)
        _port("USART3", 0x4000_4800, (MODIFY, _F4_RCC + 0x40, 1 << 18, 0), _F4_GPIO, "B", 10, 11, 7),
    ),
)

_H7_RCC = 0x5802_4400
_H7_GPIO = GpioPorts(0x5802_0000, _H7_RCC + 0xE0)  # AHB4ENR.GPIOxEN
_H7 = UsartWiring(
    family="H7",
    regs=MODERN,
    iwdg_kr=0x5800_4800,  # IWDG1
    kernel_hz=64 * MHZ,
    clock=(
        (MODIFY, _H7_RCC + 0x00, 1 << 0, 0),  # RCC_CR.HSION
        (UNTIL, _H7_RCC + 0x00, 1 << 2, 1 << 2),  # HSIRDY
        (MODIFY, _H7_RCC + 0x00, 0, 0x3 << 3),  # HSIDIV = /1 (64 MHz)
        (UNTIL, _H7_RCC + 0x00, 1 << 5, 1 << 5),  # HSIDIVF
        (MODIFY, _H7_RCC + 0x10, 0, 0x7),  # CFGR.SW = HSI
        (UNTIL, _H7_RCC + 0x10, 0x7 << 3, 0),  # SWS = HSI
        (MODIFY, _H7_RCC + 0x18, 0, (0xF << 8) | (0x7 << 4) | 0xF),  # D1CFGR: D1CPRE, D1PPRE, HPRE = /1
        (MODIFY, _H7_RCC + 0x1C, 0, (0x7 << 8) | (0x7 << 4)),  # D2CFGR: D2PPRE2, D2PPRE1 = /1
        (MODIFY, _H7_RCC + 0x54, 0, (0x7 << 3) | 0x7),  # D2CCIP2R: USART16SEL = pclk2, USART234578SEL = pclk1
    ),
    ports=(
        # APB2ENR.USART1EN
        _port("USART1", 0x4001_1000, (MODIFY, _H7_RCC + 0xF0, 1 << 4, 0), _H7_GPIO, "A", 9, 10, 7),
        # APB1LENR.USART2EN
        _port("USART2", 0x4000_4400, (MODIFY, _H7_RCC + 0xE8, 1 << 17, 0), _H7_GPIO, "A", 2, 3, 7),
        # APB1LENR.USART3EN
        _port("USART3", 0x4000_4800, (MODIFY, _H7_RCC + 0xE8, 1 << 18, 0), _H7_GPIO, "B", 10, 11, 7),
    ),
)

_G0_RCC = 0x4002_1000
_G0_GPIO = GpioPorts(0x5000_0000, _G0_RCC + 0x34)  # IOPENR.GPIOxEN
_G0 = UsartWiring(
    family="G0",
    regs=MODERN,
    iwdg_kr=0x4000_3000,
    kernel_hz=16 * MHZ,
    clock=(
        (MODIFY, _G0_RCC + 0x00, 1 << 8, 0x7 << 11),  # RCC_CR.HSION, HSIDIV = /1
        (UNTIL, _G0_RCC + 0x00, 1 << 10, 1 << 10),  # HSIRDY
        (MODIFY, _G0_RCC + 0x08, 0, 0x7 | (0xF << 8) | (0x7 << 12)),  # CFGR: SW=HSISYS, HPRE, PPRE = /1
        (UNTIL, _G0_RCC + 0x08, 0x7 << 3, 0),  # SWS = HSISYS
        (MODIFY, _G0_RCC + 0x54, 0, 0xF),  # CCIPR: USART1SEL, USART2SEL = PCLK (the G07x's USART3 has PCLK only)
    ),
    ports=(
        # APBENR2.USART1EN
        _port("USART1", 0x4001_3800, (MODIFY, _G0_RCC + 0x40, 1 << 14, 0), _G0_GPIO, "A", 9, 10, 1),
        # APBENR1.USART2EN
        _port("USART2", 0x4000_4400, (MODIFY, _G0_RCC + 0x3C, 1 << 17, 0), _G0_GPIO, "A", 2, 3, 1),
        # APBENR1.USART3EN (G07x/G08x); on PC10/PC11 USART3 is AF0 (AF1 is USART4)
        _port("USART3", 0x4000_4800, (MODIFY, _G0_RCC + 0x3C, 1 << 18, 0), _G0_GPIO, "C", 10, 11, 0),
    ),
)

WIRINGS: dict[str, UsartWiring] = {
    w.family: w for w in (_F4, replace(_F4, family="F2"), _H7, _G0)  # the F2's RCC, GPIO and USART are the F4's
}


def usart_wiring(family: str) -> UsartWiring | None:
    """The bootloader USARTs of ``family`` as the stub takes them over; None where no row says how."""
    return WIRINGS.get(family.upper())


OVER16_ENOUGH = 0.01  # 16x oversampling tolerates more deviation: keep it while it is this close


def brr_for(kernel_hz: int, baud: int) -> tuple[int, bool, float] | None:
    """The BRR value, OVER8, and the relative rate error for ``baud``: 16x oversampling when it
    comes within 1 %, else whichever comes closer (None when neither gets within 2 %, where an
    11-bit frame starts to be misread)."""
    best: tuple[int, bool, float] | None = None
    for over8 in (False, True):
        if best is not None and best[2] <= OVER16_ENOUGH:
            break
        div = round(kernel_hz * (2 if over8 else 1) / baud)
        if div < 16:
            continue
        actual = kernel_hz * (2 if over8 else 1) / div
        brr = ((div & ~0xF) | ((div & 0xF) >> 1)) if over8 else div
        error = abs(actual - baud) / baud
        if best is None or error < best[2]:
            best = (brr, over8, error)
    if best is None or best[2] > 0.02:
        return None
    return best
