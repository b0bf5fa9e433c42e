"""The committed UART stub is what stub.S assembles to, runs wherever it is put, and agrees with
the host on its parameter block, frames and answers; the per-family USART rows and the drivers'
unlock steps say what the stub needs."""

from __future__ import annotations

import fnmatch
import re
import struct
import zlib
from pathlib import Path

import pytest

from stflash.chips import find_chip
from stflash.chips.usart import brr_for, usart_wiring
from stflash.flash.drivers import driver_for
from stflash.flash.loader.build import TOOLS, assemble
from stflash.flash.stub import build, stub_code
from stflash.links.uart import stub as wire

from tooling import REPO, require_tool

EQU = dict(re.findall(r"^\s*\.equ\s+(\w+),\s*(\w+)", build.SOURCE.read_text(), re.M))


def _tools() -> None:
    for name in TOOLS:
        require_tool(f"arm-none-eabi-{name}")


def test_committed_stub_bin_is_what_stub_s_assembles_to() -> None:
    _tools()
    assert assemble(build.SOURCE) == build.BINARY.read_bytes() == stub_code()
    assert build.main(["--check"]) == 0


def test_the_stub_is_position_independent() -> None:
    _tools()
    assert assemble(build.SOURCE, 0x2000_3000) == assemble(build.SOURCE, 0x2400_5000) == stub_code()


def test_the_vector_table_holds_an_entry_offset_the_host_relocates() -> None:
    msp, entry = struct.unpack_from("<II", stub_code())
    assert msp == 0 and entry & 1 and 8 <= entry < len(stub_code())


def test_host_and_stub_agree_on_the_parameter_block_frames_and_answers() -> None:
    names = [n for n in vars(wire) if re.fullmatch(r"(P|STEP|CMD|ANS)_[A-Z0-9_]+", n)] + ["HEADER"]
    checked = [n for n in names if n in EQU]
    assert len(checked) >= 30, checked
    for name in checked:
        assert int(EQU[name], 0) == getattr(wire, name), name
    assert max(int(v, 0) for n, v in EQU.items() if n.startswith("P_")) + 4 == wire.PARAM_SIZE
    assert int(EQU["F_STEPS"], 0) == wire.SLOT_STATE + wire.HEADER
    assert bytes([int(EQU["HELLO0"], 0), int(EQU["VERSION"], 0)]) == wire.HELLO


def test_a_frame_ends_with_the_crc_the_stub_checks_by_its_residue() -> None:
    frame = wire.Frame(wire.CMD_PROGRAM1, 0x0810_0000, b"\x01\x02\x03\x04" * 8, [(wire.STEP_STORE, 1, 2, 3)], sequence=7)
    raw = frame.encode()
    assert raw[:12] == bytes([0x51, 1, 32, 0, 0, 0, 0x10, 0x08, 7, 0, 0, 0])
    assert len(raw) == wire.HEADER + wire.STEP_SIZE + 32 + wire.CRC_SIZE
    register = ~zlib.crc32(raw) & 0xFFFF_FFFF  # the stub's register: no final XOR
    assert register == int(EQU["RESIDUE"], 0)
    damaged = raw[:20] + bytes([raw[20] ^ 1]) + raw[21:]
    assert ~zlib.crc32(damaged) & 0xFFFF_FFFF != int(EQU["RESIDUE"], 0)


@pytest.mark.parametrize(("family", "kernel", "baud", "brr", "over8"), [
    ("F4", 16_000_000, 115200, 139, False),  # 115108 baud, 0.08 % slow
    ("H7", 64_000_000, 115200, 556, False),
    ("G0", 16_000_000, 921600, 0x21, True),  # USARTDIV 35 with OVER8: 914286 baud, 0.8 % slow
])
def test_baud_rate_register(family: str, kernel: int, baud: int, brr: int, over8: bool) -> None:
    wiring = usart_wiring(family)
    assert wiring is not None and wiring.kernel_hz == kernel
    got = brr_for(kernel, baud)
    assert got is not None and got[:2] == (brr, over8) and got[2] < 0.01


