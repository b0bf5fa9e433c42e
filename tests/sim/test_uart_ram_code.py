"""Code the USART bootloader starts with Go runs on the simulated core and talks to the host over
USART1, as a program on the silicon would: echo programs on an F401 and an F407 (legacy USART), an
H743 and a G071 (modern USART), loaded with Write Memory and started with Go over ``stflashsim://DIR``.

What the host sees is checked: the bytes, and when they arrive (the USART's frame time at the rate
its BRR gives, the adapter's latency); nothing without the USART's clock or its pins' alternate
function; lost characters (ORE) when the program is too slow; garbage at a wrong BRR; the same run
with ``STFLASH_SIM_EXACT=1``; a program that outlives the process that started it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import serial
from uart_programs import (
    ECHO,
    HELLO,
    HOST_CHAR,
    LATENCY,
    PARTS,
    SELF_RESET,
    SINK,
    SLOW_ECHO,
    TIMEOUT,
    Opener,
    Part,
    assemble,
    bench_of,
    go,
    rom_started,
    round_trip,
)

from stflash.sim.clock import EXACT_ENV


def started(open_port: Opener, part: Part, source: str, **symbols: int) -> serial.SerialBase:
    port = open_port(part.name, timeout=TIMEOUT)
    go(port, assemble(source, part, **symbols), part.base)
    assert bench_of(port).chip.boot_source == "ram"
    return port


def char_ns(part: Part, brr: int, bits: int = 11) -> int:
    """One frame of the USART at the rate BRR sets (kernel clock / BRR, oversampling by 16)."""
    return round(bits * 1e9 * brr / part.fck)


@pytest.mark.parametrize("name", list(PARTS))
def test_an_echo_program_answers_at_its_baud_and_the_adapters_latency(open_port: Opener, name: str) -> None:
    part = PARTS[name]
    port = started(open_port, part, ECHO)
    frame = char_ns(part, part.brr(115200))  # 11 bits at kernel clock / BRR (139 or 556 cycles a bit)
    # one character reaches the USART one of its frames after it left the host (the rates match
    # within 0.1 %); the echo leaves a few cycles later and the host has it when its frame is over
    # and the adapter's latency has passed
    for value in (0x55, 0x00, 0xFF):
        got, took = round_trip(port, bytes([value]), 1)
        assert got == bytes([value])
        assert frame + HOST_CHAR + LATENCY <= took < frame + HOST_CHAR + LATENCY + 2_000, took
    # a burst: the USART's frames are a little longer than the host's (0.08 %), so the echoes go out
    # back to back at the USART's rate, TDR holding the next one while the shift register sends
    data = bytes(range(200))
    got, took = round_trip(port, data, len(data))
    assert got == data
    assert 200 * frame + HOST_CHAR + LATENCY <= took < 200 * frame + HOST_CHAR + LATENCY + 2_000, took
    assert port.read(1) == b""  # nothing more


@pytest.mark.parametrize("name", list(PARTS))
def test_a_program_speaks_after_the_idle_frame_te_sends(open_port: Opener, name: str) -> None:
    """Setting TE sends an idle frame first (RM: USART transmitter): "hi" reaches the host two and
    three frames after the code started (a few cycles of set-up aside) plus the adapter's latency.
    The code starts once the Go's ACK has left the ROM, a latency before the host has that ACK."""
    part = PARTS[name]
    port = open_port(part.name, timeout=TIMEOUT)
    go(port, assemble(HELLO, part), part.base)
    bench = bench_of(port)
    acked = bench.clock.now  # the host has the Go's ACK
    assert port.read(2) == b"hi"
    frame = char_ns(part, part.brr(115200))
    took = bench.clock.now - acked  # the code's set-up, idle and "h" frames, "i" as the host reads it
    assert 2 * frame + HOST_CHAR <= took < 2 * frame + HOST_CHAR + 10_000, took
    assert round_trip(port, b"!", 1)[0] == b"!"


@pytest.mark.parametrize("name", list(PARTS))
def test_without_the_clock_or_the_pins_the_host_hears_nothing(open_port: Opener, name: str) -> None:
    part = PARTS[name]
    # no USART1EN: its registers ignore the writes and read as 0, so it never sends nor receives
    port = started(open_port, part, HELLO, NO_USART_CLOCK=1)
    port.write(b"ping")
    assert port.read(4) == b""
    chip = bench_of(port).chip
    assert chip.read32(part.symbols["USART"] + part.symbols["CR1"]) == 0
    port.close()
    # clocked and enabled, but PA9/PA10 left on AF0: the USART sends "hi" (TC is set) to a pin
    # that does not carry it, and the host's characters never reach it
    port = started(open_port, part, HELLO, NO_AF=1)
    port.write(b"ping")
    assert port.read(4) == b""
    usart = bench_of(port).chip.peripherals.usart
    assert usart is not None and usart.cfg.tx_on and not usart.cfg.listening and usart.tc


