"""An application with a DFU runtime interface (DFU 1.1 §4.1, §5.1), the bench's ``dfu-runtime``
scenario: firmware in flash whose USB device offers DFU_DETACH and, on detach, starts the chip's
system bootloader (as applications built on ST's USB library do with a jump to system memory).

DFU 1.1 run-time side: the interface is class 0xFE, subclass 0x01, protocol 0x01, with a functional
descriptor; in appIDLE the device accepts DFU_DETACH (-> appDETACH, timer of wValue ms, at most
wDetachTimeOut), DFU_GETSTATUS and DFU_GETSTATE, and stalls everything else. In appDETACH a USB
reset before the timer runs out sends it to DFU mode; when the timer runs out it goes back to
appIDLE. With bitWillDetach it does not wait for the reset: it leaves the bus itself at once.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from ...chips.model import Chip
from ..scenarios import DFU_RUNTIME
from ..usb.descriptors import Configuration, DeviceDescriptor, Interface, dfu_functional_descriptor
from ..usb.device import Gone, Setup, Stall
from .device import OneBootDevice
from .protocol import (
    ATTR_CAN_DNLOAD,
    ATTR_CAN_UPLOAD,
    ATTR_WILL_DETACH,
    DETACH,
    GETSTATE,
    GETSTATUS,
    State,
    Status,
    status_record,
)
from .rom import MANUFACTURER, serial_number

if TYPE_CHECKING:
    from ..bench import Bench
    from ..usb_host import BenchUsbHost

# ST's "Virtual ComPort" example ids, which CubeMX-generated CDC applications keep
APP_VID, APP_PID = 0x0483, 0x5740
APP_BCD = 0x0200
APP_PRODUCT = "STM32 Virtual ComPort"  # the product string CubeMX gives a CDC application
APP_INTERFACE = 0  # the application's own interface (vendor class, nothing behind it here)
RUNTIME_INTERFACE = 1  # the DFU runtime interface: wIndex of its requests
RUNTIME_STRING = 4
# Policy (any value is legal): how long the application waits for the host's USB reset after
# DFU_DETACH, and its descriptor's transfer size (unused at run time)
DETACH_TIMEOUT_MS = 1000
TRANSFER_SIZE = 1024
BCD_DFU_11 = 0x0110
KEY = "dfu-runtime"

# vector table (MSP, reset handler), then the reset handler: "b ." (0xE7FE), then a tag
_CODE_OFFSET = 0x40


def application_image(chip: Chip) -> bytes:
    """The flash image of the ``dfu-runtime`` application: a vector table whose reset handler
    spins (the USB device is modelled beside the core, not run on it), and a tag."""
    ram = chip.ram[0] if chip.ram else None
    sp = (ram.start + ram.size) if ram else 0x2000_1000
    base = chip.flash_base
    body = struct.pack("<II", sp, base + _CODE_OFFSET + 1) + bytes(_CODE_OFFSET - 8)
    body += struct.pack("<H", 0xE7FE) + b"\x00\x00" + f"stflash bench scenario firmware: {DFU_RUNTIME}".encode()
    unit = max(chip.write_unit, 4)
    return body + b"\x00" * (-len(body) % unit)


def runtime_running(bench: Bench) -> bool:
    """Powered, out of reset, running the dfu-runtime application, target USB cable plugged."""
    board, chip = bench.board, bench.chip
    return (board.powered and not board.nrst_held and board.target_usb and chip.boot_source == "flash"
            and DFU_RUNTIME in board.firmware and bench.scenario_active(DFU_RUNTIME))


def runtime_present(bench: Bench) -> bool:
    """Is the application's device on the bus now? Devices of an earlier boot leave for good."""
    present = runtime_running(bench)
    DfuRuntimeDevice.retire_stale(bench, present)
    return present


def _attributes(bench: Bench) -> int:
    will = ATTR_WILL_DETACH if bench.board.dfu_runtime_will_detach else 0
    return ATTR_CAN_DNLOAD | ATTR_CAN_UPLOAD | will


