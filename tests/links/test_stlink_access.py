"""Memory and core control through stflash's ST-LINK link (``StlinkAccess``, the DebugAccess the
flash drivers use), checked against the bench's chip: bytes land where they should at any
address and length, transfers are cut the way the probe's firmware requires, 16-bit writes are
one 16-bit command, core registers, halt/step/run, resets, bus faults and WAIT answers."""

from __future__ import annotations

import inspect
import random
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_stlink_transport import Bus, advance, make_bench, no_wall_sleep, open_probe  # noqa: F401

from stflash.flash.debug import MSP, PC, XPSR, DebugAccess
from stflash.links.stlink import MemoryFault, StlinkAccess, StlinkProbe, TargetNoAnswer
from stflash.links.stlink.commands import WAIT_RETRIES
from stflash.links.stlink.memory import Piece, split
from stflash.sim.bench import Bench

SRAM = 0x2000_0000
DHCSR = 0xE000_EDF0
C_MASKINTS = 1 << 3
# movs r0, #1 ; adds r0, #2 ; b .
PROGRAM = bytes.fromhex("0120 0230 fee7".replace(" ", "")).ljust(8, b"\x00")


def ram(directory: Path, address: int, length: int) -> bytes:
    """What the chip's SRAM holds, read past the probe."""
    with Bench.open(directory) as bench:
        return bench.chip.read_block(address, length, "debug")


@contextmanager
def connected(tmp_path: Path, part: str = "nucleo-f401re", kind: str = "V2-1", **kw: object
              ) -> Iterator[tuple[Path, Bus, StlinkProbe, StlinkAccess]]:
    """A bench, its bus, the probe (closed on leaving) and the access ``connect(**kw)`` gave."""
    d = make_bench(tmp_path, part, kind)
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        yield d, bus, probe, probe.connect(**kw)  # type: ignore[arg-type]


