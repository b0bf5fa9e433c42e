"""The Cortex-M debug registers as a probe drives them: halt, core registers through DCRSR/DCRDR,
step, BKPT, vector catch, resets, the FPB, lockup, exceptions, sleep, per-core SCS on a dual-core
H7. Every check goes through memory accesses to the SCS, as ST-LINK firmware does it."""

from __future__ import annotations

import struct

import pytest
from test_core_programs import (
    AIRCR,
    BFAR,
    C_DEBUGEN,
    C_HALT,
    C_MASKINTS,
    C_STEP,
    CFSR,
    CPUID,
    DBGKEY,
    DCRDR,
    DCRSR,
    DEMCR,
    DFSR,
    DFSR_BKPT,
    DFSR_HALTED,
    DFSR_VCATCH,
    DWT_CTRL,
    DWT_CYCCNT,
    FP_COMP0,
    FP_CTRL,
    HFSR,
    LR,
    MSP,
    PC,
    PROGRAMS,
    PSP,
    R0,
    R1,
    R2,
    R3,
    S_HALT,
    S_LOCKUP,
    S_REGRDY,
    S_RESET_ST,
    S_RETIRE_ST,
    S_SLEEP,
    SP,
    SPECIAL,
    TRCENA,
    VC_CORERESET,
    VC_HARDERR,
    VTOR,
    XPSR,
    Debugger,
)

from stflash.sim.chip import SimChip
from stflash.sim.cortexm import MAX_WORK_CYCLES

from sim_helpers import make

SRAM = 0x2000_0000
TIM3_CR1 = 0x4000_0400  # a peripheral word without a model: it keeps what is written until a reset


def _halted_f401() -> tuple[Debugger, SimChip]:
    chip = make("stm32f401re")
    dbg = Debugger(chip)
    dbg.halt()
    return dbg, chip


def test_halt_run_to_bkpt_registers_and_memory() -> None:
    dbg, chip = _halted_f401()
    assert dbg.read(DFSR) & DFSR_HALTED
    dbg.write(DFSR, 0x1F)  # write-1-to-clear
    assert dbg.read(DFSR) == 0
    dbg.load(PROGRAMS["count"])
    start = chip.clock.now
    dbg.call(SRAM, 0x2000_8000, r1=0x2000_1000)
    dbg.wait_halt()
    assert dbg.reg(PC) == SRAM + 14  # DebugReturnAddress: the BKPT itself
    assert dbg.reg(R0) == 30 and dbg.reg(R1) == 0x2000_1028 and dbg.reg(R2) == 0
    assert dbg.read(DFSR) == DFSR_BKPT
    assert dbg.dhcsr() & 0xFFFF_FFFF == S_REGRDY | S_HALT | C_MASKINTS | C_HALT | C_DEBUGEN  # 0x0003000B
    words = struct.unpack("<10I", chip.read_block(0x2000_1000, 40))
    assert words == tuple(range(0, 30, 3))
    # ten loop iterations of five cycles at 16 MHz (HSI): a few microseconds, not the run-ahead slice
    assert 2_000 < chip.clock.now - start < 10_000


def test_retire_and_reset_status_bits_are_sticky_until_read() -> None:
    dbg, chip = _halted_f401()
    dbg.load(PROGRAMS["count"])
    dbg.set_entry(SRAM, r1=0x2000_1000)
    assert not dbg.dhcsr() & (S_RESET_ST | S_RETIRE_ST)  # both cleared by the halt's reads
    dbg.write(0xE000_EDF0, DBGKEY | C_DEBUGEN)
    first = dbg.dhcsr()
    assert first & S_HALT and first & S_RETIRE_ST
    assert not dbg.dhcsr() & S_RETIRE_ST
    chip.reset("system")
    assert dbg.dhcsr() & S_RESET_ST
    assert not dbg.dhcsr() & S_RESET_ST


