"""AN3155 protocol constants: ACK/NACK, command codes, and the command set a ROM offers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..bench import Bench

ACK, NACK, SYNC = 0x79, 0x1F, 0x7F
MIN_BAUD = 1200  # AN3155 2.1: below this the ROM's baud measurement overflows

GET, GET_VERSION, GET_ID, READ_MEMORY, GO_CMD, WRITE_MEMORY = 0x00, 0x01, 0x02, 0x11, 0x21, 0x31
ERASE, EXTENDED_ERASE, WRITE_PROTECT, WRITE_UNPROTECT = 0x43, 0x44, 0x63, 0x73
READOUT_PROTECT, READOUT_UNPROTECT, GET_CHECKSUM = 0x82, 0x92, 0xA1
RDP_ALLOWED = frozenset({GET, GET_VERSION, GET_ID, READOUT_UNPROTECT})  # AN3155 Table 2 note 2
NAMES = {GET: "Get", GET_VERSION: "Get Version", GET_ID: "Get ID", READ_MEMORY: "Read Memory",
         GO_CMD: "Go", WRITE_MEMORY: "Write Memory", ERASE: "Erase", EXTENDED_ERASE: "Extended Erase",
         WRITE_PROTECT: "Write Protect", WRITE_UNPROTECT: "Write Unprotect",
         READOUT_PROTECT: "Readout Protect", READOUT_UNPROTECT: "Readout Unprotect",
         GET_CHECKSUM: "Get Checksum"}
V33 = 0x33  # the protocol version that adds Get Checksum (AN3155 Table 3); no current part has it


def command_set(bench: Bench) -> tuple[int, list[int]]:
    """Protocol version byte and the Get list: Erase (0x43) before V3.0, Extended Erase after,
    Get Checksum only for V3.3 (here: ``board.uart_get_checksum``)."""
    version = bench.chip.chip.bootloader.uart_version
    if bench.board.uart_get_checksum:
        version = V33
    erase = ERASE if version < 0x30 else EXTENDED_ERASE
    codes = [GET, GET_VERSION, GET_ID, READ_MEMORY, GO_CMD, WRITE_MEMORY, erase, WRITE_PROTECT,
             WRITE_UNPROTECT, READOUT_PROTECT, READOUT_UNPROTECT]
    if version == V33:
        codes.append(GET_CHECKSUM)
    return version, codes