def test_what_the_model_does_not_follow_stops_the_usart_visibly(open_port: Opener) -> None:
    """FIFO mode (G0/H7 CR1.FIFOEN) and a SYSCLK other than the HSI are not modelled: the USART
    stops instead of talking at a made-up rate or buffering wrongly, and the trace says why."""
    part = PARTS["stm32g071rb"]
    port = started(open_port, part, ECHO, CR1_VALUE=part.symbols["CR1_VALUE"] | 1 << 29)
    port.write(b"ping")
    assert port.read(4) == b""
    trace = (Path(bench_of(port).directory) / "trace.jsonl")
    port.close()
    assert "USART1 stopped: FIFOEN (FIFO mode is not modelled)" in trace.read_text()
    port = started(open_port, part, ECHO)
    assert round_trip(port, b"1", 1)[0] == b"1"
    bench_of(port).chip.write32(0x4002_1008, 2)  # RCC_CFGR.SW = PLLRCLK, by the debugger
    port.write(b"ping")
    assert port.read(4) == b""
    assert bench_of(port).chip.events[-1][1] == "USART1 stopped: SYSCLK switched to source 2 (only the HSI is modelled)"


@pytest.mark.parametrize(("name", "delay"), [("stm32f401re", 4000), ("stm32f407vg", 4000), ("stm32h743zi", 16000),
                                            ("stm32g071rb", 4000)])
def test_a_program_too_slow_to_read_loses_characters(open_port: Opener, name: str, delay: int) -> None:
    """After each character the program waits about 500 us (about 5 characters at 115200) before it
    echoes the character and the error flags it saw. Of four characters sent back to back the
    second waits in RDR, the third and fourth complete while RXNE is still set: overrun, they are
    lost, and ORE (0x08) comes with the second."""
    part = PARTS[name]
    port = started(open_port, part, SLOW_ECHO, DELAY=delay)
    port.write(b"ABCD")
    assert port.read(6) == b"A\x00B\x08"
    assert port.read(1) == b""


@pytest.mark.parametrize("name", list(PARTS))
def test_a_wrong_brr_gives_garbage(open_port: Opener, name: str) -> None:
    """The program sets 57600 baud; the host stays at 115200. Worked by hand (bit times 17.36 and
    8.68 us): the host's 0x00 (low for 10 of its bits, 86.8 us) is sampled by the USART as 0xF0 with
    a parity error; echoed at 57600 its frame is low for 5 of the USART's bits, then high, then its
    parity bit low: the host reads 0x00, then, on the parity bit's falling edge, 0xFE."""
    part = PARTS[name]
    port = started(open_port, part, ECHO, BRR_VALUE=part.brr(57600))
    port.write(b"\x00")
    assert port.read(3) == b"\x00\xfe"


def test_the_same_run_with_every_shortcut_off(open_port: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    part = PARTS["stm32g071rb"]

    def run() -> tuple[list[tuple[bytes, int]], tuple[bytes, int], int]:
        port = started(open_port, part, SLOW_ECHO, DELAY=300)
        got = [round_trip(port, bytes([c]), 2) for c in b"xyz"]
        late = round_trip(port, b"ABCDEF", 12)
        core = bench_of(port).chip.cores[0]
        assert core is not None
        cycles = core.total_cycles
        port.close()
        return got, late, cycles

    fast = run()
    monkeypatch.setenv(EXACT_ENV, "1")
    assert run() == fast


def test_the_program_outlives_the_process_that_started_it(open_port: Opener) -> None:
    """Everything (core, USART1, RCC and GPIO settings) is in the bench files: a new port, with a
    new chip loaded from disk, finds the echo program still there."""
    part = PARTS["stm32f401re"]
    port = started(open_port, part, ECHO)
    assert round_trip(port, b"1", 1)[0] == b"1"
    port.close()
    again = open_port(part.name, create=False, timeout=TIMEOUT)
    assert bench_of(again).chip.boot_source == "ram"
    again.write(b"two")
    assert again.read(3) == b"two"


def test_a_reset_ends_the_program_and_the_rom_answers_again(open_port: Opener) -> None:
    part = PARTS["stm32h743zi"]
    port = started(open_port, part, ECHO)
    bench = bench_of(port)
    bench.press_reset()  # BOOT0 is still high
    assert bench.chip.boot_source == "bootloader"
    rom_started(port)  # 54 ms on the H743 (AN2606)
    port.write(b"\x7f")
    assert port.read(1) == b"\x79"


def test_a_reset_the_program_asks_for_happens_when_it_asks(open_port: Opener) -> None:
    """The ROM's start-up (74.5 ms on the F401) runs from the program's AIRCR store, 25 ms after
    Go, not from when the host next looks: a host that slept 0.2 s meanwhile (the core catching
    up only when it speaks) finds the ROM listening."""
    part = PARTS["stm32f401re"]
    port = open_port(part.name, timeout=TIMEOUT)
    go(port, assemble(SELF_RESET, part, DELAY=200_000), part.base)  # 400 000 cycles at 16 MHz
    bench = bench_of(port)
    went = bench.clock.now  # Go's ACK left the chip 1 ms before (the adapter's latency)
    bench.host_wait(200_000_000)
    port.write(b"\x7f")
    assert port.read(1) == b"\x79"
    assert went + 20_000_000 < bench.chip.reset_ns < went + 30_000_000


def test_a_sink_program_keeps_up_with_the_host(open_port: Opener) -> None:
    """16 KiB at the host's full rate into a program that sums them; the sum comes back."""
    part = PARTS["stm32f401re"]
    data = bytes((i * 7 + i // 256) & 0xFF for i in range(16 * 1024))
    port = started(open_port, part, SINK, COUNT=len(data))
    for off in range(0, len(data), 4096):
        port.write(data[off : off + 4096])
    port.flush()  # write() returns at once; the characters take 1.6 s on the wire
    assert int.from_bytes(port.read(4), "little") == sum(data)
