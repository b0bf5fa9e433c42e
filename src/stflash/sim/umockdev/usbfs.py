"""The Linux usbdevfs interface a libusb program speaks on ``/dev/bus/usb/BBB/DDD``
(``linux/usbdevice_fs.h``), as native-layout structs of this machine's C ABI.

Stdlib only (the testbed side imports it).
"""

from __future__ import annotations

import errno
import struct

# -- ioctl number encoding (asm-generic/ioctl.h) ---------------------------------------------------
_NONE, _WRITE, _READ = 0, 1, 2


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("U") << 8) | nr


# struct layouts, native alignment (so the same code is right for 32- and 64-bit programs of this
# machine's ABI)
URB = struct.Struct("@BBxxiIPiiiiiIP")  # usbdevfs_urb without its ISO frame descriptors
URB_STATUS = struct.calcsize("@BBxx")
URB_BUFFER = struct.calcsize("@BBxxiI") + (-struct.calcsize("@BBxxiI") % struct.calcsize("P"))
URB_ACTUAL = URB_BUFFER + struct.calcsize("P") + 4
CTRLTRANSFER = struct.Struct("@BBHHHIP")  # bRequestType, bRequest, wValue, wIndex, wLength, timeout, data
BULKTRANSFER = struct.Struct("@IIIP")  # ep, len, timeout, data
SETINTERFACE = struct.Struct("@II")
CONNECTINFO = struct.Struct("@IB")
GETDRIVER_SIZE = 4 + 256
DISCONNECT_CLAIM_SIZE = 4 + 4 + 256
IOCTL_STRUCT = struct.Struct("@iiP")  # usbdevfs_ioctl: ifno, ioctl_code, data
CONNINFO_EX = struct.Struct("@IIIIB7B")
_UINT = 4
PTR_SIZE = struct.calcsize("P")
CTRL_DATA = CTRLTRANSFER.size - PTR_SIZE  # offset of the data pointer (the last member)
BULK_DATA = BULKTRANSFER.size - PTR_SIZE

CONTROL = _ioc(_READ | _WRITE, 0, CTRLTRANSFER.size)
BULK = _ioc(_READ | _WRITE, 2, BULKTRANSFER.size)
RESETEP = _ioc(_READ, 3, _UINT)
SETINTERFACE_REQ = _ioc(_READ, 4, SETINTERFACE.size)
SETCONFIGURATION = _ioc(_READ, 5, _UINT)
GETDRIVER = _ioc(_WRITE, 8, GETDRIVER_SIZE)
SUBMITURB = _ioc(_READ, 10, URB.size)
DISCARDURB = _ioc(_NONE, 11, 0)
REAPURB = _ioc(_WRITE, 12, PTR_SIZE)
REAPURBNDELAY = _ioc(_WRITE, 13, PTR_SIZE)
CLAIMINTERFACE = _ioc(_READ, 15, _UINT)
RELEASEINTERFACE = _ioc(_READ, 16, _UINT)
CONNECTINFO_REQ = _ioc(_WRITE, 17, CONNECTINFO.size)
IOCTL = _ioc(_READ | _WRITE, 18, IOCTL_STRUCT.size)
RESET = _ioc(_NONE, 20, 0)
CLEAR_HALT = _ioc(_READ, 21, _UINT)
DISCONNECT = _ioc(_NONE, 22, 0)
CONNECT = _ioc(_NONE, 23, 0)
GET_CAPABILITIES = _ioc(_READ, 26, _UINT)
DISCONNECT_CLAIM = _ioc(_READ, 27, DISCONNECT_CLAIM_SIZE)
DROP_PRIVILEGES = _ioc(_WRITE, 30, _UINT)
GET_SPEED = _ioc(_NONE, 31, 0)
CONNINFO_EX_NR = 32  # _IOC(_IOC_READ, 'U', 32, len): the length varies with the caller's struct


def conninfo_ex_size(request: int) -> int | None:
    """The struct size of a CONNINFO_EX request, or None when ``request`` is another ioctl."""
    if request & 0xFFFF == (ord("U") << 8) | CONNINFO_EX_NR and request >> 30 == _READ:
        return (request >> 16) & 0x3FFF
    return None


# URB types and flags
URB_TYPE_ISO, URB_TYPE_INTERRUPT, URB_TYPE_CONTROL, URB_TYPE_BULK = 0, 1, 2, 3
URB_SHORT_NOT_OK = 0x01

# What this "kernel" offers (USBDEVFS_CAP_*): zero-length packets, bulk continuation, and no limit
# on a URB's size (libusb then sends each transfer as one URB, as on an xHCI host).
CAP_ZERO_PACKET = 0x01
CAP_BULK_CONTINUATION = 0x02
CAP_NO_PACKET_SIZE_LIM = 0x04
CAPABILITIES = CAP_ZERO_PACKET | CAP_BULK_CONTINUATION | CAP_NO_PACKET_SIZE_LIM

# Linux USB speed codes (enum usb_device_speed), by libusb speed code
KERNEL_SPEED = {1: 1, 2: 2, 3: 3, 4: 5}

# URB completion statuses (negative errno, as the kernel stores them)
STATUS_OK = 0
STATUS_STALL = -errno.EPIPE
STATUS_CANCELLED = -errno.ENOENT  # unlinked by DISCARDURB
STATUS_SHORT = -errno.EREMOTEIO
STATUS_GONE = -errno.ESHUTDOWN
