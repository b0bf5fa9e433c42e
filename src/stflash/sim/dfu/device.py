"""The chip's USB DFU system bootloader, on the bus only while the chip runs its bootloader.

The device lives as long as one boot of the bootloader: when the chip resets (a leave without a
valid application, an option-byte write, Read Unprotect, the reset button) the old device is gone
for good — handles opened on it get LIBUSB_ERROR_NO_DEVICE, as from a real bus — and the bootloader
that starts again enumerates as a new device with the same VID:PID and serial.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ...chips.model import FlashKind
from ..usb.descriptors import (
    SPEED_FULL,
    Configuration,
    DeviceDescriptor,
    Interface,
    dfu_functional_descriptor,
)
from ..usb.device import Gone, Setup, SimUsbDevice
from .machine import DfuMachine, current_state, rom_of
from .protocol import BCD_DFUSE, DETACH_TIMEOUT_MS, ROM_ATTRIBUTES
from .rom import MANUFACTURER, DfuRom, serial_number

if TYPE_CHECKING:
    from ..bench import Bench
    from ..usb_host import BenchUsbHost

VID, PID = 0x0483, 0xDF11
FIRST_ALT_STRING = 4  # iInterface of alt 0 on the ROMs' lsusb dumps (then 5, 6, 7)


def dfu_running(bench: Bench) -> bool:
    """Powered, out of reset, running the ROM bootloader of a part with USB DFU, cable plugged."""
    board, chip = bench.board, bench.chip
    return (
        board.powered
        and not board.nrst_held
        and board.target_usb
        and chip.boot_source == "bootloader"
        and chip.bootloader_available
        and chip.chip.bootloader.dfu
        and chip.chip.flash_kind is not FlashKind.NONE  # the MP1 ROM speaks AN5275, not DfuSe
        and not bench.supply_locked()  # a latched H7 supply lock-up: the ROM does not run either
    )


def dfu_present(bench: Bench) -> bool:
    """Is the DFU bootloader enumerated on the target's USB port now?

    Looking at the bus also lets the ROM finish the operation it announced with dfuDNBUSY (it
    runs right after that answer, whoever asks next), which may reset the chip.
    """
    present = dfu_running(bench)
    if present:
        DfuMachine(bench).settle()
        present = dfu_running(bench)
    DfuBootloaderDevice.retire_stale(bench, present)
    return present


def dfu_descriptors(rom: DfuRom, serial: str) -> tuple[DeviceDescriptor, Configuration, dict[int, str | bytes]]:
    """Device, configuration and strings as the ROM enumerates (lsusb dumps in dfu.md §2.11)."""
    alts = [
        Interface(0, n, 0xFE, 0x01, 0x02, FIRST_ALT_STRING + n) for n in range(len(rom.alts))
    ]
    alts[-1].extra_descriptors = dfu_functional_descriptor(
        ROM_ATTRIBUTES, DETACH_TIMEOUT_MS, rom.transfer_size, BCD_DFUSE
    )
    device = DeviceDescriptor(VID, PID, rom.bcd_device, bcdUSB=rom.bcd_usb)
    config = Configuration(alts, bmAttributes=0xC0, bMaxPower=50)
    strings: dict[int, str | bytes] = {1: MANUFACTURER, 2: rom.product, 3: serial}
    strings.update({FIRST_ALT_STRING + n: alt.text for n, alt in enumerate(rom.alts)})
    return device, config, strings


class OneBootDevice(SimUsbDevice):
    """A device on the target's own USB port that exists for one boot of the chip and reaches the
    bench through its host."""

    # devices handed out in this process, so that a reset can take them off every host's bus
    _live: ClassVar[weakref.WeakValueDictionary[int, OneBootDevice]] = weakref.WeakValueDictionary()

    def __init__(self, host: BenchUsbHost, device: DeviceDescriptor, config: Configuration,
                 strings: dict[int, str | bytes]) -> None:
        bench = host.bench
        assert bench is not None
        self.boot = bench.chip.reset_count
        # a new device number per enumeration, on the target's own port
        super().__init__(device, config, strings, speed=SPEED_FULL, bus=1, address=3 + self.boot % 120,
                         port_numbers=(2,))
        self.host = host
        self.directory: Path = bench.directory.resolve()
        self.retired = False
        OneBootDevice._live[id(self)] = self

    @classmethod
    def retire_stale(cls, bench: Bench, present: bool) -> None:
        """Devices of this kind on this bench that belong to an earlier boot (or all of them, when
        none is on the bus now) leave for good."""
        where = bench.directory.resolve()
        for dev in list(OneBootDevice._live.values()):
            if isinstance(dev, cls) and dev.directory == where and (not present or dev.boot != bench.chip.reset_count):
                dev.retire()

    def retire(self) -> None:
        """Leave the bus for good, including the host's list of devices it has seen."""
        self.retired = True
        seen = getattr(self.host, "_devices", None)
        if isinstance(seen, dict):
            for name, dev in list(seen.items()):
                if dev is self:
                    del seen[name]

    def _bench(self) -> Bench:
        bench = self.host.bench
        if bench is None:
            raise RuntimeError("bench accessed outside begin()/end()")
        return bench


class DfuBootloaderDevice(OneBootDevice):
    """The ROM's DfuSe device for one boot of the bootloader.

    The bench is reached through ``host.bench`` on every call (it is reloaded per access); the
    device itself only remembers which boot it belongs to.
    """

    def __init__(self, host: BenchUsbHost) -> None:
        bench = host.bench
        assert bench is not None
        chip = bench.chip
        super().__init__(host, *dfu_descriptors(rom_of(bench), serial_number(chip.chip, chip.seed)))
        self._machine: DfuMachine | None = None

    @property
    def key(self) -> str:
        """VID:PID:serial plus the boot: a re-enumerated bootloader is another device."""
        return f"{super().key}#{self.boot}"

    def control(self, setup: Setup, data: bytes) -> bytes:
        if self.retired:
            raise Gone("the bootloader left the bus")
        bench = self._bench()
        if dfu_running(bench) and bench.chip.reset_count == self.boot:
            DfuMachine(bench).settle()  # a request waits for the operation in progress
        if not dfu_running(bench) or bench.chip.reset_count != self.boot:
            self.retire()
            raise Gone("the bootloader left the bus")
        machine = self._machine = DfuMachine(bench)
        self.alt_settings[0] = machine.s["alt"]
        try:
            return super().control(setup, data)
        finally:
            self._machine = None

    def _current(self) -> DfuMachine:
        return self._machine if self._machine is not None else DfuMachine(self._bench())

    def on_control(self, setup: Setup, data: bytes) -> bytes:
        return self._current().request(setup, data)

    def on_set_interface(self, interface: int, alt: int) -> None:
        self._current().s["alt"] = alt

    def on_reset(self) -> None:
        bench = self._bench()
        if not self.retired and dfu_running(bench) and bench.chip.reset_count == self.boot:
            DfuMachine(bench).usb_reset()


__all__ = ["DfuBootloaderDevice", "current_state", "dfu_present", "dfu_running"]
