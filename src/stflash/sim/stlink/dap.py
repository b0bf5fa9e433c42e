"""The target's debug access port as the probe drives it over SWD: the SW-DP (DPIDR, CTRL/STAT
with the power-up handshake and sticky flags, SELECT, RDBUFF, ABORT, the DPv2 banked registers)
and the MEM-APs behind it (CSW, TAR, DRW, BD0-3, CFG, BASE, IDR, auto-increment with its wrap).

Written from ARM's ADIv5.2 (B2 DP registers, C2 MEM-AP registers). Every DP/AP access is one SWD
transaction; the model counts them so the probe can charge wire time. Memory accesses reach the
chip through ``SimChip.read/write(..., master="debug", ap=N)``; identification words and ROM
tables come from :mod:`.coresight`.

State that lives in the target's debug domain (power requests, sticky flags, SELECT, each AP's CSW
and TAR) is kept in a JSON-compatible dict so it survives between processes.

``drw_block`` does a run of 32-bit DRW accesses into plain RAM at once, with the transactions,
register state and memory they would leave one by one; anything else (another region, a fault, a
WAIT, a core that would run first) is refused and goes word by word. ``BLOCK_ACCESS = False`` or
``STFLASH_SIM_EXACT=1`` turns it off.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...chips.model import FlashKind
from ..bus import RamRegion
from ..clock import exact
from ..faults import BusFault, PowerLost
from ..scenarios import LOW_POWER
from .coresight import APB_AP_H7, ApSpec, Topology, topology

if TYPE_CHECKING:
    from ..bench import Bench

# DP registers (address bits [3:2]) and banks of 0x4
DP_DPIDR = 0x0  # read; write = ABORT
DP_CTRL_STAT = 0x4
DP_SELECT = 0x8  # write; read = RESEND
DP_RDBUFF = 0xC

# CTRL/STAT bits
ORUNDETECT = 1 << 0
STICKYORUN = 1 << 1
STICKYCMP = 1 << 4
STICKYERR = 1 << 5
READOK = 1 << 6
WDATAERR = 1 << 7
CDBGRSTREQ = 1 << 26
CDBGRSTACK = 1 << 27
CDBGPWRUPREQ = 1 << 28
CDBGPWRUPACK = 1 << 29
CSYSPWRUPREQ = 1 << 30
CSYSPWRUPACK = 1 << 31
CTRL_WRITABLE = 0x54FF_FF0D  # ORUNDETECT, TRNMODE, MASKLANE, TRNCNT, the three requests
STICKY_FLAGS = STICKYORUN | STICKYCMP | STICKYERR | WDATAERR
# each request and the acknowledge that follows it
REQUEST_ACKS = ((CDBGPWRUPREQ, CDBGPWRUPACK), (CSYSPWRUPREQ, CSYSPWRUPACK), (CDBGRSTREQ, CDBGRSTACK))

# ABORT bits, and the sticky flag each clear bit clears
DAPABORT = 1 << 0
STKCMPCLR = 1 << 1
STKERRCLR = 1 << 2
WDERRCLR = 1 << 3
ORUNERRCLR = 1 << 4
ABORT_CLEARS = ((STKCMPCLR, STICKYCMP), (STKERRCLR, STICKYERR), (WDERRCLR, WDATAERR), (ORUNERRCLR, STICKYORUN))

# MEM-AP registers
AP_CSW = 0x00
AP_TAR = 0x04
AP_TAR_HI = 0x08
AP_DRW = 0x0C
AP_BD0 = 0x10
AP_MBT = 0x20
AP_BASE_HI = 0xF0
AP_CFG = 0xF4
AP_BASE = 0xF8
AP_IDR = 0xFC

CSW_SIZE = 0x7
CSW_ADDRINC = 0x30
CSW_DEVICEEN = 1 << 6

PPB_START = 0xE000_0000
BLOCK_ACCESS = True  # see drw_block (STFLASH_SIM_EXACT=1 turns it off too)
SILENCING_FIRMWARE = ("swd-disabled",)  # firmware scenarios whose effect takes the SW-DP off the pins

# What a gated core's AP answers to a memory access (m7-boot-disabled): its AHB slave port is
# clock-gated, so the transfer never completes and the DP keeps answering WAIT. A modelling
# choice (the field reports only say "AP0 does not work").
GATED_AP_ACK = "WAIT"

# Stop mode with DBG_STOP clear (the low-power scenario): the SW-DP is clocked by SWCLK and keeps
# answering, but HCLK is stopped (RM0090 / RM0433 "Debug support for low-power modes"), so a
# MEM-AP transfer into the system never completes and the DP answers WAIT, as for a gated core's
# AP. The AP registers themselves (CSW, TAR, IDR) keep answering, as they do for a gated core
# (modelling choice).
# The H7's debug APB port (AP2: DBGMCU at 0xE00E1000, SWO, TPIU) in Stop. POLICY, UNCONFIRMED (no
# capture of an AP2 access to a stopped H7 was found): WAIT as well. Basis: the debug APB is fed
# from the system clock tree, which Stop switches off, and debug in Stop has its own D3 bit beside
# the D1 one: DBGMCU_CR.DBG_STOPD3 (bit 7, "allow debug in D3 Stop mode", reset value 0;
# families.md 12.11), which the scenario firmware never sets. That AP2 works while NRST is held
# (OpenOCD stm32h7x.cfg) says nothing about Stop: a reset keeps the clocks running. "OK" would
# let the DBGMCU answer through AP2 during Stop.
H7_APB_D_IN_STOP = "WAIT"

# JTAG-DP IDCODEs of the SWJ-DPs (the SW-DP only parts, Cortex-M0/M0+, have no JTAG).
JTAG_IDCODE = {0x1BA0_1477: 0x3BA0_0477, 0x2BA0_1477: 0x4BA0_0477, 0x5BA0_2477: 0x5BA0_0477,
               0x6BA0_2477: 0x6BA0_0477}


class Ack(enum.Enum):
    """The SWD acknowledge of one transaction (NONE: nobody drove the line)."""

    OK = 1
    WAIT = 2
    FAULT = 4
    NONE = 7


@dataclass
class Access:
    ack: Ack
    value: int = 0


def target_powered(bench: Bench) -> bool:
    """Is the target supplied? (``Bench.create`` records the no-target-power scenario without
    clearing ``board.powered``, so both are consulted.)"""
    return bench.board.powered and "no-target-power" not in bench.board.scenarios


def link_problem(bench: Bench) -> str | None:
    """Why the SW-DP does not answer right now, or None when it does."""
    if not target_powered(bench):
        return "the target has no supply"
    if bench.supply_locked():  # NRST does not help: VCORE is not regulated (ST-KB-H7PWR)
        return "the STM32H7 supply lock-up is latched until a power-on reset"
    chip = bench.chip
    if chip.rdp_level == 2:
        return "read-out protection level 2 disabled the debug port"
    if not chip.debug_enabled:
        return "debug access is disabled"
    for name in SILENCING_FIRMWARE:
        if name in bench.board.scenarios and bench.firmware_effect(name):
            return f"the firmware's {name} behaviour silences the debug port"
    return None


def clocks_stopped(bench: Bench) -> bool:
    """Has the low-power firmware put the chip in Stop with debug in Stop off? (The SW-DP still
    answers; memory accesses through the APs do not complete.)"""
    return LOW_POWER in bench.board.scenarios and bench.firmware_effect(LOW_POWER)


def _mapped(value: int, pairs: tuple[tuple[int, int], ...]) -> int:
    """The second bit of every pair whose first bit ``value`` has set."""
    out = 0
    for when, then in pairs:
        if value & when:
            out |= then
    return out


def dp_version(dpidr: int) -> int:
    return (dpidr >> 12) & 0xF


def target_id(bench: Bench) -> int:
    """DPv2 TARGETID: TPARTNO = DEV_ID << 4, designer ST (JEP106 0x20), as probe-rs shows for an
    H7 ("Designer: STMicroelectronics, Part: 0x4500")."""
    return ((bench.chip.chip.dev_id << 4) << 12) | (0x20 << 1) | 1


class Dap:
    """The DP and APs of the bench's chip for one probe command. ``state`` is the persisted dict."""

    def __init__(self, bench: Bench, state: dict[str, Any], jtag: bool = False) -> None:
        self.bench = bench
        self.state = state
        self.jtag = jtag
        self.topology: Topology = topology(bench.chip.chip)
        self.transactions = 0
        self.problem = link_problem(bench)
        self.stopped = self.problem is None and clocks_stopped(bench)
        state.setdefault("ctrl", 0)
        state.setdefault("sticky", 0)
        state.setdefault("select", 0)
        state.setdefault("rdbuff", 0)
        state.setdefault("readok", 0)
        state.setdefault("dlcr", 0x40)
        state.setdefault("aps", {})

    # -- helpers ------------------------------------------------------------------------------
    @property
    def answers(self) -> bool:
        return self.problem is None

    def dpidr(self) -> int:
        idcode = self.bench.chip.chip.dp_idcode
        return JTAG_IDCODE.get(idcode, 0) if self.jtag else idcode

    def ap_registers(self, ap: int) -> list[int]:
        """[CSW, TAR] of AP ``ap`` as the target holds them."""
        regs = self.state["aps"].get(str(ap))
        if regs is None:
            spec = self.topology.aps.get(ap)
            regs = [spec.kind.csw_reset if spec else 0, 0]
            self.state["aps"][str(ap)] = regs
        return list(regs)

    def _set_ap_regs(self, ap: int, csw: int, tar: int) -> None:
        self.state["aps"][str(ap)] = [csw & 0xFFFF_FFFF, tar & 0xFFFF_FFFF]

    def _sticky(self) -> bool:
        return bool(self.state["sticky"] & (STICKYERR | STICKYORUN | WDATAERR))

    # -- DP --------------------------------------------------------------------------------------
    def read_dp(self, reg: int, bank: int = 0) -> Access:
        self.transactions += 1
        if not self.answers:
            return Access(Ack.NONE)
        reg &= 0xC
        if self._sticky() and reg not in (DP_DPIDR, DP_CTRL_STAT):
            return Access(Ack.FAULT)
        if reg == DP_DPIDR:
            value = self.dpidr()
        elif reg == DP_CTRL_STAT:
            value = self._banked(bank or self.state["select"] & 0xF)
        else:  # RESEND and RDBUFF both return the last AP read result
            value = self.state["rdbuff"]
        return Access(Ack.OK, value)

    def _banked(self, bank: int) -> int:
        version = dp_version(self.bench.chip.chip.dp_idcode)
        if bank == 0:
            ctrl = int(self.state["ctrl"])
            acks = _mapped(ctrl, REQUEST_ACKS)
            return ctrl | acks | int(self.state["sticky"]) | (READOK if self.state["readok"] else 0)
        if bank == 1 and version >= 1:
            return int(self.state["dlcr"])
        if version >= 2:
            return {2: target_id(self.bench), 3: 0x0000_0001, 4: 0x0000_0000}.get(bank, 0)
        return 0

    def write_dp(self, reg: int, value: int, bank: int = 0) -> Ack:
        self.transactions += 1
        if not self.answers:
            return Ack.NONE
        reg &= 0xC
        if self._sticky() and reg != DP_DPIDR:
            return Ack.FAULT
        if reg == DP_DPIDR:  # ABORT
            self.state["sticky"] &= ~_mapped(value, ABORT_CLEARS)
        elif reg == DP_CTRL_STAT:
            bank = bank or self.state["select"] & 0xF
            if bank == 0:
                self.state["ctrl"] = value & CTRL_WRITABLE
            elif bank == 1:
                self.state["dlcr"] = value & 0x0000_0340 | 0x40
        elif reg == DP_SELECT:
            self.state["select"] = value & 0xFF00_00FF
        # RDBUFF writes (TARGETSEL outside a line reset) are ignored
        return Ack.OK

    def select(self, value: int) -> Ack:
        """The probe's own SELECT write, skipped when SELECT already holds the value."""
        if self.state["select"] == value & 0xFF00_00FF and self.answers:
            return Ack.OK
        return self.write_dp(DP_SELECT, value)

    def clear_sticky(self) -> Ack:
        return self.write_dp(DP_DPIDR, STKCMPCLR | STKERRCLR | WDERRCLR | ORUNERRCLR)

    def _fault(self) -> Ack:
        self.state["sticky"] |= STICKYERR
        return Ack.FAULT

    # -- AP registers ---------------------------------------------------------------------------------
    def read_ap(self, ap: int, reg: int) -> Access:
        self.transactions += 1
        if not self.answers:
            return Access(Ack.NONE)
        if self._sticky():
            return Access(Ack.FAULT)
        if not self._powered():
            return Access(self._fault())
        spec = self.topology.aps.get(ap)
        reg &= 0xFC
        if spec is None:  # no AP at this APSEL: reads as zero
            return self._read_done(0)
        csw, tar = self.ap_registers(ap)
        if reg == AP_CSW:
            return self._read_done(csw | CSW_DEVICEEN)
        if reg == AP_TAR:
            return self._read_done(tar)
        if reg == AP_IDR:
            return self._read_done(spec.kind.idr)
        if reg == AP_BASE:
            return self._read_done(spec.base)
        if reg in (AP_CFG, AP_BASE_HI, AP_TAR_HI, AP_MBT):
            return self._read_done(0)
        if reg == AP_DRW or AP_BD0 <= reg < AP_BD0 + 0x10:
            return self._drw(ap, spec, reg, None)
        return self._read_done(0)

    def write_ap(self, ap: int, reg: int, value: int) -> Ack:
        self.transactions += 1
        if not self.answers:
            return Ack.NONE
        if self._sticky():
            return Ack.FAULT
        if not self._powered():
            return self._fault()
        spec = self.topology.aps.get(ap)
        reg &= 0xFC
        if spec is None:
            return Ack.OK
        csw, tar = self.ap_registers(ap)
        if reg == AP_CSW:
            kind = spec.kind
            new = (csw & ~kind.csw_writable) | (value & kind.csw_writable)
            if new & CSW_SIZE not in kind.sizes:  # an unsupported size reads back as a supported one
                new = (new & ~CSW_SIZE) | 2
            self._set_ap_regs(ap, new, tar)
            return Ack.OK
        if reg == AP_TAR:
            self._set_ap_regs(ap, csw, value)
            return Ack.OK
        if reg == AP_DRW or AP_BD0 <= reg < AP_BD0 + 0x10:
            return self._drw(ap, spec, reg, value & 0xFFFF_FFFF).ack
        return Ack.OK

    def _read_done(self, value: int) -> Access:
        self.state["rdbuff"] = value & 0xFFFF_FFFF
        self.state["readok"] = 1
        return Access(Ack.OK, value & 0xFFFF_FFFF)

    def _powered(self) -> bool:
        ctrl = self.state["ctrl"]
        return bool(ctrl & CDBGPWRUPREQ and ctrl & CSYSPWRUPREQ)

    # -- memory through DRW / BDn ---------------------------------------------------------------
    def _drw(self, ap: int, spec: ApSpec, reg: int, value: int | None) -> Access:
        csw, tar = self.ap_registers(ap)
        size = 1 << (csw & CSW_SIZE) if csw & CSW_SIZE in (0, 1, 2) else 4
        if reg == AP_DRW:
            address = tar
        else:
            address = (tar & ~0xF) | (reg - AP_BD0)
            size = 4
        result = self.memory(ap, spec, address, size, value)
        if result.ack is Ack.OK and reg == AP_DRW and csw & CSW_ADDRINC:
            wrap = spec.kind.wrap
            tar = (tar & ~(wrap - 1)) | ((tar + size) & (wrap - 1))
            self._set_ap_regs(ap, csw, tar)
        if value is None and result.ack is Ack.OK:
            return self._read_done(result.value)
        return result

    def block_access(self) -> bool:
        """May ``drw_block`` be tried (``BLOCK_ACCESS`` and not ``STFLASH_SIM_EXACT=1``)?"""
        return BLOCK_ACCESS and not exact()

    def drw_block(self, ap: int, count: int, values: list[int] | None) -> list[int] | None:
        """``count`` 32-bit DRW accesses through AP ``ap`` at once (writes of ``values``, or reads
        when it is None, returning what they read), exactly as ``count`` ``write_ap``/``read_ap``
        calls would leave the transaction count, RDBUFF, TAR and memory; None, with nothing done,
        unless every one of them would answer OK from plain RAM with no core running first:

        * the DP answers and is powered, no sticky flag, CSW is 32-bit with single increment and
          TAR is aligned, the accesses stay inside one auto-increment block (TAR wraps at its end);
        * the AP's gate lets the addresses through and the chip's debug port is enabled; no
          identification word lies in the range; one ``RamRegion`` (no subclass) answers it whole;
        * no core is behind the clock and no reset is pending: the chip's per-access catch-up
          would do nothing, and nothing runs or moves the clock between the accesses."""
        if not self.answers or self._sticky() or not self._powered() or count <= 0:
            return None
        spec = self.topology.aps.get(ap)
        if spec is None:
            return None
        csw, tar = self.ap_registers(ap)
        wrap = spec.kind.wrap
        length = 4 * count
        if csw & CSW_SIZE != 2 or csw & CSW_ADDRINC != 0x10 or tar % 4 or tar % wrap + length > wrap:
            return None
        if self._gate(ap, spec, tar) is not Ack.OK or self._gate(ap, spec, tar + length - 4) is not Ack.OK:
            return None
        if any(start < tar + length and tar < end for start, end in self.topology.ranges.get(ap, ())):
            return None
        chip = self.bench.chip
        region = chip.bus.find(tar, length)
        if type(region) is not RamRegion or not chip.debug_enabled or chip._pending_reset is not None:
            return None
        now = chip.clock.now
        if any(core is not None and now > core.time for core in chip.cores):
            return None
        chip.intrusion = True  # what chip.read/write record for every debug access
        chip.access_ap = ap
        offset = tar - region.start
        out: list[int] = []
        if values is None:
            out = list(struct.unpack_from(f"<{count}I", region.data, offset))
            self.state["rdbuff"] = out[-1]
            self.state["readok"] = 1
        else:
            struct.pack_into(f"<{count}I", region.data, offset, *(v & 0xFFFF_FFFF for v in values))
        self.transactions += count
        self._set_ap_regs(ap, csw, (tar & ~(wrap - 1)) | ((tar + length) & (wrap - 1)))
        return out

    def memory(self, ap: int, spec: ApSpec, address: int, size: int, value: int | None) -> Access:
        """One bus access of ``size`` bytes by the MEM-AP; data in its byte lanes (ADIv5 C2.2.6)."""
        address &= 0xFFFF_FFFF
        aligned = address & ~(size - 1)
        gate = self._gate(ap, spec, aligned)
        if gate is not Ack.OK:
            return Access(self._fault() if gate is Ack.FAULT else gate)
        chip = self.bench.chip
        word = self.topology.overlay(ap, aligned & ~3)
        try:
            if value is None:
                if word is not None:
                    data = (word >> (8 * (aligned & 3))) & ((1 << (8 * size)) - 1)
                else:
                    data = chip.read(aligned, size, master="debug", ap=ap)
                return Access(Ack.OK, (data << (8 * (aligned & 3 if size < 4 else 0))) & 0xFFFF_FFFF)
            if word is None:
                part = (value >> (8 * (aligned & 3))) & ((1 << (8 * size)) - 1) if size < 4 else value
                chip.write(aligned, size, part, master="debug", ap=ap)
            return Access(Ack.OK)
        except BusFault:
            return Access(self._fault())
        except PowerLost:  # the target died under this access: nobody drives SWDIO any more
            return Access(Ack.NONE)

    def _gate(self, ap: int, spec: ApSpec, address: int) -> Ack:
        if self.stopped and (spec.kind is not APB_AP_H7 or H7_APB_D_IN_STOP == "WAIT"):
            return Ack.WAIT
        chip = self.bench.chip
        if spec.core is not None and not chip.access_port_available(ap):
            return Ack.WAIT if GATED_AP_ACK == "WAIT" else Ack.FAULT
        if not chip.debug_enabled:
            return Ack.FAULT
        window = spec.kind.window
        if window is not None and not window[0] <= address < window[1]:
            return Ack.FAULT
        # H7: while NRST is held the AXI/AHB system bus is in reset; only the core's private
        # peripheral bus answers through its AP (OpenOCD stm32h7x.cfg, ST-LINK notes).
        if (self.bench.board.nrst_held and chip.chip.flash_kind is FlashKind.H7 and window is None
                and address < PPB_START):
            return Ack.FAULT
        return Ack.OK
