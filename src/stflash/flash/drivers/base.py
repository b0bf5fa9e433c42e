"""What every flash driver shares: polling with datasheet timeouts, error reporting by status
bit name, splitting and padding a program call, and the option-change orchestration (read the
fields, program them, apply them with the family's reload, verify).

A driver only touches the target through :class:`~stflash.flash.debug.DebugAccess`, so the same
code serves any probe and the simulated bench.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ...chips.erase_times import EraseTimes, erase_times
from ...chips.model import Chip, OptionField, Sector
from ...errors import (
    ImageDoesNotFitError,
    OperationTimeoutError,
    ProtectedError,
    StflashError,
    UsageError,
    VerifyError,
)
from ..debug import DebugAccess, FlashStep, ProgramSetup
from .limits import Limits, limits_for, timeout

CHUNK = 1024  # bytes handed to the probe at once on the register path; also the error granularity
# Polling: pauses start at 1/64 of the datasheet maximum (between 20 us and 1 ms) and double up
# to 1/16 of it, at most 50 ms: short operations are seen soon after they end, long ones cost a
# few dozen status reads, and a finished erase is noticed at most 50 ms late.
MIN_POLL_S = 20e-6
FIRST_POLL_MAX_S = 1e-3
MAX_POLL_S = 50e-3
# FLASH_CR.PSIZE by program/erase parallelism in bits (F2/F4/F7, H7)
PSIZE_BITS = {8: 0, 16: 1, 32: 2, 64: 3}

# What each status flag means, in the words of the reference manuals; shown after the flag name.
EXPLAIN = {
    "PGERR": "the location was not erased",
    "PROGERR": "the double word was not erased",
    "NOTZEROERR": "the word was not erased",
    "PGAERR": "misaligned data or a write across a row/page boundary",
    "PGPERR": "the access width does not match PSIZE",
    "PGSERR": "programming sequence error",
    "ERSERR": "erase/program sequence error",
    "SIZERR": "wrong access size",
    "INCERR": "inconsistent writes to one flash word",
    "STRBERR": "a byte of the write buffer was written twice",
    "OPERR": "the operation failed in the flash array",
    "FWWERR": "the core fetched from flash while it was being written (halt the core)",
    "MISERR": "fast programming: data missing",
    "FASTERR": "fast programming error",
    "OPTVERR": "option and complement do not match",
    "OPTCHANGEERR": "the option change was refused",
}


@dataclass(frozen=True)
class Unlock:
    """Key ``keyr`` with ``keys`` while ``control & lock_bit`` reads 1."""

    control: int
    lock_bit: int
    keyr: int
    keys: tuple[int, int]


@dataclass(frozen=True)
class OptionsWritten:
    """What ``write_options`` did. ``reset``: ``"obl"`` when an option reload (OBL_LAUNCH) reset
    the chip, after which the probe must reconnect; ``"system"`` when the driver reset and
    halted the core itself so that the options load; None when the options were only stored
    (they apply at the next reset). ``erased``: an RDP 1 -> 0 regression wiped the flash."""

    changed: dict[str, int] = field(default_factory=dict)
    reset: str | None = None
    erased: bool = False

    @property
    def reconnect(self) -> bool:
        return self.reset == "obl"


class _Failed(Exception):
    """Internal: a program step failed; ``good_end`` is the address up to which data is surely
    written."""

    def __init__(self, error: StflashError, good_end: int) -> None:
        super().__init__(error.message)
        self.error = error
        self.good_end = good_end


def bit_names(value: int, names: Mapping[int, str]) -> str:
    return "|".join(name for bit, name in sorted(names.items()) if value & bit) or f"{value:#010x}"


def check_psize(psize: int) -> int:
    if psize not in PSIZE_BITS:
        raise UsageError(f"PSIZE must be one of {sorted(PSIZE_BITS)} bits, not {psize}")
    return psize


class FlashDriver:
    """Erase, program and option bytes of one controller kind, through a debug probe.

    ``chip`` is the chip-table row with the bank layout in force (``refresh_geometry`` reads the
    options and switches to the layout they select). Public operations unlock what they need and
    leave the controller unlocked; ``lock()`` relocks.
    """

    unit_word = "sector"  # what the reference manual calls an erase unit
    status_names: Mapping[int, str] = {}
    protection_bits = 0  # status bits meaning "protected" (reported as ProtectedError)
    reload = "system"  # how stored options get applied: "obl" (OBL_LAUNCH) or "system" (a reset)

    def __init__(self, chip: Chip, access: DebugAccess) -> None:
        self.row = chip
        self.chip = chip
        self.access = access
        self.base = chip.flash_registers
        self.limits: Limits = limits_for(chip)
        self.times: EraseTimes = erase_times(chip)
        self.erased = chip.erased_value

    # -- to implement per kind -------------------------------------------------------------------
    @property
    def unit(self) -> int:
        """Bytes programmed at once on the register path (data is padded to it)."""
        return self.chip.write_unit

    @property
    def parallelism(self) -> int:
        """PSIZE in bits where the controller has one (0 otherwise): it selects the timing row."""
        return 0

    def unlock(self) -> None:
        raise NotImplementedError

    def lock(self) -> None:
        raise NotImplementedError

    def erase_sector(self, sector: Sector) -> None:
        raise NotImplementedError

    def mass_erase(self, bank: int | None = None) -> None:
        raise NotImplementedError

    def program_setup(self, address: int) -> ProgramSetup:
        raise NotImplementedError

    def program_end(self, address: int) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def programming(self, address: int) -> Iterator[ProgramSetup]:
        """Program mode for the bank holding ``address`` while the block runs (the register path
        and the loader both stream inside it)."""
        setup = self.program_setup(address)
        with self.ending(lambda: self.program_end(address)):
            yield setup

    @contextlib.contextmanager
    def handed_mode(self, address: int, setup: ProgramSetup) -> Iterator[ProgramSetup]:
        """Program mode a loader entered and leaves by its own steps (:meth:`loader_setup`): the
        host leaves it only when the run failed, since the loader's end steps may not have run."""
        with self.ending(lambda: self.program_end(address), on_success=False):
            yield setup

    @contextlib.contextmanager
    def ending(self, end: Callable[[], None], *, on_success: bool = True) -> Iterator[None]:
        """Run ``end`` when the block is left (after a clean exit only with ``on_success``). If the
        block failed, a failure of ``end`` too (the probe is gone) is dropped: the block's own
        error says what landed."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(StflashError):
                end()
            raise
        if on_success:
            end()

    def _stream(self, bank: int, first: int, blob: bytes) -> None:
        """Program ``blob`` (padded to ``unit``) at ``first`` inside bank ``bank``; raise
        ``_Failed`` on an error."""
        raise NotImplementedError

    # -- the same work as steps the flash loader can run on the target -----------------------------
    # Drivers that describe their erases as steps (``has_steps``) let a loader run erase a sector
    # right before programming it, with no probe round trip in between; the host runs the very
    # same steps for an erase on its own (``run_steps``).
    has_steps = False

    def prepare_steps(self, bank: int) -> list[FlashStep]:
        """Wait for the controller of ``bank`` to be idle and clear its flags (it is unlocked)."""
        raise NotImplementedError

    def erase_steps(self, sector: Sector) -> list[FlashStep]:
        """Erase ``sector`` on a prepared, unlocked controller, leaving it idle."""
        raise NotImplementedError

    def mass_erase_steps(self, bank: int | None = None) -> list[FlashStep] | None:
        """Erase one bank (None: the whole flash) on a prepared, unlocked controller; None where
        that is not one operation of one register set."""
        return None

    def program_steps(self, bank: int) -> list[FlashStep]:
        """Back into program mode, as ``program_setup`` leaves the controller."""
        raise NotImplementedError

    def end_steps(self, bank: int) -> list[FlashStep]:
        """Out of program mode, as ``program_end`` does it."""
        raise NotImplementedError

    def setup_values(self, address: int) -> ProgramSetup:
        """What ``program_setup`` returns for ``address``, without touching the controller."""
        raise NotImplementedError

    def loader_setup(self, address: int) -> tuple[ProgramSetup, list[FlashStep], list[FlashStep]] | None:
        """For a loader run in the bank of ``address``: unlock the controller from the host and
        hand the rest of ``program_setup`` (wait for it, clear its flags, program mode) and of
        ``program_end`` to the loader as (setup, steps first, steps last), which saves their
        probe round trips. None where the driver has no steps (use :meth:`programming`)."""
        if not self.has_steps:
            return None
        bank = self.bank_of(address)
        self.unlock_bank(bank)
        return self.setup_values(address), [*self.prepare_steps(bank), *self.program_steps(bank)], self.end_steps(bank)

    def unlock_bank(self, bank: int) -> None:
        """Unlock the register set that serves ``bank`` (a single set: the only one)."""
        self.unlock()

    def loader_erase_steps(self, sector: Sector) -> list[FlashStep] | None:
        """What a loader run does before programming into ``sector``: prepare, erase it, return
        to program mode. None where the driver has no steps (the host erases first)."""
        if not self.has_steps:
            return None
        return [*self.prepare_steps(sector.bank), *self.erase_steps(sector), *self.program_steps(sector.bank)]

    def loader_mass_erase_steps(self, bank: int | None = None) -> list[FlashStep] | None:
        """The same for a bank or mass erase (None where it is not one operation)."""
        steps = self.mass_erase_steps(bank) if self.has_steps else None
        if steps is None:
            return None
        first = 0 if bank is None else bank
        return [*self.prepare_steps(first), *steps, *self.program_steps(first)]

    def step_failure(self, step: FlashStep, status: int) -> StflashError:
        """The error for a wait step that ended with error flags in ``status``."""
        return self.failure(status, step.errors, step.doing, step.subject, step.at)

    def run_steps(self, steps: Iterable[FlashStep]) -> None:
        """Run steps from the host. A wait that ends with error flags raises once the stores right
        after it (the controller's clean-up) have been made, as the register path always did."""
        failed: StflashError | None = None
        for step in steps:
            if failed is not None:
                if step.wait:
                    break
                self.access.write32(step.address, step.value)
                continue
            if not step.wait:
                self.access.write32(step.address, step.value)
                continue
            joint = " of " if step.doing.endswith("erase") else " "
            what = joint.join(w for w in (step.doing, step.subject) if w) or "the previous operation"
            status = self.wait_clear(step.address, step.value, step.max_s, what)
            if status & step.errors:
                failed = self.step_failure(step, status)
        if failed is not None:
            raise failed

    def _read_option_fields(self) -> dict[str, int]:
        """Every option field from the register holding its live value (the H7's *_CUR where it
        differs); controllers with an option area in memory decode that instead."""
        fields = self.chip.option_fields
        words = {a: self.access.read32(a) for a in sorted({f.current_address or f.address for f in fields})}
        return {f.name: f.extract(words[f.current_address or f.address]) for f in fields}

    def _program_options(self, values: dict[str, int], budget_s: float) -> None:
        """Store ``values`` (field name -> value, all changed) in the option memory."""
        raise NotImplementedError

    def _launch_reload(self) -> None:
        """Start the option reload that resets the chip (families with OBL_LAUNCH)."""
        raise NotImplementedError

    def _lock_options(self) -> None:
        """Relock the option registers after a change that is not followed by OBL_LAUNCH."""

    # -- shared operations -----------------------------------------------------------------------
    def erase_sectors(self, sectors: Iterable[Sector]) -> None:
        for sector in sectors:
            self.erase_sector(sector)

    def program(self, address: int, data: bytes) -> None:
        """Program ``data`` at ``address`` through register accesses. Data not aligned to the
        program unit is padded with the erased value. On failure the error's ``written_upto``
        says how many leading bytes of ``data`` are surely written."""
        if not data:
            return
        pieces = self.split_banks(address, bytes(data))
        for bank, start, piece in pieces:
            unit = self.unit
            head = start % unit
            blob = bytes([self.erased]) * head + piece
            blob += bytes([self.erased]) * (-len(blob) % unit)
            try:
                self._stream(bank, start - head, blob)
            except _Failed as failed:
                failed.error.written_upto = max(0, min(len(data), failed.good_end - address))
                raise failed.error from None

    def split_banks(self, address: int, data: bytes) -> list[tuple[int, int, bytes]]:
        """(bank index, start, bytes) per bank; refuse anything outside the flash banks."""
        end = address + len(data)
        out: list[tuple[int, int, bytes]] = []
        covered = 0
        for index, bank in enumerate(self.chip.banks):
            lo, hi = max(address, bank.base), min(end, bank.end)
            if lo < hi:
                out.append((index, lo, data[lo - address : hi - address]))
                covered += hi - lo
        if covered != len(data):
            raise ImageDoesNotFitError(
                f"{address:#010x}-{end - 1:#010x} is not all inside the flash of {self.chip.name} "
                f"({', '.join(f'{b.base:#010x}-{b.end - 1:#010x}' for b in self.chip.banks)})"
            )
        return out

    def bank_of(self, address: int) -> int:
        for index, bank in enumerate(self.chip.banks):
            if bank.base <= address < bank.end:
                return index
        raise UsageError(f"{address:#010x} is not in the flash of {self.chip.name}")

    def _check_bank(self, bank: int | None) -> list[int]:
        if bank is None:
            return list(range(len(self.chip.banks)))
        if not 0 <= bank < len(self.chip.banks):
            raise UsageError(f"{self.chip.name} has {len(self.chip.banks)} flash bank(s); there is no bank {bank + 1}")
        return [bank]

    def refresh_geometry(self) -> Chip:
        """Read the options and use the bank layout they select (F42x DB1M, F76x nDBANK, L4
        DUALBANK/DBANK, G4 DBANK)."""
        if self.row.alt_geometries:
            self.chip = self.row.with_options(self.read_options())
        return self.chip

    # -- waiting and errors ----------------------------------------------------------------------
    def wait_clear(self, register: int, mask: int, max_s: float, what: str, name: str = "SR") -> int:
        """Poll ``register`` until the ``mask`` bits are 0; the timeout derives from the datasheet
        maximum ``max_s``. Returns the last value read."""
        limit = timeout(max_s)
        step = min(max(max_s / 64, MIN_POLL_S), FIRST_POLL_MAX_S)
        cap = min(max(max_s / 16, MIN_POLL_S), MAX_POLL_S)
        waited = 0.0
        value = self.access.read32(register)
        while value & mask:
            if waited >= limit:
                raise OperationTimeoutError(
                    f"{what} did not finish within {limit:.3g} s "
                    f"(FLASH_{name} = {value:#010x}: {bit_names(value & mask, self.status_names)} still set)",
                    hint="power-cycle the target; if it repeats, the flash may be worn out or the supply too low",
                )
            self.access.wait(step)
            waited += step
            step = min(step * 2, cap)
            value = self.access.read32(register)
        return value

    def describe(self, sector: Sector) -> str:
        restarts = sector.bank > 0 and self.chip.banks[sector.bank].first_number == 0
        number = f"{self.unit_word} {sector.number} of bank {sector.bank + 1}" if restarts else (
            f"{self.unit_word} {sector.index}"
        )
        return f"{number} at {sector.address:#010x}"

    def where(self, address: int) -> str:
        sector = self.chip.sector_at(address)
        return f"{address:#010x}" + (f" ({self.describe(sector)})" if sector else "")

    def failure(self, status: int, mask: int, what: str, subject: str, address: int | None = None) -> StflashError:
        """The error for status bits ``status & mask`` raised while doing ``what`` to ``subject``
        (at ``address`` when it is one place in the flash)."""
        bits = status & mask
        names = bit_names(bits, self.status_names)
        if bits & self.protection_bits:
            reason = None if address is None else self.protected_area(address)
            if reason:
                return ProtectedError(f"{names}: {subject} {reason} ({what} refused)")
            level = self._rdp_level_quietly()
            if level:
                return ProtectedError(
                    f"{names}: {subject} cannot be changed: read-out protection (RDP level {level}) blocks "
                    f"{what} through the debug port",
                    hint="an RDP regression to level 0 (which erases the whole flash) lifts it",
                )
            return ProtectedError(
                f"{names}: {subject} is write-protected ({what} refused)",
                hint="clear its write-protection option bits first (or it belongs to a PCROP/secure area)",
            )
        detail = "; ".join(EXPLAIN[n] for n in names.split("|") if n in EXPLAIN)
        return StflashError(f"{names}: {what} of {subject} failed" + (f": {detail}" if detail else ""))

    def protected_area(self, address: int) -> str | None:
        """Why ``address`` is out of the debugger's reach beyond RDP/WRP, where the family has
        such areas (the WB's CPU2 area)."""
        return None

    def _rdp_level_quietly(self) -> int:
        rdp = self.chip.option_field("RDP")
        if rdp is None:
            return 0
        try:
            return rdp.rdp_level(self._read_option_fields()[rdp.name])
        except (StflashError, KeyError):
            return 0

    def program_failure(self, status: int, mask: int, first: int, expected: bytes) -> _Failed:
        """Locate the first unit of ``expected`` (written from ``first``) that did not land, so
        the error names it and ``written_upto`` counts everything before it."""
        bad = first
        if not status & self.protection_bits or not self._rdp_level_quietly():
            try:
                now = self.access.read_block(first, len(expected))
            except StflashError:
                now = b""
            for off in range(0, len(now), self.unit):
                if now[off : off + self.unit] != expected[off : off + self.unit]:
                    bad = first + off
                    break
        return _Failed(self.failure(status, mask, "programming", self.where(bad), bad), bad)

    # -- option bytes ----------------------------------------------------------------------------
    def read_options(self) -> dict[str, int]:
        """Every option field of the chip by name, as the option registers/area hold them."""
        return self._read_option_fields()

    def rdp_level(self) -> int:
        rdp = self.chip.option_field("RDP")
        return 0 if rdp is None else rdp.rdp_level(self.read_options()[rdp.name])

    def _fields(self, values: Mapping[str, int]) -> dict[str, tuple[OptionField, int]]:
        out: dict[str, tuple[OptionField, int]] = {}
        for name, value in values.items():
            f = self.chip.option_field(name)
            if f is None:
                known = ", ".join(x.name for x in self.chip.option_fields) or "none"
                raise UsageError(f"{self.chip.name} has no option field {name!r}", hint=f"fields: {known}")
            if value < 0 or value >> f.width:
                raise UsageError(f"option {f.name}={value:#x} does not fit in {f.width} bit(s)")
            out[f.name] = (f, value)
        return out

    def write_options(
        self, values: Mapping[str, int], *, apply: bool = True, verify: bool = False
    ) -> OptionsWritten:
        """Change the named option fields, leaving the others as they are. With ``apply`` the
        family's reload follows: OBL_LAUNCH (F0/F3, L0/L1, L4/G0/G4/WB: the chip resets and the
        probe must reconnect, see ``OptionsWritten.reconnect``) or a reset-and-halt through the
        probe (F1, F2/F4/F7, H7 load options at reset). An RDP 1 -> 0 change mass-erases the
        flash: the caller asks for confirmation before calling. ``verify`` reads the fields
        back afterwards (through the same access, so only where it survived the reset)."""
        fields = self._fields(values)
        current = self.read_options()
        changed = {name: v for name, (_, v) in fields.items() if current.get(name) != v}
        if not changed:
            return OptionsWritten()
        erased = self.change_erases_flash(current, changed)
        budget = self.limits.regression_s() if erased else self.limits.option
        self._program_options(changed, budget)
        reset = None
        if apply and self.reload == "obl":
            reset = "obl"
            self._launch_reload()
        else:
            self._lock_options()
            if apply:
                reset = "system"
                self.access.reset_and_halt()
                if self.row.alt_geometries:
                    self.refresh_geometry()
        if verify:
            self.verify_options(values)
        return OptionsWritten(changed, reset, erased)

    def change_erases_flash(self, current: Mapping[str, int], changed: Mapping[str, int]) -> bool:
        """Does this change wipe the flash? An RDP 1 -> 0 regression does on every family."""
        rdp = self.chip.option_field("RDP")
        return bool(
            rdp is not None
            and rdp.name in changed
            and rdp.rdp_level(current[rdp.name]) == 1
            and rdp.rdp_level(changed[rdp.name]) == 0
        )

    def verify_options(self, values: Mapping[str, int]) -> None:
        now = self.read_options()
        for name, (f, value) in self._fields(values).items():
            if now.get(name) != value:
                raise VerifyError(
                    f"option {name} reads {now.get(name)} after the change, not {value}",
                    address=f.current_address or f.address,
                )

    def regress_rdp(self, *, apply: bool = True) -> OptionsWritten:
        """Read-out protection level 1 -> 0. The chip erases its whole flash while doing it; the
        caller must have asked the user. (Level 2 never gets this far: it closes the debug port.)"""
        rdp = self.chip.option_field("RDP")
        if rdp is None:
            raise UsageError(f"{self.chip.name} has no read-out protection option")
        return self.write_options({rdp.name: rdp.default}, apply=apply)

    # -- helpers for drivers ---------------------------------------------------------------------
    def write_resetting(self, register: int, value: int) -> None:
        """A write that resets the chip (OBL_LAUNCH): the probe may see it fail."""
        with contextlib.suppress(StflashError):
            self.access.write32(register, value)

    def key(self, register: int, keys: tuple[int, int]) -> None:
        self.access.write32(register, keys[0])
        self.access.write32(register, keys[1])

    def unlock_with(self, control: int, lock_bit: int, keyr: int, keys: tuple[int, int]) -> None:
        """Write the key pair only while ``lock_bit`` of ``control`` reads 1: keying a register
        that is already unlocked locks it until the next reset."""
        if self.access.read32(control) & lock_bit:
            self.key(keyr, keys)

    def unlock_steps(self, bank: int) -> list[Unlock]:
        """What unlocking the register set of ``bank`` takes, as data, for code on the target that
        keys a register only while it reads locked (the UART stub); empty where the driver does not
        describe it (then it has no steps either)."""
        return []

    def unlock_by(self, unlock: Unlock) -> None:
        self.unlock_with(unlock.control, unlock.lock_bit, unlock.keyr, unlock.keys)

    def option_words(self, values: Mapping[str, int]) -> dict[int, int]:
        """The option registers ``values`` touch, each read once with every changed field put in
        (on the H7 the *_PRG registers: ``OptionField.address``)."""
        words: dict[int, int] = {}
        for name, value in values.items():
            f = self.chip.option_field(name)
            assert f is not None
            if f.address not in words:
                words[f.address] = self.access.read32(f.address)
            words[f.address] = f.insert(words[f.address], value)
        return words

    def chunks(self, first: int, blob: bytes, size: int = CHUNK) -> Iterable[tuple[int, bytes]]:
        for pos in range(0, len(blob), size):
            yield first + pos, blob[pos : pos + size]

    def stream_chunks(
        self,
        setup: ProgramSetup,
        first: int,
        blob: bytes,
        write: Callable[[int, bytes], None],
        *,
        size: int = CHUNK,
    ) -> None:
        """Write ``blob`` chunk by chunk with ``write``; after each chunk wait for the last unit
        and check the error flags."""
        unit_s = self.limits.program_s(self.parallelism)
        for address, chunk in self.chunks(first, blob, size):
            try:
                write(address, chunk)
                status = self.wait_clear(setup.sr, setup.busy_mask, unit_s, f"programming at {address:#010x}")
            except StflashError as exc:  # the probe failed: the chunks before this one are programmed
                raise _Failed(exc, address) from None
            if status & setup.error_mask:
                raise self.program_failure(status, setup.error_mask, address, chunk)


class RegisterSet(Protocol):
    """The part of a controller table a single-register-set driver needs."""

    @property
    def keyr(self) -> int: ...

    @property
    def sr(self) -> int: ...

    @property
    def cr(self) -> int: ...

    @property
    def keys(self) -> tuple[int, int]: ...

    @property
    def cr_lock(self) -> int: ...


class SingleSetDriver(FlashDriver):
    """Controllers with one KEYR/SR/CR set for the whole flash (all but the H7 and XL FPEC)."""

    t: RegisterSet

    def _sr(self) -> int:
        return self.base + self.t.sr

    def _cr(self) -> int:
        return self.base + self.t.cr

    def unlock_steps(self, bank: int) -> list[Unlock]:
        return [Unlock(self._cr(), self.t.cr_lock, self.base + self.t.keyr, self.t.keys)]

    def unlock(self) -> None:
        self.unlock_by(self.unlock_steps(0)[0])

    def lock(self) -> None:
        self.access.write32(self._cr(), self.t.cr_lock)  # on L4-class parts this also sets OPTLOCK


class BankedRegisterSet(RegisterSet, Protocol):
    @property
    def bank_stride(self) -> int:
        """Distance from bank 1's register set to bank 2's."""
        ...


class PerBankDriver(FlashDriver):
    """Controllers with a KEYR/SR/CR set per bank (the H7, the XL-density F1)."""

    t: BankedRegisterSet

    def _reg(self, bank: int, offset: int) -> int:
        return self.base + offset + bank * self.t.bank_stride

    @property
    def _idle_cr(self) -> int:
        """What FLASH_CR holds between operations (the H7 keeps its PSIZE there)."""
        return 0

    def unlock_steps(self, bank: int) -> list[Unlock]:
        return [Unlock(self._reg(bank, self.t.cr), self.t.cr_lock, self._reg(bank, self.t.keyr), self.t.keys)]

    def _unlock_bank(self, bank: int) -> None:
        self.unlock_by(self.unlock_steps(bank)[0])

    def unlock_bank(self, bank: int) -> None:
        self._unlock_bank(bank)

    def unlock(self) -> None:
        for bank in range(len(self.chip.banks)):
            self._unlock_bank(bank)

    def lock(self) -> None:
        for bank in range(len(self.chip.banks)):
            self.access.write32(self._reg(bank, self.t.cr), self._idle_cr | self.t.cr_lock)
