"""Verbs that talk to a device: list, probe, write, read, erase, verify, reset, ob."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .output import Output
from .params import ADDRESS, FREQUENCY, LENGTH

if TYPE_CHECKING:
    from ..chips.model import Chip
    from ..session import Session

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(func: F) -> F:
    """Options shared by every verb that opens a device."""
    decorators = [
        click.option(
            "-c", "--connect", metavar="LINK",
            help="stlink[:SERIAL], dfu[:SERIAL] or uart:PORT[:BAUD] (default: the single attached device).",
        ),
        click.option("--connect-under-reset", is_flag=True, help="ST-LINK: hold NRST while attaching."),
        click.option("--hot-plug", is_flag=True, help="ST-LINK: attach without halting or resetting."),
        click.option("--freq", type=FREQUENCY, help="ST-LINK: SWD clock in Hz, e.g. 4000000, 1800K or 24M."),
        click.option("--ap", type=int, help="ST-LINK: access port (3 = Cortex-M4 of a dual-core H7)."),
        click.option("--wait", type=float, default=0.0, help="Seconds to wait for the device to appear."),
        click.option("--wiring", metavar="NAME",
                     help="UART: how the adapter drives the board, dtr-reset-rts-boot0, rts-reset-dtr-boot0, "
                          "dtr-reset or rts-reset."),
        click.option("--reset-pin", metavar="LINE", help="UART: line wired to NRST: rts or dtr ('!rts' if inverted)."),
        click.option("--boot0-pin", metavar="LINE", help="UART: line wired to BOOT0: rts or dtr ('!dtr' if inverted)."),
        click.option("--vrange", type=click.IntRange(0, 3), metavar="N",
                     help="UART, F2/F4/F7: the board's supply range for the bootloader: 3 = 2.7-3.6 V "
                          "(default, 32-bit programming), 0 = 1.8-2.1 V (byte programming)."),
        click.option("--no-stub", is_flag=True,
                     help="UART: flash with the bootloader's own commands only, not stflash's stub in RAM."),
        click.option("--entry", "line_sequence", metavar="SEQ",
                     help="UART: line sequence ENTRY[:EXIT] as stm32flash -i, e.g. '-dtr,rts,-rts:dtr,rts,-rts'."),
    ]
    for deco in reversed(decorators):
        func = deco(func)
    return func


def open_session(out: Output, /, opts: dict[str, Any], *, always_explain: bool = False) -> Session:
    from ..session import Session

    connect = opts.pop("connect", None) or out.connect
    mode = "normal"
    if opts.pop("connect_under_reset", False):
        mode = "under-reset"
    if opts.pop("hot_plug", False):
        if mode != "normal":
            from ..errors import UsageError

            raise UsageError("--hot-plug and --connect-under-reset exclude each other")
        mode = "hot-plug"
    options = {"connect_mode": mode, "frequency": opts.pop("freq", None), "ap": opts.pop("ap", None),
               "wait": opts.pop("wait", 0.0), "uart_lines": _uart_lines(opts),
               "voltage_range": opts.pop("vrange", None), "stub": not opts.pop("no_stub", False)}
    out.debug(f"opening {connect or 'the attached device'} ({mode})")
    from ..links.stlink.errors import ConnectFailed, UnknownTarget

    try:
        return Session.open(connect, **options)
    except (ConnectFailed, UnknownTarget) as exc:
        explain(out, exc, always=always_explain)
        raise


def explain(out: Output, exc: Any, *, always: bool) -> None:
    """A failed connection in the user's words: the most likely cause's command as the hint, and
    (for ``probe``, or with -v) every level that answered and every cause in order."""
    from ..recover.diagnose import diagnose

    said = diagnose(exc.observations)
    exc.details["diagnosis"] = said.as_dict()
    if said.causes:
        exc.hint = said.causes[0].command
    if not out.json_mode and (always or out.verbose):
        out.info(said.render())


def _uart_lines(opts: dict[str, Any]) -> Any:
    """One way of driving BOOT0/NRST: a preset, explicit pins, or a sequence."""
    from ..errors import UsageError
    from ..links.uart.lines import parse_sequence, pin_sequence, preset_sequence

    wiring, reset_pin = opts.pop("wiring", None), opts.pop("reset_pin", None)
    boot0_pin, sequence = opts.pop("boot0_pin", None), opts.pop("line_sequence", None)
    given = [name for name, v in (("--wiring", wiring), ("--entry", sequence),
                                  ("--reset-pin/--boot0-pin", reset_pin or boot0_pin)) if v]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} both say how to drive the lines: give one")
    if wiring:
        return preset_sequence(wiring)
    if sequence:
        return parse_sequence(sequence)
    return pin_sequence(reset_pin, boot0_pin)


def _conn(kwargs: dict[str, Any]) -> dict[str, Any]:
    keys = ("connect", "connect_under_reset", "hot_plug", "freq", "ap", "wait", "wiring", "reset_pin", "boot0_pin",
            "line_sequence", "vrange", "no_stub")
    return {k: kwargs.pop(k) for k in keys if k in kwargs}


# -- list / probe --------------------------------------------------------------------------
@click.command("list")
@click.option("--no-serial", is_flag=True, help="Do not list serial ports.")
@click.pass_obj
def list_cmd(out: Output, /, no_serial: bool) -> None:
    """List ST-LINK probes, DFU bootloaders and serial ports, with the -c value for each.

    \b
    Example:
      stflash list
      STFLASH_SIM=bench stflash --json list
    """
    from ..discovery import list_devices

    devices = list_devices(include_serial=not no_serial)
    lines = [f"{d.connect:<32} {d.description}" + (f"  [{d.problem}]" if d.problem else "") for d in devices]
    if not devices:
        lines = ["no devices found (run 'stflash doctor' to find out why)"]
    out.result({"devices": [d.as_dict() for d in devices]}, "\n".join(lines))


@click.command("probe")
@connection_options
@click.pass_obj
def probe_cmd(out: Output, /, **kwargs: Any) -> None:
    """Identify the chip: id, name, flash and RAM size, protection, bootloader.

    \b
    Example:
      stflash probe
      stflash probe -c stlink --connect-under-reset
    """
    from ..recover.diagnose import diagnose

    with open_session(out, _conn(kwargs), always_explain=True) as session:
        info = session.info
        more = getattr(session.link, "more_observations", None)  # what only a person asks for
        if more is not None:
            info.observations.update(more())
        data = info.as_dict()
        lines = [f"{k}: {_shown(k, v)}" for k, v in data.items() if k != "observations"]
        lines += [f"{k}: {_shown(k, v)}" for k, v in info.observations.items()]
        said = diagnose(info.observations, rdp_level=info.rdp_level)
        if said.causes:
            data["diagnosis"] = said.as_dict()
            lines += [f"diagnosis: {said.summary}"] + [f"  {c.what} -> {c.command}" for c in said.causes]
        out.result(data, "\n".join(lines))


def _shown(key: str, value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if key in ("dev_id", "rev_id") and isinstance(value, int):
        return f"{value:#05x}"
    return str(value)


# -- write / verify ------------------------------------------------------------------------
@click.command("write")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-a", "--address", type=ADDRESS, help="Load address of a raw .bin (default 0x08000000).")
@click.option("--verify/--no-verify", default=True, show_default=True, help="Check the flash afterwards.")
@click.option("--erase", type=click.Choice(["auto", "sectors", "chip", "none"]), default="auto", show_default=True,
              help="auto: the sectors the image touches, or one mass/bank erase where that is quicker and "
                   "everything else it wipes is blank; sectors: never a mass/bank erase; chip: mass erase; "
                   "none: no erase.")
@click.option("--reset/--no-reset", default=True, show_default=True, help="Start the firmware afterwards.")
@click.option("--dry-run", is_flag=True, help="Show the plan (erase, skip, write, verify); change nothing.")
@click.option("--force", is_flag=True, help="Rewrite sectors even when they already hold the image.")
@click.option("--chip", "chip_name", metavar="PART",
              help="Plan for this part without a device (with --dry-run), e.g. stm32f401re.")
@connection_options
@click.pass_obj
def write_cmd(out: Output, /, file: str, address: int | None, verify: bool, erase: str, reset: bool,
              dry_run: bool, force: bool, chip_name: str | None, **kwargs: Any) -> None:
    """Write a firmware file (.dfu .hex .elf .srec .bin) to flash.

    The whole image is checked against the chip before the first erase.

    \b
    Examples:
      stflash write firmware.dfu
      stflash write app.bin --address 0x08004000 -c stlink
      stflash write app.hex --dry-run --chip stm32f401re
    """
    from ..image.io import load

    loaded = load(file, address=address)
    image = loaded.image
    # a DfuSe file may carry targets for other alternate settings (option bytes, OTP...): the
    # internal flash (alt 0) goes through the plan, the others to their alt settings over DFU
    extra = [t for t in loaded.targets if t.alt_setting != 0]
    if extra:
        from ..image.model import Image

        image = Image([seg for t in loaded.targets if t.alt_setting == 0 for seg in t.image.segments])
    if chip_name is not None:
        from ..chips.lookup import find_chip
        from ..errors import UsageError
        from ..flash.plan import plan_write

        if not dry_run:
            raise UsageError("--chip plans without a device and needs --dry-run; to write, connect a device")
        plan = plan_write(image, find_chip(chip_name), erase=erase, verify=verify)
        out.result({"dry_run": True, "plan": plan.as_dict()}, plan.render())
        return
    with open_session(out, _conn(kwargs)) as session:
        write_target = getattr(session.link, "write_target", None)
        if extra and write_target is None:
            from ..errors import NotSupportedError

            t = extra[0]
            raise NotSupportedError(f"{file}: target {t.name!r} is for alternate setting {t.alt_setting}, which "
                                    f"only a DFU link writes", hint="write it with -c dfu, or convert the file "
                                    "without that target")
        started, bench_started = time.monotonic(), _bench_ns()  # checking what is there counts too
        plan = session.plan(image, erase=erase, verify=verify, force=force)
        if dry_run:
            out.result({"dry_run": True, "plan": plan.as_dict()}, plan.render())
            return
        if plan.skipped:
            out.info(f"{len(plan.skipped)} sector(s) already hold the image: skipped")
        result = session.execute(plan, progress=out.progress)
        stub_failed = getattr(session.link, "stub_failed", "")
        if stub_failed:
            out.info(f"{stub_failed}: the bootloader's own commands did the work (--no-stub skips the stub)")
        for t in extra:
            assert write_target is not None
            out.info(f"writing target {t.name!r} to alternate setting {t.alt_setting}")
            write_target(t.alt_setting, t.image)
        seconds = time.monotonic() - started
        clock = "wall"
        if bench_started is not None:  # on the virtual bench, its clock is the one that means something
            seconds, clock = ((_bench_ns() or bench_started) - bench_started) / 1e9, "virtual"
        if reset:
            session.reset(run=True)
        written = sum(n for _, n in result.written)
        rate = written / seconds if seconds > 0 else 0.0
        data = {"file": file, "plan": plan.as_dict(), "result": result.as_dict(), "reset": reset,
                "seconds": round(seconds, 3), "clock": clock, "bytes_per_s": round(rate)}
        if not plan.writes:
            out.result(data, f"nothing to write: {session.chip.name} already holds {file}")
            return
        out.result(data, f"wrote {written} bytes to {session.chip.name}"
                         f"{', verified (' + result.verified + ')' if result.verified != 'no' else ''}"
                         f" in {seconds:.2f} s{' of bench time' if clock == 'virtual' else ''}"
                         f" ({rate / 1024:.1f} KiB/s)"
                         + (f"; {len(result.found_blank)} sector(s) read back blank and were not erased"
                            if result.found_blank else ""))


def _bench_ns() -> int | None:
    """The virtual bench's clock when STFLASH_SIM is set, else None."""
    from ..discovery import sim_dir

    directory = sim_dir()
    if directory is None:
        return None
    from ..sim.bench import Bench

    with Bench.open(directory) as bench:
        return bench.clock.now


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-a", "--address", type=ADDRESS, help="Load address of a raw .bin (default 0x08000000).")
@connection_options
@click.pass_obj
def verify_cmd(out: Output, /, file: str, address: int | None, **kwargs: Any) -> None:
    """Compare the chip's flash with a firmware file (no erase, no write).

    \b
    Example:
      stflash verify firmware.hex
    """
    from ..image.io import load

    image = load(file, address=address).image
    with open_session(out, _conn(kwargs)) as session:
        method = session.verify(image, progress=out.progress)
        out.result({"file": file, "match": True, "method": method}, f"flash matches {file} ({method})")


