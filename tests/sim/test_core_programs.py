"""Thumb programs the core tests download, with their assembled bytes committed, and a debugger that
drives a simulated core only through its debug registers (DHCSR/DCRSR/DCRDR/DEMCR), as a probe's
firmware does. The one test here re-assembles every program with the GNU assembler and checks the
committed bytes are what it produces."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from stflash.sim.chip import SimChip

from tooling import require_tool

DHCSR, DCRSR, DCRDR, DEMCR = 0xE000_EDF0, 0xE000_EDF4, 0xE000_EDF8, 0xE000_EDFC
CPUID, VTOR, AIRCR, CFSR, HFSR, DFSR, BFAR = 0xE000_ED00, 0xE000_ED08, 0xE000_ED0C, 0xE000_ED28, 0xE000_ED2C, 0xE000_ED30, 0xE000_ED38
FP_CTRL, FP_COMP0, DWT_CTRL, DWT_CYCCNT = 0xE000_2000, 0xE000_2008, 0xE000_1000, 0xE000_1004
DBGKEY = 0xA05F_0000
C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS = 1, 2, 4, 8
S_REGRDY, S_HALT, S_SLEEP, S_LOCKUP, S_RETIRE_ST, S_RESET_ST = 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 24, 1 << 25
DFSR_HALTED, DFSR_BKPT, DFSR_VCATCH = 1, 2, 8
VC_CORERESET, VC_HARDERR, TRCENA = 1, 1 << 10, 1 << 24
R0, R1, R2, R3, SP, LR, PC, XPSR, MSP, PSP, SPECIAL = 0, 1, 2, 3, 13, 14, 15, 16, 17, 18, 0x14


@dataclass(frozen=True)
class Program:
    cpu: str  # -mcpu for the assembler
    base: int  # link address
    source: str
    code: bytes  # what the assembler makes of it (committed, checked below)


def _hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


PROGRAMS = {
    # ten words 0, 3, 6 ... 27 stored from r1 on, then BKPT #0x42 (position independent, ARMv6-M
    # subset: runs on every core)
    "count": Program("cortex-m0", 0x2000_0000, """
        movs r0, #0
        movs r2, #10
    1:  str  r0, [r1]
        adds r1, #4
        adds r0, #3
        subs r2, #1
        bne  1b
        bkpt #0x42
    """, _hex("00200a22 08600431 0330013a fad142be")),
    # counts in r0 forever: a busy loop that is neither "b ." nor a polling loop
    "busy": Program("cortex-m0", 0x2000_0000, """
    1:  adds r0, #1
        b    1b
    """, _hex("0130fde7")),
    # WFI with nothing to wake the core, then BKPT #7
    "sleep": Program("cortex-m0", 0x2000_0000, """
        wfi
        bkpt #7
    """, _hex("30bf07be")),
    # F2/F4 word programming, the shape of st-flash's loader: r0 source, r1 flash, r2 byte count
    # (counted down), polls BSY, stops on an error flag; host sets PSIZE and PG
    "f4_words": Program("cortex-m4", 0x2000_0000, """
        ldr  r4, =0x40023C00
    1:  ldr  r3, [r0], #4
        str  r3, [r1], #4
    2:  ldr  r5, [r4, #0x0C]
        tst  r5, #0x10000
        bne  2b
        tst  r5, #0xF2
        bne  3f
        subs r2, #4
        bgt  1b
    3:  bkpt #0
        .ltorg
    """, _hex("074c50f8 043b41f8 043be568 15f4803f fbd115f0 f20f01d1 043af2dc 00be0000 "
              "003c0240")),
    # F4: program one word (r1 flash address, r3 data) and read FLASH_SR four times in a row:
    # straight-line reads, not a polling loop, so no time is skipped between them
    "sr_reads": Program("cortex-m0", 0x2000_0000, """
        ldr  r4, =0x40023C00
        str  r3, [r1]
        ldr  r5, [r4, #0x0C]
        ldr  r6, [r4, #0x0C]
        ldr  r7, [r4, #0x0C]
        ldr  r2, [r4, #0x0C]
        bkpt #0
        .ltorg
    """, _hex("034c0b60 e568e668 e768e268 00be0000 003c0240")),
    # H7: eight words fill a 256-bit flash word; r3 = bank register base, wait QW, check errors
    "h7_flash_words": Program("cortex-m7", 0x2400_0000, """
    1:  ldmia r0!, {r4-r7}
        stmia r1!, {r4-r7}
        ldmia r0!, {r4-r7}
        stmia r1!, {r4-r7}
    2:  ldr  r4, [r3, #0x10]
        tst  r4, #4
        bne  2b
        ldr  r5, =0x07EE0000
        tst  r4, r5
        bne  3f
        subs r2, #32
        bgt  1b
    3:  bkpt #0
        .ltorg
    """, _hex("f0c8f0c1 f0c8f0c1 1c6914f0 040ffbd1 024d2c42 01d1203a f2dc00be 0000ee07")),
    # L4/G0/G4/WB: double words; r3 = FLASH base; BSY (BSY1) bit 16, errors bits 1 and 3-9
    # (ARMv6-M subset: the G0's Cortex-M0+ runs it too)
    "double_words": Program("cortex-m0", 0x2000_0000, """
    1:  ldr  r4, [r0]
        ldr  r5, [r0, #4]
        str  r4, [r1]
        str  r5, [r1, #4]
        ldr  r6, =0x10000
    2:  ldr  r4, [r3, #0x10]
        tst  r4, r6
        bne  2b
        ldr  r6, =0x3FA
        tst  r4, r6
        bne  3f
        adds r0, #8
        adds r1, #8
        subs r2, #8
        bgt  1b
    3:  bkpt #0
        .ltorg
    """, _hex("04684568 0c604d60 054e1c69 3442fcd1 044e3442 03d10830 0831083a f0dc00be "
              "00000100 fa030000")),
    # a vector table at 0x2000_0000 (VTOR), an SVC whose handler counts in r4 (its r0 is undone by
    # the exception return), then a load from an address nothing decodes: BusFault, escalated to
    # HardFault, whose handler stops at BKPT #1
    "exceptions": Program("cortex-m4", 0x2000_0000, """
    start:
        .word 0x20002000
        .word reset + 1
        .word 0
        .word hardfault + 1
        .rept 7
        .word 0
        .endr
        .word svc + 1
        .rept 4
        .word 0
        .endr
    reset:
        movs r0, #5
        movs r4, #0
        svc  #3
        adds r0, #10
        ldr  r1, =0x60000000
        ldr  r2, [r1]
        bkpt #2
    svc:
        movs r0, #99
        adds r4, #1
        bx   lr
    hardfault:
        mrs  r3, msp
        bkpt #1
        .ltorg
    """, _hex("00200020 41000020 00000000 57000020 00000000 00000000 00000000 00000000 "
              "00000000 00000000 00000000 51000020 00000000 00000000 00000000 00000000 "
              "05200024 03df0a30 4ff0c041 0a6802be 63200134 7047eff3 088301be")),
    # writes AIRCR = VECTKEY | SYSRESETREQ from the core itself
    "sysresetreq": Program("cortex-m0", 0x2000_0000, """
        ldr  r0, =0xE000ED0C
        ldr  r1, =0x05FA0004
        str  r1, [r0]
    1:  b    1b
        .ltorg
    """, _hex("01480249 0160fee7 0ced00e0 0400fa05")),
    # a firmware image: vector table, reset handler counting in r0, stores to RAM, b .
    "firmware": Program("cortex-m0", 0x0800_0000, """
        .word 0x20001000
        .word reset + 1
        .rept 14
        .word 0
        .endr
    reset:
        movs r0, #0
        adds r0, #1
        adds r0, #1
        adds r0, #1
        ldr  r1, =0x20000100
        str  r0, [r1]
    1:  b    1b
        .ltorg
    """, _hex("00100020 41000008 00000000 00000000 00000000 00000000 00000000 00000000 "
              "00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
              "00200130 01300130 01490860 fee70000 00010020")),
}


def test_committed_bytes_are_what_the_assembler_makes(tmp_path: Path) -> None:
    tools = {name: require_tool(f"arm-none-eabi-{name}") for name in ("as", "ld", "objcopy")}
    for name, prog in PROGRAMS.items():
        src, obj, elf, out = (tmp_path / f"{name}.{ext}" for ext in ("s", "o", "elf", "bin"))
        src.write_text(".syntax unified\n.thumb\n" + prog.source + "\n")
        subprocess.run([tools["as"], f"-mcpu={prog.cpu}", "-mthumb", str(src), "-o", str(obj)], check=True)
        subprocess.run([tools["ld"], f"-Ttext={prog.base:#x}", "--entry=0", "-o", str(elf), str(obj)],
                       check=True)
        subprocess.run([tools["objcopy"], "-O", "binary", str(elf), str(out)], check=True)
        assert out.read_bytes() == prog.code, f"{name}: {out.read_bytes().hex()}"


class Debugger:
    """Core control through memory accesses to the SCS, with ``master="debug"`` and an AP."""

    def __init__(self, chip: SimChip, ap: int = 0) -> None:
        self.chip = chip
        self.ap = ap

    def read(self, address: int) -> int:
        return self.chip.read(address, 4, "debug", ap=self.ap)

    def write(self, address: int, value: int) -> None:
        self.chip.write(address, 4, value, "debug", ap=self.ap)

    def dhcsr(self) -> int:
        return self.read(DHCSR)

    def halt(self) -> None:
        self.write(DHCSR, DBGKEY | C_HALT | C_DEBUGEN)
        assert self.dhcsr() & S_HALT

    def halted(self) -> bool:
        return bool(self.dhcsr() & S_HALT)

    def reg(self, sel: int) -> int:
        self.write(DCRSR, sel)
        assert self.dhcsr() & S_REGRDY
        return self.read(DCRDR)

    def set_reg(self, sel: int, value: int) -> None:
        self.write(DCRDR, value)
        self.write(DCRSR, sel | 1 << 16)
        assert self.dhcsr() & S_REGRDY

    def load(self, prog: Program, address: int | None = None) -> None:
        self.chip.write_block(prog.base if address is None else address, prog.code, "debug", ap=self.ap)

    def set_entry(self, entry: int, sp: int | None = None, **regs: int) -> None:
        """Set r0..r3 (given as r0=...), PC, SP (if given) and xPSR (Thumb) of a halted core."""
        for name, value in regs.items():
            self.set_reg(int(name[1:]), value)
        self.set_reg(PC, entry)
        if sp is not None:
            self.set_reg(SP, sp)
        self.set_reg(XPSR, 0x0100_0000)

    def call(self, entry: int, sp: int, **regs: int) -> None:
        """``set_entry``, then resume with interrupts masked."""
        self.set_entry(entry, sp, **regs)
        self.write(DHCSR, DBGKEY | C_MASKINTS | C_DEBUGEN)

    def wait_halt(self, polls: int = 1000) -> int:
        """Poll DHCSR until the core halts, as a tool does; returns the number of polls."""
        for n in range(polls):
            if self.halted():
                return n
        raise AssertionError(f"the core did not halt after {polls} polls (DHCSR {self.dhcsr():#x})")
