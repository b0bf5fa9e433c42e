"""Small ARMv6-M programs for the bench's USARTs, assembled with the GNU assembler, and the ROM
commands (Write Memory, Go) that load and start them over the in-process serial port (``open_port``
in ``conftest``; ``xor``/``addr``/``bench_of`` serve the bootloader's tests too).

Each program sets a USART up the way the reference manuals say code must (clock enables, its pins
in alternate-function mode with its AF number, BRR, CR1), then loops: USART1 on PA9/PA10 with a
part's own symbols (``PARTS``), any other port the ROM lists with that port's (``PORTS``). The
per-part facts below are written from the reference manuals (RM0368/RM0090, RM0433, RM0444) and
the datasheets' AF tables, independently of the simulator's own table.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import pytest
import serial

from stflash.sim.bench import Bench

from tooling import IN_CI

ACK = b"\x79"
Opener = Callable[..., serial.SerialBase]  # the ``open_port`` fixture
HOST_CHAR = 95_486  # one 8E1 character at the host's 115200 baud (11 bits)
LATENCY = 1_000_000  # the bench adapter's default latency
TIMEOUT = 0.2  # the host's read timeout (s)


def bench_of(port: serial.SerialBase) -> Bench:
    return port._bench  # type: ignore[no-any-return]


def round_trip(port: serial.SerialBase, data: bytes, n: int) -> tuple[bytes, int]:
    """Send ``data`` and read ``n`` bytes: what came back and how long after the first character
    left the host the last of them arrived (the bench clock is the host's once a read returns
    after everything it sent has left)."""
    bench = bench_of(port)
    start = bench.clock.now
    port.write(data)
    got = port.read(n)
    return got, bench.clock.now - start


@dataclass(frozen=True)
class Part:
    name: str
    base: int  # where the program goes (a RAM window the ROM accepts)
    stack: int
    fck: int  # USART1 kernel clock after reset (HSI, prescalers /1)
    symbols: dict[str, int]

    def brr(self, baud: int) -> int:
        return round(self.fck / baud)


# The USARTs and pin pairs the ROMs listen on (AN2606), as a program takes one over: the port's and
# the USART's clock enables (register, bit), the port, TX and RX pin numbers, the AF, the USART.
# Written from RM0368/RM0090 (F4 RCC: AHB1ENR 0x30 GPIOxEN = port index, APB1ENR 0x40 USART2EN 17,
# USART3EN 18, APB2ENR 0x44 USART1EN 4), RM0433 (H7 RCC: AHB4ENR 0xE0, APB1LENR 0xE8 USART2EN 17,
# USART3EN 18, APB2ENR 0xF0 USART1EN 4), RM0444 (G0 RCC: IOPENR 0x34, APBENR1 0x3C USART2EN 17,
# USART3EN 18, APBENR2 0x40 USART1EN 14) and the
# datasheets' AF tables (F4: AF7 for USART1-3; H743: AF7, but AF4 for USART1 on PB14/PB15; G071:
# AF1 for USART1/2 on PA9/PA10 and PA2/PA3, AF0 for USART3 on PC10/PC11). Every kernel clock here is
# the part's ``fck`` after reset (F4 APB1 = APB2 = 16 MHz HSI, H7 rcc_pclk1 = rcc_pclk2 = 64 MHz).
def _port(gpio_en: tuple[int, int], usart_en: tuple[int, int], gpio: int, tx: int, rx: int, af: int,
          usart: int) -> dict[str, int]:
    return {"GPIO_EN_REG": gpio_en[0], "GPIO_EN_BIT": 1 << gpio_en[1], "USART_EN_REG": usart_en[0],
            "USART_EN_BIT": 1 << usart_en[1], "GPIO": gpio, "TX": tx, "RX": rx, "AF": af, "USART": usart}


PORTS: dict[tuple[str, str], dict[str, int]] = {
    ("stm32f401re", "USART1 PA9/PA10"): _port((0x4002_3830, 0), (0x4002_3844, 4), 0x4002_0000, 9, 10, 7, 0x4001_1000),
    ("stm32f401re", "USART2 PD5/PD6"): _port((0x4002_3830, 3), (0x4002_3840, 17), 0x4002_0C00, 5, 6, 7, 0x4000_4400),
    ("stm32f407vg", "USART1 PA9/PA10"): _port((0x4002_3830, 0), (0x4002_3844, 4), 0x4002_0000, 9, 10, 7, 0x4001_1000),
    ("stm32f407vg", "USART3 PB10/PB11"): _port((0x4002_3830, 1), (0x4002_3840, 18), 0x4002_0400, 10, 11, 7,
                                               0x4000_4800),
    ("stm32f407vg", "USART3 PC10/PC11"): _port((0x4002_3830, 2), (0x4002_3840, 18), 0x4002_0800, 10, 11, 7,
                                               0x4000_4800),
    ("stm32h743zi", "USART1 PA9/PA10"): _port((0x5802_44E0, 0), (0x5802_44F0, 4), 0x5802_0000, 9, 10, 7, 0x4001_1000),
    ("stm32h743zi", "USART1 PB14/PB15"): _port((0x5802_44E0, 1), (0x5802_44F0, 4), 0x5802_0400, 14, 15, 4,
                                               0x4001_1000),
    ("stm32h743zi", "USART2 PA2/PA3"): _port((0x5802_44E0, 0), (0x5802_44E8, 17), 0x5802_0000, 2, 3, 7, 0x4000_4400),
    ("stm32h743zi", "USART3 PB10/PB11"): _port((0x5802_44E0, 1), (0x5802_44E8, 18), 0x5802_0400, 10, 11, 7,
                                               0x4000_4800),
    ("stm32g071rb", "USART1 PA9/PA10"): _port((0x4002_1034, 0), (0x4002_1040, 14), 0x5000_0000, 9, 10, 1,
                                              0x4001_3800),
    ("stm32g071rb", "USART2 PA2/PA3"): _port((0x4002_1034, 0), (0x4002_103C, 17), 0x5000_0000, 2, 3, 1, 0x4000_4400),
    ("stm32g071rb", "USART3 PC10/PC11"): _port((0x4002_1034, 2), (0x4002_103C, 18), 0x5000_0800, 10, 11, 0,
                                               0x4000_4800),
}

_LEGACY = {"SR": 0x00, "RDR": 0x04, "TDR": 0x04, "BRR": 0x08, "CR1": 0x0C, "ICR": 0, "MODERN": 0}
_MODERN = {"SR": 0x1C, "RDR": 0x24, "TDR": 0x28, "BRR": 0x0C, "CR1": 0x00, "ICR": 0x20, "MODERN": 1}
# USART1 on PA9/PA10 (``PORTS``) with its layout and CR1: 8 data bits + even parity, TE, RE, UE
# (RM0368/RM0090 legacy CR1: UE 13, M 12, PCE 10, TE 3, RE 2; RM0433/RM0444: UE 0, RE 2, TE 3,
# PCE 10, M0 12). Kernel clocks after reset: F4 APB2 = HSI 16 MHz, H7 rcc_pclk2 = HSI 64 MHz, G0
# PCLK = HSI16.
PARTS = {name: Part(name, base, stack, fck, {**PORTS[name, "USART1 PA9/PA10"], "CR1_VALUE": cr1, **layout})
         for name, base, stack, fck, cr1, layout in [
             ("stm32f401re", 0x2000_4000, 0x2001_8000, 16_000_000, 0x340C, _LEGACY),
             ("stm32f407vg", 0x2000_4000, 0x2001_C000, 16_000_000, 0x340C, _LEGACY),
             ("stm32h743zi", 0x2400_8000, 0x2408_0000, 64_000_000, 0x140D, _MODERN),
             ("stm32g071rb", 0x2000_4000, 0x2000_9000, 16_000_000, 0x140D, _MODERN)]}

# the end of the prelude: the USART's rate and format, then on to main; ``send`` writes r3 to TDR
# once TXE is set
_USART_AND_SEND = """
    ldr  r0, =USART
    ldr  r1, =BRR_VALUE
    str  r1, [r0, #BRR]
    ldr  r1, =CR1_VALUE
    str  r1, [r0, #CR1]
    b    main
send:
    ldr  r1, [r0, #SR]
    movs r2, #0x80                  @ TXE
    tst  r1, r2
    beq  send
    str  r3, [r0, #TDR]
    bx   lr
"""

# a vector table (MSP, reset) and the code after it
_VECTORS = """
    .syntax unified
    .cpu cortex-m0
    .thumb
    .word STACK
    .word reset + 1
reset:
"""

# The common start for any USART on any pins (``PORTS``; ``PARTS``: USART1 on PA9/PA10): the
# port's and the USART's clocks, pin TX and pin RX of port GPIO in alternate-function mode with
# function AF (AFRL or AFRH, whichever holds the pin), then rate and format; r0 = the USART
# afterwards. NO_GPIO_CLOCK / NO_USART_CLOCK / NO_AF leave one step out.
PRELUDE = _VECTORS + """
    .macro af pin
    ldr  r1, [r0, #(0x20 + 4 * (\\pin / 8))]
    ldr  r2, =(0xF << (4 * (\\pin % 8)))
    bics r1, r2
    ldr  r2, =(AF << (4 * (\\pin % 8)))
    orrs r1, r2
    str  r1, [r0, #(0x20 + 4 * (\\pin / 8))]
    .endm
    .if !NO_GPIO_CLOCK
    ldr  r0, =GPIO_EN_REG
    ldr  r1, [r0]
    ldr  r2, =GPIO_EN_BIT
    orrs r1, r2
    str  r1, [r0]
    .endif
    .if !NO_USART_CLOCK
    ldr  r0, =USART_EN_REG
    ldr  r1, [r0]
    ldr  r2, =USART_EN_BIT
    orrs r1, r2
    str  r1, [r0]
    .endif
    ldr  r0, =GPIO
    ldr  r1, [r0]                   @ MODER: TX, RX alternate function (0b10)
    ldr  r2, =((3 << (2 * TX)) | (3 << (2 * RX)))
    bics r1, r2
    ldr  r2, =((2 << (2 * TX)) | (2 << (2 * RX)))
    orrs r1, r2
    str  r1, [r0]
    .if !NO_AF
    af   TX
    af   RX
    .endif
""" + _USART_AND_SEND

_ECHO_LOOP = """
echo:
    ldr  r1, [r0, #SR]
    movs r2, #0x20                  @ RXNE
    tst  r1, r2
    beq  echo
    ldr  r3, [r0, #RDR]
    bl   send
    b    echo
    .ltorg
"""
# every character back as it comes
ECHO = PRELUDE + "main:" + _ECHO_LOOP
# "hi" as soon as the USART is set up, then the echo
HELLO = PRELUDE + """
main:
    movs r3, #'h'
    bl   send
    movs r3, #'i'
    bl   send
""" + _ECHO_LOOP

# DELAY turns of a two-cycle loop, then a system reset (AIRCR.SYSRESETREQ): the ROM starts again
# (BOOT0 still high)
SELF_RESET = _VECTORS + """
    ldr  r2, =DELAY
1:  subs r2, #1
    bne  1b
    ldr  r0, =0xE000ED0C
    ldr  r1, =0x05FA0004
    dsb
    str  r1, [r0]
    b    .
    .ltorg
"""

# too slow: after each character a delay of DELAY loop iterations, then the character and the
# error flags (PE, FE, NE, ORE) seen with it; modern USARTs clear them through ICR
SLOW_ECHO = PRELUDE + """
main:
    ldr  r1, [r0, #SR]
    movs r2, #0x20
    tst  r1, r2
    beq  main
    ldr  r3, [r0, #RDR]
    movs r5, #0x0F
    ands r5, r1
    .if MODERN
    str  r5, [r0, #ICR]
    .endif
    ldr  r4, =DELAY
1:  subs r4, #1
    bne  1b
    bl   send
    movs r3, r5
    bl   send
    b    main
    .ltorg
"""

# COUNT characters summed (their data bits), then the 32-bit sum, least significant byte first
SINK = PRELUDE + """
main:
    ldr  r6, =COUNT
    movs r7, #0
1:  ldr  r1, [r0, #SR]
    movs r2, #0x20
    tst  r1, r2
    beq  1b
    ldr  r3, [r0, #RDR]
    uxtb r3, r3
    adds r7, r7, r3
    subs r6, #1
    bne  1b
    movs r5, #4
2:  movs r3, r7
    bl   send
    lsrs r7, r7, #8
    subs r5, #1
    bne  2b
3:  b    3b
    .ltorg
"""


def binutil(name: str) -> str:
    from stflash.flash.loader.build import tool

    try:
        return tool(name)
    except FileNotFoundError:
        if IN_CI:
            pytest.fail(f"arm-none-eabi-{name} is not installed, but CI must install it (binutils-arm-none-eabi)")
        pytest.skip(f"arm-none-eabi-{name} not installed")


def assemble(source: str, part: Part, **symbols: int) -> bytes:
    """``source`` linked at ``part.base``, with the part's symbols and these."""
    values = {"STACK": part.stack, "NO_GPIO_CLOCK": 0, "NO_USART_CLOCK": 0, "NO_AF": 0, "BRR_VALUE": part.brr(115200),
              "DELAY": 1, "COUNT": 1, **part.symbols, **symbols}
    defs = [arg for k, v in values.items() for arg in ("--defsym", f"{k}={v}")]
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, elf, out = (Path(tmp) / f"p.{ext}" for ext in ("s", "o", "elf", "bin"))
        src.write_text(source)
        subprocess.run([binutil("as"), "-mcpu=cortex-m0", "-mthumb", *defs, str(src), "-o", str(obj)], check=True)
        subprocess.run([binutil("ld"), f"-Ttext={part.base:#x}", "--entry=0", "-o", str(elf), str(obj)], check=True)
        subprocess.run([binutil("objcopy"), "-O", "binary", str(elf), str(out)], check=True)
        return out.read_bytes()


def xor(data: bytes | list[int]) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def addr(a: int) -> bytes:
    """An address as the ROM takes it: big-endian, then the XOR of its bytes."""
    raw = a.to_bytes(4, "big")
    return raw + bytes([xor(raw)])


def _exchange(port: serial.SerialBase, data: bytes) -> None:
    port.write(data)
    assert port.read(1) == ACK


def go(port: serial.SerialBase, code: bytes, base: int) -> None:
    """Sync with the ROM, write ``code`` at ``base`` (Write Memory, 256 bytes at a time) and Go."""
    _exchange(port, b"\x7f")
    code += bytes(-len(code) % 4)
    for off in range(0, len(code), 256):
        chunk = code[off : off + 256]
        _exchange(port, b"\x31\xce")
        _exchange(port, addr(base + off))
        frame = bytes([len(chunk) - 1]) + chunk
        _exchange(port, frame + bytes([xor(frame)]))
    _exchange(port, b"\x21\xde")
    _exchange(port, addr(base))


def rom_started(port: serial.SerialBase) -> None:
    """Wait, as a host must after a reset, until the ROM listens (AN2606 start-up time)."""
    from stflash.sim.uart.bootloader import listening_from

    bench = bench_of(port)
    bench.host_wait(max(0, listening_from(bench) - bench.clock.now) + 1_000_000)  # and 1 ms more