def test_step_one_instruction_at_a_time() -> None:
    dbg, chip = _halted_f401()
    dbg.load(PROGRAMS["count"])
    dbg.set_entry(SRAM, r1=0x2000_1000, r0=0x55)
    dbg.write(DFSR, 0x1F)
    expected = [(SRAM + 2, 0), (SRAM + 4, 0), (SRAM + 6, 0), (SRAM + 8, 0), (SRAM + 10, 3)]
    for pc, r0 in expected:
        # what ST-LINK firmware sends for a step: mask interrupts, step, halt again
        dbg.write(0xE000_EDF0, DBGKEY | C_HALT | C_MASKINTS | C_DEBUGEN)
        dbg.write(0xE000_EDF0, DBGKEY | C_STEP | C_MASKINTS | C_DEBUGEN)
        assert dbg.halted()
        dbg.write(0xE000_EDF0, DBGKEY | C_HALT | C_DEBUGEN)
        assert (dbg.reg(PC), dbg.reg(R0)) == (pc, r0)
    assert dbg.read(DFSR) == DFSR_HALTED
    assert chip.read32(0x2000_1000) == 0  # the first store happened


def test_register_file_through_dcrsr() -> None:
    dbg, _ = _halted_f401()
    dbg.set_reg(MSP, 0x2000_4000)
    dbg.set_reg(PSP, 0x2000_3000)
    assert dbg.reg(SP) == 0x2000_4000  # Thread mode, CONTROL.SPSEL = 0: SP is MSP
    dbg.set_reg(SPECIAL, 0x0200_0001)  # CONTROL.SPSEL = 1, PRIMASK = 1
    assert dbg.reg(SP) == 0x2000_3000
    assert dbg.reg(SPECIAL) == 0x0200_0001
    dbg.set_reg(LR, 0x0800_0123)
    assert dbg.reg(LR) == 0x0800_0123
    dbg.set_reg(0x21, 0x0300_0000)  # FPSCR
    dbg.set_reg(0x40 + 5, 0x3F80_0000)  # S5 = 1.0f
    assert dbg.reg(0x21) == 0x0300_0000 and dbg.reg(0x45) == 0x3F80_0000
    dbg.set_reg(PC, SRAM + 1)
    assert dbg.reg(PC) == SRAM  # bit 0 of the return address is not stored
    # M0+: no FPU registers; the transfer completes, DCRDR keeps its value
    g0 = Debugger(make("stm32g071rb"))
    g0.halt()
    g0.write(DCRDR, 0x1234_5678)
    g0.write(DCRSR, 0x45)
    assert g0.dhcsr() & S_REGRDY and g0.read(DCRDR) == 0x1234_5678


def test_registers_only_while_halted() -> None:
    chip = make("stm32f401re")
    dbg = Debugger(chip)
    dbg.write(0xE000_EDF0, DBGKEY | C_DEBUGEN)
    dbg.write(DCRSR, R0)
    assert not dbg.dhcsr() & S_REGRDY
    dbg.write(0xE000_EDF0, 0x0000_0003)  # no DBGKEY: ignored
    assert not dbg.halted()


def test_vector_catch_and_sysresetreq() -> None:
    chip = make("stm32f401re")
    assert chip.rom_program(0x0800_0000, PROGRAMS["firmware"].code).ok
    dbg = Debugger(chip)
    dbg.write(0xE000_EDF0, DBGKEY | C_DEBUGEN)
    dbg.write(DEMCR, TRCENA | VC_HARDERR | VC_CORERESET)  # OpenOCD's reset-halt setting
    count = chip.reset_count
    dbg.write(AIRCR, 0x05FA_0004)
    assert chip.reset_count == count + 1
    assert dbg.dhcsr() & S_RESET_ST and not dbg.dhcsr() & S_RESET_ST
    assert dbg.halted() and dbg.read(DFSR) & DFSR_VCATCH
    assert dbg.reg(PC) == 0x0800_0040 and dbg.reg(MSP) == 0x2000_1000
    assert dbg.reg(XPSR) == 0x0100_0000
    assert chip.read32(0x2000_0100) == 0  # nothing ran yet
    dbg.write(DEMCR, 0)
    dbg.write(0xE000_EDF0, DBGKEY | C_DEBUGEN)  # run
    chip.clock.advance(1_000_000)
    assert chip.read32(0x2000_0100) == 3  # the firmware ran (catch-up before this access)
    dbg.halt()
    assert dbg.reg(PC) == 0x0800_004C  # spinning on "b ."


