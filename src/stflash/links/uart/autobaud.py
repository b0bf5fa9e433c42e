"""``-c uart:PORT:auto``: the fastest rate the ROM and the adapter carry without damage.

The ROM measures the host's first 0x7F after a reset and keeps that rate (AN3155 section 1); its
measurement has an error that grows with the rate (SysTick timing on most parts, up to -6 % at
115200 on F4/F7; hardware auto-baud on G0/G4/H7/...: AN2606 Table 6), and a host/ROM deviation
beyond what the USARTs tolerate garbles characters (AN3155 section 2: keep it within 2.5 %). So each
candidate rate gets a fresh reset, the handshake, and a check that bytes survive both ways: Get and
Get ID must parse and agree twice, then a 256-byte pattern holding every byte value is written to
the ROM's RAM window (the ROM checks the XOR checksum of what it received) and read back (we check
what it sent). The first rate, fastest first, that passes is kept.
"""

from __future__ import annotations

from ...chips.lookup import chips_for_dev_id
from ...errors import ProtectedError
from .an3155 import GET, GET_ID, READ_MEMORY, An3155, BadReply, BootloaderInfo

# The rates tried, fastest first: pyserial's standard rates that common adapters take (FT232R
# 3 Mbaud, CP2102 921600, CH340 2 Mbaud, PL2303 ...). 115200 is the fastest AN3155 2.2 says was
# tested; faster ones work on many parts, not on all (uart.md 1.3).
AUTO_RATES = (921600, 460800, 230400, 115200, 57600)
PATTERN = bytes(range(256))  # every byte value, every bit pattern a character can carry


def verify_rate(bl: An3155) -> BootloaderInfo:
    """Right after a handshake: prove that this rate carries bytes both ways, or raise."""
    info = bl.identify()
    if not {GET, GET_ID, READ_MEMORY} <= set(info.commands):
        raise BadReply(f"Get listed {info.command_names()}: not a bootloader's command list")
    if bl.get_id() != (info.pid, info.pid_extra):
        raise BadReply("Get ID answered differently the second time")
    rows = chips_for_dev_id(info.pid)
    ram = rows[0].bootloader.uart_ram if rows else ()
    if not ram:
        return info  # a part whose ROM lends no RAM (AN2606 "NA"): the answers above are all there is
    try:
        bl.write_memory(ram[0], PATTERN)
    except ProtectedError:
        return info  # read protection: the ROM answers Get and Get ID only
    back = bl.read_memory(ram[0], len(PATTERN))
    if back != PATTERN:
        wrong = sum(a != b for a, b in zip(back, PATTERN, strict=True))
        raise BadReply(f"{wrong} of {len(PATTERN)} bytes came back changed")
    return info
