"""Entry point: global options, verb registration, and the one place errors become exit codes."""

from __future__ import annotations

import sys
import traceback

import click

from .. import __version__
from ..errors import StflashError, UsageError
from .output import Output

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _State:
    """Output settings, known before a verb runs so errors can honour --json and -v."""

    out = Output()


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="stflash")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON document on stdout; text goes to stderr.")
@click.option("-v", "--verbose", count=True, help="More detail (repeat for tracebacks: -vv).")
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors; no progress.")
@click.option(
    "-c", "--connect", metavar="LINK", envvar="STFLASH_CONNECT",
    help="Device for every verb: stlink[:SERIAL], dfu[:SERIAL] or uart:PORT[:BAUD].",
)
@click.pass_context
def cli(ctx: click.Context, json_mode: bool, verbose: int, quiet: bool, connect: str | None) -> None:
    """Flash, inspect and recover STM32 microcontrollers over ST-LINK, USB DFU or UART.

    \b
    Examples:
      stflash list                          what is attached
      stflash probe                         identify the chip
      stflash write firmware.dfu            flash (any of .dfu .hex .elf .srec .bin)
      stflash -c uart:/dev/ttyUSB0 probe    talk to the UART bootloader
      stflash info firmware.dfu             what a file holds
    """
    _State.out = Output(json_mode=json_mode, verbose=verbose, quiet=quiet, connect=connect)
    ctx.obj = _State.out


def _register() -> None:
    from . import device_cmds, file_cmds, sim_cmds, support_cmds

    for module in (file_cmds, device_cmds, support_cmds, sim_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (documented in docs/exit-codes.md)."""
    args = sys.argv[1:] if argv is None else argv
    _State.out = Output(json_mode="--json" in args, verbose=_count_verbose(args), quiet="-q" in args)
    try:
        # without standalone mode click returns ctx.exit(n)'s code instead of raising it, and turns
        # Ctrl-C (KeyboardInterrupt) into Abort
        code = cli.main(args=args, prog_name="stflash", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except click.Abort:
        _State.out.error({"code": "aborted", "message": "aborted"}, "aborted", None)
        return 130
    except click.UsageError as exc:
        err = UsageError(_usage_line(exc))
        hint = f"see '{exc.ctx.command_path} --help'" if exc.ctx is not None else "see 'stflash --help'"
        _State.out.error(err.as_dict(), err.message, hint)
        return err.exit_code
    except click.ClickException as exc:
        _State.out.error({"code": "usage", "message": exc.format_message()}, exc.format_message(), None)
        return UsageError.exit_code
    except StflashError as exc:
        if _State.out.verbose >= 2:
            traceback.print_exc()
        _State.out.error(exc.as_dict(), exc.message, exc.hint)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, full traceback with -vv
        if _State.out.verbose >= 2:
            traceback.print_exc()
        message = f"internal error: {type(exc).__name__}: {exc}"
        _State.out.error({"code": "internal", "message": message}, message, "run again with -vv and report the output")
        return 1
    return 0


def _count_verbose(args: list[str]) -> int:
    count = 0
    for a in args:
        if a == "--verbose":
            count += 1
        elif a.startswith("-") and not a.startswith("--") and set(a[1:]) == {"v"}:
            count += len(a) - 1
    return count


def _usage_line(exc: click.UsageError) -> str:
    return " ".join(exc.format_message().split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
