"""An open ST-LINK: firmware facts, and connecting to the target in one of three ways.

* ``normal``: enter SWD, read the DP IDCODE, power up the debug domain, halt the core.
* ``under-reset``: NRST low before SWD is entered; reset vector catch and a halt request are set
  while the chip is held; NRST is released and the core stops at its reset vector, before the
  firmware can turn the debug pins off or sleep (stlink.md §5.2, §5.3).
* ``hot-plug``: attach without halting or resetting; the firmware keeps running.

Every step records what it saw in :attr:`StlinkProbe.observations`; a failure raises
:class:`.errors.ConnectFailed` carrying them, with a diagnosis from :mod:`.diagnosis`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from ...errors import DeviceBusyError, NotSupportedError, StflashError, TargetNotRespondingError, UsageError
from . import clock, diagnosis
from . import protocol as p
from .access import StlinkAccess
from .commands import Commands
from .core import Core, core_name, describe_dhcsr
from .errors import FIRMWARE_HINT, ConnectFailed, StlinkStatusError, TargetNoAnswer
from .transport import ProbeInfo, UsbTransport, find_probes, select_probe
from .version import V2_MULTI_AP

T = TypeVar("T")
CONNECT_MODES = ("normal", "under-reset", "hot-plug")
POWER_UP_POLLS = 10
UNDER_RESET_HOLD_S = 0.01  # NRST stays low this long after the catch is armed (pyOCD holds 0.1 s)
HALT_AFTER_RELEASE_S = 0.01  # stlink-org keeps requesting a halt for 10 ms after releasing NRST
HALT_ATTEMPTS_AFTER_RELEASE = 20
SCAN_APS = range(4)  # APs whose IDR identification reads (STM32: at most AP0-AP3, stlink.md §6)
H7_APB_AP, H7_APB_DBGMCU = 2, 0xE00E_1000


AHB_AP_TYPES = frozenset({0x1, 0x5, 0x8})  # IDR.TYPE of AMBA AHB3, AHB5, AHB5 with HPROT (ADIv5.2 C2.6.5)


def _hex(value: int) -> str:
    return f"{value:#010x}"


def is_ahb_ap(idr: str) -> bool:
    """Does an ``aps`` entry (hex IDR text) show a MEM-AP on an AHB, where a Cortex-M sits?"""
    return idr.startswith("0x") and int(idr, 16) & 0xF in AHB_AP_TYPES


class StlinkProbe:
    """One ST-LINK, claimed. Use :meth:`open`, then :meth:`connect`, then :meth:`close`."""

    def __init__(self, transport: UsbTransport, sleep: Callable[[float], None] = time.sleep) -> None:
        self.transport = transport
        self.info: ProbeInfo = transport.info
        self.sleep = sleep
        self.cmds = Commands(transport, sleep)
        self.observations: dict[str, object] = {}
        self.in_debug = False
        self.opened_aps: set[int] = set()
        self.access: StlinkAccess | None = None
        self.voltage: float | None = None
        self.frequency_khz: int | None = None
        self.idle = False  # known to be out of every mode (no GET_CURRENT_MODE needed)
        self.connect_dhcsr: int | None = None  # DHCSR as connect() last saw it, for identification

    # -- opening ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, backend: Any, serial: str | None = None, *,
             sleep: Callable[[float], None] = time.sleep) -> StlinkProbe:
        """Find the probe (by serial, or the only one attached), claim it, read its firmware
        version, return it to idle from whatever mode it was left in, measure the target voltage."""
        info = select_probe(find_probes(backend), serial)
        if info.problem:
            raise DeviceBusyError(f"{info.label} {info.serial or ''} cannot be opened: {info.problem}".strip(),
                                  hint="on Linux install the udev rule (sudo stflash udev-rules --install); "
                                  "close other programs that use the probe")
        transport = UsbTransport(info)
        transport.open()
        probe = cls(transport, sleep)
        try:
            probe._start()
        except BaseException:
            transport.close()
            raise
        return probe

    def _start(self) -> None:
        obs = self.observations
        obs["probe"] = self.info.label
        obs["probe_kind"] = self.info.kind.name
        obs["serial"] = self.info.serial
        version = self.cmds.read_version()
        obs["firmware"] = version.text()
        if version.hw < 2:
            raise NotSupportedError(f"{self.info.label} reports hardware version {version.hw}: not supported")
        if version.jtag == 0:
            raise NotSupportedError(f"{self.info.label} runs firmware {version.text()} without SWD support "
                                    "(an STM8-only firmware)",
                                    hint="install the STM32 debug firmware (STM32CubeProgrammer: Firmware upgrade)")
        obs["probe_mode_found"] = p.MODE_NAMES.get(self.cmds.leave_mode(), "unknown")
        self.idle = True  # just left whatever mode it was in: the first connect need not ask again
        self.voltage = self.cmds.target_voltage()
        obs["target_voltage"] = None if self.voltage is None else round(self.voltage, 2)

    @property
    def serial(self) -> str | None:
        return self.info.serial

    @property
    def firmware(self) -> str:
        return self.cmds.version.text()

    # -- connecting --------------------------------------------------------------------------------
    def connect(self, mode: str = "normal", frequency: int | None = None, ap: int = 0) -> StlinkAccess:
        """Attach to the core on MEM-AP ``ap`` with the SWD clock nearest ``frequency`` (Hz) from
        below; returns its :class:`StlinkAccess`. Raises :class:`ConnectFailed` with a diagnosis."""
        if mode not in CONNECT_MODES:
            raise UsageError(f"connect mode {mode!r}: choose one of {', '.join(CONNECT_MODES)}")
        if frequency is not None and frequency <= 0:
            raise UsageError(f"--freq {frequency}: give a frequency in Hz above 0")
        if not 0 <= ap <= 255:
            raise UsageError(f"--ap {ap}: access ports are numbered 0 to 255")
        if ap and not self.cmds.version.has_multi_ap:
            raise NotSupportedError(f"--ap {ap} needs ST-LINK firmware J{V2_MULTI_AP} or later "
                                    f"(this probe has {self.firmware})",
                                    hint=FIRMWARE_HINT)
        self._leave_debug()
        if not self.idle:
            self.cmds.leave_mode()  # also after a failed ENTER, which may have left it in debug mode
        self.idle = False
        obs = self.observations
        for key in [k for k in obs if k not in _PROBE_KEYS]:
            del obs[key]
        obs["connect_mode"] = mode
        obs["ap"] = ap
        requested = frequency or clock.DEFAULT_FREQUENCY_HZ
        obs["frequency_requested_hz"] = requested
        self.frequency_khz = self.cmds.set_swd_frequency(requested)
        obs["frequency_hz"] = None if self.frequency_khz is None else self.frequency_khz * 1000
        under_reset = mode == "under-reset"
        if under_reset:
            self.cmds.drive_nrst(p.NRST_LOW)  # before ENTER: "the adapter may not know the pin" (OpenOCD)
        try:
            self._attach(ap, under_reset)
            access = StlinkAccess(self.cmds, ap, self.sleep)
            self.access = access
            access.core.last_dhcsr = None
            if mode == "normal":
                self._guard_core(ap, lambda: access.halt())
                obs["halt"] = "ok"
            elif under_reset:
                self._guard_core(ap, lambda: self._halt_under_reset(access))
            dhcsr = access.core.last_dhcsr if mode == "normal" else None  # the halt's own poll read it
            if dhcsr is None:
                dhcsr = self._guard_core(ap, access.core.dhcsr)
            self.connect_dhcsr = dhcsr
            obs["core_state"] = describe_dhcsr(dhcsr)
        finally:
            if under_reset:
                with contextlib.suppress(StflashError):
                    self.cmds.drive_nrst(p.NRST_HIGH)
        return access

    def _attach(self, ap: int, under_reset: bool) -> None:
        obs = self.observations
        status = self.cmds.enter_swd()
        if under_reset:
            self.cmds.drive_nrst(p.NRST_LOW)  # again after ENTER (OpenOCD)
        obs["enter"] = "ok" if status == p.OK else p.status_name(status)
        if status != p.OK:
            self._fail(diagnosis.no_dp_answer(obs))
        self.in_debug = True
        status, dpidr = self.cmds.read_dp_idcode()
        if status != p.OK or dpidr == 0:
            obs["dp_idcode"] = None
            obs["dp_error"] = p.status_name(status)
            self._fail(diagnosis.no_dp_answer(obs))
        obs["dp_idcode"] = _hex(dpidr)
        self._power_up()
        if self.cmds.version.has_multi_ap:
            status = self.open_ap(ap)
            obs["ap_init"] = "ok" if status == p.OK else p.status_name(status)
            if status != p.OK:
                self._fail(diagnosis.core_not_answering(self.scan_for_cores(ap), f"INIT_AP {p.status_name(status)}"))

    def _power_up(self) -> None:
        """CSYSPWRUPREQ | CDBGPWRUPREQ and wait for both ACKs (pyOCD's sequence); the firmware's
        ENTER already does it, so only firmware with DP register access checks it, and repeats
        it (clearing the sticky flags first) only where CTRL/STAT does not show it done."""
        obs = self.observations
        if not self.cmds.version.has_dap_registers:
            obs["debug_power"] = "left to the probe (firmware before J24)"
            return
        acks = p.CSYSPWRUPACK | p.CDBGPWRUPACK
        status, value = self.cmds.dap_read(p.DP_PORT, p.DP_CTRL_STAT)
        if status == p.OK and value & acks == acks and not value & p.CTRL_STICKY:
            obs["debug_power"] = "ok"
            return
        self.cmds.dap_write(p.DP_PORT, p.DP_ABORT, p.ABORT_CLEAR_ALL)
        self.cmds.dap_write(p.DP_PORT, p.DP_CTRL_STAT, p.CSYSPWRUPREQ | p.CDBGPWRUPREQ)
        value = 0
        for _ in range(POWER_UP_POLLS):
            status, value = self.cmds.dap_read(p.DP_PORT, p.DP_CTRL_STAT)
            if status == p.OK and value & acks == acks:
                obs["debug_power"] = "ok"
                return
            self.sleep(0.001)
        obs["debug_power"] = f"not acknowledged (CTRL/STAT {_hex(value)})"
        self._fail(diagnosis.power_not_acknowledged(obs))

    def _halt_under_reset(self, access: StlinkAccess) -> None:
        """Arm the reset vector catch and a halt while NRST is low, release it, and wait for the
        core to stop at its reset vector. Parts whose debug registers do not answer in reset get
        halt requests for 10 ms after the release instead (stlink-org's fallback)."""
        obs = self.observations
        core = access.core
        demcr: int | None = None
        try:
            demcr = core.set_reset_catch()
            obs["reset_catch"] = "armed while NRST was low"
        except (StlinkStatusError, TargetNoAnswer) as exc:
            obs["reset_catch"] = f"not reachable in reset ({exc.message})"
        self.sleep(UNDER_RESET_HOLD_S)
        self.cmds.drive_nrst(p.NRST_HIGH)
        if demcr is not None:
            caught = core.wait_reset_halt()
            core.write32(p.DEMCR, (demcr | p.TRCENA) & ~p.VC_CORERESET)
            core.write32(p.DFSR, p.DFSR_ALL)
            obs["halt"] = "at the reset vector" if caught else "no reset vector catch"
            if not caught:
                access.halt()
            return
        halted = False
        for _ in range(HALT_ATTEMPTS_AFTER_RELEASE):
            with contextlib.suppress(StlinkStatusError, TargetNoAnswer):
                core.write32(p.DHCSR, p.DBGKEY | p.C_HALT | p.C_DEBUGEN)
                halted = core.is_halted()
            if halted:
                break
            self.sleep(HALT_AFTER_RELEASE_S / HALT_ATTEMPTS_AFTER_RELEASE)
        if not halted:
            access.halt()
        obs["halt"] = "soon after reset (halt requests after NRST release)"

    def _guard_core(self, ap: int, op: Callable[[], T]) -> T:
        """Run a step that needs the core; if its access port fails, find out why and fail."""
        try:
            return op()
        except ConnectFailed:
            raise
        except (StlinkStatusError, TargetNotRespondingError) as exc:
            self.observations["cpuid_error"] = exc.message  # the core's registers, as identify reads them
            self._fail(diagnosis.core_not_answering(self.scan_for_cores(ap), exc.message))

    # -- access ports --------------------------------------------------------------------------------
    def open_ap(self, ap: int) -> int:
        """INIT_AP once per AP per debug session (firmware J28+ wants it before AP traffic)."""
        if ap in self.opened_aps or not self.cmds.version.has_multi_ap:
            return p.OK
        status = self.cmds.init_ap(ap)
        if status == p.OK:
            self.opened_aps.add(ap)
        return status

    def scan_aps(self) -> dict[str, str]:
        """Each AP's IDR (readable without INIT_AP): a hex value, "none" (IDR 0) or the error."""
        out: dict[str, str] = {}
        if not self.cmds.version.has_dap_registers:
            return out
        for ap in SCAN_APS:
            status, idr = self.cmds.dap_read(ap, p.AP_IDR)
            out[str(ap)] = (_hex(idr) if idr else "none") if status == p.OK else f"error {p.status_name(status)}"
        return out

    def core_on(self, ap: int) -> str | None:
        """"cortex-m4 (CPUID 0x410fc241)" when a Cortex-M answers behind MEM-AP ``ap``, else None."""
        cpuid = self.read_on(ap, p.CPUID)
        if cpuid is None:
            return None
        name = core_name(cpuid)
        return f"{name} (CPUID {_hex(cpuid)})" if name else None

    def read_on(self, ap: int, address: int) -> int | None:
        """One word through MEM-AP ``ap``, or None if it faults or does not answer."""
        try:
            if self.open_ap(ap) != p.OK:
                return None
            return Core(self.cmds, ap, self.sleep).read32(address)
        except (StlinkStatusError, TargetNoAnswer, NotSupportedError):
            return None

    def scan_for_cores(self, dead_ap: int) -> dict[str, object]:
        """After the selected AP failed: which APs exist, whether another one reaches a core, and
        on an H7 whether the debug APB still shows the chip id."""
        obs = self.observations
        idrs = self.scan_aps()
        if idrs:
            obs["aps"] = idrs
        if not self.cmds.version.has_multi_ap:
            return obs
        others: dict[str, str] = {}
        for number in self._core_ap_candidates(idrs, dead_ap):
            found = self.core_on(number)
            if found:
                others[str(number)] = found
        if others:
            obs["other_core_aps"] = others
        return obs

    def _core_ap_candidates(self, idrs: dict[str, str], dead_ap: int) -> list[int]:
        """APs that may reach another core: those the chip table puts a core on (for parts with
        this DP IDCODE, and the DEV_ID the debug APB shows on an H7), among the AHB MEM-APs the
        scan found. A system-bus AP (the H7's AP1) reaches no core of its own."""
        from ...chips.lookup import all_chips

        obs = self.observations
        dpidr = obs.get("dp_idcode")
        rows = [c for c in all_chips() if f"{c.dp_idcode:#010x}" == dpidr]
        if dpidr == f"{diagnosis.H7_DP_IDCODE:#010x}":
            value = self.read_on(H7_APB_AP, H7_APB_DBGMCU)
            if value:
                obs["chip_id_apb"] = _hex(value)
                rows = [c for c in rows if c.dev_id == value & 0xFFF] or rows
        listed = sorted({ap for c in rows for ap in c.access_ports} - {dead_ap})
        mem_aps = [int(ap) for ap, idr in idrs.items() if is_ahb_ap(idr)]
        return [ap for ap in listed if ap in mem_aps] if listed else [ap for ap in mem_aps if ap != dead_ap]

    # -- failure --------------------------------------------------------------------------------------
    def _fail(self, said: tuple[str, str]) -> NoReturn:
        message, hint = said
        self.observations["diagnosis"] = message
        raise ConnectFailed(message, dict(self.observations), hint=hint)

    # -- the board around the chip ---------------------------------------------------------------------
    def hold_reset(self, low: bool = True) -> None:
        """Drive NRST low (or let it go): a target powered up while the probe holds it runs no
        firmware, which is how a latched supply lock-up is reached without timing a button."""
        self.cmds.drive_nrst(p.NRST_LOW if low else p.NRST_HIGH)

    def measure_voltage(self) -> float | None:
        """The target voltage now (None: this firmware cannot measure); kept in the observations."""
        self.voltage = self.cmds.target_voltage()
        self.observations["target_voltage"] = None if self.voltage is None else round(self.voltage, 2)
        return self.voltage

    # -- leaving -----------------------------------------------------------------------------------------
    def _leave_debug(self) -> None:
        if not self.in_debug:
            return
        if self.cmds.version.has_close_ap_status:
            for ap in sorted(self.opened_aps):
                with contextlib.suppress(StflashError):
                    self.cmds.close_ap(ap)
        self.opened_aps.clear()
        with contextlib.suppress(StflashError):
            self.cmds.exit_debug()
        self.in_debug = False
        self.access = None

    def close(self, *, resume: bool = False) -> None:
        """Leave debug mode and release the probe. ``resume`` first clears C_DEBUGEN, so a halted
        core runs on (as stlink-org does when it exits)."""
        try:
            if self.in_debug and resume and self.access is not None:
                with contextlib.suppress(StflashError):
                    self.access.core.write32(p.DHCSR, p.DBGKEY)
            self._leave_debug()
        finally:
            self.transport.close()

    def __enter__(self) -> StlinkProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_PROBE_KEYS = frozenset({"probe", "probe_kind", "serial", "firmware", "probe_mode_found", "target_voltage"})
__all__ = ["CONNECT_MODES", "StlinkProbe"]