# -- read / erase / reset ------------------------------------------------------------------
@click.command("read")
@click.argument("out_file", metavar="OUT", type=click.Path(dir_okay=False))
@click.argument("address", type=ADDRESS)
@click.argument("length", type=LENGTH)
@connection_options
@click.pass_obj
def read_cmd(out: Output, /, out_file: str, address: int, length: int, **kwargs: Any) -> None:
    """Read memory into a file; the format follows OUT's extension (.bin .hex .srec .dfu .elf).

    \b
    Example:
      stflash read dump.bin 0x08000000 512K
    """
    from ..image.io import save
    from ..image.model import Image

    with open_session(out, _conn(kwargs)) as session:
        data = session.read(address, length, progress=out.progress)
    written = save(Image.from_bytes(data, address, "read"), out_file)
    out.result({"address": address, "length": length, "written": written}, f"read {length} bytes into {out_file}")


@click.command("erase")
@click.option("--all", "erase_all", is_flag=True, help="Mass-erase the whole flash.")
@click.argument("address", type=ADDRESS, required=False)
@click.argument("length", type=LENGTH, required=False)
@connection_options
@click.pass_obj
def erase_cmd(out: Output, /, erase_all: bool, address: int | None, length: int | None, **kwargs: Any) -> None:
    """Erase the whole flash, or the sectors a range touches (rounded out to whole sectors).

    \b
    Examples:
      stflash erase --all
      stflash erase 0x08020000 128K
    """
    from ..errors import UsageError

    if erase_all == (address is not None):
        raise UsageError("erase takes either --all or ADDRESS LENGTH")
    if not erase_all and length is None:
        raise UsageError("erase ADDRESS needs a LENGTH too, e.g. erase 0x08020000 128K")
    with open_session(out, _conn(kwargs)) as session:
        sectors = session.erase(address, length, chip=erase_all)
    data = {"erased": [{"address": s.address, "size": s.size} for s in sectors], "all": erase_all}
    out.result(data, f"erased {len(sectors)} sector(s)")


