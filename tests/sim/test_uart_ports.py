"""The bench's UART adapter on any USART the ROM listens on (``--uart-port``, ``Board.uart_port``):
the ROM answers there, and code started by Go is heard exactly when it takes over that USART on
those pins. Programs hand-assembled from the reference manuals (``uart_programs.PORTS``), loaded
with Write Memory and started with Go over ``stflashsim://DIR``; what the host gets on the wire is
checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import serial
from uart_programs import (
    ECHO,
    HELLO,
    HOST_CHAR,
    LATENCY,
    PARTS,
    PORTS,
    TIMEOUT,
    Opener,
    Part,
    assemble,
    bench_of,
    go,
    round_trip,
)

from stflash.errors import UsageError
from stflash.sim.bench import Bench


def run(port: serial.SerialBase, part: Part, source: str, program_port: str, **symbols: int) -> None:
    """Go to ``source`` set up for the USART and pins ``program_port`` names (the ROM answers
    whichever port the adapter is on)."""
    go(port, assemble(source, part, **{**PORTS[part.name, program_port], **symbols}), part.base)
    assert bench_of(port).chip.boot_source == "ram"


CASES = [("stm32f401re", "USART2 PD5/PD6"), ("stm32f407vg", "USART3 PB10/PB11"),
         ("stm32f407vg", "USART3 PC10/PC11"), ("stm32h743zi", "USART1 PB14/PB15"),
         ("stm32h743zi", "USART2 PA2/PA3"), ("stm32h743zi", "USART3 PB10/PB11"),
         ("stm32g071rb", "USART2 PA2/PA3"), ("stm32g071rb", "USART3 PC10/PC11")]


@pytest.mark.parametrize(("name", "uart_port"), CASES)
def test_a_program_on_the_wired_usart_echoes(open_port: Opener, name: str, uart_port: str) -> None:
    """On a bench wired to another USART than USART1, the ROM still answers (the Go went through
    it) and a program that takes that USART over on those pins says "hi" and echoes, at the rate
    its BRR gives from its own APB's clock (the reset HSI: 16 MHz F4/G0, 64 MHz H7)."""
    part = PARTS[name]
    port = open_port(part.name, uart_port=uart_port, timeout=TIMEOUT)
    assert bench_of(port).board.uart_port == uart_port
    run(port, part, HELLO, uart_port)
    assert port.read(2) == b"hi"
    frame = round(11 * 1e9 * part.brr(115200) / part.fck)
    for value in (0x55, 0x00, 0xFF):
        got, took = round_trip(port, bytes([value]), 1)
        assert got == bytes([value])
        assert frame + HOST_CHAR + LATENCY <= took < frame + HOST_CHAR + LATENCY + 2_000, took
    data = bytes(range(64))
    assert round_trip(port, data, len(data))[0] == data
    assert port.read(1) == b""


@pytest.mark.parametrize(("name", "wiring", "program"), [
    ("stm32f401re", "USART1 PA9/PA10", "USART2 PD5/PD6"),  # the program's USART is not wired
    ("stm32f401re", "USART2", "USART1 PA9/PA10"),
    ("stm32f407vg", "USART3 PC10/PC11", "USART3 PB10/PB11"),  # the wired USART, on other pins
    ("stm32h743zi", "USART1 PA9/PA10", "USART1 PB14/PB15"),
    ("stm32g071rb", "USART2 PA2/PA3", "USART3 PC10/PC11"),
])
def test_a_program_on_another_usart_or_other_pins_is_not_heard(open_port: Opener, name: str, wiring: str,
                                                               program: str) -> None:
    """The program runs (its USART sends: TC is set once "hi" has left), but its TX pin is not the
    one the adapter listens on and the adapter's characters never reach its RX."""
    part = PARTS[name]
    port = open_port(part.name, uart_port=wiring, timeout=TIMEOUT)
    run(port, part, HELLO, program)
    port.write(b"ping")
    assert port.read(6) == b""
    chip = bench_of(port).chip
    usart = next(u for u in chip.peripherals.usarts if u.name == program.split()[0])
    assert usart.cfg.tx_on and not usart.cfg.listening and usart.tc and usart.tdr is None


@pytest.mark.parametrize(("name", "uart_port"), [("stm32f401re", "USART2 PD5/PD6"),
                                                 ("stm32g071rb", "USART3 PC10/PC11"),
                                                 ("stm32h743zi", "USART1 PB14/PB15")])
def test_a_wrong_af_or_no_port_clock_is_not_heard(open_port: Opener, name: str, uart_port: str) -> None:
    part = PARTS[name]
    right = PORTS[name, uart_port]["AF"]
    # another AF (F401 PD5: AF8 is nothing, G071 PC10: AF1 is USART4_TX, H743 PB14: AF7 is USART3_RTS)
    for symbols in ({"AF": {7: 8, 0: 1, 4: 7}[right]}, {"NO_GPIO_CLOCK": 1}):
        port = open_port(part.name, uart_port=uart_port, timeout=TIMEOUT)
        run(port, part, HELLO, uart_port, **symbols)
        port.write(b"ping")
        assert port.read(6) == b"", symbols
        port.close()


