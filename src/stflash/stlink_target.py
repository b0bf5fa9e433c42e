"""The ST-LINK as a :class:`stflash.target.TargetLink`: the probe's wire protocol
(``links.stlink``), the flash controller drivers and the on-target loader (``flash``) put
together. The link and the drivers never import each other; they meet here, through
:class:`stflash.flash.debug.DebugAccess`.

Programming takes the loader (buffers in SRAM that the probe fills while the core programs) for
anything but small writes and falls back to the register path where the loader cannot run (no
RAM to spare, a core that does not execute). A write that erases first hands the erases to the
loader as well (:meth:`StlinkTarget.erase_and_program`): each sector is erased by the core right
before its first byte while the probe already fills the buffers, so the transfer hides behind
the erase instead of following it. CRCs for skipping and verifying, and blank checks, come from
the loader too, or not at all (the session then reads back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .chips.model import Chip, FlashKind, Sector
from .errors import StflashError
from .flash.debug import FlashStep
from .flash.drivers import FlashDriver, driver_for
from .flash.loader import FlashLoader, LoaderFault, LoaderUnavailable
from .links.stlink import StlinkAccess, StlinkProbe, identify
from .target import TargetInfo, crcs_by_sector, program_each

LOADER_MIN_BYTES = 1024  # below this the register path is as fast as loading the loader


@dataclass(frozen=True)
class _Erase:
    """One erase of a write: its bank (None: the whole flash), the address it must precede
    (None: the run's first byte), the loader's steps for it (None: the host must do it), the
    sectors it wipes, and how the host does it."""

    bank: int | None
    address: int | None
    steps: list[FlashStep] | None
    wiped: list[Sector]
    on_host: Callable[[], None]


def parallelism_for(volts: float | None) -> int:
    """F2/F4/F7 program width the supply allows (RM0090 3.5.2 / RM0410 3.3.4): x32 from 2.7 V,
    x16 from 2.1 V, x8 below; a probe that cannot measure is taken to see a 3.3 V board."""
    if volts is None or volts >= 2.7:
        return 32
    return 16 if volts >= 2.1 else 8


class StlinkTarget:
    """One chip behind one ST-LINK, on one access port."""

    link = "stlink"

    def __init__(self, probe: StlinkProbe, *, mode: str = "normal", frequency: int | None = None,
                 ap: int = 0) -> None:
        self.probe = probe
        self.mode = mode
        self.frequency = frequency
        self.ap = ap
        self.access: StlinkAccess = probe.connect(mode=mode, frequency=frequency, ap=ap)
        self.info: TargetInfo | None = None
        self._driver: FlashDriver | None = None
        self._loader: FlashLoader | None = None
        self._loader_failed: str | None = None
        self.loader_ran = False  # the core's registers belong to the loader until a reset
        self.keep_halted = False
        self.used: dict[str, str] = {}  # which path each job took, for the result and tests

    @classmethod
    def open(cls, backend: Any, serial: str | None, *, sleep: Callable[[float], None],
             mode: str = "normal", frequency: int | None = None, ap: int = 0) -> StlinkTarget:
        probe = StlinkProbe.open(backend, serial, sleep=sleep)
        try:
            return cls(probe, mode=mode, frequency=frequency, ap=ap)
        except BaseException:
            probe.close()
            raise

    # -- identification ---------------------------------------------------------------------------
    def identify(self) -> TargetInfo:
        info = identify(self.probe)
        self.info = info
        self._driver = None
        self._loader = None
        if info.chip is not None and info.rdp_level == 0 and info.chip.alt_geometries:
            info.chip = self.driver.refresh_geometry()  # dual-bank options change the sector map
        return info

    @property
    def chip(self) -> Chip:
        if self.info is None or self.info.chip is None:
            raise StflashError("the chip behind the ST-LINK was not identified",
                               hint="run 'stflash probe -c stlink' to see what answered")
        return self.info.chip

    @property
    def driver(self) -> FlashDriver:
        if self._driver is None:
            psize = None
            if self.chip.flash_kind in (FlashKind.F2_F4, FlashKind.F7):
                psize = parallelism_for(self.probe.voltage)
            self._driver = driver_for(self.chip, self.access, psize=psize)
        return self._driver

    def _loader_or_none(self) -> FlashLoader | None:
        """The loader (put in RAM by its first run); None (once, remembered) where it cannot
        run here."""
        if self._loader_failed is not None:
            return None
        if self._loader is None:
            try:
                loader = FlashLoader(self.access, self.driver.chip)
            except LoaderUnavailable as exc:
                self._give_up_loader(exc)
                return None
            self._loader = loader
        return self._loader

    def _give_up_loader(self, exc: LoaderUnavailable) -> None:
        self._loader_failed = exc.message
        self._loader = None

    # -- memory -----------------------------------------------------------------------------------
    def read(self, address: int, length: int) -> bytes:
        return self.access.read_block(address, length)

    def erase_sectors(self, sectors: Sequence[Sector], *, skip_blank: bool = False) -> None:
        self._halted()
        for sector in sectors:
            self.driver.erase_sector(sector)

    def mass_erase(self, *, skip_blank: bool = False) -> None:
        self._halted()
        self.driver.mass_erase()

    def erase_bank(self, bank: int) -> None:
        """One bank (0-based) with the controller's bank erase, where the plan found it quicker."""
        self._halted()
        self.driver.mass_erase(bank)

    def program(self, address: int, data: bytes) -> None:
        """One range, as :meth:`program_segments` writes it; a failure's ``written_upto`` counts
        the bytes from ``address`` on that are known written."""
        try:
            self.program_segments([(address, data)])
        except StflashError as exc:
            end = address
            for start, length in exc.written:
                if start == end:
                    end += length
            exc.written_upto = end - address
            raise

    def program_segments(self, segments: Sequence[tuple[int, bytes]],
                         progress: Callable[[int, int], None] | None = None) -> None:
        """Several ranges in as few loader runs as there are banks: the loader's buffers stay
        full across sector boundaries instead of filling and draining once per range. Small
        writes, and targets where the loader cannot start (a core that cannot fetch from the RAM
        it got), take the register path. A failure carries ``written``: the (address, length)
        ranges that landed."""
        self.erase_and_program((), segments, progress=progress)

    def erase_and_program(self, sectors: Sequence[Sector], segments: Sequence[tuple[int, bytes]], *,
                          mass: bool = False, banks: Sequence[int] = (),
                          progress: Callable[[int, int], None] | None = None,
                          erasing: Callable[[Sequence[Sector]], None] | None = None) -> None:
        """Erase ``sectors`` (or the whole flash with ``mass``, or whole ``banks``), then program
        ``segments``. With the loader every erase runs on the target right before the first byte
        that needs it, inside the same run, while the probe fills the buffers behind it; erases
        the loader cannot do (a part without steps, both H7 banks at once) are done first from
        the host. ``erasing`` hears which sectors are about to be erased (they are "erased or
        old" from then on). A failure carries ``written`` as :meth:`program_segments` does."""
        runs = self._bank_runs(segments)  # refuses ranges outside the flash before erasing any
        total = sum(len(d) for _, d in segments)
        loader = self._loader_or_none() if total >= LOADER_MIN_BYTES else None
        drv = self.driver
        run_bank = [drv.bank_of(run[0][0]) for run in runs]
        chip_sectors = self.chip.sectors()
        erases: list[_Erase] = []
        if mass:
            erases.append(_Erase(None, None, drv.loader_mass_erase_steps(None), list(chip_sectors), drv.mass_erase))
        for bank in banks:
            erases.append(_Erase(bank, None, drv.loader_mass_erase_steps(bank),
                                 [s for s in chip_sectors if s.bank == bank], partial(drv.mass_erase, bank)))
        for sector in sectors:
            erases.append(_Erase(sector.bank, sector.address, drv.loader_erase_steps(sector), [sector],
                                 partial(drv.erase_sector, sector)))
        by_run: list[list[_Erase]] = [[] for _ in runs]
        first: list[_Erase] = []  # done from the host before any programming
        for erase in erases:
            index = next((i for i, b in enumerate(run_bank) if erase.bank is None or b == erase.bank), None)
            if loader is None or erase.steps is None or index is None:
                first.append(erase)
            else:
                by_run[index].append(erase)
        told: set[int] = set()

        def tell(group: Sequence[_Erase]) -> None:
            fresh = [s for e in group for s in e.wiped if s.index not in told]
            told.update(s.index for s in fresh)
            if erasing is not None and fresh:
                erasing(fresh)

        def on_host(group: Sequence[_Erase]) -> None:
            self._halted()  # host work only: a loader run halts the core itself
            tell(group)
            for erase in group:
                erase.on_host()

        if first:
            on_host(first)
        landed: list[tuple[int, int]] = []
        try:
            for index, run in enumerate(runs):
                done = sum(n for _, n in landed)
                report = None if progress is None else (lambda n, _t, done=done: progress(done + n, total))
                if loader is not None:
                    steps = [(e.address if e.address is not None else run[0][0], e.steps or [])
                             for e in by_run[index]]
                    if not self._loader_run(loader, run, report, steps, partial(tell, by_run[index])):
                        loader = None  # it could not start: nothing of this run was erased
                if loader is None:
                    on_host(by_run[index])
                    program_each(self.driver.program, run, report)
                landed += [(a, len(d)) for a, d in run]
        except StflashError as exc:
            exc.written = landed + list(exc.written)
            raise
        self.used["program"] = "registers" if loader is None else "loader"
        if loader is not None and any(by_run):
            self.used["erase"] = "loader"

    def _bank_runs(self, segments: Sequence[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
        """The segments cut at bank boundaries, consecutive pieces of one bank in one run: a
        loader run programs one bank (an H7 bank has its own registers)."""
        runs: list[tuple[int, list[tuple[int, bytes]]]] = []
        for address, data in segments:
            for bank, start, piece in self.driver.split_banks(address, bytes(data)):
                if runs and runs[-1][0] == bank:
                    runs[-1][1].append((start, piece))
                else:
                    runs.append((bank, [(start, piece)]))
        return [run for _, run in runs]

    def _loader_run(self, loader: FlashLoader, run: list[tuple[int, bytes]],
                    report: Callable[[int, int], None] | None,
                    steps: Sequence[tuple[int, Sequence[FlashStep]]] = (),
                    starting: Callable[[], None] | None = None) -> bool:
        """One loader run over ``run`` (erasing as ``steps`` say on the way; ``starting`` is
        called first); False where the loader could not start (nothing was programmed or
        erased; the loader is not tried again)."""
        drv, address = self.driver, run[0][0]
        try:
            handed = drv.loader_setup(address)  # the host only unlocks; the loader does the rest
            begin: Sequence[FlashStep] = ()
            end: Sequence[FlashStep] = ()
            if handed is None:
                mode = drv.programming(address)
            else:
                values, begin, end = handed
                mode = drv.handed_mode(address, values)
            with mode as setup:
                self.loader_ran = True
                if starting is not None:
                    starting()
                loader.program_segments(run, setup, report, steps=steps, begin=begin, end=end,
                                        step_failure=drv.step_failure)
        except LoaderFault:
            raise  # it stopped part-way: the error says what landed
        except LoaderUnavailable as exc:
            self._give_up_loader(exc)
            return False
        return True

    def sector_crcs(self, sectors: Sequence[Sector]) -> dict[int, int] | None:
        """CRC32 of each sector from the loader, or None (the caller reads back) where it
        cannot give them."""
        return crcs_by_sector(self.check_ranges, sectors)

    def check_ranges(self, ranges: Sequence[tuple[int, int]],
                     blank: Sequence[Sector] = ()) -> tuple[list[int], dict[int, bool]] | None:
        """In one loader run: the CRC32 of each (address, length) range, and for each sector of
        ``blank`` whether it holds only the erased value (every word compared on the target).
        None where the loader cannot tell (read protection, no loader): the caller reads back."""
        if self.info is not None and self.info.rdp_level:
            return None
        loader = self._loader_or_none()  # it halts the core before it runs
        if loader is None:
            return None
        self.loader_ran = True
        entries = [(a, n, False) for a, n in ranges] + [(s.address, s.size, True) for s in blank]
        try:
            values = loader.check(entries) if entries else []
        except LoaderFault:
            return None  # the core faulted reading the flash: a read-back reports why
        except LoaderUnavailable as exc:
            self._give_up_loader(exc)
            return None
        self.used["crc"] = "loader"
        n = len(ranges)
        return values[:n], {s.index: bool(v) for s, v in zip(blank, values[n:], strict=True)}

    def _halted(self) -> None:
        """Flash work needs a core that does not fetch from the flash being changed: a hot-plug
        attach leaves it running until the first write."""
        if not self.access.is_halted():
            self.access.halt()

    # -- running ----------------------------------------------------------------------------------
    def reset(self, run: bool = True) -> None:
        if self._loader is not None:
            self._loader.forget()  # the firmware (or the reset itself) has the RAM and registers
        if run:
            self.access.reset_and_run()
        else:
            self.access.reset_and_halt()
        self.loader_ran = False
        self.keep_halted = not run

    # -- option bytes -----------------------------------------------------------------------------
    def read_option_bytes(self) -> dict[str, int]:
        return self.driver.read_options()

    def write_option_bytes(self, values: dict[str, int]) -> None:
        """Program the fields, let the chip load them (option reload or reset), reconnect where the
        reload dropped the debug connection, and check they hold."""
        self._halted()
        done = self.driver.write_options(values, apply=True)
        if done.reconnect:
            self.access = self.probe.connect(mode=self.mode, frequency=self.frequency, ap=self.ap)
        self.loader_ran = False
        self.identify()
        if done.changed and (self.info is None or not self.info.rdp_level):
            self.driver.verify_options(values)

    def close(self) -> None:
        # a core left inside the loader (written without a reset) stays halted rather than run
        # from the loader's breakpoint; otherwise the firmware runs on as before we attached
        self.probe.close(resume=not (self.keep_halted or self.loader_ran))