@click.command("reset")
@click.option("--halt", is_flag=True, help="Stop the core right after reset (ST-LINK).")
@connection_options
@click.pass_obj
def reset_cmd(out: Output, /, halt: bool, **kwargs: Any) -> None:
    """Reset the chip and let it run (or --halt); on a bootloader link, start the application.

    \b
    Example:
      stflash reset
    """
    with open_session(out, _conn(kwargs)) as session:
        session.reset(run=not halt)
    out.result({"reset": True, "halted": halt}, "reset")


# -- option bytes --------------------------------------------------------------------------
@click.group("ob")
def ob_group() -> None:
    """Option bytes by name: show them, or set fields with a dry-run diff.

    \b
    Examples:
      stflash ob show
      stflash ob set nBOOT0=1 --dry-run
      stflash ob set BCM7=1 --ap 3
    """


def _render_options(chip: Chip, values: dict[str, int]) -> str:
    lines = []
    for f in chip.option_fields:
        if f.name not in values:
            continue
        v = values[f.name]
        meaning = f.meaning(v)
        lines.append(f"{f.name:<16} {v:#x}" + (f"  {meaning}" if meaning else "") + f"    {f.description}")
    return "\n".join(lines)


@ob_group.command("show")
@click.option("--chip", "chip_name", metavar="PART", help="Show the factory defaults of this part (no device).")
@connection_options
@click.pass_obj
def ob_show_cmd(out: Output, /, chip_name: str | None, **kwargs: Any) -> None:
    """Show every option-byte field with its value and meaning.

    \b
    Example:
      stflash ob show
      stflash ob show --chip stm32h755zi    (factory defaults)
    """
    if chip_name is not None:
        from ..chips.lookup import find_chip

        chip = find_chip(chip_name)
        values = {f.name: f.default for f in chip.option_fields}
        out.result({"chip": chip.name, "factory_defaults": True, "options": values}, _render_options(chip, values))
        return
    with open_session(out, _conn(kwargs)) as session:
        values = session.option_bytes()
        out.result({"chip": session.chip.name, "options": values}, _render_options(session.chip, values))