def test_the_g071_usart3_pins_need_no_af_write(open_port: Opener) -> None:
    """USART3 is AF0 on PC10/PC11 (G071 datasheet), the AFR's reset value: a program that only
    sets MODER is heard there, while one on USART2 (AF1 on PA2/PA3) is not."""
    part = PARTS["stm32g071rb"]
    port = open_port(part.name, uart_port="USART3", timeout=TIMEOUT)
    run(port, part, HELLO, "USART3 PC10/PC11", NO_AF=1)
    assert port.read(2) == b"hi"
    port.close()
    port = open_port(part.name, uart_port="USART2", timeout=TIMEOUT)
    run(port, part, HELLO, "USART2 PA2/PA3", NO_AF=1)
    assert port.read(2) == b""


def test_go_puts_every_bootloader_usart_and_its_pins_back(open_port: Opener) -> None:
    """AN3155 3.5: what the ROM used is back at reset when the code starts, on every USART it
    listens on, not only USART1. Set by the debugger while the ROM runs, gone after the Go."""
    part = PARTS["stm32h743zi"]
    port = open_port(part.name, uart_port="USART2 PA2/PA3", timeout=TIMEOUT)
    chip = bench_of(port).chip
    chip.write32(0x5802_44E8, (1 << 17) | (1 << 18))  # APB1LENR: USART2EN, USART3EN
    chip.write32(0x5802_44E0, 0b111)  # AHB4ENR: GPIOA..C
    chip.write32(0x4000_4800, 0x0D)  # USART3 CR1: UE, TE, RE
    chip.write32(0x5802_0400, 0)  # GPIOB MODER
    chip.write32(0x5802_0424, 0x7700)  # GPIOB AFRH: PB10/PB11 AF7
    assert chip.read32(0x4000_4800) == 0x0D
    run(port, part, ECHO, "USART2 PA2/PA3")
    assert chip.read32(0x5802_44E8) & (1 << 18) == 0  # the echo program set USART2EN only
    assert chip.read32(0x5802_44E0) == 0b001  # and GPIOA's clock
    chip.write32(0x5802_44E8, 1 << 18 | 1 << 17)
    assert chip.read32(0x4000_4800) == 0  # USART3's CR1 at its reset value
    assert chip.read32(0x5802_0400) == 0xFFFF_FEBF and chip.read32(0x5802_0424) == 0  # GPIOB at reset
    assert round_trip(port, b"ok", 2)[0] == b"ok"


def test_the_wiring_and_every_usart_survive_the_process(open_port: Opener, tmp_path: Path) -> None:
    """The port is a board fact saved with the bench; each USART's state is saved too: a new
    process finds the USART2 echo program still answering."""
    part = PARTS["stm32f401re"]
    port = open_port(part.name, uart_port="usart2 pd5/pd6", timeout=TIMEOUT)
    run(port, part, ECHO, "USART2 PD5/PD6")
    assert round_trip(port, b"1", 1)[0] == b"1"
    port.close()
    saved = json.loads((tmp_path / part.name / "bench.json").read_text())
    assert saved["board"]["uart_port"] == "USART2 PD5/PD6"
    assert set(saved["state"]["peripherals"]) == {"usart1", "usart2"}
    again = open_port(part.name, create=False, timeout=TIMEOUT)
    assert bench_of(again).chip.boot_source == "ram"
    again.write(b"two")
    assert again.read(3) == b"two"


def test_a_bench_file_without_the_field_loads_wired_to_usart1(tmp_path: Path) -> None:
    Bench.create(tmp_path / "old", "stm32f407vg", uart_port="USART3")
    path = tmp_path / "old" / "bench.json"
    data = json.loads(path.read_text())
    del data["board"]["uart_port"]
    path.write_text(json.dumps(data))
    with Bench.open(tmp_path / "old") as bench:
        assert bench.board.uart_port == "USART1 PA9/PA10"
        usart = bench.chip.peripherals.usart
        assert usart is not None and usart.name == "USART1"


def test_the_port_is_one_the_rom_lists(tmp_path: Path) -> None:
    assert Bench.create(tmp_path / "a", "stm32f407vg").board.uart_port == "USART1 PA9/PA10"
    assert Bench.create(tmp_path / "b", "stm32f407vg", uart_port="usart3").board.uart_port == "USART3 PB10/PB11"
    assert Bench.create(tmp_path / "c", "stm32h743zi", uart_port=" USART1  pb14/PB15").board.uart_port \
        == "USART1 PB14/PB15"
    for part, text in (("stm32f401re", "USART3"), ("stm32f407vg", "USART2"), ("stm32f407vg", "USART3 PA2/PA3"),
                       ("stm32g071rb", "PA2/PA3"), ("stm32f103c8", "USART2")):
        with pytest.raises(UsageError, match="--uart-port"):
            Bench.create(tmp_path / "x", part, uart_port=text, force=True)


def test_sim_new_takes_uart_port_and_refuses_one_the_rom_lacks(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("sim", "new", str(tmp_path / "bad"), "--chip", "nucleo-f401re", "--uart-port", "usart9")
    assert r.code == 2
    message = r.err.strip()
    assert "\n" not in message and "--uart-port 'usart9'" in message and "USART2 PD5/PD6" in message, message
    assert not (tmp_path / "bad" / "bench.json").exists()
    r = run_cli("sim", "new", str(tmp_path / "ok"), "--chip", "nucleo-f401re", "--uart-port", "USART2")
    assert r.code == 0, r.err
    assert run_cli("--json", "sim", "show", str(tmp_path / "ok")).json["uart_port"] == "USART2 PD5/PD6"  # type: ignore[index]
