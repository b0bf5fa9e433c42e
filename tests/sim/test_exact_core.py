"""The core's idle-loop shortcut changes nothing anyone can observe: each scenario runs twice, with
the shortcut and with ``STFLASH_SIM_EXACT=1`` (every iteration executed), and both runs must leave
the same clock, cycle count, registers, core state and RAM. The shortcut must also really fire on
an idle loop in RAM, and must not on a loop that reads a timer, stores, or changes a register."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_core_programs import (
    C_DEBUGEN,
    C_HALT,
    DBGKEY,
    DEMCR,
    DHCSR,
    DWT_CTRL,
    PC,
    R0,
    R1,
    R2,
    TRCENA,
    Debugger,
)

from stflash.chips.lookup import find_chip
from stflash.sim.chip import SimChip
from stflash.sim.clock import EXACT_ENV
from stflash.sim.cortexm import engine

from tooling import require_tool

MS = 1_000_000
CODE = 0x2000_0000
FLAG = 0x2000_0400  # the word an idle loop waits for; the next one is read too by "wait_two"
STACK = 0x2000_2000
DWT_CYCCNTENA = 1


@dataclass(frozen=True)
class Loop:
    source: str
    code: bytes  # what arm-none-eabi-as -mcpu=cortex-m0 makes of ``source`` (checked below)


LOOPS = {
    # the flash loader's wait_full: reads a RAM word until the debugger makes it non-zero
    "wait_word": Loop("""
    1:  ldr  r0, [r6]
        cmp  r0, #0
        beq  1b
        movs r1, r0
        bkpt #0x11
    """, bytes.fromhex("30680028fcd0010011be")),
    # the same wait over two blocks, reading a second RAM word on the way
    "wait_two": Loop("""
    1:  ldr  r0, [r6]
        cmp  r0, #0
        bne  2f
        ldr  r2, [r6, #4]
        b    1b
    2:  bkpt #0x12
    """, bytes.fromhex("3068002801d17268fae712be")),
    # no memory access at all, but r0 changes every iteration: it must run its 40000 iterations
    "count": Loop("""
        ldr  r0, =40000
    1:  subs r0, #1
        bne  1b
        bkpt #0x13
        .ltorg
    """, bytes.fromhex("01480138fdd113be409c0000")),
    # waits on DWT_CYCCNT, a timer: every read returns something new
    "cyccnt": Loop("""
        ldr  r2, =0xE0001004
    1:  ldr  r0, [r2]
        cmp  r0, r1
        blo  1b
        bkpt #0x14
        .ltorg
    """, bytes.fromhex("024a10688842fcd314be0000041000e0")),
    # waits in RAM like wait_word, but stores (the same value) at every iteration
    "wait_store": Loop("""
    1:  str  r3, [r6, #8]
        ldr  r0, [r6]
        cmp  r0, #0
        beq  1b
        bkpt #0x15
    """, bytes.fromhex("b36030680028fbd015be")),
}


def test_committed_loops_are_what_the_assembler_makes(tmp_path: Path) -> None:
    tools = {name: require_tool(f"arm-none-eabi-{name}") for name in ("as", "ld", "objcopy")}
    for name, loop in LOOPS.items():
        src, obj, elf, out = (tmp_path / f"{name}.{ext}" for ext in ("s", "o", "elf", "bin"))
        src.write_text(".syntax unified\n.thumb\n" + loop.source + "\n")
        subprocess.run([tools["as"], "-mcpu=cortex-m0", "-mthumb", str(src), "-o", str(obj)], check=True)
        subprocess.run([tools["ld"], f"-Ttext={CODE:#x}", "--entry=0", "-o", str(elf), str(obj)], check=True)
        subprocess.run([tools["objcopy"], "-O", "binary", str(elf), str(out)], check=True)
        assert out.read_bytes() == loop.code, f"{name}: {out.read_bytes().hex()}"


@pytest.fixture
def skips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Every (cycles per iteration, iterations skipped) the shortcut charges."""
    calls: list[tuple[int, int]] = []
    original = engine.Engine._skip_idle

    def spy(self: engine.Engine, cycles: int, blocks: int) -> None:
        before = self.cycles
        original(self, cycles, blocks)
        calls.append((cycles, (self.cycles - before) // cycles if cycles else 0))

    monkeypatch.setattr(engine.Engine, "_skip_idle", spy)
    yield calls


def snapshot(chip: SimChip) -> dict[str, Any]:
    """Everything the scenarios can change that anyone could observe."""
    core = chip.cores[0]
    assert core is not None
    return {"clock": chip.clock.now, "cycles": core.total_cycles, "time": core.time,
            "executed": core.executed_ns, "state": core.state, "regs": dict(core.regs),
            "debug": core.debug.state(), "ram": bytes(chip.ram[0].data[:0x4000])}


def both_ways(monkeypatch: pytest.MonkeyPatch, scenario: Callable[[], dict[str, Any]],
              skips: list[tuple[int, int]]) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """The scenario with the shortcut, then exact; the two snapshots must be equal. Returns the
    snapshot and the skips of the first run (the exact run must have none)."""
    monkeypatch.delenv(EXACT_ENV, raising=False)
    fast = scenario()
    fast_skips = list(skips)
    skips.clear()
    monkeypatch.setenv(EXACT_ENV, "1")
    exact = scenario()
    assert not skips, "STFLASH_SIM_EXACT=1 must execute every iteration"
    assert fast == exact
    return fast, fast_skips


def started(part: str, loop: str, **regs: int) -> tuple[SimChip, Debugger]:
    """A chip whose core was halted by the debugger, then resumed at ``loop`` loaded in RAM."""
    chip = SimChip(find_chip(part))
    dbg = Debugger(chip)
    dbg.halt()
    chip.write_block(CODE, LOOPS[loop].code, "debug")
    chip.write_block(FLAG, bytes(16), "debug")
    dbg.call(CODE, STACK, **{f"r{k}": v for k, v in regs.items()})
    return chip, dbg


def resume_waits_and_release(part: str, loop: str, polls: int = 6) -> dict[str, Any]:
    """The loader's situation: the core waits in RAM while the debugger polls DHCSR (each poll
    lets it run 10 ms ahead) and the clock moves with USB traffic; then the debugger writes the
    flag and the core runs on to its BKPT."""
    chip, dbg = started(part, loop, **{"6": FLAG, "3": 0x55})
    for i in range(polls):
        assert not dbg.halted()
        chip.clock.advance((i + 1) * 777_777)  # behind or ahead of the core: both happen
        dbg.read(FLAG + 4)  # a debug access: a core behind the clock catches up first
    dbg.write(FLAG + 4, 0xABCD)
    dbg.write(FLAG, 0x1234)
    dbg.wait_halt()
    shot = snapshot(chip)
    shot["r1"] = dbg.reg(R1)
    return shot


@pytest.mark.parametrize("part, loop, polls", [
    ("stm32f401re", "wait_word", 6), ("stm32h743zi", "wait_word", 3), ("stm32g071rb", "wait_word", 6),
    ("stm32f401re", "wait_two", 6), ("stm32g071rb", "wait_two", 6),
])
def test_an_idle_loop_in_ram_is_skipped_with_the_same_outcome(monkeypatch: pytest.MonkeyPatch, skips: list[
        tuple[int, int]], part: str, loop: str, polls: int) -> None:
    shot, fast_skips = both_ways(monkeypatch, lambda: resume_waits_and_release(part, loop, polls), skips)
    assert sum(n for _, n in fast_skips) > 10_000  # the shortcut did the waiting
    assert shot["state"] == "halted"
    if loop == "wait_word":
        assert shot["r1"] == 0x1234
    else:
        assert shot["regs"]["r2"] == 0  # read before the debugger wrote the second word ...
        assert shot["regs"]["r0"] == 0x1234


def test_a_catch_up_longer_than_the_work_cap_ends_the_same(monkeypatch: pytest.MonkeyPatch,
                                                           skips: list[tuple[int, int]]) -> None:
    """A core left in its loop while the clock jumps 1 s (a long ROM operation, a host sleep):
    the catch-up stops at MAX_WORK_CYCLES and skips the rest of the gap where it is."""

    def scenario() -> dict[str, Any]:
        chip, dbg = started("stm32h743zi", "wait_word", **{"6": FLAG})
        chip.clock.advance(1_000 * MS)
        dbg.read(FLAG + 8)
        chip.clock.advance(3 * MS)
        dbg.read(FLAG + 8)
        return snapshot(chip)

    shot, fast_skips = both_ways(monkeypatch, scenario, skips)
    assert fast_skips and shot["state"] == "running"


def test_a_counting_loop_runs_its_real_count(monkeypatch: pytest.MonkeyPatch, skips: list[tuple[int, int]]) -> None:
    def scenario() -> dict[str, Any]:
        chip, dbg = started("stm32f401re", "count")
        dbg.wait_halt()
        shot = snapshot(chip)
        shot["r0"] = dbg.reg(R0)
        return shot

    shot, fast_skips = both_ways(monkeypatch, scenario, skips)
    assert not fast_skips
    assert shot["r0"] == 0 and shot["regs"]["pc"] == CODE + 6  # stopped on its BKPT
    # one cycle per halfword of each block: ldr+subs+bne once, subs+bne 39999 times, the bkpt
    assert shot["cycles"] == 3 + 2 * 39_999 + 1


def test_a_loop_waiting_on_a_timer_is_not_skipped(monkeypatch: pytest.MonkeyPatch,
                                                  skips: list[tuple[int, int]]) -> None:
    """DWT_CYCCNT moves with the core's cycles: the loop reads a peripheral, it runs until the
    count. (Within one run the model's CYCCNT holds the count the run started with, so the loop
    looks like a polling loop there and waits for the next slice: a few cycles per slice.)"""
    target = 2_000

    def scenario() -> dict[str, Any]:
        chip = SimChip(find_chip("stm32f401re"))
        dbg = Debugger(chip)
        dbg.halt()
        dbg.write(DEMCR, TRCENA)
        dbg.write(DWT_CTRL, DWT_CYCCNTENA)
        chip.write_block(CODE, LOOPS["cyccnt"].code, "debug")
        dbg.call(CODE, STACK, r1=target)
        dbg.wait_halt(polls=10_000)
        shot = snapshot(chip)
        shot["r0"] = dbg.reg(R0)
        return shot

    shot, fast_skips = both_ways(monkeypatch, scenario, skips)
    assert not fast_skips
    assert shot["r0"] >= target and shot["regs"]["pc"] == CODE + 8  # on its BKPT, the count passed


def test_a_loop_that_stores_is_not_skipped(monkeypatch: pytest.MonkeyPatch, skips: list[tuple[int, int]]) -> None:
    shot, fast_skips = both_ways(monkeypatch, lambda: resume_waits_and_release("stm32f401re", "wait_store", 2),
                                 skips)
    assert not fast_skips
    assert shot["regs"]["pc"] == CODE + 8 and shot["ram"][FLAG + 8 - 0x2000_0000] == 0x55


def test_a_breakpoint_in_an_idle_loop_still_halts_there(monkeypatch: pytest.MonkeyPatch,
                                                        skips: list[tuple[int, int]]) -> None:
    """An FPB breakpoint on the loop's second instruction, set while it waits: the next slice
    halts there at once (the Cortex-M7's FPB version 2 matches any address, SRAM included)."""

    def scenario() -> dict[str, Any]:
        chip, dbg = started("stm32h743zi", "wait_word", **{"6": FLAG})
        dbg.read(FLAG)
        dbg.write(0xE000_2000, 3)  # FP_CTRL: KEY | ENABLE
        dbg.write(0xE000_2008, (CODE + 2) | 1)  # FP_COMP0: BPADDR | BE
        dbg.dhcsr()
        dbg.wait_halt()
        shot = snapshot(chip)
        shot["pc"] = dbg.reg(PC)
        return shot

    shot, _ = both_ways(monkeypatch, scenario, skips)
    assert shot["pc"] == CODE + 2


def test_registers_the_debugger_changes_start_a_new_wait(monkeypatch: pytest.MonkeyPatch,
                                                         skips: list[tuple[int, int]]) -> None:
    """Halt in the loop, point r6 at a word that is already set, resume: it leaves at once."""

    def scenario() -> dict[str, Any]:
        chip, dbg = started("stm32h743zi", "wait_word", **{"6": FLAG})
        dbg.read(FLAG)
        dbg.write(DHCSR, DBGKEY | C_HALT | C_DEBUGEN)
        dbg.write(FLAG + 12, 77)
        dbg.set_reg(6, FLAG + 12)
        dbg.set_reg(R2, 5)
        dbg.write(DHCSR, DBGKEY | C_DEBUGEN)
        dbg.wait_halt()
        shot = snapshot(chip)
        shot["r1"] = dbg.reg(R1)
        return shot

    shot, _ = both_ways(monkeypatch, scenario, skips)
    assert shot["r1"] == 77
