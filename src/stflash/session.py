"""The public library API: one ``Session`` per connected chip, whatever the link.

Scripts use it directly (``import stflash``); the CLI is a thin layer over it. Every operation
raises the errors of :mod:`stflash.errors`, the same ones the CLI turns into exit codes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .chips.model import Chip, Sector
from .connect import ConnectSpec, parse_connect
from .errors import NotSupportedError, PartialWriteError, StflashError, UsageError, VerifyError
from .flash.plan import EraseCaps, FlashPlan, check_fits, check_range, plan_write
from .image.model import Image, Segment
from .target import ProgressCallback, TargetInfo, TargetLink, program_each


@dataclass
class WriteResult:
    """What a write did: enough for a CI log or a production record."""

    plan: FlashPlan
    erased: list[Sector] = field(default_factory=list)
    found_blank: list[Sector] = field(default_factory=list)  # planned erases the link found needless
    written: list[tuple[int, int]] = field(default_factory=list)
    verified: str = "no"  # "crc" | "read-back" | "no"

    def as_dict(self) -> dict[str, object]:
        return {
            "erased": [{"address": s.address, "size": s.size} for s in self.erased],
            "found_blank": [{"address": s.address, "size": s.size} for s in self.found_blank],
            "skipped": [{"address": s.address, "size": s.size} for s in self.plan.skipped],
            "written": [{"address": a, "length": n} for a, n in self.written],
            "bytes_written": sum(n for _, n in self.written),
            "verified": self.verified,
        }


PROBE_BYTES = 32  # bytes read first from each sector when the link has no checksum
COMPARE_PIECE = 2048  # read back this much at a time, so a difference ends the read (a DFU block on F4)


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class Session:
    """A connection to one chip through one link."""

    def __init__(self, link: TargetLink, info: TargetInfo) -> None:
        self.link = link
        self.info = info

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, connect: str | ConnectSpec | None = None, **options: Any) -> Session:
        """Find the device (``connect`` as in ``-c``; None = the single attached one), open its
        link and identify the chip. Options: ``connect_mode`` ("normal", "under-reset",
        "hot-plug"), ``frequency`` (Hz), ``ap`` (access port), ``wait`` (seconds), for UART
        ``uart_lines`` (a :class:`stflash.links.uart.lines.LineSequence` driving BOOT0/NRST),
        ``voltage_range`` (F2/F4/F7 supply range 0-3 the UART ROM programs for; default 3), ``stub``
        (False: flash through the UART ROM's own commands, not stflash's stub in RAM), and
        for DFU ``dfu_poll`` ("honour": wait each bwPollTimeout; "eager": ask for the status at once)."""
        spec = parse_connect(connect) if isinstance(connect, str) else connect
        device, history = _select(spec, float(options.get("wait") or 0.0))
        options["dfu_history"] = history  # a detach on the way: the DFU link reports it
        if spec is not None and spec.link == "uart":
            options.setdefault("baud", spec.baud)
        link = _open_link(device.link, device, options)
        try:
            info = link.identify()
        except BaseException:
            link.close()
            raise
        return cls(link, info)

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def chip(self) -> Chip:
        if self.info.chip is None:
            raise StflashError("the chip was not identified", hint="run 'stflash probe' to see what answered")
        return self.info.chip

    # -- flashing -----------------------------------------------------------------------------
    def plan(self, image: Image, *, erase: str = "auto", verify: bool = True, force: bool = False) -> FlashPlan:
        """Plan a write; unless ``force``, sectors whose CRC already matches are skipped. With
        ``erase="auto"`` a mass or bank erase replaces the sector erases where the chip's timing
        model finds it quicker, once the sectors it would also wipe are checked blank."""
        crcs, current = None, None
        caps = self._erase_caps()
        known_blank: dict[int, bool] = {}  # sector index -> blank, as a check on the target found it
        if not force and erase in ("auto", "sectors"):
            check_fits(image, self.chip)  # nothing is read for an image that cannot be written
            touched = [s for s in self.chip.sectors() if image.covers(s.address, s.size)]
            checks = getattr(self.link, "check_ranges", None)  # ST-LINK: sums ranges on the target
            if checks is not None:
                likely = plan_write(image, self.chip, erase=erase, verify=verify, caps=caps).blank_checks
                candidates = self._sampled(image, touched, checks, likely, known_blank)
            else:
                candidates = self._maybe_unchanged(image, touched)
            crcs = self.link.sector_crcs(candidates) if candidates else {}
            if crcs is None:
                current = self._current_bytes(image, candidates)
        plan = plan_write(image, self.chip, erase=erase, verify=verify, current=current, current_crc=crcs, caps=caps)
        if plan.blank_checks:
            blank = self._blank_sectors(plan.blank_checks, known_blank)
            plan = plan_write(image, self.chip, erase=erase, verify=verify, current=current, current_crc=crcs,
                              caps=caps, blank=blank)
        plan.skip_blank = not force
        return plan

    def _erase_caps(self) -> EraseCaps:
        """What the link erases in one operation: a UART or DFU ROM without a (reliable) mass erase
        gets one sector after another behind ``mass_erase``; ``erase_bank`` is optional."""
        boot = self.chip.bootloader
        mass = {"uart": boot.mass_erase, "dfu": boot.dfu_mass_erase}.get(self.link.link, True)
        return EraseCaps(mass=mass, bank=callable(getattr(self.link, "erase_bank", None)))

    def _blank_sectors(self, sectors: Sequence[Sector], known: dict[int, bool]) -> dict[int, bool]:
        """Which of ``sectors`` are blank, by the far side's CRC32 (or, on a link that checks
        ranges on the target, by comparing every word there). A link without a checksum proves
        nothing here: reading whole sectors back costs about what a bank erase saves. ``known``:
        what an earlier check in this plan already found."""
        if all(s.index in known for s in sectors):
            return {s.index: known[s.index] for s in sectors}
        checks = getattr(self.link, "check_ranges", None)
        if checks is not None:
            rest = [s for s in sectors if s.index not in known]
            try:
                found = checks([], rest)
            except StflashError:
                found = None
            return {**{s.index: known[s.index] for s in sectors if s.index in known},
                    **({} if found is None else dict(found[1]))}
        try:
            crcs = self.link.sector_crcs(sectors)
        except StflashError:
            return {}
        if crcs is None:
            return {}
        erased = bytes([self.chip.erased_value])
        return {s.index: crcs[s.index] == zlib.crc32(erased * s.size) & 0xFFFFFFFF for s in sectors if s.index in crcs}

    def _sampled(self, image: Image, sectors: Sequence[Sector], checks: Callable[..., Any],
                 blank: Sequence[Sector], known: dict[int, bool]) -> list[Sector]:
        """:meth:`_maybe_unchanged` on a link that sums ranges on the target: every sector's
        first image bytes by CRC32 in one run, together with the blank checks a mass or bank
        erase would need (``blank``; what they find goes into ``known``)."""
        samples: list[tuple[Sector, int, bytes]] = []
        for sector in sectors:
            parts = image.crop(sector.address, sector.end).segments
            if parts:
                first = parts[0]
                samples.append((sector, first.address, first.data[: min(len(first), PROBE_BYTES)]))
        try:
            found = checks([(address, len(data)) for _, address, data in samples], blank)
        except StflashError:
            found = None
        if found is None:
            return self._maybe_unchanged(image, sectors)
        sums, found_blank = found
        known.update(found_blank)
        return [s for (s, _, data), crc in zip(samples, sums, strict=True) if crc == zlib.crc32(data) & 0xFFFFFFFF]

    def _maybe_unchanged(self, image: Image, sectors: Sequence[Sector]) -> list[Sector]:
        """The sectors whose first image bytes the chip already holds. Reading a few bytes per
        sector settles a blank or changed sector at once, so a fresh write pays for no checksum
        or read-back of the rest; only the others are checked in full."""
        out = []
        probed = 0
        cheap_to_rewrite = getattr(self.link, "reads_cost_like_writes", False)
        try:
            for sector in sectors:
                parts = image.crop(sector.address, sector.end).segments
                if not parts:
                    continue
                first = parts[0]
                probe = min(len(first), PROBE_BYTES)
                held = self.link.read(first.address, probe)
                probed += 1
                if held == first.data[:probe]:
                    out.append(sector)
                elif cheap_to_rewrite and probed == 1 and held == bytes([self.chip.erased_value]) * probe:
                    # the image's first sector reads erased: most likely a blank chip, and on this link
                    # probing the rest costs more than it can save (never wrong, at worst slower)
                    break
        except StflashError:
            return list(sectors)  # unreadable here (read protection): let the link decide
        return out

    def _current_bytes(self, image: Image, sectors: Sequence[Sector]) -> dict[int, bytes] | None:
        """What the chip holds where the image goes, for links without a CRC, as far as it matters:
        each sector's image ranges are read a piece at a time up to the first difference (a
        sector that differs is rewritten whatever the rest holds, so the rest need not cross the
        wire). A sector that holds the image is in the result; one that does not is left out."""
        out: dict[int, bytes] = {}
        try:
            for sector in sectors:
                if all(self._holds(seg.address, seg.data) for seg in image.crop(sector.address, sector.end).segments):
                    out[sector.index] = image.read(sector.address, sector.size, self.chip.erased_value)
        except StflashError:
            return None  # unreadable (e.g. read protection): every touched sector is rewritten
        return out

    def _holds(self, address: int, data: bytes) -> bool:
        for offset in range(0, len(data), COMPARE_PIECE):
            piece = data[offset : offset + COMPARE_PIECE]
            if self.link.read(address + offset, len(piece)) != piece:
                return False
        return True

    def write(
        self,
        image: Image,
        *,
        erase: str = "auto",
        verify: bool = True,
        force: bool = False,
        progress: ProgressCallback = _no_progress,
    ) -> WriteResult:
        return self.execute(self.plan(image, erase=erase, verify=verify, force=force), progress=progress)

    def execute(self, plan: FlashPlan, *, progress: ProgressCallback = _no_progress) -> WriteResult:
        """Run a plan. If anything fails after the first erase, the error says which ranges are
        written and which are not, so nothing is left half-done without the user knowing."""
        result = WriteResult(plan)
        fused = self._fused_write(plan)  # the ST-LINK erases inside its write: see _erase_and_program
        try:
            if fused is not None:
                self._erase_and_program(fused, plan, result, progress)
            elif plan.erase_mode == "chip" or plan.mass_erase:
                progress("erase", 0, 1)
                self.link.mass_erase(skip_blank=plan.skip_blank)
                if plan.mass_erase:
                    result.erased.extend(self.chip.sectors())
                progress("erase", 1, 1)
            elif plan.erase or plan.erase_banks:
                steps = len(plan.erase_banks) + len(plan.erase)
                for i, bank in enumerate(plan.erase_banks):  # only planned for a link with erase_bank
                    progress("erase", i, steps)
                    self.link.erase_bank(bank)  # type: ignore[attr-defined]
                    result.erased.extend(s for s in self.chip.sectors() if s.bank == bank)
                # a link whose one erase command takes a list gets them all at once (fewer round trips)
                per_call = max(len(plan.erase), 1) if getattr(self.link, "erases_in_one_command", False) else 1
                for i in range(0, len(plan.erase), per_call):
                    batch = list(plan.erase[i : i + per_call])
                    progress("erase", len(plan.erase_banks) + i, steps)
                    left = {s.index for s in self.link.erase_sectors(batch, skip_blank=plan.skip_blank) or ()}
                    result.erased.extend(s for s in batch if s.index not in left)
                    result.found_blank.extend(s for s in batch if s.index in left)
                progress("erase", steps, steps)
            if plan.writes and fused is None:
                self._program(plan, result, progress)
        except StflashError as exc:
            if result.erased or result.written:
                raise PartialWriteError(
                    f"{exc.message}; the device is half-written: {_ranges(result.written)} written, "
                    f"{_ranges(_pending(plan, result))} erased or old",
                    written=result.written,
                    hint=exc.hint or "run the same write again; sectors already right are skipped",
                ) from exc
            raise
        if plan.verify:
            result.verified = self.verify_plan(plan, progress=progress)
        return result

    def _fused_write(self, plan: FlashPlan) -> Callable[..., None] | None:
        """The link's erase-and-program in one pass, where it has one and the plan erases and
        writes (the ST-LINK's loader erases each sector right before programming it)."""
        fused: Callable[..., None] | None = getattr(self.link, "erase_and_program", None)
        if fused is None or not plan.writes or plan.erase_mode == "none":
            return None
        return fused

    def _erase_and_program(self, fused: Callable[..., None], plan: FlashPlan, result: WriteResult,
                           progress: ProgressCallback) -> None:
        """Run the plan's erases and writes through ``fused``; ``result.erased`` grows as the link
        starts each erase (a chip erase, as on the separate path, is not counted) and
        ``result.written`` holds what landed, also when it fails."""
        mass = plan.erase_mode == "chip" or plan.mass_erase
        total = plan.write_bytes

        def erasing(sectors: Sequence[Sector]) -> None:
            if plan.erase_mode != "chip":
                result.erased.extend(sectors)

        reached = -1

        def report(done: int, _total: int) -> None:
            nonlocal reached
            if reached < 0:
                progress("erase", 1, 1)  # the first sector is erased; the others go with the write
            reached = done
            progress("write", done, total)

        progress("erase", 0, 1)
        try:
            fused([] if mass else plan.erase, [(s.address, s.data) for s in plan.writes], mass=mass,
                  banks=() if mass else plan.erase_banks, progress=report, erasing=erasing)
        except StflashError as exc:
            result.written.extend(exc.written)
            raise
        result.written.extend((s.address, len(s)) for s in plan.writes)
        if reached < total:
            report(total, total)

    def _program(self, plan: FlashPlan, result: WriteResult, progress: ProgressCallback) -> None:
        """Every range of the plan in one call: streamed where the link can (``program_segments``),
        else one ``program`` each. On failure ``result.written`` holds the ranges that landed."""
        total, reached = plan.write_bytes, 0

        def report(done: int, _total: int) -> None:
            nonlocal reached
            reached = done
            progress("write", done, total)

        stream = getattr(self.link, "program_segments", None) or partial(program_each, self.link.program)
        try:
            stream([(s.address, s.data) for s in plan.writes], progress=report)
        except StflashError as exc:
            result.written.extend(exc.written)
            raise
        result.written.extend((s.address, len(s)) for s in plan.writes)
        if reached < total:  # a link that reports less often (or not at all) still ends at 100 %
            progress("write", total, total)

    def verify_plan(self, plan: FlashPlan, *, progress: ProgressCallback = _no_progress) -> str:
        """Check every written range; returns the method used ("crc" or "read-back")."""
        written = [w for w in plan.sectors if w.action == "write"]
        if not written:
            return "no"  # nothing was written
        crcs = self.link.sector_crcs([w.sector for w in written])
        if crcs is not None and (plan.erase_mode != "none" or not any(w.partial for w in written)):
            _check_crcs(crcs, [(w.sector, w.crc32) for w in written])
            return "crc"
        self._compare(plan.writes, progress)
        return "read-back"

    def verify(self, image: Image, *, progress: ProgressCallback = _no_progress) -> str:
        """Compare the chip with an image (no erase, no write).

        Only the image's own bytes count: the rest of a sector or flash word may hold anything.
        Sectors the image fills completely are compared by CRC when the link computes one.
        """
        check_fits(image, self.chip)
        full = [s for s in self.chip.sectors() if image.crop(s.address, s.end).size == s.size]
        crcs = self.link.sector_crcs(full) if full else None
        if crcs is None:
            self._compare(image.segments, progress)
            return "read-back"
        _check_crcs(crcs, [(s, zlib.crc32(image.read(s.address, s.size)) & 0xFFFFFFFF) for s in full])
        rest = Image([seg for s in _gaps(image, full) for seg in image.crop(*s)])
        self._compare(rest.segments, progress)
        return "crc+read-back" if rest else "crc"

    def _compare(self, segments: Sequence[Segment], progress: ProgressCallback) -> None:
        """Read back each segment and name the first differing address."""
        total, done = sum(len(s) for s in segments), 0
        for seg in segments:
            got = self.link.read(seg.address, len(seg))
            if got != seg.data:
                bad = next(i for i, (a, b) in enumerate(zip(got, seg.data, strict=False)) if a != b)
                raise VerifyError(
                    f"verify failed at {seg.address + bad:#010x}: read {got[bad]:#04x}, expected {seg.data[bad]:#04x}",
                    address=seg.address + bad,
                )
            done += len(seg)
            progress("verify", done, total)

    def read(self, address: int, length: int, *, progress: ProgressCallback = _no_progress) -> bytes:
        if length <= 0:
            raise UsageError(f"read length {length} must be positive")
        out = bytearray()
        step = 64 * 1024
        for pos in range(address, address + length, step):
            out += self.link.read(pos, min(step, address + length - pos))
            progress("read", len(out), length)
        return bytes(out)

    def erase(self, address: int | None = None, length: int | None = None, *, chip: bool = False) -> list[Sector]:
        """Erase the whole chip, or every sector the range touches (the range is rounded out)."""
        if chip:
            self.link.mass_erase()
            return self.chip.sectors()
        if address is None or length is None or length <= 0:
            raise UsageError("erase needs --all or ADDRESS LENGTH")
        check_range(self.chip, address, length, what="erase range")
        sectors = [s for s in self.chip.sectors() if s.address < address + length and s.end > address]
        self.link.erase_sectors(sectors)
        return sectors

    def reset(self, run: bool = True) -> None:
        self.link.reset(run)

    def option_bytes(self) -> dict[str, int]:
        return self.link.read_option_bytes()


def _check_crcs(crcs: dict[int, int], expected: Sequence[tuple[Sector, int]]) -> None:
    """The far side's CRC32 of each sector against the image's."""
    for sector, crc in expected:
        if crcs.get(sector.index) != crc:
            raise VerifyError(f"sector at {sector.address:#010x} does not hold the image (CRC32 differs)",
                              address=sector.address)


def _gaps(image: Image, full: Sequence[Sector]) -> list[tuple[int, int]]:
    """The parts of the image's span not inside the given sectors, as (start, end) pairs."""
    out, pos = [], image.start
    for s in full:
        if s.address > pos:
            out.append((pos, s.address))
        pos = max(pos, s.end)
    if pos < image.end:
        out.append((pos, image.end))
    return out


def _ranges(ranges: Sequence[tuple[int, int]]) -> str:
    if not ranges:
        return "nothing"
    return ", ".join(f"{a:#010x}-{a + n - 1:#010x}" for a, n in ranges)


def _pending(plan: FlashPlan, result: WriteResult) -> list[tuple[int, int]]:
    """Ranges of the plan not yet written (a segment may be written part-way)."""
    done = dict(result.written)
    out = []
    for s in plan.writes:
        upto = done.get(s.address, 0)
        if upto < len(s):
            out.append((s.address + upto, len(s) - upto))
    return out


def _open_link(kind: str, device: Any, options: dict[str, Any]) -> TargetLink:
    """Open the link driver for a discovered device."""
    if kind == "uart":
        return _open_uart(device.port, options)
    if kind == "dfu":
        return _open_dfu(device, options)
    if kind == "stlink":
        return _open_stlink(device, options)
    raise NotSupportedError(
        f"flashing over {kind} is not supported yet in this version",
        hint="'stflash info', 'stflash convert' and 'stflash write --dry-run --chip PART' work without a device",
    )


def _open_uart(port: str, options: dict[str, Any]) -> TargetLink:
    from .links.uart.lines import LineSequence
    from .links.uart.link import UartLink, UartOptions, parse_baud

    sleep = None
    if port == "sim":
        port, sleep = _sim_uart_url(), host_sleep()  # the bench's UART waits on the bench's clock
    lines = options.get("uart_lines") or LineSequence()
    uart = UartOptions(baud=parse_baud(options.get("baud", 115200)), lines=lines,
                       wait=float(options.get("wait") or 0.0))
    if options.get("voltage_range") is not None:
        uart.voltage_range = int(options["voltage_range"])
    uart.stub = bool(options.get("stub", True))
    from .uart_target import UartStubTarget

    return UartStubTarget(UartLink.open(port, uart, sleep=sleep))


def _open_stlink(device: Any, options: dict[str, Any]) -> TargetLink:
    from .discovery import usb_backend
    from .stlink_target import StlinkTarget

    return StlinkTarget.open(usb_backend(), device.serial, sleep=host_sleep(),
                             mode=options.get("connect_mode") or "normal",
                             frequency=options.get("frequency"), ap=options.get("ap") or 0)


def _sim_uart_url() -> str:
    """``-c uart:sim``: the bench's UART bootloader, through pyserial's URL handlers."""
    import os

    import serial

    from .discovery import SIM_ENV, sim_dir

    bench = sim_dir()
    if bench is None:
        raise UsageError("-c uart:sim needs a virtual bench", hint=f"set {SIM_ENV}=DIR (create one with 'stflash sim new')")
    if "stflash.sim.uart" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("stflash.sim.uart")
    return "stflashsim://" + os.path.abspath(bench)


def host_sleep() -> Callable[[float], None]:
    """How a link, or a procedure that polls a board (recover), waits: real time, or on the
    virtual bench its clock (nothing there sleeps)."""
    import time

    from .discovery import sim_dir

    bench = sim_dir()
    if bench is None:
        return time.sleep

    def advance(seconds: float) -> None:
        from .sim.bench import Bench

        with Bench.open(bench) as b:  # re-entrant: the same bench an open USB handle holds
            b.host_wait(int(seconds * 1e9))

    return advance


def _select(spec: ConnectSpec | None, wait: float) -> tuple[Any, list[str]]:
    """The device to open, and what was done to reach it: ``-c dfu[:SERIAL]`` polls the bus for up
    to ``wait`` seconds, and an application with a DFU runtime interface (named, or the only
    device) is detached into its DFU bootloader on the way."""
    from .discovery import detach_to_bootloader, find_dfu, select_device

    if spec is not None and spec.link == "dfu":
        return find_dfu(spec, wait=wait, sleep=host_sleep())
    device = select_device(spec)
    if device.mode == "runtime":
        return detach_to_bootloader([device], wait=wait, sleep=host_sleep())
    return device, []


def _open_dfu(device: Any, options: dict[str, Any]) -> TargetLink:
    from .discovery import usb_backend
    from .links.dfu.dfuse import POLL_POLICY
    from .links.dfu.link import DfuLink, DfuOptions

    dfu_options = DfuOptions(poll=options.get("dfu_poll") or POLL_POLICY)
    link = DfuLink.open(usb_backend(), device.serial, dfu_options, sleep=host_sleep())
    link.history = list(options.get("dfu_history") or [])
    return link
