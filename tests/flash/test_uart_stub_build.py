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



def test_usart_steps_end_with_the_usart_enabled_for_8e1() -> None:
    wiring = usart_wiring("G0")
    assert wiring is not None
    steps = wiring.steps(139, False)
    base = wiring.usart
    assert steps[-1] == ("store", base + 0x00, (1 << 12) | (1 << 10) | (1 << 3) | (1 << 2) | 1, 0)
    assert ("store", base + 0x0C, 139, 0) in steps
    assert ("modify", 0x5000_0024, (1 << 4) | (1 << 8), 0xFF0) in steps  # PA9/PA10 AF1


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
