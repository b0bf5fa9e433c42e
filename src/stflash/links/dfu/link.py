"""The STM32 USB DFU system bootloader (DfuSe, AN3156) as a :class:`~stflash.target.TargetLink`.

The pyusb backend is handed in (the system's libusb, or the virtual bench's), and so is the
``sleep`` used for poll timeouts and bus polling, so that on the bench only virtual time passes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...chips import option_area
from ...chips.model import Chip, FlashKind, Sector
from ...errors import (
    DeviceBusyError,
    ImageDoesNotFitError,
    LinkError,
    NoDeviceError,
    NotSupportedError,
    ProtectedError,
    StflashError,
    TargetNotRespondingError,
    UsageError,
)
from ...image.model import Image
from ...target import TargetInfo, erase_budget
from ..usb_ids import DFU_PID, ST_VID
from .dfuse import (
    BCD_DFUSE,
    COMMAND_NAMES,
    CONTROL_TIMEOUT_MS,
    POLL_POLICY,
    DeviceGone,
    DfuProtectedError,
    DfuSe,
    DfuStatusError,
    FunctionalDescriptor,
    State,
    status_error,
)
from .identify import RomFacts, match_chips, shared_name, tell_apart
from .layout import ERASABLE, AltLayout, LayoutError, parse_layout

# Erases get ``target.erase_budget``: a GETSTATUS waits as long as that allows, since the ROM
# answers it only when the operation is over.
WRITE_BLOCK_BUDGET_S = 2.0  # one DNLOAD block of at most 2 KiB (F7 ROM announces 104 ms)
# After Read Unprotect the ROM erases everything and resets; Betaflight waits 20 s and more.
UNPROTECT_MARGIN_S = 20.0
OPTION_RESET_BUDGET_S = 10.0  # option-byte write: the ROM programs them, then resets
REENUMERATION_SETTLE_S = 0.5  # the old device drops off the bus before looking for the new one
BUS_POLL_S = 0.1
RESET_PROBE_TIMEOUT_MS = 1000  # the ROM answers only if the option write failed
MAX_TRANSFER = 4096  # libusb on Linux caps a control transfer there (dfu-util clamps to it)
DEFAULT_TRANSFER = 1024  # without a functional descriptor: the smallest ROM value (H7)
FLASH_ALT, OPTION_ALT = "Internal Flash", "Option Bytes"
# A page that reads back erased is left unerased where that proves it erased: the F2/F4/F7 flash
# ANDs new data into the cells (bits only go 1 -> 0, no ECC, RM0090) and the F0/F1/F3 flash
# programs a halfword that reads 0xFFFF (RM0008) (families.md, "Program semantics"). Reading a page
# back through the ROM costs a fraction of its erase (F4 128 KiB: 64 UPLOADs of 2 KiB, against 1-2 s
# of erase); the read stops at the first block holding anything else. Not on the ECC families (L4,
# G0, G4, WB, H7): a word programmed with all ones reads like an erased one, yet a second program of
# it breaks its ECC (RM0399). False: every page is erased, as the plan says.
SKIP_BLANK_ERASE = True
BLANK_MEANS_ERASED = (FlashKind.F0_F1_F3, FlashKind.F2_F4, FlashKind.F7)

NO_DFU_HINT = (
    "start the chip in its system bootloader: hold BOOT0 high (or the BOOT button) while it resets "
    "or powers up, with the chip's own USB port (not the ST-LINK's) cabled to this computer (a board "
    "running MicroPython: machine.bootloader() at its REPL); 'stflash list' shows what is attached"
)


@dataclass
class DfuOptions:
    poll: str = POLL_POLICY  # "honour" or "eager" (see dfuse.POLL_POLICY)
    timeout_ms: int = CONTROL_TIMEOUT_MS


def _string(dev: Any, index: int) -> str | None:
    import usb.core
    import usb.util

    if not index:
        return None
    try:
        return str(usb.util.get_string(dev, index))
    except (usb.core.USBError, ValueError, NotImplementedError):
        return None


def find_devices(backend: Any) -> list[tuple[Any, str | None]]:
    """Every 0483:df11 device on the bus with its serial number (None if unreadable)."""
    from ..usb import enumerate_usb

    return [(d.handle, d.serial) for d in enumerate_usb(backend, {ST_VID: {DFU_PID}})]


def _open_error(exc: Exception, what: str) -> Exception:
    """The error for a DFU device libusb would not open, with what to do about it here."""
    from ..usb import open_problem

    problem = open_problem(exc, ST_VID, DFU_PID)
    if problem.kind in ("permission", "busy", "driver"):
        return DeviceBusyError(f"the DFU device {what} cannot be opened: {problem.text}",
                               hint=problem.fix or "unplug and replug the board's USB cable")
    if problem.kind == "gone":
        return NoDeviceError(f"the DFU device {what} left the bus", hint=NO_DFU_HINT)
    return LinkError(f"cannot open the DFU device {what}: {exc}", hint="unplug and replug the board's USB cable")


class DfuLink:
    """A chip in its USB DFU bootloader."""

    link = "dfu"

    def __init__(self, backend: Any, device: Any, options: DfuOptions | None = None, *,
                 serial: str | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.backend = backend
        self.options = options or DfuOptions()
        self.sleep = sleep
        self.serial = serial
        self.chip: Chip | None = None
        self.rdp_level: int | None = None
        self.left = False
        self.candidates: list[Chip] = []
        self.history: list[str] = []  # what happened before this bootloader was opened (a detach...)
        self._attach(device)

    @classmethod
    def open(cls, backend: Any, serial: str | None = None, options: DfuOptions | None = None, *,
             sleep: Callable[[float], None] = time.sleep) -> DfuLink:
        """Open the DFU bootloader with this serial number (or the only one on the bus)."""
        found = [(d, s) for d, s in find_devices(backend) if serial is None or s == serial]
        if not found:
            which = f"with serial {serial} " if serial else ""
            raise NoDeviceError(f"no DFU bootloader (USB {ST_VID:04x}:{DFU_PID:04x}) {which}found", hint=NO_DFU_HINT)
        if len(found) > 1:
            from ...errors import MultipleDevicesError

            raise MultipleDevicesError(f"{len(found)} DFU bootloaders attached", hint="choose one with -c dfu:SERIAL")
        dev, found_serial = found[0]
        return cls(backend, dev, options, serial=found_serial, sleep=sleep)

    # -- the USB side ---------------------------------------------------------------------------
    def _attach(self, dev: Any) -> None:
        """Read the descriptors and strings, claim the DFU interface and select alternate 0."""
        import usb.core
        import usb.util

        where = f"{ST_VID:04x}:{DFU_PID:04x}" + (f" (serial {self.serial})" if self.serial else "")
        self.dev = dev
        try:
            cfg = dev.get_active_configuration()
        except usb.core.USBError as exc:
            raise _open_error(exc, where) from None
        dfu = [i for i in cfg if i.bInterfaceClass == 0xFE and i.bInterfaceSubClass == 0x01]
        if not dfu:
            raise LinkError(f"{where} has no DFU interface", hint="is it an STM32 system bootloader?")
        self.interface = int(dfu[0].bInterfaceNumber)
        alts = sorted((i for i in dfu if i.bInterfaceNumber == self.interface), key=lambda i: i.bAlternateSetting)
        self.functional = FunctionalDescriptor.find(
            [bytes(cfg.extra_descriptors or b"")] + [bytes(i.extra_descriptors or b"") for i in alts])
        if self.functional is None:
            with contextlib.suppress(usb.core.USBError):
                raw = bytes(dev.ctrl_transfer(0x81, 6, 0x2100, self.interface, 9, self.options.timeout_ms))
                self.functional = FunctionalDescriptor.parse(raw)
        self.product = _string(dev, dev.iProduct)
        self.alt_texts = [_string(dev, i.iInterface) or "" for i in alts]
        self.layouts: list[AltLayout | None] = []
        self.layout_errors: list[str] = []
        for number, text in zip((int(i.bAlternateSetting) for i in alts), self.alt_texts, strict=True):
            try:
                self.layouts.append(parse_layout(text, number))
            except LayoutError as exc:
                self.layouts.append(None)
                self.layout_errors.append(str(exc))
        try:
            with contextlib.suppress(NotImplementedError, usb.core.USBError):
                if dev.is_kernel_driver_active(self.interface):
                    dev.detach_kernel_driver(self.interface)
            usb.util.claim_interface(dev, self.interface)
            dev.set_interface_altsetting(self.interface, 0)
        except usb.core.USBError as exc:
            raise _open_error(exc, where) from None
        self.alt = 0
        self.dirty: set[int] = set()  # flash pages seen holding data since this host last erased them
        size = self.functional.transfer_size if self.functional else DEFAULT_TRANSFER
        fixed = self.functional is not None and size <= MAX_TRANSFER
        size = max(min(size, MAX_TRANSFER), int(dev.bMaxPacketSize0))
        self.dfu = DfuSe(dev, self.interface, size, self.sleep, poll=self.options.poll,
                         timeout_ms=self.options.timeout_ms, address_each_block=not fixed)

    def _select_alt(self, alt: int) -> None:
        if alt == self.alt:
            return
        import usb.core

        self.dfu.pointer = None  # kept by the ROMs seen, but nothing documents it across alternates
        try:
            self.dev.set_interface_altsetting(self.interface, alt)
        except usb.core.USBError as exc:
            raise LinkError(f"the DFU device refused alternate setting {alt}: {exc}") from None
        self.alt = alt

    def _layout(self, name: str) -> AltLayout | None:
        return next((lay for lay in self.layouts if lay is not None and lay.is_kind(name)), None)

    def _alt_for(self, address: int, length: int = 1) -> int:
        """The alternate setting whose memory holds the range (0 when none lists it)."""
        for lay in self.layouts:
            if lay is not None and lay.covers(address, length):
                return lay.alt
        return 0

    # -- identification -------------------------------------------------------------------------
    def identify(self) -> TargetInfo:
        self._select_alt(0)
        self.dfu.trail.clear()
        self.dfu.to_idle()
        dev = self.dev
        obs: dict[str, object] = {
            "product": self.product,
            "bcd_device": f"{int(dev.bcdDevice):#06x}",
            "alt_settings": [f"{n}: {t}" for n, t in enumerate(self.alt_texts)],
            "transfer_size": self.dfu.transfer_size,
        }
        func = self.functional
        if func is not None:
            obs["dfu_version"] = f"{func.dfu_version:#06x}" + ("" if func.dfu_version == BCD_DFUSE else " (not DfuSe)")
            obs["dfu_attributes"] = f"{func.attributes:#04x}"
        else:
            obs["functional_descriptor"] = "missing: blocks of 1024 bytes, pointer set for each"
        if self.layout_errors:
            obs["layout_errors"] = self.layout_errors
        if self.dfu.trail:
            obs["initial_state"] = ", ".join(self.dfu.trail) + " (cleared)"
        with contextlib.suppress(LinkError):
            commands = self.dfu.get_commands()
            obs["commands"] = [COMMAND_NAMES.get(b, f"{b:#04x}") for b in commands]
        if self.history:
            obs["before"] = list(self.history)
        flash = self._layout(FLASH_ALT)
        self.rdp_level = self._probe_rdp(flash, obs)
        self.candidates = match_chips(RomFacts(int(dev.bcdDevice), flash, self._layout(OPTION_ALT)))
        if len(self.candidates) > 1:
            obs["same_memory_map"] = [c.name for c in self.candidates[1:]]
            if self.rdp_level != 1:  # under RDP level 1 the ROM reads nothing
                self.candidates, how = tell_apart(self.candidates, self._try_read)
                obs["told_apart_by"] = how or "nothing the bootloader lets a host read"
        self.chip = shared_name(self.candidates) if self.candidates else None
        dev_ids = {c.dev_id for c in self.candidates}
        return TargetInfo("dfu", self.chip, dev_id=dev_ids.pop() if len(dev_ids) == 1 else None,
                          flash_size=flash.size if flash else None, rdp_level=self.rdp_level,
                          serial=self.serial, observations=obs)

    def _probe_rdp(self, flash: AltLayout | None, obs: dict[str, object]) -> int | None:
        """RDP level 1 if the ROM refuses to read the start of flash with errVENDOR."""
        if flash is None:
            return None
        try:
            self.dfu.read(flash.start, 16)
        except DfuProtectedError:
            obs["read_probe"] = f"{flash.start:#010x}: refused, errVENDOR (read-out protection)"
            return 1
        except DfuStatusError as exc:
            obs["read_probe"] = f"{flash.start:#010x}: {exc.message}"
            return None
        return 0

    def _try_read(self, address: int, length: int) -> bytes | None:
        """Read through the ROM, or None when it refuses (back in dfuIDLE either way)."""
        try:
            return self.dfu.read(address, length)
        except (LinkError, ProtectedError):
            with contextlib.suppress(LinkError):
                self.dfu.idle_if_unknown()
            return None

    def _chip(self) -> Chip:
        if self.chip is None:
            raise LinkError("the chip behind the DFU bootloader was not identified",
                            hint="'stflash probe -c dfu' shows the memory map it reported")
        return self.chip

    # -- memory ---------------------------------------------------------------------------------
    def read(self, address: int, length: int) -> bytes:
        self._select_alt(self._alt_for(address, length))
        try:
            data = self.dfu.read(address, length)
        except ProtectedError as exc:
            raise ProtectedError(
                f"the chip is read-protected (RDP level 1): the bootloader refuses to read {address:#010x}",
                hint=exc.hint) from None
        self._note(address, data)
        return data

    def _erased(self) -> int:
        return self.chip.erased_value if self.chip else 0xFF

    def _pages(self, address: int, length: int) -> list[tuple[int, int, int]]:
        """(page address, first, end offset into the range) of each flash page the range touches."""
        flash = self._layout(FLASH_ALT)
        if flash is None:
            return []
        end = address + length
        return [(p.address, max(p.address, address) - address, min(p.end, end) - address)
                for p in flash.pages() if p.address < end and p.end > address]

    def _note(self, address: int, data: bytes) -> None:
        """Remember the flash pages these bytes show holding something besides the erased value."""
        erased = self._erased()
        for page, a, b in self._pages(address, len(data)):
            if data[a:b].count(erased) != b - a:
                self.dirty.add(page)

    def program(self, address: int, data: bytes) -> None:
        unit, erased = (self.chip.write_unit, self._erased()) if self.chip else (8, 0xFF)
        padded = data + bytes([erased]) * (-len(data) % unit)  # the rest of a flash word stays as erased
        self._select_alt(self._alt_for(address, len(padded)))
        self.dirty.update(page for page, _, _ in self._pages(address, len(padded)))
        try:
            self.dfu.download(address, padded, WRITE_BLOCK_BUDGET_S)
        except StflashError as exc:
            exc.written_upto = min(exc.written_upto, len(data))
            raise

    def erase_sectors(self, sectors: Sequence[Sector], *, skip_blank: bool = False) -> list[Sector]:
        """Erase ``sectors``; with ``skip_blank``, the ones that read back erased where that proves
        them erased are left alone (:data:`SKIP_BLANK_ERASE`) and returned, so the write reports
        them as found blank."""
        self._select_alt(self._alt_for(sectors[0].address) if sectors else 0)
        return [s for s in sectors if not self._erase_page(s.address, s.size, skip_blank=skip_blank)]

    def _erase_page(self, address: int, size: int, *, skip_blank: bool = False) -> bool:
        """One page erase, unless the page reads back erased where that proves it erased
        (:data:`SKIP_BLANK_ERASE`). An H743 rev V ROM never leaves dfuDNBUSY after a bank-2 erase
        (dfu.md Q5): DfuSe clears it as STM32CubeProgrammer does, and since nothing then confirmed
        the erase, the page is read back blank before it counts as erased. False: found blank, not
        erased."""
        if skip_blank and self._reads_erased(address, size):
            return False
        unconfirmed = self.dfu.erase_page(address, erase_budget(size))
        self.dirty.discard(address)
        if not unconfirmed:
            return True
        got = self.dfu.read(address, size)
        if got.count(self._erased()) != len(got):
            self.dirty.add(address)
            raise LinkError(
                f"the bootloader never confirmed the erase at {address:#010x} (it kept answering dfuDNBUSY) "
                "and the page is not blank",
                hint="erase it through an ST-LINK (stflash erase -c stlink), or try the DFU write again")
        return True

    def _reads_erased(self, address: int, size: int) -> bool:
        """Whether pages this host has not seen holding data read back erased on a family where
        that proves them erased; the read stops at the first block holding anything else."""
        chip = self.chip
        if (not SKIP_BLANK_ERASE or chip is None or chip.flash_kind not in BLANK_MEANS_ERASED
                or self.rdp_level != 0 or any(page in self.dirty for page, _, _ in self._pages(address, size))):
            return False
        erased, offset = self._erased(), 0
        try:
            for chunk in self.dfu.blocks(address, size):
                if chunk.count(erased) != len(chunk):
                    self._note(address + offset, chunk)
                    return False
                offset += len(chunk)
        except (LinkError, ProtectedError):  # then the erase itself says what is wrong
            with contextlib.suppress(LinkError):
                self.dfu.idle_if_unknown()
            return False
        return True

    def mass_erase(self, *, skip_blank: bool = False) -> None:
        flash = self._layout(FLASH_ALT)
        chip = self._chip()
        if not chip.bootloader.dfu_mass_erase:
            # a ROM whose mass erase may do nothing (AN2606, H74x/H75x V13.3): every sector instead
            self.erase_sectors(chip.sectors())
            return
        size = flash.size if flash else chip.flash_size
        self._select_alt(flash.alt if flash else 0)
        if skip_blank and flash is not None and self._reads_erased(flash.start, flash.size):
            return  # nothing to erase (SKIP_BLANK_ERASE)
        self.dfu.mass_erase(erase_budget(size, mass=True))
        self.dirty.clear()

    def sector_crcs(self, sectors: Sequence[Sector]) -> dict[int, int] | None:
        return None  # DfuSe has no checksum command: the session reads back instead

    # -- running ----------------------------------------------------------------------------------
    def reset(self, run: bool = True) -> None:
        """DfuSe leave: the ROM jumps to the code at the flash base and leaves the bus."""
        if not run:
            raise NotSupportedError("the DFU bootloader cannot halt the core", hint="use an ST-LINK for --halt")
        flash = self._layout(FLASH_ALT)
        base = flash.start if flash else self._chip().flash_base
        self._select_alt(flash.alt if flash else 0)
        self.dfu.leave(base)
        self.left = True

    # -- option bytes -------------------------------------------------------------------------------
    def _option_layout(self) -> AltLayout:
        chip = self._chip()
        lay = self._layout(OPTION_ALT)
        if lay is None:
            raise NotSupportedError(f"the {chip.name} DFU bootloader shows no option bytes",
                                    hint="change them through an ST-LINK: stflash ob set ... -c stlink")
        return lay

    def _read_options(self, lay: AltLayout) -> dict[int, bytes]:
        self._select_alt(lay.alt)
        try:
            return {start: self.dfu.read(start, size) for start, size in lay.groups}
        finally:
            self._select_alt(0)

    def _decode(self, chip: Chip, areas: dict[int, bytes]) -> dict[str, int]:
        if option_area.register_window(chip):
            out: dict[str, int] = {}
            for start, data in areas.items():
                out.update(option_area.decode_registers(chip, start, data))
            return out
        return option_area.decode(chip, areas)

    def read_option_bytes(self) -> dict[str, int]:
        chip = self._chip()
        lay = self._option_layout()
        if self.rdp_level:
            # the ROM reads nothing under RDP level 1: only the level itself is known
            rdp = chip.option_field("RDP")
            return {rdp.name: rdp.rdp_value(1)} if rdp is not None else {}
        values = self._decode(chip, self._read_options(lay))
        if not values:
            raise NotSupportedError(f"stflash does not know where the {chip.name} fields sit in the "
                                    f"bootloader's option bytes at {lay.start:#010x}")
        return values

    def write_option_bytes(self, values: dict[str, int]) -> None:
        """Rewrite the option area the "Option Bytes" alternate shows (the ROM resets afterwards),
        or use Read Unprotect to go from RDP level 1 to 0 — the only way out of level 1 here."""
        chip = self._chip()
        rdp = chip.option_field("RDP")
        if rdp is not None and self.rdp_level == 1 and values.get(rdp.name) == rdp.default:
            self.dfu.to_idle()
            self.dfu.read_unprotect()
            flash = self._layout(FLASH_ALT)
            self._reconnect(erase_budget(flash.size if flash else chip.flash_size, mass=True) + UNPROTECT_MARGIN_S,
                            "Read Unprotect")
            rest = {k: v for k, v in values.items() if k != rdp.name}
            if rest:
                self.write_option_bytes(rest)
            return
        if self.rdp_level:
            raise ProtectedError(f"{chip.name} is read-protected: option bytes other than RDP cannot change",
                                 hint="first lower the protection: stflash ob set RDP=0xAA --yes (mass-erases)")
        self._check_fields_agree(chip, values)
        lay = self._option_layout()
        before = self._read_options(lay)
        start = lay.groups[0][0]
        try:
            if option_area.register_window(chip):
                image = option_area.encode_registers(chip, start, before[start], values)
            else:
                image = option_area.encode(chip, before, values)[start]
        except KeyError as exc:
            raise NotSupportedError(f"{exc.args[0]} is outside the option bytes the {chip.name} bootloader "
                                    f"shows ({lay.text.strip()})",
                                    hint="change it through an ST-LINK: stflash ob set ... -c stlink") from None
        if image == before[start]:
            return
        self._write_option_area(lay, start, image)
        got = self._decode(chip, self._read_options(self._option_layout())) if self.rdp_level == 0 else {}
        wrong = {k: v for k, v in values.items() if k in got and got[k] != v}
        if wrong:
            raise LinkError("option bytes did not take: " + ", ".join(f"{k}={got[k]:#x} (wanted {v:#x})"
                                                                    for k, v in wrong.items()))

    def _check_fields_agree(self, chip: Chip, values: dict[str, int]) -> None:
        """Refuse a change when the parts this memory map fits keep a field in different bits:
        writing the wrong bits could lock the chip out of its bootloader."""
        first = self.candidates[0] if self.candidates else chip
        for other in self.candidates[1:]:
            for name in values:
                mine, theirs = first.option_field(name), other.option_field(name)
                if mine is None and theirs is None:
                    continue  # no such field anywhere: refused when the area is encoded
                if mine is None or theirs is None or (mine.address, mine.shift, mine.width) != (
                        theirs.address, theirs.shift, theirs.width):
                    raise NotSupportedError(
                        f"the DFU bootloader does not tell {first.name} from {other.name}, which keep {name} "
                        "in different bits (or only one has it): not writing option bytes blind",
                        hint="change them through an ST-LINK (it reads the device id): stflash ob set ... -c stlink")

    def _write_option_area(self, lay: AltLayout, start: int, image: bytes) -> None:
        """The whole area in one block (AN3156); the ROM programs it and resets the chip."""
        what = f"the option-byte write at {start:#010x}"
        self._select_alt(lay.alt)
        self.dfu.to_idle()
        self.dfu.set_address(start)
        self.dfu.send(2, image, what)
        self.dfu.finish(what, OPTION_RESET_BUDGET_S, will_reset=True)
        try:  # only a ROM that failed is still there to answer
            st = self.dfu.get_status(timeout_ms=RESET_PROBE_TIMEOUT_MS)
        except LinkError:
            st = None
        if st is not None and st.state == State.dfuERROR:
            with contextlib.suppress(LinkError):
                self.dfu.clear_status()
            raise status_error(st.status, what)
        self._reconnect(OPTION_RESET_BUDGET_S, "the option-byte write")

    def _reconnect(self, budget_s: float, why: str) -> None:
        """The ROM reset the chip: wait for the bootloader to enumerate again and identify it."""
        import usb.util

        with contextlib.suppress(Exception):
            usb.util.dispose_resources(self.dev)
        self.sleep(REENUMERATION_SETTLE_S)
        waited = REENUMERATION_SETTLE_S
        while True:
            found = [d for d, s in find_devices(self.backend) if self.serial is None or s == self.serial]
            if found:
                self._attach(found[0])
                self.identify()
                return
            if waited >= budget_s:
                raise TargetNotRespondingError(
                    f"the DFU bootloader did not come back within {budget_s:.0f} s after {why}",
                    hint="reset the board with BOOT0 high; if its application runs instead, "
                    "the change took effect")
            self.sleep(BUS_POLL_S)
            waited += BUS_POLL_S

    # -- other alternate settings ---------------------------------------------------------------------
    def write_target(self, alt: int, image: Image) -> None:
        """Write a DfuSe file's target for alternate setting ``alt`` (the session writes alt 0,
        the internal flash): erase the erasable pages it touches, then download each segment.
        The option-byte alternate takes whole areas, after which the ROM resets."""
        lay = next((x for x in self.layouts if x is not None and x.alt == alt), None)
        if lay is None:
            raise UsageError(f"the DFU device has no alternate setting {alt} with a memory map",
                             hint="'stflash probe -c dfu' lists the alternate settings")
        for seg in image.segments:
            if not lay.covers(seg.address, len(seg)):
                raise ImageDoesNotFitError(f"{seg.address:#010x}+{len(seg):#x} lies outside alternate setting {alt} "
                                           f"({lay.text.strip()})")
        if lay.is_kind(OPTION_ALT):
            for seg in image.segments:
                if (seg.address, len(seg)) not in lay.groups:
                    raise ImageDoesNotFitError("option bytes are written as whole areas ("
                                               + ", ".join(f"{a:#010x}+{n}" for a, n in lay.groups) + "), "
                                               f"not {seg.address:#010x}+{len(seg):#x}")
                self._write_option_area(lay, seg.address, seg.data)
            return
        self._select_alt(alt)
        try:
            erased: set[int] = set()
            for seg in image.segments:
                pos = seg.address
                while pos < seg.end:
                    page = lay.page_at(pos)
                    assert page is not None  # covered above
                    if page.rights & ERASABLE and page.address not in erased:
                        self._erase_page(page.address, page.size)
                        erased.add(page.address)
                    pos = page.end
            for seg in image.segments:
                self.dirty.update(page for page, _, _ in self._pages(seg.address, len(seg)))
                self.dfu.download(seg.address, seg.data, WRITE_BLOCK_BUDGET_S)
        finally:
            self._select_alt(0)

    def close(self) -> None:
        import usb.util

        with contextlib.suppress(Exception):  # a device that left (leave, reset) has nothing to release
            if not self.left:
                usb.util.release_interface(self.dev, self.interface)
        with contextlib.suppress(Exception):
            usb.util.dispose_resources(self.dev)


__all__ = ["DeviceGone", "DfuLink", "DfuOptions", "find_devices"]
