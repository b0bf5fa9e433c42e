"""The probe's firmware version and what each version can do (stlink.md §2.3, §4).

Thresholds are J numbers (the JTAG/SWD firmware version). Where the tools disagree the choice is
a named constant with the reason beside it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# First V2/V2-1 firmware with each feature; a V3 has all of them from its first release unless
# listed in the V3 column.
V2_TRACE_AND_VOLTAGE = 13
V2_RW_STATUS2 = 15  # GETLASTRWSTATUS2 (with the fault address), FPU registers through READREG
V2_SWD_SET_FREQ = 22  # OpenOCD and stlink-org code; pyOCD/probe-rs comments say J20
V2_DAP_REGISTERS = 24  # READ/WRITE_DAP_REG
V2_MEM_16BIT = 26
# INIT_AP and APSEL in memory commands: J28 is pyOCD's and probe-rs' minimum for multi-core
# targets; OpenOCD wants J32 (tied to CSW support). The lower figure is taken (it is what the
# firmware release notes pyOCD cites say); a J28-J31 probe that refuses shows BAD_AP, which the
# link reports as such.
V2_MULTI_AP = 28
V2_CLOSE_AP_STATUS = 29
V3_READ8_512 = 6  # V3 8-bit transfers up to 512 bytes from J6 (64 before)


@dataclass(frozen=True)
class FirmwareVersion:
    """What GET_VERSION (and on a V3 GET_VERSION_EX) answered."""

    hw: int  # 1, 2 (V2 and V2-1), 3 (V3), 4 (V3PWR)
    jtag: int  # the "J" number
    swim: int = 0
    msd: int = 0  # V2-1 mass-storage field, V3 MSD/VCP version
    bridge: int = 0
    power: int = 0
    vid: int = 0
    pid: int = 0

    @classmethod
    def from_version(cls, raw: bytes, *, v21: bool) -> FirmwareVersion:
        """GET_VERSION: a big-endian word hw[15:12] J[11:6] S-or-M[5:0], then VID and PID (LE).
        On V2-1 probes (``v21``) the low field is the mass-storage version."""
        if len(raw) < 6:
            raise ValueError(f"GET_VERSION answered {len(raw)} bytes")
        word = struct.unpack_from(">H", raw, 0)[0]
        vid, pid = struct.unpack_from("<HH", raw, 2)
        hw, jtag, low = word >> 12, (word >> 6) & 0x3F, word & 0x3F
        if v21:
            return cls(hw, jtag, msd=low, vid=vid, pid=pid)
        return cls(hw, jtag, swim=low, vid=vid, pid=pid)

    @classmethod
    def from_version_ex(cls, raw: bytes) -> FirmwareVersion:
        """GET_VERSION_EX (V3): hw, SWIM, JTAG, MSD, bridge, power, 2 reserved, VID, PID."""
        if len(raw) < 12:
            raise ValueError(f"GET_VERSION_EX answered {len(raw)} bytes")
        vid, pid = struct.unpack_from("<HH", raw, 8)
        return cls(raw[0], raw[2], swim=raw[1], msd=raw[3], bridge=raw[4], power=raw[5], vid=vid, pid=pid)

    @property
    def v3(self) -> bool:
        return self.hw >= 3

    def text(self) -> str:
        """``V2J45S7``, ``V2J45M31``, ``V3J16M8B5S1`` (OpenOCD's spelling)."""
        if self.v3:
            out = f"V{self.hw}J{self.jtag}"
            out += f"M{self.msd}" if self.msd else ""
            out += f"B{self.bridge}" if self.bridge else ""
            out += f"S{self.swim}" if self.swim else ""
            out += f"P{self.power}" if self.power else ""
            return out
        return f"V{self.hw}J{self.jtag}" + (f"M{self.msd}" if self.msd else f"S{self.swim}")

    def _at_least(self, v2: int, v3: int = 0) -> bool:
        return self.jtag >= (v3 if self.v3 else v2)

    # -- features ----------------------------------------------------------------------------------
    @property
    def has_voltage(self) -> bool:
        return self._at_least(V2_TRACE_AND_VOLTAGE)

    @property
    def has_rw_status2(self) -> bool:
        return self._at_least(V2_RW_STATUS2)

    @property
    def has_swd_set_freq(self) -> bool:
        """V2's divisor command; a V3 sets its clock with SET_COM_FREQ instead."""
        return not self.v3 and self.jtag >= V2_SWD_SET_FREQ

    @property
    def has_dap_registers(self) -> bool:
        return self._at_least(V2_DAP_REGISTERS)

    @property
    def has_mem16(self) -> bool:
        return self._at_least(V2_MEM_16BIT)

    @property
    def has_multi_ap(self) -> bool:
        return self._at_least(V2_MULTI_AP)

    @property
    def has_close_ap_status(self) -> bool:
        return self._at_least(V2_CLOSE_AP_STATUS)

    @property
    def has_fpu_readreg(self) -> bool:
        return self._at_least(V2_RW_STATUS2)

    @property
    def max_write8(self) -> int:
        return 512 if self.v3 and self.jtag >= V3_READ8_512 else 64

    @property
    def max_read8(self) -> int:
        # probe-rs found V3 8-bit reads longer than 255 bytes fail (V3J5/J7) and reads 128 at a time
        return 128 if self.v3 and self.jtag >= V3_READ8_512 else 64