# -- the shape the flash drivers use --------------------------------------------------------------------
def test_stlink_access_has_every_debug_access_method_with_its_signature() -> None:
    for name, member in inspect.getmembers(DebugAccess, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = inspect.signature(getattr(StlinkAccess, name))
        theirs = inspect.signature(member)
        assert list(ours.parameters)[: len(theirs.parameters)] == list(theirs.parameters), name
        extra = list(ours.parameters.values())[len(theirs.parameters):]
        assert all(p.default is not inspect.Parameter.empty for p in extra), name
        for pname, param in theirs.parameters.items():
            assert ours.parameters[pname].kind == param.kind, (name, pname)


# -- splitting -----------------------------------------------------------------------------------------------
def test_split_edges_bytes_middle_words() -> None:
    assert split(0x2000_0003, 10, max8=64, max_wide=6144) == [
        Piece(0x2000_0003, 1, 1), Piece(0x2000_0004, 8, 4), Piece(0x2000_000C, 1, 1)]
    assert split(0x2000_0001, 2, max8=64, max_wide=6144) == [Piece(0x2000_0001, 2, 1)]
    assert split(0x2000_0000, 13000, max8=64, max_wide=6144) == [
        Piece(0x2000_0000, 6144, 4), Piece(0x2000_1800, 6144, 4), Piece(0x2000_3000, 712, 4)]
    assert split(0x2000_0001, 5, max8=64, max_wide=6144, width=2) == [
        Piece(0x2000_0001, 1, 1), Piece(0x2000_0002, 4, 2)]
    assert split(0x100, 0, max8=64, max_wide=6144) == []


# -- memory round trips --------------------------------------------------------------------------------------
@pytest.mark.parametrize("offset, length", [(0, 4), (1, 1), (3, 2), (1, 7), (2, 13), (3, 64), (5, 131), (1, 6151)])
def test_round_trip_any_address_and_length(tmp_path: Path, offset: int, length: int) -> None:
    with connected(tmp_path) as (d, bus, probe, access):
        data = random.Random(length).randbytes(length)
        address = SRAM + 0x100 + offset
        access.write_block(address, data)
        assert ram(d, address, length) == data  # in the chip
        assert access.read_block(address, length) == data  # and back through the probe
        assert ram(d, address - 1, 1) == b"\x00" and ram(d, address + length, 1) == b"\x00"  # nothing else


def test_transfers_on_the_wire(tmp_path: Path) -> None:
    """8-bit commands at the edges, aligned 32-bit ones between: writes of up to 32 KiB each (one
    command fills a loader buffer), reads of at most 6144 bytes, each followed by
    GETLASTRWSTATUS2; a 1-byte 8-bit read asks for the 2 bytes the probe answers."""
    with connected(tmp_path) as (d, bus, probe, access):
        bus.blocks.clear()
        pattern = bytes(i * 7 & 0xFF for i in range(32 * 1024 + 6))
        access.write_block(SRAM + 3, pattern)
        mem = [(b[1], *struct.unpack_from("<IH", b, 2)) for b in bus.blocks if b[1] in (0x07, 0x08, 0x0C, 0x0D)]
        assert mem == [(0x0D, SRAM + 3, 1), (0x08, SRAM + 4, 32768), (0x08, SRAM + 32772, 4),
                       (0x0D, SRAM + 32776, 1)]
        assert [b[1] for b in bus.blocks] == [0x0D, 0x3E, 0x08, 0x3E, 0x08, 0x3E, 0x0D, 0x3E]
        assert ram(d, SRAM + 3, len(pattern)) == pattern
        bus.blocks.clear()
        assert access.read_block(SRAM + 4, 6148) == pattern[1:6149]
        assert [(b[1], *struct.unpack_from("<IH", b, 2)) for b in bus.blocks if b[1] == 0x07] == [
            (0x07, SRAM + 4, 6144), (0x07, SRAM + 6148, 4)]
        bus.blocks.clear()
        assert access.read_block(SRAM + 5, 1) == pattern[2:3]
        assert [(b[1], *struct.unpack_from("<IH", b, 2)) for b in bus.blocks] == [(0x0C, SRAM + 5, 1),
                                                                                 (0x3E, 0, 0)]


def test_v3_moves_larger_byte_runs(tmp_path: Path) -> None:
    with connected(tmp_path, "nucleo-h743zi", "V3") as (d, bus, probe, access):
        data = bytes(range(200)) + bytes(range(100))
        bus.blocks.clear()
        access.write_block(0x2400_0001, data[:3] + data[3:])
        assert access.read_block(0x2400_0001, len(data)) == data
        assert ram(d, 0x2400_0001, len(data)) == data


def test_write16_is_one_halfword_write(tmp_path: Path) -> None:
    with connected(tmp_path) as (d, bus, probe, access):
        bus.blocks.clear()
        access.write16(SRAM + 6, 0xBEEF)
        (block,) = bus.debug_commands(0x48)  # WRITEMEM_16BIT
        assert struct.unpack_from("<IH", block, 2) == (SRAM + 6, 2)
        assert ram(d, SRAM + 4, 6) == bytes([0, 0, 0xEF, 0xBE, 0, 0])
        with pytest.raises(ValueError):
            access.write16(SRAM + 1, 0)


def test_read32_write32(tmp_path: Path) -> None:
    with connected(tmp_path) as (d, bus, probe, access):
        access.write32(SRAM + 8, 0x1234_5678)
        assert ram(d, SRAM + 8, 4) == bytes.fromhex("78563412")
        assert access.read32(SRAM + 8) == 0x1234_5678
        assert access.read32(0xE004_2000) & 0xFFF == 0x433  # DBGMCU_IDCODE


def test_bus_fault_names_the_address_and_the_session_goes_on(tmp_path: Path) -> None:
    with connected(tmp_path) as (d, bus, probe, access):
        with pytest.raises(MemoryFault) as err:
            access.read_block(0x3000_0000, 64)  # nothing is mapped there on an F401
        assert err.value.address == 0x3000_0000 and "0x30000000" in err.value.message
        assert err.value.exit_code == 14
        with pytest.raises(MemoryFault, match="0x30000000"):
            access.read32(0x3000_0000)
        access.write_block(SRAM, b"ok")
        assert access.read_block(SRAM, 2) == b"ok"


def test_wait_is_retried_then_reported(tmp_path: Path) -> None:
    """AP0 of an H755 whose M7 is gated answers WAIT for ever: the host repeats the command
    WAIT_RETRIES times, backing off on the bench clock, then says so."""
    d = make_bench(tmp_path, "nucleo-h755zi-q", "V3", "m7-boot-disabled")
    bus = Bus(d)
    with open_probe(d, bus=bus) as probe:
        access = probe.connect(mode="hot-plug", ap=3)  # the M4 is fine
        from stflash.links.stlink.core import Core

        core0 = Core(probe.cmds, 0, probe.sleep)
        bus.blocks.clear()
        with pytest.raises(TargetNoAnswer, match="WAIT") as err:
            core0.read32(0x5C00_1000)
        assert err.value.exit_code == 6
        assert len(bus.debug_commands(0x36)) == 1 + WAIT_RETRIES  # READDEBUGREG, repeated
        assert access.read32(0x5C00_1000) & 0xFFF == 0x450  # the M4's bus still answers


# -- the core ----------------------------------------------------------------------------------------------
def test_core_registers_halt_step_run(tmp_path: Path) -> None:
    with connected(tmp_path) as (d, bus, probe, access):
        assert access.is_halted()
        access.write_block(SRAM, PROGRAM)
        access.write_core_register(PC, SRAM)
        access.write_core_register(XPSR, 0x0100_0000)
        access.write_core_register(0, 0xDEAD_BEEF)
        access.write_core_register(MSP, SRAM + 0x1000)
        assert access.read_core_register(0) == 0xDEAD_BEEF and access.read_core_register(MSP) == SRAM + 0x1000
        access.write_core_register(0x40, 0x3F80_0000)  # S0 (an FPU register, through READREG from J15)
        assert access.read_core_register(0x40) == 0x3F80_0000
        access.step()
        assert access.is_halted() and access.read_core_register(PC) == SRAM + 2
        assert access.read_core_register(0) == 1
        access.step()
        assert access.read_core_register(0) == 3
        access.run()
        access.wait(0.001)
        assert not access.is_halted() and access.core_state() == "running"
        access.halt()
        assert access.read_core_register(PC) == SRAM + 4  # spinning on "b ."


def test_run_with_interrupts_masked(tmp_path: Path) -> None:
    with connected(tmp_path) as (d, bus, probe, access):
        access.write_block(SRAM, PROGRAM)
        access.write_core_register(PC, SRAM)
        access.write_core_register(XPSR, 0x0100_0000)
        access.run(mask_interrupts=True)
        assert access.read32(DHCSR) & C_MASKINTS and not access.is_halted()
        access.halt()
        assert access.is_halted() and not access.read32(DHCSR) & C_MASKINTS


def test_core_registers_through_another_access_port(tmp_path: Path) -> None:
    """AP3 of an H755 (its Cortex-M4): memory commands with APSEL 3 and DCRSR/DCRDR."""
    with connected(tmp_path, "nucleo-h755zi-q", "V3", ap=3) as (d, bus, probe, access):
        bus.blocks.clear()
        sram4 = 0x3800_0000
        access.write_block(sram4, PROGRAM)
        access.write_core_register(PC, sram4)
        access.write_core_register(XPSR, 0x0100_0000)
        access.write_core_register(1, 0x1234_5678)
        assert access.read_core_register(1) == 0x1234_5678
        access.step()
        assert access.read_core_register(PC) == sram4 + 2 and access.read_core_register(0) == 1
        assert not bus.debug_commands(0x33) and not bus.debug_commands(0x36)  # no AP0-only commands
        assert {b[8] for b in bus.blocks if b[1] in (0x07, 0x08)} == {3}  # APSEL 3 in every memory command
        assert access.read32(0xE000_ED00) == 0x410F_C241  # the M4's CPUID


def test_reset_and_halt_stops_at_the_reset_vector(tmp_path: Path) -> None:
    with connected(tmp_path) as (d, bus, probe, access):
        vector = flash_counter_program(d)
        for nrst in (False, True):
            with Bench.open(d) as bench:
                resets = bench.chip.reset_count
            access.reset_and_halt(nrst=nrst)
            assert access.is_halted() and access.read_core_register(PC) == vector
            with Bench.open(d) as bench:
                assert bench.chip.reset_count == resets + 1
            assert not access.read32(0xE000_EDFC) & 1  # the reset catch is off again
        access.reset_and_run()
        access.wait(0.002)
        assert not access.is_halted() and access.read32(COUNTER) > 0


# -- a firmware that counts in RAM, for the tests that need a running core ---------------------------------------
COUNTER = 0x2000_0100
# movs r1,#0 ; ldr r0,[pc,#8] ; 1: adds r1,#1 ; str r1,[r0] ; b 1b ; nop ; .word COUNTER
COUNTER_CODE = bytes.fromhex("0021 0248 0131 0160 fce7 00bf".replace(" ", "")) + struct.pack("<I", COUNTER)


def flash_counter_program(directory: Path) -> int:
    """Put the counting firmware in flash (as a previous flashing would have) and reset the chip;
    returns its reset handler's address."""
    with Bench.open(directory) as bench:
        base = bench.chip.chip.flash_base
        handler = base + 0x40
        image = struct.pack("<II", SRAM + 0x1000, handler | 1).ljust(0x40, b"\x00") + COUNTER_CODE
        bench.chip.rom_program(base, image.ljust(-(-len(image) // 32) * 32, b"\xff"))
        bench.press_reset()
    return handler