def test_c_halt_survives_a_system_reset_but_not_power_on() -> None:
    chip = make("stm32f401re")
    assert chip.rom_program(0x0800_0000, PROGRAMS["firmware"].code).ok
    dbg = Debugger(chip)
    dbg.halt()
    dbg.write(FP_CTRL, 3)
    chip.reset("system")  # NRST: the debug domain keeps DHCSR, DEMCR, the FPB
    assert dbg.halted() and dbg.reg(PC) == 0x0800_0040
    assert dbg.read(DFSR) & DFSR_HALTED and dbg.read(FP_CTRL) & 1
    chip.reset("power")
    assert not dbg.halted() and dbg.read(FP_CTRL) & 1 == 0
    chip.clock.advance(100_000)
    assert chip.read32(0x2000_0100) == 3


def test_sysresetreq_from_the_core_itself() -> None:
    chip = make("stm32g071rb")
    assert chip.rom_program(0x0800_0000, PROGRAMS["firmware"].code).ok
    chip.reset("power")  # the G0 checks for empty flash at power-on
    dbg = Debugger(chip)
    dbg.halt()
    dbg.load(PROGRAMS["sysresetreq"])
    dbg.write(DEMCR, VC_CORERESET)
    count = chip.reset_count
    dbg.call(SRAM, 0x2000_2000)
    assert chip.reset_count == count + 1
    assert dbg.halted() and dbg.read(DFSR) & DFSR_VCATCH and dbg.reg(PC) == 0x0800_0040


def test_vectreset_resets_the_core_only_on_armv7m() -> None:
    chip = make("stm32f401re")
    assert chip.rom_program(0x0800_0000, PROGRAMS["firmware"].code).ok
    dbg = Debugger(chip)
    dbg.halt()
    dbg.write(DEMCR, VC_CORERESET)
    chip.write32(TIM3_CR1, 0x1234)
    dbg.set_reg(PC, SRAM)
    count = chip.reset_count
    dbg.write(AIRCR, 0x05FA_0001)  # VECTRESET
    assert chip.reset_count == count and chip.read32(TIM3_CR1) == 0x1234  # the system was not reset
    assert dbg.halted() and dbg.read(DFSR) & DFSR_VCATCH and dbg.reg(PC) == 0x0800_0040
    g0 = make("stm32g071rb")
    g0dbg = Debugger(g0)
    g0dbg.halt()
    g0dbg.set_reg(PC, SRAM)
    g0dbg.write(AIRCR, 0x05FA_0001)  # reserved on ARMv6-M: nothing happens
    assert g0dbg.reg(PC) == SRAM


def test_fpb_breakpoint_halts_before_the_instruction() -> None:
    chip = make("stm32f401re")
    assert chip.rom_program(0x0800_0000, PROGRAMS["firmware"].code).ok
    dbg = Debugger(chip)
    dbg.write(0xE000_EDF0, DBGKEY | C_DEBUGEN)
    dbg.write(DEMCR, VC_CORERESET)
    chip.reset("system")
    assert dbg.read(FP_CTRL) == 0x260  # FPB v1: 6 code and 2 literal comparators, disabled
    dbg.write(FP_CTRL, 3)  # KEY | ENABLE
    dbg.write(FP_COMP0 + 4, 0x0800_0044 | 1 << 30 | 1)  # comparator 1: lower halfword of 0x08000044
    dbg.write(DFSR, 0x1F)
    dbg.write(0xE000_EDF0, DBGKEY | C_DEBUGEN)
    dbg.wait_halt()
    assert dbg.reg(PC) == 0x0800_0044 and dbg.reg(R0) == 1 and dbg.read(DFSR) == DFSR_BKPT
    dbg.write(0xE000_EDF0, DBGKEY | C_DEBUGEN)  # resuming on the breakpoint hits it again
    assert dbg.halted() and dbg.reg(PC) == 0x0800_0044
    # Cortex-M7 (FPB v2): eight comparators matching any address, BPADDR | BE
    h7 = Debugger(make("stm32h743zi"))
    assert h7.read(FP_CTRL) == 0x1000_0080
    h7.halt()
    h7.load(PROGRAMS["count"], 0x2400_0000)
    h7.write(FP_CTRL, 3)
    h7.write(FP_COMP0 + 7 * 4, 0x2400_0008 | 1)
    h7.call(0x2400_0000, 0x2400_8000, r1=0x2400_1000)
    h7.wait_halt()
    assert h7.reg(PC) == 0x2400_0008 and h7.read(DFSR) & DFSR_BKPT