def runtime_state(bench: Bench) -> dict[str, Any]:
    """appIDLE/appDETACH of this boot of the application (a reset starts it afresh)."""
    chip = bench.chip
    state = bench.board.link_state.get(KEY)
    if state is None or state.get("boot") != chip.reset_count:
        state = {"boot": chip.reset_count, "state": int(State.APP_IDLE), "deadline_ns": 0}
        bench.board.link_state[KEY] = state
    if state["state"] == State.APP_DETACH and chip.clock.now > state["deadline_ns"]:
        state["state"] = int(State.APP_IDLE)  # no reset in time: back to normal operation
    return state


def start_bootloader(bench: Bench, why: str) -> None:
    """What the application does on detach: reset the chip into its system bootloader."""
    chip, board = bench.chip, bench.board
    chip.reset("system", boot0=board.boot0, cause=why)
    if chip.bootloader_available:
        chip.boot_source = "bootloader"
        chip.intrusion = True


class DfuRuntimeDevice(OneBootDevice):
    """The application's USB device for one boot; reaches the bench through ``host.bench``."""

    def __init__(self, host: BenchUsbHost) -> None:
        bench = host.bench
        assert bench is not None
        chip = bench.chip
        app = Interface(APP_INTERFACE, 0, 0xFF, 0x00, 0x00)
        runtime = Interface(RUNTIME_INTERFACE, 0, 0xFE, 0x01, 0x01, RUNTIME_STRING)
        runtime.extra_descriptors = dfu_functional_descriptor(_attributes(bench), DETACH_TIMEOUT_MS,
                                                              TRANSFER_SIZE, BCD_DFU_11)
        device = DeviceDescriptor(APP_VID, APP_PID, APP_BCD)
        # ST's USB library builds the serial from the UID as the ROM does (usbd_desc.c Get_SerialNum)
        strings: dict[int, str | bytes] = {1: MANUFACTURER, 2: APP_PRODUCT, 3: serial_number(chip.chip, chip.seed),
                                           RUNTIME_STRING: "DFU runtime"}
        super().__init__(host, device, Configuration([app, runtime], bmAttributes=0x80, bMaxPower=50), strings)

    @property
    def key(self) -> str:
        return f"{super().key}#app{self.boot}"

    def _alive(self) -> Bench:
        bench = self._bench()
        if self.retired or not runtime_running(bench) or bench.chip.reset_count != self.boot:
            self.retire()
            raise Gone("the application left the bus")
        return bench

    def control(self, setup: Setup, data: bytes) -> bytes:
        self._alive()
        return super().control(setup, data)

    def on_control(self, setup: Setup, data: bytes) -> bytes:
        bench = self._bench()
        if setup.kind != 1 or setup.recipient != 1 or setup.wIndex != RUNTIME_INTERFACE:
            raise Stall("the application answers only DFU class requests on its runtime interface")
        s = runtime_state(bench)
        req = setup.bRequest
        if req == GETSTATUS and setup.device_to_host:
            return status_record(Status.OK, 0, s["state"])[: setup.wLength]
        if req == GETSTATE and setup.device_to_host:
            return bytes([s["state"]])[: setup.wLength]
        if req == DETACH and not setup.device_to_host and s["state"] == State.APP_IDLE:
            s["state"] = int(State.APP_DETACH)
            s["deadline_ns"] = bench.clock.now + min(setup.wValue, DETACH_TIMEOUT_MS) * 1_000_000
            if bench.board.dfu_runtime_will_detach:  # it leaves by itself, right after this request
                start_bootloader(bench, "DFU_DETACH: the application starts the system bootloader")
            return b""
        raise Stall(f"DFU request {req} in {State(s['state']).name}")

    def on_reset(self) -> None:
        bench = self._alive()
        if runtime_state(bench)["state"] == State.APP_DETACH:
            start_bootloader(bench, "USB reset after DFU_DETACH: the application starts the system bootloader")


__all__ = ["DfuRuntimeDevice", "application_image", "runtime_present", "runtime_running"]