def test_no_brr_when_the_hsi_cannot_make_the_rate() -> None:
    assert brr_for(16_000_000, 2_000_000) == (16, True, 0.0)  # USARTDIV 16 with OVER8: the fastest
    assert brr_for(8_000_000, 3_000_000) is None
    assert brr_for(16_000_000, 1_500_000) == (18, True, pytest.approx(0.0159, abs=1e-4))  # 1.524 Mbaud



def test_usart_steps_make_every_bootloader_port_receive_8e1_and_drive_no_tx_pin() -> None:
    wiring = usart_wiring("G0")
    assert wiring is not None
    ports = wiring.ports_for(find_chip("STM32G071RB").bootloader)
    assert [(p.name, p.pins, p.base) for p in ports] == [
        ("USART1", "PA9/PA10", 0x4001_3800), ("USART2", "PA2/PA3", 0x4000_4400), ("USART3", "PC10/PC11", 0x4000_4800)]
    steps = wiring.steps(ports, 139, False)
    frame = (1 << 12) | (1 << 10) | (1 << 3) | (1 << 2)  # M0, PCE, TE, RE
    for port in ports:
        assert ("store", port.base + 0x0C, 139, 0) in steps
        assert steps.index(("store", port.base + 0x00, frame | 1, 0)) > steps.index(("store", port.base + 0x0C, 139, 0))
    assert ("modify", 0x5000_0024, 1 << 8, 0xF << 8) in steps  # PA10 (USART1_RX) AF1
    assert ("modify", 0x5000_0020, 1 << 12, 0xF << 12) in steps  # PA3 (USART2_RX) AF1
    assert ("modify", 0x5000_0824, 0 << 12, 0xF << 12) in steps  # PC11 (USART3_RX) AF0
    assert ("modify", 0x5000_0024, 1 << 4, 0xF << 4) not in steps  # PA9 (USART1_TX): only once chosen
    assert ports[0].tx_pin == (("modify", 0x5000_0024, 1 << 4, 0xF << 4), ("modify", 0x5000_0000, 2 << 18, 3 << 18))


@pytest.mark.parametrize(("part", "ports"), [
    ("STM32F401RE", ["USART1 PA9/PA10", "USART2 PD5/PD6"]),
    ("STM32F407VG", ["USART1 PA9/PA10", "USART3 PB10/PB11"]),  # PC10/PC11, USART3's other pair: not listened on
    ("STM32H743ZI", ["USART1 PA9/PA10", "USART2 PA2/PA3", "USART3 PB10/PB11"]),  # nor PB14/PB15
])
def test_the_stub_listens_on_the_usarts_the_rom_lists(part: str, ports: list[str]) -> None:
    chip = find_chip(part)
    wiring = usart_wiring(chip.family)
    assert wiring is not None
    assert [f"{p.name} {p.pins}" for p in wiring.ports_for(chip.bootloader)] == ports


@pytest.mark.parametrize(("part", "controls"), [
    ("STM32F401RE", [(0x4002_3C10, 1 << 31, 0x4002_3C04)]),
    ("STM32G071RB", [(0x4002_2014, 1 << 31, 0x4002_2008)]),
    ("STM32H743ZI", [(0x5200_200C, 1 << 0, 0x5200_2004), (0x5200_210C, 1 << 0, 0x5200_2104)]),
])
def test_drivers_describe_their_unlock_without_touching_the_chip(part: str, controls: list[tuple[int, int, int]]) -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(name)

    drv = driver_for(find_chip(part), Untouchable())  # type: ignore[arg-type]
    got = [(u.control, u.lock_bit, u.keyr) for bank in range(len(controls)) for u in drv.unlock_steps(bank)]
    assert got == controls
    assert all(u.keys == (0x4567_0123, 0xCDEF_89AB) for u in drv.unlock_steps(0))


def test_stub_bin_ships_in_the_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["stflash"]
    relative = Path(build.BINARY).relative_to(REPO / "src" / "stflash").as_posix()
    assert any(fnmatch.fnmatch(relative, p) for p in patterns)
