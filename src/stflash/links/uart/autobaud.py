"""``-c uart:PORT:auto``: the fastest rate the ROM and the adapter carry without damage.

The ROM measures the host's first 0x7F after a reset and keeps that rate (AN3155 section 1); its
measurement has an error that grows with the rate (SysTick timing on most parts, up to -6 % at
115200 on F4/F7; hardware auto-baud on G0/G4/H7/...: AN2606 Table 6), and a host/ROM deviation
beyond what the USARTs tolerate garbles characters (AN3155 section 2: keep it within 2.5 %).

The search, fastest first, a reset before each rate (a locked ROM hears no other rate): the
handshake, Get and Get ID must parse, then two 256-byte patterns holding every byte value, each
after a different neighbour, go through the ROM's RAM window (the ROM checks the XOR checksum of
what it received; we compare what it sent back). A rate that passes both is kept at once, in the
session that passed: no reset after success. When a rate fails before the part is known, the next
try is 115200 (the fastest rate AN3155 2.2 says was tested), which names the part; rates above it
that the part's own measurement cannot hold within 2.5 % (AN2606 Table 6) are then not tried.
"""

from __future__ import annotations

from ...chips.lookup import chips_for_dev_id
from ...errors import ProtectedError
from .an3155 import GET, GET_ID, READ_MEMORY, An3155, BadReply, BootloaderInfo

# The rates tried, fastest first: pyserial's standard rates that common adapters take (FT232R
# 3 Mbaud, CP2102 921600, CH340 2 Mbaud, PL2303 ...). 115200 is the fastest AN3155 2.2 says was
# tested; faster ones work on many parts, not on all (uart.md 1.3).
AUTO_RATES = (921600, 460800, 230400, 115200, 57600)
IDENTIFY_RATE = 115200  # where a search goes after a failure, to learn which part it talks to
# Every byte value once in each; in the second each value follows another neighbour (stride 73 is
# odd, so it visits all 256), since a receiver off in rate misreads a bit where it differs from the
# bit next to it.
PATTERNS = (bytes(range(256)), bytes((i * 73) & 0xFF for i in range(256)))
MAX_DEVIATION = 0.025  # AN3155 section 2: host and ROM rates within 2.5 %
# AN2606 Table 6 (uart.md 1.2): worst-case error of the ROM's software (SysTick) measurement of 0x7F
# at 115200, per family. The error is a fixed time, so it grows in proportion to the rate. Families
# not listed measure in hardware on USART1 (G0, G4, H7, L5, U5, WB, WL, C0...): one clock count at
# most. [Policy] G0's USART3 and G03x/G04x's USART2 measure in software (-4 %); the family alone
# cannot tell which USART the adapter is on, so G0 counts as hardware and its checks decide.
SOFTWARE_JITTER_115200 = {"F0": 0.01, "F1": 0.03, "F2": 0.05, "F3": 0.02, "F4": 0.06, "F7": 0.06,
                          "L0": 0.02, "L1": 0.03, "L4": 0.05}
HARDWARE_FAMILIES = frozenset({"C0", "G0", "G4", "H5", "H7", "L5", "U0", "U3", "U5", "WB", "WBA", "WL"})
UNKNOWN_JITTER = 0.06  # a family neither list names: the largest software figure of Table 6


def worth_trying(family: str | None, rate: int) -> bool:
    """Can a ROM of ``family`` measure ``rate`` within AN3155's 2.5 % whatever its error? Unknown
    parts and rates up to 115200 are always tried (their checks decide)."""
    if family is None or rate <= IDENTIFY_RATE or family.upper() in HARDWARE_FAMILIES:
        return True
    jitter = SOFTWARE_JITTER_115200.get(family.upper(), UNKNOWN_JITTER)
    return jitter * rate / IDENTIFY_RATE <= MAX_DEVIATION


def family_of(info: BootloaderInfo | None) -> str | None:
    rows = chips_for_dev_id(info.pid) if info is not None else []
    return rows[0].family if rows else None


def verify_rate(bl: An3155) -> BootloaderInfo:
    """Right after a handshake: prove that this rate carries bytes both ways, or raise. Whatever
    answered Get and Get ID stays in ``bl.info`` even when a pattern fails."""
    info = bl.identify()
    if not {GET, GET_ID, READ_MEMORY} <= set(info.commands):
        raise BadReply(f"Get listed {info.command_names()}: not a bootloader's command list")
    rows = chips_for_dev_id(info.pid)
    ram = rows[0].bootloader.uart_ram if rows else ()
    if not ram:
        return info  # a part whose ROM lends no RAM (AN2606 "NA"): the answers above are all there is
    for pattern in PATTERNS:
        try:
            bl.write_memory(ram[0], pattern)
        except ProtectedError:
            return info  # read protection: the ROM answers Get and Get ID only
        back = bl.read_memory(ram[0], len(pattern))
        if back != pattern:
            wrong = sum(a != b for a, b in zip(back, pattern, strict=True))
            raise BadReply(f"{wrong} of {len(pattern)} bytes came back changed")
    return info