@ob_group.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...")
@click.option("--dry-run", is_flag=True, help="Show the change; write nothing.")
@click.option("--allow-permanent", is_flag=True,
              help="Allow values that cannot be undone (RDP level 2) or that stop every core.")
@click.option("--yes", is_flag=True, help="Do not ask before a change that erases flash (RDP 1 -> 0).")
@click.option("--chip", "chip_name", metavar="PART", help="Check against this part's factory defaults (with --dry-run).")
@connection_options
@click.pass_obj
def ob_set_cmd(out: Output, /, assignments: tuple[str, ...], dry_run: bool, allow_permanent: bool, yes: bool,
               chip_name: str | None, **kwargs: Any) -> None:
    """Set option-byte fields by name, read-modify-write, with the diff shown first.

    Values that brick the part (RDP level 2; BCM4=0 with BCM7=0) are refused without
    --allow-permanent.

    \b
    Examples:
      stflash ob set nBOOT0=1 --dry-run
      stflash ob set RDP=0xAA --yes          (regression to level 0: mass-erases)
    """
    from ..errors import UsageError
    from ..optionbytes import check_safety, parse_assignments, plan_changes, regression_erases_flash

    if chip_name is not None:
        from ..chips.lookup import find_chip

        if not dry_run:
            raise UsageError("--chip checks values without a device and needs --dry-run")
        chip = find_chip(chip_name)
        current = {f.name: f.default for f in chip.option_fields}
        changes = plan_changes(chip, current, parse_assignments(chip, assignments))
        check_safety(chip, current, changes, allow_permanent=allow_permanent)
        out.result({"dry_run": True, "changes": [c.as_dict() for c in changes]},
                   "\n".join(c.render() for c in changes) or "nothing to change")
        return
    with open_session(out, _conn(kwargs)) as session:
        chip = session.chip
        current = session.option_bytes()
        changes = plan_changes(chip, current, parse_assignments(chip, assignments))
        check_safety(chip, current, changes, allow_permanent=allow_permanent)
        text = "\n".join(c.render() for c in changes) or "nothing to change"
        if dry_run or not changes:
            out.result({"dry_run": dry_run, "changes": [c.as_dict() for c in changes]}, text)
            return
        if regression_erases_flash(chip, current, changes) and not yes:
            from ..errors import UnsafeOperationError

            raise UnsafeOperationError(
                f"{text}: lowering read protection mass-erases the whole flash of {chip.name}",
                hint="to go ahead: stflash ob set " + " ".join(assignments) + " --yes",
            )
        out.info(text)
        session.link.write_option_bytes({c.field.name: c.new for c in changes})
        out.result({"dry_run": False, "changes": [c.as_dict() for c in changes]}, "option bytes written")


COMMANDS = [list_cmd, probe_cmd, write_cmd, read_cmd, erase_cmd, verify_cmd, reset_cmd, ob_group]
