"""``stflash sim``: the virtual bench (simulated probe, bootloaders and chip)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .output import Output

if TYPE_CHECKING:
    from ..sim.bench import Bench


@click.group("sim")
def sim_group() -> None:
    """The virtual bench: simulated STM32 boards to try stflash (and your scripts) without hardware.

    A bench is a directory; its state (flash, option bytes, jumpers, clock) persists between
    commands. Point stflash at it with STFLASH_SIM=DIR.

    \b
    Example:
      stflash sim new bench --chip nucleo-f401re
      STFLASH_SIM=bench stflash list
    """


@sim_group.command("new")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--chip", "chip_name", required=True, metavar="PART",
              help="Part, board or DEV_ID: nucleo-f401re, stm32f103rc, bluepill, 0x413 ...")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME",
              help="Field scenario (repeatable): h7-smps-lockup, m7-boot-disabled, swd-disabled, low-power, "
                   "rdp1, rdp2, no-target-power, bootloader-only, dfu-runtime, ftdi-latency.")
@click.option("--probe", type=click.Choice(["V2", "V2-1", "V3"]), default="V2-1", show_default=True,
              help="ST-LINK generation wired to the target.")
@click.option("--uart-wiring", metavar="LINES", help="USB-serial lines wired to pins, e.g. rts=nrst,dtr=boot0 "
              "(dtr=!boot0 for the other polarity).")
@click.option("--uart-port", metavar="PORT", help="The USART and pins the UART adapter is wired to, one the "
              "chip's ROM listens on: 'USART2 PA2/PA3', or 'USART2' for its first pins (default: the "
              "ROM's first, USART1 PA9/PA10).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the unique id and serial numbers.")
@click.option("--force", is_flag=True, help="Replace a bench already in DIRECTORY.")
@click.pass_obj
def sim_new_cmd(out: Output, /, directory: str, chip_name: str, scenarios: tuple[str, ...], probe: str,
                uart_wiring: str | None, uart_port: str | None, seed: int, force: bool) -> None:
    """Create a bench in DIRECTORY.

    \b
    Examples:
      stflash sim new bench --chip nucleo-f401re
      stflash sim new h7 --chip nucleo-h743zi --scenario h7-smps-lockup
      stflash sim new dual --chip nucleo-h755zi-q --scenario m7-boot-disabled --probe V3
    """
    from ..sim.bench import Bench

    bench = Bench.create(directory, chip_name, scenarios=scenarios, probe=probe, uart_wiring=uart_wiring,
                         uart_port=uart_port, seed=seed, force=force)
    data = bench.describe()
    out.result(data, f"bench {directory}: {data['part']} ({data['description']}) with ST-LINK/{probe}"
                     + (f", scenarios: {', '.join(scenarios)}" if scenarios else "")
                     + f"\nuse it with: STFLASH_SIM={directory} stflash list")


def _show(out: Output, bench: Bench) -> None:
    data = bench.describe()
    out.result(data, "\n".join(f"{k}: {v}" for k, v in data.items()))


def _require_bench(directory: str) -> None:
    """UsageError (with how to create one) unless DIRECTORY holds a bench."""
    from ..sim.bench import Bench

    with Bench.open(directory):
        pass


@sim_group.command("show")
@click.argument("directory", type=click.Path(file_okay=False))
@click.pass_obj
def sim_show_cmd(out: Output, /, directory: str) -> None:
    """Show the bench: chip, jumpers, what runs, protection, active scenarios, virtual clock.

    \b
    Example:
      stflash sim show bench
      stflash --json sim show bench
    """
    from ..sim.bench import Bench

    with Bench.open(directory) as bench:
        _show(out, bench)


@sim_group.command("power-cycle")
@click.argument("directory", type=click.Path(file_okay=False))
@click.pass_obj
def sim_power_cycle_cmd(out: Output, /, directory: str) -> None:
    """Unplug and replug the board's supply (option bytes reload, firmware starts again).

    \b
    Example:
      stflash sim power-cycle bench
    """
    from ..sim.bench import Bench

    with Bench.open(directory) as bench:
        bench.power_cycle()
        _show(out, bench)


@sim_group.command("set")
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("settings", nargs=-1, required=True, metavar="NAME=VALUE...")
@click.pass_obj
def sim_set_cmd(out: Output, /, directory: str, settings: tuple[str, ...]) -> None:
    """Change the board as a person would: boot0=1 (jumper), nrst=0 (hold reset) / nrst=1
    (release), power=0/1, usb=0/1 (pull or plug the probe cable), target-usb=0/1 (the target's
    own USB cable), scenario=+NAME / -NAME; how the host treats the target's USB devices:
    target-usb-open=access|not-supported|busy|ok (missing udev rule, Windows driver, held);
    the DFU ROM: dfu-rom=h7-rev-v|h7-v13.3|none, dfu-runtime-will-detach=0/1; or arm a fault:
    usb-unplug-after=N (the cable is pulled after N more USB transfers), uart-drop-after=N,
    uart-corrupt-after=N, uart-nack-after=N, power-loss-during=erase[@F]|program[@N].

    \b
    Examples:
      stflash sim set bench boot0=1 nrst=0
      stflash sim set bench nrst=1
      stflash sim set bench scenario=+swd-disabled
      stflash sim set bench usb-unplug-after=200
    """
    from ..errors import UsageError
    from ..sim.bench import Bench

    with Bench.open(directory) as bench:
        for item in settings:
            name, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"sim set {item!r}: write NAME=VALUE, e.g. boot0=1")
            bench.set(name, value)
        _show(out, bench)


@sim_group.command("serve")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--uart", is_flag=True, help="Serve the chip's USART system bootloader on a pseudo-terminal.")
@click.option("--realtime", is_flag=True, help="Answer no sooner than the virtual clock says (sleeps).")
@click.pass_obj
def sim_serve_cmd(out: Output, /, directory: str, uart: bool, realtime: bool) -> None:
    """Serve the bench's UART bootloader on a pseudo-terminal until stopped (SIGTERM or Ctrl-C).

    The first line on stdout is the terminal to open (use 8N1 mode: a pty carries no parity;
    the bootloader takes the baud rate you set on it). The bench stays usable from other commands
    between bursts of traffic.

    \b
    Example:
      stflash sim new bench --chip nucleo-f401re --scenario bootloader-only
      stflash sim serve bench --uart &
      stm32flash -m 8n1 -b 115200 /dev/pts/5
    """
    import os
    import sys

    from ..errors import UsageError
    from ..sim.uart.serve import PtyServer

    if not uart:
        raise UsageError("sim serve: say what to serve: --uart")
    _require_bench(directory)
    server = PtyServer(directory, realtime=realtime)
    master, slave, path = server.open_pty()
    sys.stdout.write(path + "\n")
    sys.stdout.flush()
    out.info(f"serving the UART bootloader of {directory} on {path} (8N1; stop with Ctrl-C)")
    try:
        server.run(master, slave)
    finally:
        os.close(master)
        os.close(slave)


@sim_group.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]...")
@click.pass_obj
def sim_run_cmd(out: Output, /, directory: str, command: tuple[str, ...]) -> None:
    """Run any libusb program (st-flash, st-info, dfu-util ...) against the bench's USB devices.

    The program sees the bench's ST-LINK and, while the chip runs its bootloader, its USB DFU
    device, with the descriptors and serials stflash sees, and works on the same persistent bench.
    The exit status is the program's. Needs Linux and Debian's umockdev packages (umockdev,
    gir1.2-umockdev-1.0, python3-gi).

    \b
    Examples:
      stflash sim run bench -- st-info --probe
      stflash sim run bench -- st-flash write app.bin 0x08000000
      stflash sim set bench boot0=1 nrst=0 && stflash sim set bench nrst=1
      stflash sim run bench -- dfu-util -a 0 -s 0x08000000:leave -D app.bin
    """
    from ..errors import UsageError
    from ..sim.umockdev.run import run

    if command[:1] == ("--",):  # click passes on a "--" that follows DIRECTORY
        command = command[1:]
    if not command:
        raise UsageError("sim run: say which program to run, e.g. stflash sim run bench -- st-info --probe")
    _require_bench(directory)
    out.debug(f"running {' '.join(command)} on the USB devices of {directory}")
    click.get_current_context().exit(run(directory, command))  # the program's status is the command's


COMMANDS = [sim_group]
