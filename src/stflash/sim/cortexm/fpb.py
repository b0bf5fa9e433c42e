"""The Flash Patch and Breakpoint unit (0xE000_2000) and a minimal Data Watchpoint and Trace unit
(0xE000_1000) of one core (their CoreSight identification words are the probe model's).

Only the breakpoint side of the FPB acts (a matching comparator halts the core); remapping is
stored but not applied. DWT comparators are stored but never trigger (no DWTTRAP); CYCCNT counts
the core's modelled cycles while DEMCR.TRCENA and DWT_CTRL.CYCCNTENA are set.
"""

from __future__ import annotations

from typing import Any

from .profile import CoreProfile

MASK32 = 0xFFFF_FFFF
FP_CTRL, FP_REMAP, FP_COMP0 = 0x000, 0x004, 0x008
FP_CTRL_ENABLE, FP_CTRL_KEY = 1, 2
FP_REMAP_RMPSPT = 1 << 29
DWT_CTRL, DWT_CYCCNT, DWT_COMP0 = 0x000, 0x004, 0x020
DWT_CYCCNTENA = 1

class Fpb:
    def __init__(self, profile: CoreProfile) -> None:
        self.profile = profile
        self.enabled = False
        self.remap = 0
        self.comps = [0] * (profile.fpb_code + profile.fpb_literal)

    def reset(self) -> None:
        """Power-on reset (the debug domain); a system reset keeps the breakpoints."""
        self.enabled = False
        self.remap = 0
        self.comps = [0] * len(self.comps)

    def read(self, offset: int) -> int:
        if offset == FP_CTRL:
            return self.profile.fp_ctrl() | (FP_CTRL_ENABLE if self.enabled else 0)
        if offset == FP_REMAP:
            if self.profile.fpb_rev or self.profile.v6m:
                return 0
            return FP_REMAP_RMPSPT | (self.remap & 0x1FFF_FFE0)
        n = (offset - FP_COMP0) // 4
        if offset >= FP_COMP0 and n < len(self.comps):
            return self.comps[n]
        return 0

    def write(self, offset: int, value: int) -> None:
        if offset == FP_CTRL:
            if value & FP_CTRL_KEY:  # writes without KEY are ignored
                self.enabled = bool(value & FP_CTRL_ENABLE)
        elif offset == FP_REMAP:
            if not (self.profile.fpb_rev or self.profile.v6m):
                self.remap = value & 0x1FFF_FFE0
        else:
            n = (offset - FP_COMP0) // 4
            if offset >= FP_COMP0 and n < len(self.comps):
                self.comps[n] = value & (MASK32 if self.profile.fpb_rev else 0xDFFF_FFFD)

    def breakpoints(self) -> list[int]:
        """Instruction addresses at which the core halts (FPB version 2: BPADDR|BE; version 1 and
        the ARMv6-M BPU: COMP[28:2] with REPLACE/BP_MATCH choosing the halfword(s))."""
        if not self.enabled:
            return []
        out: list[int] = []
        for comp in self.comps[: self.profile.fpb_code]:
            if not comp & 1:
                continue
            if self.profile.fpb_rev:
                out.append(comp & ~1)
                continue
            base, match = comp & 0x1FFF_FFFC, comp >> 30
            if match & 1:
                out.append(base)
            if match & 2:
                out.append(base + 2)
        return out

    def state(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "remap": self.remap, "comps": list(self.comps)}

    def load(self, state: dict[str, Any]) -> None:
        self.enabled = bool(state["enabled"])
        self.remap = int(state["remap"])
        comps = [int(c) for c in state["comps"]]
        self.comps = (comps + [0] * len(self.comps))[: len(self.comps)]


class Dwt:
    def __init__(self, profile: CoreProfile) -> None:
        self.profile = profile
        self.ctrl = 0  # writable bits only
        self.cyc_base = 0  # CYCCNT at the anchor
        self.cyc_anchor = 0  # core cycle count when CYCCNT was last written or (re)started
        self.counting = False
        self.words: dict[int, int] = {}  # comparators, masks, functions and the other counters

    def reset(self) -> None:
        self.ctrl = self.cyc_base = self.cyc_anchor = 0
        self.counting = False
        self.words = {}

    def cyccnt(self, cycles: int) -> int:
        run = cycles - self.cyc_anchor if self.counting else 0
        return (self.cyc_base + run) & MASK32

    def retime(self, trace_enabled: bool, cycles: int) -> None:
        """DEMCR.TRCENA or CYCCNTENA changed: freeze or restart CYCCNT at ``cycles``."""
        self.cyc_base = self.cyccnt(cycles)
        self.cyc_anchor = cycles
        self.counting = trace_enabled and self.profile.has_cyccnt and bool(self.ctrl & DWT_CYCCNTENA)

    def read(self, offset: int, cycles: int) -> int:
        if offset == DWT_CTRL:
            return self.profile.dwt_ctrl() | self.ctrl
        if offset == DWT_CYCCNT:
            return self.cyccnt(cycles) if self.profile.has_cyccnt else 0
        return self.words.get(offset, 0)

    def write(self, offset: int, value: int, cycles: int, trace_enabled: bool) -> None:
        if offset == DWT_CTRL:
            self.ctrl = value & (0x007F_FFFF if self.profile.has_cyccnt else 0)
            self.retime(trace_enabled, cycles)
        elif offset == DWT_CYCCNT:
            if self.profile.has_cyccnt:
                self.cyc_base, self.cyc_anchor = value & MASK32, cycles
        elif offset < 0xFD0:
            self.words[offset] = value & MASK32

    def state(self) -> dict[str, Any]:
        return {"ctrl": self.ctrl, "cyc_base": self.cyc_base, "cyc_anchor": self.cyc_anchor,
                "counting": self.counting, "words": {str(k): v for k, v in self.words.items()}}

    def load(self, state: dict[str, Any]) -> None:
        self.ctrl = int(state["ctrl"])
        self.cyc_base = int(state["cyc_base"])
        self.cyc_anchor = int(state["cyc_anchor"])
        self.counting = bool(state["counting"])
        self.words = {int(k): int(v) for k, v in state["words"].items()}
