"""The probe's command set, one method per command: block layout, reply length, status check,
WAIT retries, and the last-transfer status after every memory command (stlink.md §2-§3).

Nothing here decides what to do with the target; :mod:`.core`, :mod:`.access` and :mod:`.probe`
build on these.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TypeVar

from ...errors import NotSupportedError
from . import clock
from . import protocol as p
from .errors import FIRMWARE_HINT, MemoryFault, status_error
from .memory import MAX_MEM16, MAX_READ32, MAX_WRITE32, split
from .transport import UsbTransport, transfer_timeout_ms
from .version import V2_MEM_16BIT, V2_MULTI_AP, FirmwareVersion

T = TypeVar("T")

# WAIT handling (stlink.md §3): the firmware absorbs WAITs itself first; the host then repeats the
# command. stlink-org tries 3 times (1, 2, 4 ms), OpenOCD 8 times (1 ms doubling to 128 ms),
# probe-rs 13 times (100 us doubling). Chosen: 8 repeats with probe-rs' 100 us start, about
# 25 ms in all: enough for a slow flash-controller stall, short enough that a bus that never
# answers (a clock-gated core) is reported quickly.
WAIT_RETRIES = 8
WAIT_FIRST_S = 100e-6
OK_STATUSES = frozenset({p.OK, p.WRITE_VERIF_ERROR})  # OpenOCD treats 0x0D as success


class Commands:
    """One open probe's commands. ``sleep`` is the host's clock (virtual on the bench)."""

    def __init__(self, transport: UsbTransport, sleep: Callable[[float], None]) -> None:
        self.t = transport
        self.sleep = sleep
        self.version = FirmwareVersion(2, 0)
        self.khz: float | None = None  # the SWD clock, when known (for transfer timeouts)

    # -- plumbing ------------------------------------------------------------------------------
    def _cmd(self, *block: int, read: int = 0, data: bytes | None = None, what: str = "",
             timeout_ms: int | None = None) -> bytes:
        return self.t.xfer(bytes(block), data=data, read=read, what=what,
                           timeout_ms=timeout_ms or transfer_timeout_ms(len(data or b"") + read, self.khz))

    def _debug(self, sub: int, args: bytes = b"", *, read: int = 2, what: str = "") -> bytes:
        return self._cmd(p.DEBUG_COMMAND, sub, *args, read=read, what=what)

    def until_not_wait(self, op: Callable[[], tuple[int, T]]) -> tuple[int, T]:
        """Run ``op`` (returning (status, result)) again while it answers WAIT, backing off."""
        delay = WAIT_FIRST_S
        status, result = op()
        for _ in range(WAIT_RETRIES):
            if status not in p.WAIT_STATUSES:
                break
            self.sleep(delay)
            delay *= 2
            status, result = op()
        return status, result

    def retry(self, op: Callable[[], tuple[int, T]], what: str, address: int | None = None) -> T:
        """:meth:`until_not_wait`, then raise on a status other than OK."""
        status, result = self.until_not_wait(op)
        self.check(status, what, address)
        return result

    def check(self, status: int, what: str, address: int | None = None) -> None:
        if status not in OK_STATUSES:
            raise status_error(status, what, address=address)

    # -- probe facts ----------------------------------------------------------------------------
    def read_version(self) -> FirmwareVersion:
        raw = self._cmd(p.GET_VERSION, read=6, what="GET_VERSION")
        v21 = self.t.info.kind.name == "V2-1"
        version = FirmwareVersion.from_version(raw, v21=v21)
        if version.hw >= 3:
            version = FirmwareVersion.from_version_ex(self._cmd(p.GET_VERSION_EX, read=12, what="GET_VERSION_EX"))
        self.version = version
        return version

    def current_mode(self) -> int:
        return self._cmd(p.GET_CURRENT_MODE, read=2, what="GET_CURRENT_MODE")[0]

    def leave_mode(self) -> int:
        """Return the probe to idle from whatever mode a previous session left; the mode found.
        DEBUG_EXIT is only sent in debug mode: outside it a V3 stops answering (stlink.md §1.6)."""
        mode = self.current_mode()
        if mode == p.MODE_DFU:
            self._cmd(p.DFU_COMMAND, p.DFU_EXIT)
        elif mode == p.MODE_DEBUG:
            self._cmd(p.DEBUG_COMMAND, p.EXIT)
        elif mode == p.MODE_SWIM:
            self._cmd(p.SWIM_COMMAND, p.SWIM_EXIT)
        return mode

    def target_voltage(self) -> float | None:
        """Volts at the probe's VREF pin (V = 2 x 1.2 V x a1 / a0); None if the firmware cannot."""
        if not self.version.has_voltage:
            return None
        raw = self._cmd(p.GET_TARGET_VOLTAGE, read=8, what="GET_TARGET_VOLTAGE")
        a0, a1 = struct.unpack("<II", raw)
        return 0.0 if a0 == 0 else 2.4 * a1 / a0

    def set_swd_frequency(self, hz: int) -> int | None:
        """Set the SWD clock to the fastest the probe offers not above ``hz``; the kHz set, or None
        when the firmware cannot set it (V2 before J22: the probe keeps its last setting)."""
        if self.version.v3:
            raw = self._debug(p.GET_COM_FREQ, bytes([p.COM_SWD]), read=52, what="GET_COM_FREQ")
            self.check(raw[0], "GET_COM_FREQ")
            count = min(struct.unpack_from("<I", raw, 8)[0], 10)
            table = list(struct.unpack_from(f"<{count}I", raw, 12)) if count else []
            want = clock.pick(table, hz) if table else hz // 1000
            raw = self._debug(p.SET_COM_FREQ, bytes([p.COM_SWD, 0]) + struct.pack("<I", want), read=8,
                              what="SET_COM_FREQ")
            self.check(raw[0], "SET_COM_FREQ")
            self.khz = float(struct.unpack_from("<I", raw, 4)[0] or want)
            return int(self.khz)
        if not self.version.has_swd_set_freq:
            self.khz = float(clock.V2_DEFAULT_KHZ)
            return None
        divisor, khz = clock.v2_divisor(hz)
        self.check(self._debug(p.SWD_SET_FREQ, struct.pack("<H", divisor), what="SWD_SET_FREQ")[0], "SWD_SET_FREQ")
        self.khz = float(khz)
        return khz

    # -- debug mode, reset pin --------------------------------------------------------------------
    def enter_swd(self) -> int:
        """ENTER (API v2) in SWD without reset; the status (GET_IDCODE_ERROR: no DP answer)."""
        return self._debug(p.APIV2_ENTER, bytes([p.ENTER_SWD, 0]), what="ENTER SWD")[0]

    def exit_debug(self) -> None:
        self._cmd(p.DEBUG_COMMAND, p.EXIT)

    def drive_nrst(self, level: int) -> None:
        self.check(self._debug(p.APIV2_DRIVE_NRST, bytes([level]), what="DRIVE_NRST")[0], "DRIVE_NRST")

    # -- DP/AP registers --------------------------------------------------------------------------
    def _need_dap(self) -> None:
        if not self.version.has_dap_registers:
            raise NotSupportedError(f"DP/AP register access needs ST-LINK firmware J24 or later "
                                    f"(this probe has {self.version.text()})",
                                    hint=FIRMWARE_HINT)

    def dap_read(self, port: int, reg: int) -> tuple[int, int]:
        """One DP (port 0xFFFF) or AP register: (status, value), WAITs retried, never raises on a
        status (identification records it)."""
        self._need_dap()

        def op() -> tuple[int, int]:
            raw = self._debug(p.READ_DAP_REG, struct.pack("<HH", port, reg), read=8, what="READ_DAP_REG")
            return raw[0], struct.unpack_from("<I", raw, 4)[0]

        return self.until_not_wait(op)

    def dap_write(self, port: int, reg: int, value: int) -> int:
        self._need_dap()
        return self._debug(p.WRITE_DAP_REG, struct.pack("<HHI", port, reg, value & 0xFFFF_FFFF),
                           what="WRITE_DAP_REG")[0]

    def read_dp_idcode(self) -> tuple[int, int]:
        """(status, DPIDR): through READ_DAP_REG where the firmware has it, else READ_IDCODES."""
        if self.version.has_dap_registers:
            return self.dap_read(p.DP_PORT, p.DP_DPIDR)
        raw = self._debug(p.APIV2_READ_IDCODES, read=12, what="READ_IDCODES")
        return raw[0], struct.unpack_from("<I", raw, 4)[0]

    def clear_sticky(self) -> None:
        """ABORT := 0x1E after a fault (pyOCD does this; harmless where the firmware already did)."""
        if self.version.has_dap_registers:
            self.dap_write(p.DP_PORT, p.DP_ABORT, p.ABORT_CLEAR_ALL)

    def init_ap(self, ap: int) -> int:
        return self._debug(p.INIT_AP, bytes([ap, p.INIT_AP_NO_CORE]), what=f"INIT_AP {ap}")[0]

    def close_ap(self, ap: int) -> int:
        return self._debug(p.CLOSE_AP_DBG, bytes([ap]), what=f"CLOSE_AP {ap}")[0]

    # -- memory -------------------------------------------------------------------------------------
    def _check_ap(self, ap: int) -> None:
        if not 0 <= ap <= 255:
            raise ValueError(f"access port {ap} is outside 0-255")
        if ap and not self.version.has_multi_ap:
            raise NotSupportedError(f"access port {ap} needs ST-LINK firmware J{V2_MULTI_AP} or later "
                                    f"(this probe has {self.version.text()})",
                                    hint=FIRMWARE_HINT)

    def last_status(self) -> tuple[int, int | None]:
        """The status of the last memory command and, from J15 (all V3), the faulting address."""
        if self.version.has_rw_status2:
            raw = self._debug(p.APIV2_GETLASTRWSTATUS2, read=12, what="GETLASTRWSTATUS2")
            return raw[0], struct.unpack_from("<I", raw, 4)[0]
        return self._debug(p.APIV2_GETLASTRWSTATUS, read=2, what="GETLASTRWSTATUS")[0], None

    def _mem_block(self, sub: int, address: int, length: int, ap: int) -> bytes:
        return bytes([p.DEBUG_COMMAND, sub]) + struct.pack("<IHB", address, length, ap)

    def _transfer(self, send: Callable[[], bytes], what: str, address: int) -> bytes:
        """A memory command and its GETLASTRWSTATUS(2), repeated on WAIT; a fault names the
        address the probe reports (the command's start on firmware before J15)."""

        def op() -> tuple[int, tuple[bytes, int]]:
            raw = send()
            status, fault = self.last_status()
            return status, (raw, fault or address)

        status, (raw, fault) = self.until_not_wait(op)
        if status not in OK_STATUSES:
            if status in p.FAULT_STATUSES:
                self.clear_sticky()
            raise status_error(status, what, address=fault)
        return raw

    def read_mem(self, address: int, length: int, width: int, ap: int = 0) -> bytes:
        """One READMEM command (length within the firmware's limit, aligned for its width)."""
        self._check_ap(ap)
        sub = {4: p.READMEM_32BIT, 2: p.READMEM_16BIT, 1: p.READMEM_8BIT}[width]
        what = f"{8 * width}-bit read of {length} bytes through AP{ap}"
        block = self._mem_block(sub, address, length, ap)
        # a 1-byte 8-bit read answers 2 bytes (OpenOCD, probe-rs)
        raw = self._transfer(lambda: self.t.xfer(block, read=max(length, 2) if width == 1 else length, what=what,
                                                 timeout_ms=transfer_timeout_ms(length, self.khz)), what, address)
        return raw[:length]

    def write_mem(self, address: int, data: bytes, width: int, ap: int = 0) -> None:
        self._check_ap(ap)
        sub = {4: p.WRITEMEM_32BIT, 2: p.WRITEMEM_16BIT, 1: p.WRITEMEM_8BIT}[width]
        what = f"{8 * width}-bit write of {len(data)} bytes through AP{ap}"
        block = self._mem_block(sub, address, len(data), ap)
        self._transfer(lambda: self.t.xfer(block, data=data, what=what,
                                           timeout_ms=transfer_timeout_ms(len(data), self.khz)), what, address)

    def read_block(self, address: int, length: int, ap: int = 0) -> bytes:
        """Any address and length: 8-bit at the edges, 32-bit between."""
        v = self.version
        out = bytearray()
        for piece in split(address, length, max8=v.max_read8, max_wide=MAX_READ32):
            out += self.read_mem(piece.address, piece.length, piece.width, ap)
        return bytes(out)

    def write_block(self, address: int, data: bytes, ap: int = 0) -> None:
        v = self.version
        for piece in split(address, len(data), max8=v.max_write8, max_wide=MAX_WRITE32):
            start = piece.address - address
            self.write_mem(piece.address, data[start:start + piece.length], piece.width, ap)

    def write_block16(self, address: int, data: bytes, ap: int = 0) -> None:
        """16-bit accesses (8-bit at an odd edge); firmware before J26 has no 16-bit command."""
        if not self.version.has_mem16:
            raise NotSupportedError(f"16-bit memory writes need ST-LINK firmware J{V2_MEM_16BIT} or later "
                                    f"(this probe has {self.version.text()})",
                                    hint=FIRMWARE_HINT)
        for piece in split(address, len(data), max8=self.version.max_write8, max_wide=MAX_MEM16, width=2):
            start = piece.address - address
            self.write_mem(piece.address, data[start:start + piece.length], piece.width, ap)

    # -- AP0 single words and core registers (the firmware's own debug commands) ------------------------
    def read_debug_reg(self, address: int) -> int:
        what = "32-bit read through AP0"

        def op() -> tuple[int, int]:
            raw = self._debug(p.APIV2_READDEBUGREG, struct.pack("<I", address), read=8, what=what)
            return raw[0], struct.unpack_from("<I", raw, 4)[0]

        return self.retry_faults(op, what, address)

    def write_debug_reg(self, address: int, value: int) -> None:
        what = "32-bit write through AP0"

        def op() -> tuple[int, None]:
            raw = self._debug(p.APIV2_WRITEDEBUGREG, struct.pack("<II", address, value & 0xFFFF_FFFF), what=what)
            return raw[0], None

        self.retry_faults(op, what, address)

    def retry_faults(self, op: Callable[[], tuple[int, T]], what: str, address: int) -> T:
        """:meth:`retry`, clearing the sticky flags before a fault is reported."""
        try:
            return self.retry(op, what, address)
        except MemoryFault:
            self.clear_sticky()
            raise

    def read_reg(self, regsel: int) -> int:
        what = f"read of core register {regsel:#x}"

        def op() -> tuple[int, int]:
            raw = self._debug(p.APIV2_READREG, bytes([regsel]), read=8, what=what)
            return raw[0], struct.unpack_from("<I", raw, 4)[0]

        return self.retry(op, what)

    def write_reg(self, regsel: int, value: int) -> None:
        what = f"write of core register {regsel:#x}"

        def op() -> tuple[int, None]:
            return self._debug(p.APIV2_WRITEREG, bytes([regsel]) + struct.pack("<I", value & 0xFFFF_FFFF),
                               what=what)[0], None

        self.retry(op, what)
