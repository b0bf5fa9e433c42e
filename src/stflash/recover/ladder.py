"""``stflash recover``: climb from the gentlest way of reaching a chip to the most forceful one,
stop at the first that answers, fix what it found, and prove the fix with a plain connect.

Rungs on an ST-LINK: normal connect, connect under reset (the probe holds NRST, so nobody times a
button), the same at a slow SWD clock, the other core's access port of a dual-core part, and a
power cycle while the probe holds NRST (a latched STM32H7 supply lock-up clears only at power-on).
What the rung that answered found decides the fix: set the gated core's boot bit again, lower
read protection (which erases), or erase the firmware that shuts debug out. Through a DFU or UART
bootloader the fix is a mass erase (or Read Unprotect). Nothing destructive happens without
consent; without it the ladder stops and names the command that continues from where it stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..chips.model import Chip
from ..connect import ConnectSpec
from ..errors import (
    ConsentRequiredError,
    NoDeviceError,
    OperationTimeoutError,
    ProtectedError,
    StflashError,
    TargetNotRespondingError,
    UsageError,
)
from ..links.stlink.diagnosis import LOW_VOLTAGE_BELOW_V
from .diagnose import GATED_BIT, Diagnosis, diagnose
from .report import RecoveryReport

SLOW_SWD_HZ = 100_000  # the rung for long or noisy wires: 100 kHz, which every probe generation offers
FIRMWARE_RUN_S = 0.5  # how long the firmware runs before "is it still reachable?" (the scenarios act in ms)
POLL_S = 0.5  # how often a waiting recovery looks at the board again
BOOTLOADER_ENTRY = (
    "start the chip in its system bootloader: set BOOT0 high (jumper BOOT0-VDD or the BOOT0 button) and "
    "reset or power-cycle the board; from MicroPython, machine.bootloader() does the same; for USB DFU the "
    "cable goes to the target's own USB port, not the debugger's")

Consent = Callable[[str], bool]
Say = Callable[[str], None]


@dataclass
class RecoverOptions:
    """What the user pinned. ``connect`` as ``-c``; ``via`` a link; ``under_reset``/``ap``/
    ``frequency`` a rung; ``session_options`` go to :meth:`stflash.Session.open` for the bootloader
    links (UART lines, baud, supply range)."""

    connect: ConnectSpec | None = None
    via: str | None = None
    under_reset: bool = False
    ap: int | None = None
    frequency: int | None = None
    mass_erase: bool = False
    wait: float = 0.0
    session_options: dict[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], None] | None = None  # how to wait between looks (default: the link's)


def recover(options: RecoverOptions, *, consent: Consent, say: Say | None = None) -> RecoveryReport:
    """Run the ladder; returns the report of a board that a plain connect identifies again.
    Raises with ``details["report"]`` set when it has to stop."""
    ladder = Ladder(options, consent, say or (lambda _m: None))
    try:
        return ladder.run()
    except StflashError as exc:
        exc.details["report"] = ladder.report.as_dict()
        raise


class Ladder:
    def __init__(self, options: RecoverOptions, consent: Consent, say: Say) -> None:
        self.options = options
        self.consent = consent
        self.say = say
        self.report = RecoveryReport(link="?")
        self.last: Diagnosis | None = None
        self.probe: Any = None
        self.serial: str | None = None
        self.dead_ap: int | None = None
        self.first_failure: str | None = None  # what the first failed rung saw, for the announcements
        self.last_obs: dict[str, object] = {}  # the observations of the last failed rung
        if options.sleep is None:
            from ..session import host_sleep

            self.sleep: Callable[[float], None] = host_sleep()
        else:
            self.sleep = options.sleep

    # -- which link ---------------------------------------------------------------------------------
    def run(self) -> RecoveryReport:
        spec, via = self.options.connect, self.options.via
        if via and spec and spec.link != via:
            raise UsageError(f"--via {via} and -c {spec} name different links: give one")
        link = via or (spec.link if spec else None) or self._pick_link()
        self.report.link = link
        if link == "stlink":
            self._stlink()
        else:
            self._bootloader(link)
        return self.report

    def _pick_link(self) -> str:
        """An ST-LINK if one is attached (its ladder reaches further), else a DFU bootloader."""
        from ..discovery import dfu_bootloaders, list_usb_devices

        waited = 0.0
        while True:
            devices = [d for d in list_usb_devices() if not d.problem]
            if any(d.link == "stlink" for d in devices):
                return "stlink"
            if dfu_bootloaders(devices) or any(d.mode == "runtime" for d in devices):
                return "dfu"
            if waited >= self.options.wait:
                self.report.add("find a link", "failed", "no ST-LINK and no DFU bootloader on USB")
                raise NoDeviceError("no ST-LINK probe and no DFU bootloader found",
                                    hint=f"plug in the probe, or {BOOTLOADER_ENTRY}; then: stflash recover --wait 60 "
                                    "(for a UART bootloader: stflash recover -c uart:PORT)")
            self.sleep(POLL_S)
            waited += POLL_S

    def _continue(self, *flags: str) -> str:
        where = f" -c {self.options.connect}" if self.options.connect else ""
        return f"stflash recover{where} " + " ".join([*flags, "--yes"])

    def _ask(self, announcement: str, rung: str, *flags: str) -> None:
        """Go on only with consent; otherwise stop, saying what would happen and how to allow it."""
        if self.consent(announcement):
            return
        self.report.add(rung, "needs consent", announcement)
        raise ConsentRequiredError(f"{announcement}: not done without --yes",
                                   hint="to go ahead: " + self._continue(*flags))

    # -- the ST-LINK ladder ---------------------------------------------------------------------------
    def _stlink(self) -> None:
        spec = self.options.connect
        self.serial = spec.serial if spec is not None and spec.link == "stlink" else None
        self.probe = self._open_probe()
        resume = True
        try:
            target, rung, flags = self._reach()
            self.report.chip = target.chip.name
            try:
                self._fix(target, rung, flags)
            except ConsentRequiredError:
                # a core halted at its reset vector stays there: the firmware that shut debug out
                # (or latched an H7 supply lock-up) does not run again before the user answers
                resume = rung == "normal connect" or rung.startswith("access port")
                raise
        finally:
            probe, self.probe = self.probe, None
            if probe is not None:
                with contextlib.suppress(StflashError):
                    probe.close(resume=resume)
        self._end_check_stlink()

    def _open_probe(self) -> Any:
        from ..discovery import usb_backend
        from ..links.stlink import StlinkProbe

        return StlinkProbe.open(usb_backend(), self.serial, sleep=self.sleep)

    def _reach(self) -> tuple[Any, str, tuple[str, ...]]:
        """The first rung that identifies the chip: (target, rung, flags that pin that rung)."""
        self._check_power()
        opts = self.options
        rungs: list[tuple[str, str, int | None, int, tuple[str, ...]]] = []
        if opts.ap is not None:
            mode = "under-reset" if opts.under_reset else "normal"
            rungs.append((f"access port {opts.ap}", mode, opts.frequency, opts.ap, ("--ap", str(opts.ap))))
        else:
            if not opts.under_reset:
                rungs.append(("normal connect", "normal", opts.frequency, 0, ()))
            rungs.append(("connect under reset", "under-reset", opts.frequency, 0, ("--connect-under-reset",)))
            if opts.frequency is None or opts.frequency > SLOW_SWD_HZ:
                rungs.append(("connect under reset, slow clock", "under-reset", SLOW_SWD_HZ, 0,
                              ("--connect-under-reset", "--freq", "100K")))
        i = 0
        while i < len(rungs):
            name, mode, freq, ap, flags = rungs[i]
            target = self._attempt(name, mode, freq, ap)
            if target is not None and name == "normal connect":
                target = self._still_there_after_run(target)
            if target is not None:
                return target, name, flags
            other = self._other_core()
            if other is not None and opts.ap is None and not any(r[0].startswith("access port") for r in rungs):
                self.dead_ap = ap
                rungs.insert(i + 1, (f"access port {other}", "normal", opts.frequency, other, ("--ap", str(other))))
            i += 1
        if opts.ap is not None or self.last is None or self.last.code not in ("h7-supply-lockup", "wiring"):
            raise self._stuck()
        return self._power_cycle_under_reset()

    def _still_there_after_run(self, target: Any) -> Any:
        """A normal connect proves little if the core was already halted (a previous session left
        it so): reset, let the firmware run, and connect again. Firmware that shuts debug out shows
        here; a read-protected chip is taken as it is (its firmware cannot be judged before the
        regression erases it)."""
        if target.info.rdp_level or self.options.mass_erase:
            return target
        target.reset(run=True)
        self.sleep(FIRMWARE_RUN_S)
        again = self._attempt("normal connect after a reset", "normal", self.options.frequency, 0)
        if again is None:
            self.say("  the chip answered while halted, but not once its firmware ran")
        return again

    def _check_power(self) -> None:
        volts = self.probe.voltage
        if volts is None or volts >= LOW_VOLTAGE_BELOW_V:
            return
        self.last = diagnose(self.probe.observations)
        self.report.add("target power", "failed", self.last.summary + f" ({volts:.2f} V)")
        self.report.cause = self.last.code
        if self.options.wait <= 0:
            fix = self.last.command or "power the board"
            raise TargetNotRespondingError(f"{self.last.summary}: the probe measures {volts:.2f} V on the target",
                                           hint=f"{fix}; or let stflash wait for it: stflash recover --wait 60")
        self.say(f"waiting up to {self.options.wait:g} s for the target to be powered")
        waited = 0.0
        while waited < self.options.wait:
            self.sleep(POLL_S)
            waited += POLL_S
            volts = self.probe.measure_voltage()
            if volts is not None and volts >= LOW_VOLTAGE_BELOW_V:
                self.report.add("target power", "ok", f"{volts:.2f} V after {waited:.1f} s")
                return
        raise OperationTimeoutError(f"the target stayed unpowered for {self.options.wait:g} s",
                                    hint="power the board (and wire its VDD to the probe's VREF pin), then: "
                                    "stflash recover")

    def _attempt(self, rung: str, mode: str, frequency: int | None, ap: int) -> Any:
        from ..links.stlink.errors import ConnectFailed
        from ..stlink_target import StlinkTarget

        explain = {"normal": "attach and halt the core", "under-reset": "hold NRST low, attach, halt at the reset "
                   "vector, release NRST"}[mode]
        clock = f" at {frequency // 1000} kHz" if frequency else ""
        self.say(f"{rung}: {explain}{clock} (access port {ap})")
        try:
            target = StlinkTarget(self.probe, mode=mode, frequency=frequency, ap=ap)
            info = target.identify()
        except ConnectFailed as exc:
            self.last_obs = exc.observations
            self.last = diagnose(exc.observations)
            self.report.cause = self.last.code
            self.first_failure = self.first_failure or self.last.summary
            self.report.add(rung, "failed", self.last.summary)
            self.say(f"  {self.last.summary}")
            return None
        self.last = diagnose(info.observations, rdp_level=info.rdp_level)
        level = f", RDP level {info.rdp_level}" if info.rdp_level is not None else ""
        self.report.add(rung, "ok", f"{info.chip.name if info.chip else '?'}{level}")
        return target

    def _other_core(self) -> int | None:
        """The access port the last failed rung found another core behind (a dual-core H7)."""
        others = self.last_obs.get("other_core_aps")
        return int(next(iter(others))) if isinstance(others, dict) and others else None

    def _stuck(self) -> StflashError:
        said = self.last or Diagnosis("the target does not answer")
        return TargetNotRespondingError(f"no rung reached the chip: {said.summary}", hint=said.command)

    def _power_cycle_under_reset(self) -> tuple[Any, str, tuple[str, ...]]:
        """Hold NRST low while the user cuts and restores the power: a chip powered up in reset runs
        no firmware, and the power-on reset clears a latched supply lock-up."""
        rung = "power cycle under reset"
        how = ("power-cycle the board while stflash holds NRST low (unplug its supply or take off the IDD "
               "jumper, then put it back); on a Nucleo, where the ST-LINK shares the USB cable, hold the RESET "
               f"button while you plug the cable back in; or {BOOTLOADER_ENTRY}")
        if self.options.wait <= 0:
            self.report.add(rung, "needs you", how)
            said = self.last.summary if self.last else "the debug port does not answer"
            raise TargetNotRespondingError(f"{said}; a power cycle with reset held is the next rung",
                                           hint=f"{how}. Run: stflash recover --wait 120")
        self.say(f"{rung}: {how}; waiting up to {self.options.wait:g} s")
        self.probe.hold_reset(True)
        waited, was_off = 0.0, False
        while waited < self.options.wait:
            self.sleep(POLL_S)
            waited += POLL_S
            volts = self._look()
            if volts is None:
                continue  # the probe is off the bus (its cable was pulled): look again
            if volts < LOW_VOLTAGE_BELOW_V:
                was_off = True
                continue
            if not was_off:
                continue
            target = self._attempt(rung, "under-reset", self.options.frequency, 0)
            if target is not None:
                return target, rung, ("--connect-under-reset",)
            self.probe.hold_reset(True)
            was_off = False
        self.report.add(rung, "failed", f"no power cycle seen, or the chip stayed silent, in {self.options.wait:g} s")
        raise OperationTimeoutError(f"the chip did not answer within {self.options.wait:g} s", hint=how)

    def _look(self) -> float | None:
        """The target voltage, reopening a probe that left the bus; None while it is away."""
        if self.probe is None:
            try:
                self.probe = self._open_probe()
                self.probe.hold_reset(True)
            except StflashError:
                self.probe = None
                return None
            return 0.0  # a probe that was away came back with the board: treat it as a power cycle
        try:
            volts = self.probe.measure_voltage()
        except StflashError:
            with contextlib.suppress(StflashError):
                self.probe.close()
            self.probe = None
            return None
        return LOW_VOLTAGE_BELOW_V if volts is None else float(volts)

    # -- fixing what the rung found -----------------------------------------------------------------------
    def _fix(self, target: Any, rung: str, flags: tuple[str, ...]) -> None:
        chip: Chip = target.chip
        level = target.info.rdp_level
        if rung.startswith("access port") and chip.dual_core:
            if self.dead_ap is None:  # --ap pinned: the core behind the other port is the one to check
                self.dead_ap = 0 if target.ap else 3
            self._restore_boot_bit(target, chip, flags)
        elif level == 2:
            raise ProtectedError(f"{chip.name} is at read-out protection level 2: nothing can lower it",
                                 hint="the part cannot be recovered; replace it")
        elif level == 1:
            self._lower_protection(target, chip, rung, flags)
        elif "under reset" in rung or self.options.mass_erase:
            firmware = "under reset" in rung and not self.options.mass_erase
            seen = f" ({self.first_failure})" if self.first_failure else ""
            why = (f"the firmware in it makes the chip unreachable once it runs{seen}" if firmware
                   else "as asked (--mass-erase)")
            self._mass_erase(target, chip, rung, flags + (() if firmware else ("--mass-erase",)), why)
        else:
            self.report.add("diagnosis", "nothing to do", f"{chip.name} answers a normal connect and is not "
                            "read-protected")

    def _whole_flash(self, chip: Chip) -> str:
        return (f"the whole flash of {chip.name}, {chip.flash_base:#010x}-{chip.flash_end - 1:#010x} "
                f"({chip.flash_size // 1024} KiB)")

    def _mass_erase(self, target: Any, chip: Chip, rung: str, flags: tuple[str, ...], why: str) -> None:
        what = self._whole_flash(chip)
        self._ask(f"mass erase of {what}: {why}", "mass erase", *flags)
        self.say(f"mass erase: {what}")
        target.mass_erase()
        self.report.erased.append(what)
        self.report.add("mass erase", "done", what)
        target.reset(run=True)  # let the (now empty) chip start as it will after the user's next reset

    def _lower_protection(self, target: Any, chip: Chip, rung: str, flags: tuple[str, ...]) -> None:
        rdp = chip.option_field("RDP")
        if rdp is None:
            raise ProtectedError(f"{chip.name} is read-protected and has no RDP field in stflash's table")
        what = self._whole_flash(chip)
        self._ask(f"lowering read-out protection of {chip.name} from level 1 to 0 (RDP {rdp.default:#04x}) makes "
                  f"the chip erase {what}", "RDP regression", *flags)
        self.say(f"RDP 1 -> 0: the chip erases {what}")
        target.write_option_bytes({rdp.name: rdp.default})
        if target.info.rdp_level:
            raise ProtectedError(f"{chip.name} still reports RDP level {target.info.rdp_level} after the regression")
        self.report.changed.append(f"RDP level 1 -> 0 ({rdp.name} = {rdp.default:#04x})")
        self.report.erased.append(what)
        self.report.add("RDP regression", "done", f"level 0; the chip erased {what}")
        target.reset(run=True)

    def _restore_boot_bit(self, target: Any, chip: Chip, flags: tuple[str, ...]) -> None:
        from ..optionbytes import check_safety, plan_changes

        current = target.read_option_bytes()
        shown = ", ".join(f"{k}={current[k]}" for k in ("BCM4", "BCM7") if k in current)
        self.report.add("boot option bits", "ok", shown or "no boot bits in the table")
        self.say(f"boot option bits: {shown}")
        bit = GATED_BIT.get(self.dead_ap if self.dead_ap is not None else -1)
        if bit is None or current.get(bit) != 0:
            self.report.add("diagnosis", "nothing to do", f"{bit or 'the boot bit'} is not 0; access port "
                            f"{self.dead_ap} is off for another reason")
            return
        changes = plan_changes(chip, current, {bit: 1})
        check_safety(chip, current, changes)  # never both cores off; setting a bit to 1 cannot be that
        shown_change = "; ".join(c.render() for c in changes)
        self._ask(f"option bytes of {chip.name}: {shown_change} (the flash is not touched)", "set boot bit", *flags)
        target.write_option_bytes({c.field.name: c.new for c in changes})
        self.report.changed.append(shown_change)
        self.report.add("set boot bit", "done", shown_change)
        again = self._attempt(f"access port {self.dead_ap} again", "normal", self.options.frequency, self.dead_ap or 0)
        if again is None:
            raise TargetNotRespondingError(f"{bit} is 1 now but access port {self.dead_ap} still does not answer",
                                           hint="power-cycle the board, then: stflash probe")

    # -- the end --------------------------------------------------------------------------------------------
    def _end_check_stlink(self) -> None:
        """A plain connect, as ``stflash probe`` makes it, on a freshly opened probe."""
        self.probe = self._open_probe()
        try:
            target = self._attempt("check: plain connect", "normal", None, 0)
        finally:
            with contextlib.suppress(StflashError):
                self.probe.close(resume=True)
            self.probe = None
        if target is None:
            said = self.last or Diagnosis("the target does not answer")
            raise TargetNotRespondingError(f"after recovery a plain connect still fails: {said.summary}",
                                           hint=said.command)
        info = target.info
        self.report.final = (f"a plain connect identifies {info.chip.name if info.chip else '?'}, "
                             f"RDP level {info.rdp_level or 0}")
        self.report.recovered = True

    # -- through a system bootloader --------------------------------------------------------------------------
    def _bootloader(self, link: str) -> None:
        from ..session import Session

        spec = self.options.connect or ConnectSpec(link)
        rung = f"{link} bootloader"
        self.say(f"{rung}: looking for it" + (f" for up to {self.options.wait:g} s" if self.options.wait else "")
                 + f" ({BOOTLOADER_ENTRY})")
        try:
            session = Session.open(spec, wait=self.options.wait, **self.options.session_options)
        except (NoDeviceError, TargetNotRespondingError, OperationTimeoutError) as exc:
            self.report.add(rung, "failed", exc.message)
            exc.hint = f"{BOOTLOADER_ENTRY}; then: stflash recover --via {link} --wait 60"
            raise
        with session:
            chip = session.chip
            self.report.chip = chip.name
            level = session.info.rdp_level
            self.report.add(rung, "ok", f"{chip.name}" + (f", RDP level {level}" if level is not None else ""))
            flags = ("--via", link)
            what = self._whole_flash(chip)
            if level == 1:
                rdp = chip.option_field("RDP")
                if rdp is None:
                    raise ProtectedError(f"{chip.name} is read-protected and has no RDP field in stflash's table")
                self.report.cause = "read-protected"
                self._ask(f"Read Unprotect of {chip.name} through the {link} bootloader: the chip erases {what}",
                          "RDP regression", *flags)
                session.link.write_option_bytes({rdp.name: rdp.default})
                self.report.changed.append(f"RDP level 1 -> 0 ({rdp.name} = {rdp.default:#04x})")
                self.report.erased.append(what)
                self.report.add("RDP regression", "done", f"the chip erased {what}")
            else:
                self._ask(f"mass erase of {what} through the {link} bootloader", "mass erase", *flags)
                session.erase(chip=True)
                self.report.erased.append(what)
                self.report.add("mass erase", "done", what)
        with Session.open(spec, wait=max(self.options.wait, 5.0), **self.options.session_options) as again:
            level = again.info.rdp_level or 0
            self.report.final = (f"the {link} bootloader identifies {again.chip.name}, RDP level {level}; set BOOT0 "
                                 "low (remove the jumper) and reset to leave the bootloader")
        self.report.recovered = True
        self.report.add("check: reconnect", "ok", self.report.final)