def test_erased_flash_locks_the_core_up() -> None:
    chip = make("stm32f401re")  # erased: the vector table reads 0xFFFFFFFF
    dbg = Debugger(chip)
    chip.clock.advance(1_000)
    assert dbg.dhcsr() & S_LOCKUP and not dbg.dhcsr() & S_HALT
    dbg.halt()
    assert not dbg.dhcsr() & S_LOCKUP  # entering debug state leaves lockup
    # what OpenOCD shows for a blank STM32: HardFault, PC 0xfffffffe, MSP 0xffffffd8
    assert dbg.reg(XPSR) == 0x0100_0003 and dbg.reg(PC) == 0xFFFF_FFFE and dbg.reg(MSP) == 0xFFFF_FFD8
    assert dbg.read(HFSR) == 1 << 30  # FORCED


def test_svc_and_a_bus_fault_taken_through_the_vector_table() -> None:
    dbg, chip = _halted_f401()
    dbg.load(PROGRAMS["exceptions"])
    dbg.write(VTOR, SRAM)
    dbg.call(SRAM + 0x40, 0x2000_2000)
    dbg.wait_halt()
    assert dbg.reg(PC) == SRAM + 0x5A  # BKPT #1 in the HardFault handler
    assert dbg.reg(R0) == 15 and dbg.reg(4) == 1  # r0 came back from the SVC frame; r4 counted
    assert dbg.reg(XPSR) & 0x1FF == 3 and dbg.reg(LR) == 0xFFFF_FFF9
    assert dbg.read(CFSR) == (1 << 9 | 1 << 15) and dbg.read(BFAR) == 0x6000_0000  # PRECISERR, BFARVALID
    assert dbg.read(HFSR) == 1 << 30
    frame = dbg.reg(R3)
    assert frame == 0x2000_2000 - 32 == dbg.reg(MSP)
    r0, _r1, _r2, _r3, _r12, lr, pc, xpsr = struct.unpack("<8I", chip.read_block(frame, 32))
    assert r0 == 15 and pc == SRAM + 0x4C and xpsr & 0x0100_0000  # the faulting LDR
    # with VC_HARDERR the core stops on the handler's first instruction instead
    dbg.write(DEMCR, VC_HARDERR)
    dbg.write(CFSR, 0xFFFF_FFFF)
    assert dbg.read(CFSR) == 0
    dbg.call(SRAM + 0x40, 0x2000_2000)
    dbg.wait_halt()
    assert dbg.reg(PC) == SRAM + 0x56 and dbg.read(DFSR) & DFSR_VCATCH


def test_wfi_sleeps_until_halted() -> None:
    dbg, chip = _halted_f401()
    dbg.load(PROGRAMS["sleep"])
    dbg.call(SRAM, 0x2000_2000)
    assert dbg.dhcsr() & S_SLEEP and not dbg.halted()
    chip.clock.advance(5_000_000)
    assert dbg.dhcsr() & S_SLEEP
    dbg.halt()
    assert dbg.reg(PC) == SRAM + 2


def test_dwt_cycle_counter() -> None:
    dbg, chip = _halted_f401()
    assert dbg.read(DWT_CTRL) >> 28 == 4  # four comparators, CYCCNT present
    dbg.write(DEMCR, TRCENA)
    dbg.write(DWT_CTRL, 1)  # CYCCNTENA
    dbg.write(DWT_CYCCNT, 0)
    dbg.load(PROGRAMS["count"])
    dbg.call(SRAM, 0x2000_2000, r1=0x2000_1000)
    dbg.wait_halt()
    cycles = dbg.read(DWT_CYCCNT)
    assert 40 <= cycles <= 80  # two setup instructions, ten iterations of five cycles
    g0 = Debugger(make("stm32g071rb"))
    assert g0.read(DWT_CTRL) == 0x2200_0000  # ARMv6-M: two comparators, no CYCCNT


