"""DFU 1.1 and DfuSe numbers as the device side sees them (DFU 1.1 §3, §6.1.2; AN3156 §2-§3)."""

from __future__ import annotations

import enum

# class requests (bRequest), all addressed to the interface
DETACH, DNLOAD, UPLOAD, GETSTATUS, CLRSTATUS, GETSTATE, ABORT = range(7)
OUT_REQUESTS = (DETACH, DNLOAD, CLRSTATUS, ABORT)  # bmRequestType 0x21
IN_REQUESTS = (UPLOAD, GETSTATUS, GETSTATE)  # bmRequestType 0xA1


class State(enum.IntEnum):
    APP_IDLE = 0
    APP_DETACH = 1
    IDLE = 2
    DNLOAD_SYNC = 3
    DNBUSY = 4
    DNLOAD_IDLE = 5
    MANIFEST_SYNC = 6
    MANIFEST = 7
    MANIFEST_WAIT_RESET = 8
    UPLOAD_IDLE = 9
    ERROR = 10


class Status(enum.IntEnum):
    OK = 0x00
    TARGET = 0x01  # STM32 ROM: address not allowed
    FILE = 0x02
    WRITE = 0x03
    ERASE = 0x04
    CHECK_ERASED = 0x05
    PROG = 0x06
    VERIFY = 0x07
    ADDRESS = 0x08
    NOTDONE = 0x09
    FIRMWARE = 0x0A
    VENDOR = 0x0B  # STM32 ROM: read-out protection active
    USBR = 0x0C
    POR = 0x0D
    UNKNOWN = 0x0E
    STALLEDPKT = 0x0F


# DfuSe special commands: first byte of a DNLOAD with wBlockNum 0 (AN3156 §5.3)
CMD_GET = 0x00
CMD_SET_ADDRESS = 0x21
CMD_ERASE = 0x41
CMD_READ_UNPROTECT = 0x92
GET_COMMANDS = bytes([CMD_GET, CMD_SET_ADDRESS, CMD_ERASE, CMD_READ_UNPROTECT])  # UPLOAD block 0

# (command byte, DNLOAD length) pairs the ROM accepts: 1-byte mass erase / read unprotect,
# 5-byte set address / page erase (AN3156 §5.3, AN2662 4.5)
VALID_COMMANDS = {(CMD_ERASE, 1), (CMD_READ_UNPROTECT, 1), (CMD_SET_ADDRESS, 5), (CMD_ERASE, 5)}

# functional descriptor of every STM32 ROM seen (dfu.md §1.2): CanDnload | CanUpload | WillDetach
ATTR_CAN_DNLOAD, ATTR_CAN_UPLOAD, ATTR_MANIFEST_TOLERANT, ATTR_WILL_DETACH = 1, 2, 4, 8
ROM_ATTRIBUTES = ATTR_CAN_DNLOAD | ATTR_CAN_UPLOAD | ATTR_WILL_DETACH  # 0x0B
DETACH_TIMEOUT_MS = 255
BCD_DFUSE = 0x011A


def status_record(status: int, poll_ms: int, state: int) -> bytes:
    """The 6-byte GETSTATUS answer: bStatus, bwPollTimeout (24-bit LE), bState, iString."""
    return bytes([status & 0xFF]) + (poll_ms & 0xFF_FFFF).to_bytes(3, "little") + bytes([state & 0xFF, 0])
