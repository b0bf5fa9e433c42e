"""The ST-LINK firmware: one 16-byte command block in, a reply (or a data phase) out.

The command set, reply sizes and status codes follow stlink.md §2-§4; target accesses go through
:class:`.dap.Dap` the way the firmware does them over SWD (SELECT, CSW, TAR, DRW, RDBUFF), so core
registers are read through DCRSR/DCRDR and run/halt/step are DHCSR writes. What the probe keeps
between host sessions (its mode, clock setting, last transfer status, the target's debug-domain
state) lives in ``bench.board.link_state["stlink"]``.

Behaviour the references leave open is decided by the ``POLICY`` constants below.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import zero_costs
from ..usb.stlink_identity import StlinkKind
from ..usb.timing import STLINK_TIMING
from . import firmware as fw
from . import protocol as p
from .dap import (
    AP_CSW,
    AP_DRW,
    AP_IDR,
    AP_TAR,
    CDBGPWRUPREQ,
    CSW_ADDRINC,
    CSW_SIZE,
    CSYSPWRUPREQ,
    DAPABORT,
    DP_CTRL_STAT,
    DP_DPIDR,
    DP_RDBUFF,
    Access,
    Ack,
    Dap,
    target_powered,
)
from .firmware import FirmwareVersion

if TYPE_CHECKING:
    from ..bench import Bench

# Cortex-M debug registers (ARMv7-M C1.6, ARMv6-M C1.6)
DHCSR = 0xE000_EDF0
DCRSR = 0xE000_EDF4
DCRDR = 0xE000_EDF8
AIRCR = 0xE000_ED0C
FP_COMP0 = 0xE000_2008
DWT_COMP0 = 0xE000_1020
DBGKEY = 0xA05F_0000
C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS = 1, 2, 4, 8
S_REGRDY = 1 << 16
S_HALT = 1 << 17
REGWNR = 1 << 16
SYSRESETREQ = 0x05FA_0004

# -- policies: choices where the references are silent (each UNCONFIRMED) ------------------------
WAIT_RETRIES = 100  # WAIT answers the firmware absorbs before reporting SWD_AP_WAIT / SWD_DP_WAIT
REGRDY_POLLS = 10  # DHCSR reads waiting for S_REGRDY before a register command gives up (AP WAIT)
NRST_PULSE_NS = 1_000_000  # DRIVE_NRST PULSE width
TARGET_VOLTAGE = 3.3  # what GET_TARGET_VOLTAGE measures on a powered board
UNPOWERED_VOLTAGE = 0.005  # the reading without target supply (ADC noise)
VREF_COUNTS = 1500  # a0: the probe's ADC reading of its 1.2 V reference
NOT_IN_DEBUG_STATUS = p.NO_DEVICE_CONNECTED  # target commands sent outside debug mode
# Commands the firmware refuses before ENTER (they need the SWD link)
_TARGET_COMMANDS = frozenset({
    p.GETSTATUS, p.FORCEDEBUG, p.APIV1_RESETSYS, p.APIV1_READALLREGS, p.APIV1_READREG,
    p.APIV1_WRITEREG, p.READMEM_32BIT, p.WRITEMEM_32BIT, p.RUNCORE, p.STEPCORE, p.APIV1_SETFP,
    p.READMEM_8BIT, p.WRITEMEM_8BIT, p.APIV1_CLEARFP, p.APIV1_WRITEDEBUGREG, p.APIV1_SETWATCHPOINT,
    p.READCOREID, p.APIV2_READ_IDCODES, p.APIV2_RESETSYS, p.APIV2_READREG, p.APIV2_WRITEREG,
    p.APIV2_WRITEDEBUGREG, p.APIV2_READDEBUGREG, p.APIV2_READALLREGS, p.READ_DAP_REG, p.WRITE_DAP_REG,
    p.READMEM_16BIT, p.WRITEMEM_16BIT, p.INIT_AP, p.CLOSE_AP_DBG, p.WRITEMEM_32BIT_NO_ADDR_INC,
    p.RW_MISC_OUT, p.RW_MISC_IN, p.READMEM_32BIT_NO_ADDR_INC,
})
_READS = {p.READMEM_32BIT: 4, p.READMEM_16BIT: 2, p.READMEM_8BIT: 1, p.READMEM_32BIT_NO_ADDR_INC: 4}
_WRITES = {p.WRITEMEM_32BIT: 4, p.WRITEMEM_16BIT: 2, p.WRITEMEM_8BIT: 1, p.WRITEMEM_32BIT_NO_ADDR_INC: 4}
_FORMAT = {1: "B", 2: "H", 4: "I"}  # struct codes of the access widths
_ALL_REGS = tuple(range(19)) + (0x14,)  # r0-r15, xPSR, MSP, PSP, CONTROL/FAULTMASK/BASEPRI/PRIMASK


def _status(code: int) -> bytes:
    return bytes([code, 0])


def _ack_status(ack: Ack, ap: bool) -> int:
    if ack is Ack.OK:
        return p.OK
    if ack is Ack.WAIT:
        return p.SWD_AP_WAIT if ap else p.SWD_DP_WAIT
    if ack is Ack.FAULT:
        return p.SWD_AP_FAULT if ap else p.SWD_DP_FAULT
    return p.SWD_DP_ERROR  # nobody answers: a protocol error on the DP


@dataclass
class Outcome:
    """What the probe does after a command block: send ``reply`` (None: nothing), or first take
    ``expect`` more bytes of data on the OUT endpoint."""

    reply: bytes | None = None
    expect: int = 0


def initial_mode(kind: str) -> int:
    """ST-LINK/V2 and V2-1 come up in DFU mode (debug logs of freshly plugged probes), V3 in mass
    storage mode."""
    return p.MODE_MASS if kind == "V3" else p.MODE_DFU


class StlinkFirmware:
    """One command's worth of probe firmware over the bench (reloaded state, no caching)."""

    def __init__(self, bench: Bench, kind: StlinkKind) -> None:
        self.bench = bench
        self.kind = kind
        s = bench.board.link_state.setdefault("stlink", {})
        s.setdefault("mode", initial_mode(kind.name))
        s.setdefault("swd_div", fw.V2_SWD_DEFAULT_DIVISOR)
        s.setdefault("jtag_div", fw.V2_JTAG_DEFAULT_DIVISOR)
        s.setdefault("prescaler", fw.V3_DEFAULT_PRESCALER)
        s.setdefault("khz", fw.V3_DEFAULT_KHZ)
        s.setdefault("jtag_khz", fw.V3_DEFAULT_KHZ)
        s.setdefault("last_rw", [p.OK, 0])
        s.setdefault("open_aps", [])
        s.setdefault("core_ap", 0)
        s.setdefault("protocol", "")
        s.setdefault("dap", {})
        self.s: dict[str, Any] = s
        override = s.get("firmware")
        self.fw: FirmwareVersion = (FirmwareVersion.parse(override) if override
                                    else fw.DEFAULT_FIRMWARE[kind.name])
        self.dap = Dap(bench, s["dap"], jtag=s["protocol"] == "jtag")
        self.extra_clocks = 0  # SWD clocks outside DP/AP transactions (line resets)

    # -- the entry points ----------------------------------------------------------------------------
    def command(self, block: bytes) -> Outcome:
        block = (block + bytes(p.CMD_SIZE))[: p.CMD_SIZE]
        try:
            return self._top(block)
        finally:
            self._charge()

    def data(self, block: bytes, data: bytes) -> Outcome:
        """The data phase of a write command has arrived."""
        try:
            sub = block[1]
            if sub == p.RW_MISC_OUT:
                self._rw_misc(block, data)
                return Outcome()
            self._write_mem(sub, block, data)
            return Outcome()
        finally:
            self._charge()

    def _charge(self) -> None:
        if zero_costs():
            return
        t = STLINK_TIMING[self.kind.name]
        hz = self.swd_hz()
        wire = (self.dap.transactions * t.swd_clocks + self.extra_clocks) * 1e9 / hz
        ns = t.command_ns + self.dap.transactions * t.access_ns + int(wire)
        start = self.bench.clock.now
        self.bench.clock.advance(ns)
        if self.dap.transactions:
            self.bench.record("swd", "both", 4 * self.dap.transactions, start, self.bench.clock.now,
                              f"{self.dap.transactions} SWD transactions at {hz / 1e3:.0f} kHz")

    def swd_hz(self) -> float:
        jtag = self.s["protocol"] == "jtag"
        if self.fw.hw >= 3:
            return float(self.s["jtag_khz" if jtag else "khz"]) * 1e3
        if jtag:
            return float(fw.V2_JTAG_DIVISORS.get(self.s["jtag_div"], 1125)) * 1e3
        return fw.v2_swd_khz(int(self.s["swd_div"])) * 1e3

    # -- top level -----------------------------------------------------------------------------------
    def _top(self, b: bytes) -> Outcome:
        cmd = b[0]
        if cmd == p.GET_VERSION:
            return Outcome(self.fw.version_reply(0x0483, self.kind.pid))
        if cmd == p.GET_VERSION_EX and self.fw.hw >= 3:
            return Outcome(self.fw.version_ex_reply(0x0483, self.kind.pid))
        if cmd == p.GET_CURRENT_MODE:
            return Outcome(bytes([self.s["mode"], 0]))
        if cmd == p.GET_TARGET_VOLTAGE and fw.has_target_voltage(self.fw):
            volts = TARGET_VOLTAGE if target_powered(self.bench) else UNPOWERED_VOLTAGE
            a1 = round(volts * VREF_COUNTS / 2.4)
            return Outcome(struct.pack("<II", VREF_COUNTS, a1))
        if cmd == p.DFU_COMMAND:
            if b[1] == p.DFU_EXIT:
                self.s["mode"] = p.MODE_MASS
            return Outcome()
        if cmd == p.SWIM_COMMAND:
            if b[1] == p.SWIM_EXIT:
                self.s["mode"] = p.MODE_MASS
            return Outcome()
        if cmd == p.DEBUG_COMMAND:
            return self._debug(b)
        # POLICY: an unknown top-level command is ignored (no reply; the host's read times out)
        return Outcome()

    def _debug(self, b: bytes) -> Outcome:
        sub = b[1]
        if not fw.knows(self.fw, sub):
            return Outcome(_status(p.UNKNOWN_CMD))
        handler = _HANDLERS.get(sub)
        if handler is None:
            return Outcome(_status(p.UNKNOWN_CMD))
        if sub in _TARGET_COMMANDS and self.s["mode"] != p.MODE_DEBUG:
            return self._refuse(sub, b)
        outcome: Outcome = handler(self, b)
        return outcome

    def _refuse(self, sub: int, b: bytes) -> Outcome:
        """A target command outside debug mode: the reply keeps its length, the status says why."""
        length = struct.unpack_from("<H", b, 6)[0]
        if sub in _WRITES:
            self.s["last_rw"] = [NOT_IN_DEBUG_STATUS, 0]
            return Outcome(expect=length)
        if sub == p.RW_MISC_OUT:
            items = struct.unpack_from("<I", b, 2)[0]
            return Outcome(expect=-(-items // 4) * 4 + 4 * items)
        if sub in _READS:
            self.s["last_rw"] = [NOT_IN_DEBUG_STATUS, 0]
            return Outcome(bytes(2 if sub == p.READMEM_8BIT and length == 1 else length))
        if sub == p.RW_MISC_IN:
            return Outcome(bytes(8 * int(self.s.get("misc_items", 0))))
        size = _REPLY_SIZE.get(sub, 2)
        if sub in (p.APIV1_READALLREGS, p.APIV1_READREG, p.READCOREID):
            return Outcome(bytes(size))
        return Outcome(_status(NOT_IN_DEBUG_STATUS) + bytes(size - 2))

    # -- mode, clocks, probe facts -----------------------------------------------------------------
    def enter(self, b: bytes, *, reply: bool = True) -> Outcome:
        param = b[2]
        jtag = param in (p.ENTER_JTAG_NO_RESET, p.ENTER_JTAG_RESET)
        if param not in (p.ENTER_SWD_NO_RESET, p.ENTER_JTAG_NO_RESET, p.ENTER_JTAG_RESET):
            return Outcome(_status(p.CMD_ERROR) if reply else None)
        self.s["mode"] = p.MODE_DEBUG
        self.s["open_aps"] = []
        self.s["core_ap"] = 0
        self.s["protocol"] = "jtag" if jtag else "swd"
        self.dap = Dap(self.bench, self.s["dap"], jtag=jtag)
        if param == p.ENTER_JTAG_RESET:
            self._pulse_nrst()
        # line reset, JTAG-to-SWD sequence, line reset, idle cycles (ADIv5 B4.3.3)
        self.extra_clocks += 50 + 16 + 50 + 2
        status = p.OK
        idr = self.dap.read_dp(DP_DPIDR)
        if idr.ack is not Ack.OK or idr.value == 0:
            status = p.GET_IDCODE_ERROR
        else:
            self.dap.clear_sticky()
            self.dap.write_dp(DP_CTRL_STAT, CSYSPWRUPREQ | CDBGPWRUPREQ)
            if self.dap.read_dp(DP_CTRL_STAT).ack is not Ack.OK:
                status = p.DBG_POWER_ERROR
        return Outcome(_status(status) if reply else None)

    def enter_v1(self, b: bytes) -> Outcome:
        return self.enter(b, reply=False)

    def exit_debug(self, b: bytes) -> Outcome:
        self.s["mode"] = p.MODE_MASS
        self.s["open_aps"] = []  # leaving debug mode closes every opened AP (OpenOCD's note)
        self.s["protocol"] = ""
        return Outcome()

    def swd_set_freq(self, b: bytes) -> Outcome:
        self.s["swd_div"] = struct.unpack_from("<H", b, 2)[0]
        return Outcome(_status(p.OK))

    def jtag_set_freq(self, b: bytes) -> Outcome:
        self.s["jtag_div"] = struct.unpack_from("<H", b, 2)[0]
        return Outcome(_status(p.OK))

    def get_com_freq(self, b: bytes) -> Outcome:
        table = fw.V3_FREQS.get(self.s["prescaler"], fw.V3_FREQS[1])
        current = self.s["jtag_khz" if b[2] == 1 else "khz"]
        reply = _status(p.OK) + bytes(2) + struct.pack("<II", current, len(table))
        reply += b"".join(struct.pack("<I", f) for f in table)
        return Outcome(reply.ljust(52, b"\x00"))

    def set_com_freq(self, b: bytes) -> Outcome:
        khz = fw.v3_pick(self.s["prescaler"], struct.unpack_from("<I", b, 4)[0])
        self.s["jtag_khz" if b[2] == 1 else "khz"] = khz
        return Outcome(_status(p.OK) + bytes(2) + struct.pack("<I", khz))

    def switch_freq(self, b: bytes) -> Outcome:
        if b[2] not in fw.V3_FREQS:
            return Outcome(_status(p.CMD_ERROR) + bytes(6))
        self.s["prescaler"] = b[2]
        for key in ("khz", "jtag_khz"):
            self.s[key] = fw.v3_pick(b[2], self.s[key])
        return Outcome(_status(p.CONF_CHANGED) + bytes(6))

    def board_ids(self, b: bytes) -> Outcome:
        board = ""
        if self.kind.name != "V2":
            board = fw.NUCLEO_BOARD_IDS.get(self.bench.board.part.upper()[:11], "")
        return Outcome((_status(p.OK) + board.encode("ascii").ljust(4, b"\x00")).ljust(128, b"\x00"))

    def drive_nrst(self, b: bytes) -> Outcome:
        if b[2] == p.NRST_LOW:
            self.bench.set("nrst", "0")
        elif b[2] == p.NRST_HIGH:
            self.bench.set("nrst", "1")
        elif b[2] == p.NRST_PULSE:
            self._pulse_nrst()
        else:
            return Outcome(_status(p.CMD_ERROR))
        return Outcome(_status(p.OK))

    def _pulse_nrst(self) -> None:
        self.bench.set("nrst", "0")
        self.bench.clock.advance(NRST_PULSE_NS)
        self.bench.set("nrst", "1")

    def trace(self, b: bytes) -> Outcome:
        if b[1] == p.START_TRACE_RX:
            self.s["trace"] = True
        elif b[1] == p.STOP_TRACE_RX:
            self.s["trace"] = False
        else:  # GET_TRACE_NB: the model produces no SWO data
            return Outcome(struct.pack("<H", 0))
        return Outcome(_status(p.OK))

    def ok(self, b: bytes) -> Outcome:
        return Outcome(_status(p.OK))

    def misc_max(self, b: bytes) -> Outcome:
        return Outcome(_status(p.OK) + bytes(2) + struct.pack("<I", fw.RW_MISC_MAX_ITEMS[min(self.fw.hw, 3)]))

    # -- DP/AP registers ---------------------------------------------------------------------------
    def read_dap_reg(self, b: bytes) -> Outcome:
        port, addr = struct.unpack_from("<HH", b, 2)
        status, value = self._dap_access(port, addr, None)
        return Outcome(_status(status) + bytes(2) + struct.pack("<I", value))

    def write_dap_reg(self, b: bytes) -> Outcome:
        port, addr, value = struct.unpack_from("<HHI", b, 2)
        status, _ = self._dap_access(port, addr, value)
        return Outcome(_status(status))

    def _dap_access(self, port: int, addr: int, value: int | None) -> tuple[int, int]:
        dap = self.dap
        if port == p.DP_PORT:
            bank = (addr >> 4) & 0xF
            if bank and not fw.has_banked_dp(self.fw):
                return p.CMD_ERROR, 0
            banked = bool(bank) and (addr & 0xC) == DP_CTRL_STAT
            if banked:  # the firmware points DPBANKSEL at the bank, and back afterwards
                ack = dap.select((dap.state["select"] & ~0xF) | bank)
                if ack is not Ack.OK:
                    return _ack_status(ack, False), 0
            if value is None:
                r = self._retry(lambda: dap.read_dp(addr, bank))
            else:
                r = self._retry(lambda: Access(dap.write_dp(addr, value, bank)))
            if banked:
                dap.select(dap.state["select"] & ~0xF)
            return _ack_status(r.ack, False), r.value if value is None else 0
        ap = port & 0xFF
        if ap != 0 and (addr & 0xFC) != AP_IDR and ap not in self.s["open_aps"]:
            return p.BAD_AP, 0  # POLICY: AP registers other than IDR need INIT_AP first
        ack = dap.select((ap << 24) | (addr & 0xF0))
        if ack is not Ack.OK:
            return _ack_status(ack, False), 0
        if value is None:
            r = self._retry(lambda: dap.read_ap(ap, addr))
            if r.ack is Ack.OK:
                dap.read_dp(DP_RDBUFF)  # the firmware collects the posted read
            return _ack_status(r.ack, True), r.value
        r = self._retry(lambda: Access(dap.write_ap(ap, addr, value)))
        return _ack_status(r.ack, True), 0

    def _retry(self, op: Callable[[], Access]) -> Access:
        """Repeat a transaction the target answers with WAIT, then give up with an ABORT."""
        r = op()
        tries = 1
        while r.ack is Ack.WAIT and tries < WAIT_RETRIES:
            r = op()
            tries += 1
        if r.ack is Ack.WAIT:
            self.dap.write_dp(DP_DPIDR, DAPABORT)
        return r

    def init_ap(self, b: bytes) -> Outcome:
        ap = b[2]
        r = self.dap.read_ap(ap, AP_IDR) if self.dap.select(ap << 24 | (AP_IDR & 0xF0)) is Ack.OK else None
        if r is None or r.ack is not Ack.OK:
            return Outcome(_status(_ack_status(r.ack if r else Ack.NONE, True)))
        self.dap.read_dp(DP_RDBUFF)
        if r.value == 0:
            return Outcome(_status(p.BAD_AP))
        if ap not in self.s["open_aps"]:
            self.s["open_aps"] = sorted([*self.s["open_aps"], ap])
        if b[3] == 1:  # JTAG_AP_CORTEXM_CORE: core commands go through this AP
            self.s["core_ap"] = ap
        return Outcome(_status(p.OK))

    def close_ap(self, b: bytes) -> Outcome:
        ap = b[2]
        if ap not in self.s["open_aps"]:
            return Outcome(_status(p.BAD_AP))
        self.s["open_aps"] = [a for a in self.s["open_aps"] if a != ap]
        if self.s["core_ap"] == ap:
            self.s["core_ap"] = 0
        return Outcome(_status(p.OK))

    def _ap_usable(self, ap: int) -> bool:
        if ap == 0:
            return True
        return fw.has_multi_ap(self.fw) and ap in self.s["open_aps"]

    # -- memory ----------------------------------------------------------------------------------
    def _mem_args(self, b: bytes) -> tuple[int, int, int, int]:
        addr, length, apsel = struct.unpack_from("<IHB", b, 2)
        csw_hi = int.from_bytes(b[9:12], "little") if fw.has_banked_dp(self.fw) else 0
        if not fw.has_multi_ap(self.fw):
            apsel = 0
        return addr, length, apsel, csw_hi

    def _limit(self, width: int, read: bool) -> int:
        if width == 1:
            return fw.max_rw8(self.fw)
        if read:
            return fw.MAX_RW16_32_READ
        return fw.MAX_RW32_WRITE if width == 4 else fw.MAX_RW16_WRITE

    def read_mem(self, b: bytes) -> Outcome:
        sub = b[1]
        width = _READS[sub]
        addr, length, ap, csw_hi = self._mem_args(b)
        out = bytearray(2 if width == 1 and length == 1 else length)
        status, fault = self._check_mem(ap, addr, length, width, read=True)
        if status == p.OK and length:
            words = [0] * (length // width)
            status, fault = self._transfer(ap, addr, width, words, read=True, inc=sub != p.READMEM_32BIT_NO_ADDR_INC,
                                           csw_hi=csw_hi)
            struct.pack_into(f"<{len(words)}{_FORMAT[width]}", out, 0, *words)
        self.s["last_rw"] = [status, fault]
        return Outcome(bytes(out))

    def write_mem_cmd(self, b: bytes) -> Outcome:
        _, length, _, _ = self._mem_args(b)
        if length == 0:
            self.s["last_rw"] = [p.OK, 0]
            return Outcome()
        return Outcome(expect=length)

    def _write_mem(self, sub: int, b: bytes, data: bytes) -> None:
        width = _WRITES[sub]
        addr, length, ap, csw_hi = self._mem_args(b)
        if self.s["mode"] != p.MODE_DEBUG:
            self.s["last_rw"] = [NOT_IN_DEBUG_STATUS, 0]
            return
        status, fault = self._check_mem(ap, addr, length, width, read=False)
        if status == p.OK:
            data = data[:length].ljust(length, b"\x00")  # (the USB side collects exactly ``length``)
            words = list(struct.unpack_from(f"<{length // width}{_FORMAT[width]}", data))
            status, fault = self._transfer(ap, addr, width, words, read=False,
                                           inc=sub != p.WRITEMEM_32BIT_NO_ADDR_INC, csw_hi=csw_hi)
        self.s["last_rw"] = [status, fault]

    def _check_mem(self, ap: int, addr: int, length: int, width: int, read: bool) -> tuple[int, int]:
        if length > self._limit(width, read):
            return p.CMD_ERROR, addr  # POLICY: longer than the probe's buffer: refused
        if addr % width:
            return p.ALIGNMENT_ERROR, addr  # POLICY: 16/32-bit commands need an aligned address
        if not self._ap_usable(ap):
            return p.BAD_AP, addr
        return p.OK, 0

    def _transfer(self, ap: int, addr: int, width: int, words: list[int], *, read: bool, inc: bool,
                  csw_hi: int = 0) -> tuple[int, int]:
        """Move ``words`` through AP ``ap`` as the firmware does: SELECT, CSW, TAR (again at every
        auto-increment wrap), then DRW per unit; posted reads end with an RDBUFF read."""
        dap = self.dap
        ack = dap.select(ap << 24)
        if ack is not Ack.OK:
            return _ack_status(ack, False), addr
        spec = dap.topology.aps.get(ap)
        wrap = spec.kind.wrap if spec else 0x400
        size_code = {1: 0, 2: 1, 4: 2}[width]
        csw = dap.ap_registers(ap)[0]
        writable = spec.kind.csw_writable if spec else 0
        base = (csw_hi << 8) if csw_hi else csw & ~(CSW_SIZE | CSW_ADDRINC)
        want = (csw & ~writable) | ((base | size_code | (0x10 if inc else 0)) & writable)
        if want != csw:
            r = self._retry(lambda: Access(dap.write_ap(ap, AP_CSW, want)))
            if r.ack is not Ack.OK:
                return self._after_fault(r.ack, addr)
        tar_valid = False
        block = inc and width == 4 and len(words) > 1 and dap.block_access()
        tries = 0  # block attempts in this auto-increment block
        i = 0
        while i < len(words):
            a = (addr + i * width if inc else addr) & 0xFFFF_FFFF
            if not tar_valid or (inc and a % wrap == 0):
                r = self._retry(lambda a=a: Access(dap.write_ap(ap, AP_TAR, a)))  # type: ignore[misc]
                if r.ack is not Ack.OK:
                    return self._after_fault(r.ack, a)
                tar_valid = True
                tries = 0
            if block and tries < 2:
                # the rest of this auto-increment block at once, when the DAP can do it exactly; a
                # second try after one word, which has let the cores catch up with the clock
                tries += 1
                count = min(len(words) - i, (wrap - a % wrap) // 4)
                got = dap.drw_block(ap, count, None if read else words[i:i + count])
                if got is not None:
                    if read:
                        words[i:i + count] = got
                    i += count
                    continue
            lane = 8 * (a & 3)
            if read:
                r = self._retry(lambda: dap.read_ap(ap, AP_DRW))
                if r.ack is not Ack.OK:
                    return self._after_fault(r.ack, a)
                words[i] = (r.value >> lane) & ((1 << (8 * width)) - 1)
            else:
                data = words[i] << lane
                r = self._retry(lambda data=data: Access(dap.write_ap(ap, AP_DRW, data)))  # type: ignore[misc]
                if r.ack is not Ack.OK:
                    return self._after_fault(r.ack, a)
            i += 1
        if read and words:
            dap.read_dp(DP_RDBUFF)
        return p.OK, 0

    def _after_fault(self, ack: Ack, address: int) -> tuple[int, int]:
        """Report a failed transfer; the firmware clears the sticky flags so its next command works
        (POLICY: stlink-org, which has no DP access, keeps working after faults)."""
        if ack is Ack.FAULT:
            self.dap.clear_sticky()
        return _ack_status(ack, True), address

    def last_rw(self, b: bytes) -> Outcome:
        status, fault = self.s["last_rw"]
        if b[1] == p.APIV2_GETLASTRWSTATUS:
            return Outcome(_status(status))
        return Outcome(_status(status) + bytes(2) + struct.pack("<II", fault, 0))

    # -- 32-bit debug registers and the core -------------------------------------------------------
    def _read32(self, addr: int) -> tuple[int, int]:
        words = [0]
        status, _ = self._transfer(self.s["core_ap"], addr, 4, words, read=True, inc=True)
        return status, words[0]

    def _write32(self, addr: int, value: int) -> int:
        return self._transfer(self.s["core_ap"], addr, 4, [value & 0xFFFF_FFFF], read=False, inc=True)[0]

    def read_debug_reg(self, b: bytes) -> Outcome:
        status, value = self._read32(struct.unpack_from("<I", b, 2)[0])
        return Outcome(_status(status) + bytes(2) + struct.pack("<I", value))

    def write_debug_reg(self, b: bytes) -> Outcome:
        addr, value = struct.unpack_from("<II", b, 2)
        return Outcome(_status(self._write32(addr, value)))

    def _core_reg(self, regsel: int, value: int | None = None) -> tuple[int, int]:
        """A core register through DCRSR/DCRDR, waiting for DHCSR.S_REGRDY (ARMv7-M C1.6.3)."""
        if value is not None:
            status = self._write32(DCRDR, value)
            if status == p.OK:
                status = self._write32(DCRSR, (regsel & 0x7F) | REGWNR)
        else:
            status = self._write32(DCRSR, regsel & 0x7F)
        if status != p.OK:
            return status, 0
        for _ in range(REGRDY_POLLS):
            status, dhcsr = self._read32(DHCSR)
            if status != p.OK:
                return status, 0
            if dhcsr & S_REGRDY:
                break
        else:
            return p.SWD_AP_WAIT, 0
        if value is not None:
            return p.OK, 0
        return self._read32(DCRDR)

    def read_reg(self, b: bytes) -> Outcome:
        status, value = self._core_reg(b[2])
        if b[1] == p.APIV1_READREG:
            return Outcome(struct.pack("<I", value))
        return Outcome(_status(status) + bytes(2) + struct.pack("<I", value))

    def write_reg(self, b: bytes) -> Outcome:
        status, _ = self._core_reg(b[2], struct.unpack_from("<I", b, 3)[0])
        return Outcome(_status(status))

    def read_all_regs(self, b: bytes) -> Outcome:
        status, values = p.OK, []
        for regsel in _ALL_REGS:
            st, v = self._core_reg(regsel)
            if st != p.OK:
                status = st
                break
            values.append(v)
        values += [0] * (21 - len(values))  # the 21st word ("rw2" in stlink-org) reads 0
        body = b"".join(struct.pack("<I", v) for v in values)
        if b[1] == p.APIV1_READALLREGS:
            return Outcome(body)
        return Outcome(_status(status) + bytes(2) + body)

    def _dhcsr(self, bits: int) -> int:
        return self._write32(DHCSR, DBGKEY | bits)

    def get_status(self, b: bytes) -> Outcome:
        status, dhcsr = self._read32(DHCSR)
        if status != p.OK:
            return Outcome(_status(status))
        return Outcome(_status(p.CORE_HALTED if dhcsr & S_HALT else p.CORE_RUNNING))

    def force_debug(self, b: bytes) -> Outcome:
        return Outcome(_status(self._dhcsr(C_HALT | C_DEBUGEN)))

    def run_core(self, b: bytes) -> Outcome:
        return Outcome(_status(self._dhcsr(C_DEBUGEN)))

    def step_core(self, b: bytes) -> Outcome:
        status = self._dhcsr(C_MASKINTS | C_HALT | C_DEBUGEN)
        if status == p.OK:
            status = self._dhcsr(C_MASKINTS | C_STEP | C_DEBUGEN)
        if status == p.OK:
            status = self._dhcsr(C_HALT | C_DEBUGEN)
        return Outcome(_status(status))

    def reset_sys(self, b: bytes) -> Outcome:
        """POLICY: the probe-side system reset is an AIRCR.SYSRESETREQ write (mechanism UNCONFIRMED)."""
        return Outcome(_status(self._write32(AIRCR, SYSRESETREQ)))

    def set_fp(self, b: bytes) -> Outcome:
        """API v1 breakpoint: [2] comparator, [3..6] address, [7] 1 = lower, 2 = upper halfword."""
        index, addr, which = b[2], struct.unpack_from("<I", b, 3)[0], b[7]
        replace = {1: 1 << 30, 2: 2 << 30}.get(which, 3 << 30)
        return Outcome(_status(self._write32(FP_COMP0 + 4 * index, (addr & 0x1FFF_FFFC) | replace | 1)))

    def clear_fp(self, b: bytes) -> Outcome:
        return Outcome(_status(self._write32(FP_COMP0 + 4 * b[2], 0)))

    def set_watchpoint(self, b: bytes) -> Outcome:
        """API v1 watchpoint: [2] comparator, [3..6] address, [7] mask, [8] DWT function."""
        index, addr, mask, function = b[2], struct.unpack_from("<I", b, 3)[0], b[7], b[8]
        base = DWT_COMP0 + 16 * index
        for offset, value in ((0, addr), (4, mask), (8, function)):
            status = self._write32(base + offset, value)
            if status != p.OK:
                break
        return Outcome(_status(status))

    def read_core_id(self, b: bytes) -> Outcome:
        r = self.dap.read_dp(DP_DPIDR)
        return Outcome(struct.pack("<I", r.value if r.ack is Ack.OK else 0))

    def read_idcodes(self, b: bytes) -> Outcome:
        r = self.dap.read_dp(DP_DPIDR)
        status = p.OK if r.ack is Ack.OK else p.GET_IDCODE_ERROR
        # bytes 8..11: meaning UNCONFIRMED; the model leaves them zero
        return Outcome(_status(status) + bytes(2) + struct.pack("<II", r.value if r.ack is Ack.OK else 0, 0))

    # -- RW_MISC (OpenOCD's batched 32-bit accesses) ------------------------------------------------
    def rw_misc_out(self, b: bytes) -> Outcome:
        items = struct.unpack_from("<I", b, 2)[0]
        self.s["misc_items"] = items
        return Outcome(expect=-(-items // 4) * 4 + 4 * items)

    def _rw_misc(self, b: bytes, data: bytes) -> None:
        items = struct.unpack_from("<I", b, 2)[0]
        if items > fw.RW_MISC_MAX_ITEMS[min(self.fw.hw, 3)] or self.s["mode"] != p.MODE_DEBUG:
            self.s["misc"] = (bytes(4 * items) + struct.pack("<I", p.CMD_ERROR) * items).hex()
            return
        cmds = data[:items]
        values = data[-(-items // 4) * 4:]
        ap, addr = self.s["core_ap"], 0
        out_values: list[int] = []
        out_status: list[int] = []
        for i in range(items):
            cmd = cmds[i]
            arg = struct.unpack_from("<I", values, 4 * i)[0]
            status, value = p.OK, 0
            if cmd == p.MISC_APNUM:
                ap = arg & 0xFF
            elif cmd == p.MISC_ADDRESS:
                addr = arg
            elif cmd == p.MISC_WRITE:
                status = self._transfer(ap, addr, 4, [arg], read=False, inc=True)[0] if self._ap_usable(ap) else p.BAD_AP
            elif cmd == p.MISC_READ:
                words = [0]
                status = self._transfer(ap, arg, 4, words, read=True, inc=True)[0] if self._ap_usable(ap) else p.BAD_AP
                value = words[0]
            else:
                status = p.CMD_ERROR
            out_values.append(value)
            out_status.append(status)
        self.s["misc"] = (b"".join(struct.pack("<I", v) for v in out_values)
                          + b"".join(struct.pack("<I", s) for s in out_status)).hex()

    def rw_misc_in(self, b: bytes) -> Outcome:
        items = int(self.s.get("misc_items", 0))
        result = bytes.fromhex(self.s.get("misc", ""))
        return Outcome(result.ljust(8 * items, b"\x00")[: 8 * items])


_REPLY_SIZE = {
    p.GETSTATUS: 2, p.FORCEDEBUG: 2, p.APIV1_RESETSYS: 2, p.APIV1_READALLREGS: 84, p.APIV1_READREG: 4,
    p.APIV1_WRITEREG: 2, p.RUNCORE: 2, p.STEPCORE: 2, p.APIV1_SETFP: 2, p.APIV1_CLEARFP: 2,
    p.APIV1_WRITEDEBUGREG: 2, p.APIV1_SETWATCHPOINT: 2, p.READCOREID: 4, p.APIV2_READ_IDCODES: 12,
    p.APIV2_RESETSYS: 2, p.APIV2_READREG: 8, p.APIV2_WRITEREG: 2, p.APIV2_WRITEDEBUGREG: 2,
    p.APIV2_READDEBUGREG: 8, p.APIV2_READALLREGS: 88, p.READ_DAP_REG: 8, p.WRITE_DAP_REG: 2,
    p.INIT_AP: 2, p.CLOSE_AP_DBG: 2,
}

F = StlinkFirmware
_HANDLERS: dict[int, Any] = {
    p.GETSTATUS: F.get_status, p.FORCEDEBUG: F.force_debug, p.APIV1_RESETSYS: F.reset_sys,
    p.APIV1_READALLREGS: F.read_all_regs, p.APIV1_READREG: F.read_reg, p.APIV1_WRITEREG: F.write_reg,
    p.READMEM_32BIT: F.read_mem, p.WRITEMEM_32BIT: F.write_mem_cmd, p.RUNCORE: F.run_core,
    p.STEPCORE: F.step_core, p.APIV1_SETFP: F.set_fp, p.READMEM_8BIT: F.read_mem,
    p.WRITEMEM_8BIT: F.write_mem_cmd, p.APIV1_CLEARFP: F.clear_fp, p.APIV1_WRITEDEBUGREG: F.write_debug_reg,
    p.APIV1_SETWATCHPOINT: F.set_watchpoint, p.APIV1_ENTER: F.enter_v1, p.EXIT: F.exit_debug,
    p.READCOREID: F.read_core_id, p.APIV2_ENTER: F.enter, p.APIV2_READ_IDCODES: F.read_idcodes,
    p.APIV2_RESETSYS: F.reset_sys, p.APIV2_READREG: F.read_reg, p.APIV2_WRITEREG: F.write_reg,
    p.APIV2_WRITEDEBUGREG: F.write_debug_reg, p.APIV2_READDEBUGREG: F.read_debug_reg,
    p.APIV2_READALLREGS: F.read_all_regs, p.APIV2_GETLASTRWSTATUS: F.last_rw, p.APIV2_DRIVE_NRST: F.drive_nrst,
    p.APIV2_GETLASTRWSTATUS2: F.last_rw, p.START_TRACE_RX: F.trace, p.STOP_TRACE_RX: F.trace,
    p.GET_TRACE_NB: F.trace, p.SWD_SET_FREQ: F.swd_set_freq, p.JTAG_SET_FREQ: F.jtag_set_freq,
    p.READ_DAP_REG: F.read_dap_reg, p.WRITE_DAP_REG: F.write_dap_reg, p.READMEM_16BIT: F.read_mem,
    p.WRITEMEM_16BIT: F.write_mem_cmd, p.BLINK_LED: F.ok, p.GET_DISK_NAME: F.ok, p.INIT_AP: F.init_ap,
    p.CLOSE_AP_DBG: F.close_ap, p.WRITEMEM_32BIT_NO_ADDR_INC: F.write_mem_cmd, p.RW_MISC_OUT: F.rw_misc_out,
    p.RW_MISC_IN: F.rw_misc_in, p.RW_MISC_GET_MAX: F.misc_max, p.READMEM_32BIT_NO_ADDR_INC: F.read_mem,
    p.WRITE_DFTREG: F.ok, p.GET_BOARD_IDENTIFIERS: F.board_ids, p.SET_COM_FREQ: F.set_com_freq,
    p.GET_COM_FREQ: F.get_com_freq, p.SWITCH_STLINK_FREQ: F.switch_freq,
}