def test_each_core_of_a_dual_core_h7_has_its_own_scs() -> None:
    chip = make("stm32h745zi")
    m7, m4 = Debugger(chip, ap=0), Debugger(chip, ap=3)
    assert m7.read(CPUID) == 0x411F_C272 and m4.read(CPUID) == 0x410F_C241
    m4.halt()
    assert not m7.halted()
    m4.load(PROGRAMS["count"], 0x3000_0000)  # SRAM1 in D2, on the M4's bus
    m4.call(0x3000_0000, 0x3000_8000, r1=0x3000_1000)
    m4.wait_halt()
    assert chip.read32(0x3000_1000 + 36) == 27 and m4.reg(R0) == 30
    # the M7's DTCM is not on the M4's bus: the store faults (BusFault -> HardFault, locked up
    # with no vector table at its boot address)
    m4.call(0x3000_0000, 0x3000_8000, r1=0x2000_1000)
    chip.clock.advance(1_000)
    assert m4.dhcsr() & S_LOCKUP


def test_a_gated_core_never_runs() -> None:
    chip = make("stm32h745zi", options={"BCM7": 0})
    m7, m4 = Debugger(chip, ap=0), Debugger(chip, ap=3)
    assert chip.cores[0] is not None and chip.cores[0].state == "gated"
    m7.write(0xE000_EDF0, DBGKEY | C_HALT | C_DEBUGEN)
    assert not m7.halted()
    m4.halt()
    m4.load(PROGRAMS["count"], 0x3000_0000)
    m4.call(0x3000_0000, 0x3000_8000, r1=0x3000_1000)
    m4.wait_halt()
    assert m4.reg(R0) == 30


@pytest.mark.parametrize("part", ["stm32f030r8", "stm32f103rb", "stm32l053r8", "stm32l476rg", "stm32g474re",
                                  "stm32wb55rg", "stm32f767zi", "stm32h7a3zi"])
def test_count_runs_on_every_family(part: str) -> None:
    chip = make(part)
    dbg = Debugger(chip)
    dbg.halt()
    ram = chip.chip.ram[0].start if chip.chip.ram[0].start else chip.chip.ram[1].start
    dbg.load(PROGRAMS["count"], ram)
    dbg.call(ram, ram + 0x800, r1=ram + 0x400)
    dbg.wait_halt()
    assert dbg.reg(R0) == 30 and chip.read32(ram + 0x400 + 36) == 27


def test_a_core_far_behind_the_clock_skips_ahead() -> None:
    dbg, chip = _halted_f401()
    dbg.load(PROGRAMS["busy"])
    dbg.write(DEMCR, 0)
    dbg.set_entry(SRAM, r0=0)
    dbg.write(0xE000_EDF0, DBGKEY)  # debug off: the core runs, no run-ahead
    chip.clock.advance(10 * 1_000_000_000)  # ten seconds: 160 million cycles at 16 MHz
    chip.sync_cores()
    core = chip.cores[0]
    assert core is not None and core.time == chip.clock.now
    dbg.halt()
    # MAX_WORK_CYCLES (two million) were executed, two cycles per iteration; the rest was skipped
    assert dbg.reg(R0) == MAX_WORK_CYCLES // 2


def test_a_reset_the_core_requested_while_catching_up_precedes_the_next_access() -> None:
    """The core runs on its own (debug off) and writes SYSRESETREQ long before the probe's next
    access: that access already sees the chip after the reset."""
    dbg, chip = _halted_f401()
    dbg.load(PROGRAMS["sysresetreq"])
    dbg.set_entry(SRAM, 0x2000_2000)
    chip.write32(TIM3_CR1, 0x1234)  # a peripheral word the reset clears
    dbg.write(0xE000_EDF0, DBGKEY)  # debug off: the core leaves the halt, no run-ahead
    count = chip.reset_count
    chip.clock.advance(1_000_000)
    assert chip.read32(TIM3_CR1) == 0
    assert chip.reset_count == count + 1
    assert dbg.dhcsr() & S_RESET_ST
