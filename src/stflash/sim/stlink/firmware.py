"""What the probe's firmware is: its version numbers, the commands each version knows, and the
clock tables it offers (stlink.md §2.3, §2.7, §4).

The default versions are recent enough for every feature stlink-org, OpenOCD, pyOCD and probe-rs
use (V2 >= J36 for board identifiers, V3 >= J6). A bench can pretend to carry older firmware by
storing a version string (``"V2J21S4"``) under ``link_state["stlink"]["firmware"]``; commands that
version does not know then answer UNKNOWN_CMD, as old firmware does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import protocol as p


@dataclass(frozen=True)
class FirmwareVersion:
    hw: int  # 2 = ST-LINK/V2 and V2-1, 3 = STLINK-V3
    jtag: int  # the "J" number that gates features
    swim: int = 0
    msd: int = 0  # mass storage (V2-1 "M" field, V3 MSD/VCP version)
    bridge: int = 0
    power: int = 0

    def text(self) -> str:
        if self.hw >= 3:
            out = f"V{self.hw}J{self.jtag}"
            out += f"M{self.msd}" if self.msd else ""
            out += f"B{self.bridge}" if self.bridge else ""
            out += f"S{self.swim}" if self.swim else ""
            return out
        low = f"M{self.msd}" if self.msd else f"S{self.swim}"
        return f"V{self.hw}J{self.jtag}{low}"

    @classmethod
    def parse(cls, text: str) -> FirmwareVersion:
        """``V2J45S7``, ``V2J45M31``, ``V3J16M8B5S1`` (the strings tools print)."""
        m = re.fullmatch(r"V(\d)J(\d+)((?:[MSBP]\d+)*)", text.strip().upper())
        if not m:
            raise ValueError(f"not an ST-LINK firmware version: {text!r}")
        fields = {k: int(v) for k, v in re.findall(r"([MSBP])(\d+)", m.group(3))}
        return cls(int(m.group(1)), int(m.group(2)), swim=fields.get("S", 0), msd=fields.get("M", 0),
                   bridge=fields.get("B", 0), power=fields.get("P", 0))

    # -- what GET_VERSION / GET_VERSION_EX put on the wire ------------------------------------------
    def version_reply(self, vid: int, pid: int) -> bytes:
        """GET_VERSION: a big-endian word hw[15:12] J[11:6] S/M[5:0], then VID and PID (LE).
        A V3 leaves J and S at zero: the real numbers come from GET_VERSION_EX."""
        if self.hw >= 3:
            word = self.hw << 12
        else:
            low = self.msd if self.msd else self.swim
            word = (self.hw << 12) | ((self.jtag & 0x3F) << 6) | (low & 0x3F)
        return word.to_bytes(2, "big") + vid.to_bytes(2, "little") + pid.to_bytes(2, "little")

    def version_ex_reply(self, vid: int, pid: int) -> bytes:
        return (bytes([self.hw, self.swim, self.jtag, self.msd, self.bridge, self.power, 0, 0])
                + vid.to_bytes(2, "little") + pid.to_bytes(2, "little"))


# Latest releases ST published for each generation at the time of writing; visible constants so
# tests and docs can name them.
FIRMWARE_V2 = FirmwareVersion(2, 45, swim=7)  # standalone ST-LINK/V2: "V2J45S7"
FIRMWARE_V2_1 = FirmwareVersion(2, 45, msd=31)  # Nucleo/Discovery on-board V2-1: "V2J45M31"
FIRMWARE_V3 = FirmwareVersion(3, 16, swim=1, msd=8, bridge=5)  # STLINK-V3E/V3SET: "V3J16M8B5S1"
DEFAULT_FIRMWARE = {"V2": FIRMWARE_V2, "V2-1": FIRMWARE_V2_1, "V3": FIRMWARE_V3}

# First firmware that knows a DEBUG_COMMAND sub-command: (V2 J-number, V3 J-number); None = not
# on that generation. Sub-commands not listed exist on every firmware with SWD API v2.
_MIN_VERSION: dict[int, tuple[int | None, int | None]] = {
    p.START_TRACE_RX: (13, 1), p.STOP_TRACE_RX: (13, 1), p.GET_TRACE_NB: (13, 1),
    p.APIV2_GETLASTRWSTATUS2: (15, 1),
    p.SWD_SET_FREQ: (22, None),  # J22 per OpenOCD and stlink-org code; pyOCD comments say J20
    p.JTAG_SET_FREQ: (24, None),
    p.READ_DAP_REG: (24, 1), p.WRITE_DAP_REG: (24, 1),
    p.READMEM_16BIT: (26, 1), p.WRITEMEM_16BIT: (26, 1), p.WRITEMEM_32BIT_NO_ADDR_INC: (26, 1),
    p.BLINK_LED: (28, 1), p.GET_DISK_NAME: (28, 1), p.INIT_AP: (28, 1), p.CLOSE_AP_DBG: (28, 1),
    p.RW_MISC_OUT: (32, 2), p.RW_MISC_IN: (32, 2), p.RW_MISC_GET_MAX: (32, 2),
    p.READMEM_32BIT_NO_ADDR_INC: (32, 2),
    p.WRITE_DFTREG: (35, 5),
    p.GET_BOARD_IDENTIFIERS: (36, 6),
    p.SET_COM_FREQ: (None, 1), p.GET_COM_FREQ: (None, 1), p.SWITCH_STLINK_FREQ: (None, 1),
}


def knows(fw: FirmwareVersion, sub: int) -> bool:
    """Does this firmware implement DEBUG_COMMAND sub-command ``sub``?"""
    need = _MIN_VERSION.get(sub)
    if need is None:
        return True
    threshold = need[1] if fw.hw >= 3 else need[0]
    return threshold is not None and fw.jtag >= threshold


def has_target_voltage(fw: FirmwareVersion) -> bool:
    return fw.hw >= 3 or fw.jtag >= 13


def has_banked_dp(fw: FirmwareVersion) -> bool:
    """Banked DP registers, CSW bits in memory commands (V2 J32, V3 J2)."""
    return fw.jtag >= (2 if fw.hw >= 3 else 32)


def has_multi_ap(fw: FirmwareVersion) -> bool:
    """APSEL other than 0 in memory commands (J28, the pyOCD/probe-rs figure)."""
    return fw.hw >= 3 or fw.jtag >= 28


def max_rw8(fw: FirmwareVersion) -> int:
    """Largest 8-bit transfer: one full-speed packet on V2, 512 bytes on V3 >= J6."""
    return 512 if fw.hw >= 3 and fw.jtag >= 6 else 64


MAX_RW16_32_READ = 6144  # the probe's transfer buffer (OpenOCD, pyOCD, probe-rs agree)
MAX_RW32_WRITE = 65532  # writes beyond 6144 bytes are accepted (probe-rs, stlink-org's 32 KiB uploads)
MAX_RW16_WRITE = 6144
RW_MISC_MAX_ITEMS = {2: 64, 3: 1227}  # OpenOCD's values (RW_MISC_GET_MAX is unused by tools)

# -- clocks ------------------------------------------------------------------------------------
# V2 SWD_SET_FREQ divisors -> kHz (stlink-org/OpenOCD nominal values; pyOCD/probe-rs label divisor
# 0 as 4600 kHz, the model uses 4000). Divisors outside the table are accepted by the delay loop;
# their frequency is modelled as 4000 / (divisor + 1) kHz, which matches the table's large entries.
V2_SWD_DIVISORS = {0: 4000, 1: 1800, 2: 1200, 3: 950, 5: 650, 7: 480, 9: 400, 10: 360, 15: 240, 25: 150,
                   31: 125, 40: 100, 79: 50, 158: 25, 265: 15, 798: 5}
V2_SWD_DEFAULT_DIVISOR = 1  # 1.8 MHz at power-up; the probe keeps the last setting across sessions
V2_JTAG_DIVISORS = {2: 18000, 4: 9000, 8: 4500, 16: 2250, 32: 1125, 64: 562, 128: 281, 256: 140}
V2_JTAG_DEFAULT_DIVISOR = 32

# V3 frequency lists (kHz) per HCLK prescaler, as pyOCD documents them for SWD and JTAG. A seventh
# 5 kHz entry seen in one third-party tool is UNCONFIRMED and left out.
V3_FREQS = {
    1: (24000, 8000, 3300, 1000, 200, 50),
    2: (12000, 4000, 1600, 1000, 200, 50),
    4: (6000, 2000, 850, 520, 200, 50),
}
V3_DEFAULT_KHZ = 1000  # UNCONFIRMED power-up value (stlink-org logs show 1000 kHz chosen on V3)
V3_DEFAULT_PRESCALER = 1  # UNCONFIRMED power-up prescaler


def v2_swd_khz(divisor: int) -> float:
    if divisor in V2_SWD_DIVISORS:
        return float(V2_SWD_DIVISORS[divisor])
    return 4000.0 / (divisor + 1)


def v3_pick(prescaler: int, khz: int) -> int:
    """The frequency a V3 selects for a request: the highest entry not above it, else the lowest."""
    table = V3_FREQS.get(prescaler, V3_FREQS[1])
    for f in table:
        if f <= khz:
            return f
    return table[-1]


# Mbed board identifiers the on-board probes of ST's Nucleo boards report through
# GET_BOARD_IDENTIFIERS (pyOCD's board table). Keyed by the part the board carries; a standalone
# ST-LINK/V2 reports none.
NUCLEO_BOARD_IDS = {
    "STM32F030R8": "0725", "STM32F072RB": "0730", "STM32F103RB": "0700", "STM32F303RE": "0745",
    "STM32F401RE": "0720", "STM32F411RE": "0740", "STM32F446RE": "0777", "STM32G071RB": "0729",
    "STM32L053R8": "0715", "STM32L152RE": "0710", "STM32L476RG": "0765", "STM32F412ZG": "0826",
    "STM32F429ZI": "0796", "STM32F722ZE": "0812", "STM32F746ZG": "0816", "STM32F767ZI": "0818",
    "STM32H743ZI": "0813", "STM32L4R5ZI": "0776",
}
