"""Verbs that work on files alone: ``info`` and ``convert``."""

from __future__ import annotations

import click

from .output import Output
from .params import ADDRESS

FORMATS = click.Choice(["dfu", "hex", "srec", "elf", "bin"], case_sensitive=False)


@click.command("info")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-a", "--address", type=ADDRESS, help="Load address for a raw .bin (default 0x08000000).")
@click.option("--format", "fmt", type=FORMATS, help="Read as this format instead of guessing.")
@click.pass_obj
def info_cmd(out: Output, /, file: str, address: int | None, fmt: str | None) -> None:
    """Show what a firmware file holds: format, segments with CRC32, DfuSe targets, DFU suffix.

    \b
    Example:
      stflash info firmware.dfu
      stflash --json info build/app.elf
    """
    from ..image.info import describe, render
    from ..image.io import load

    loaded = load(file, format=fmt, address=address)
    data = describe(loaded)
    out.result(data, render(data))


@click.command("convert")
@click.argument("source", type=click.Path(dir_okay=False))
@click.argument("dest", type=click.Path(dir_okay=False))
@click.option("-a", "--address", type=ADDRESS, help="Load address when SOURCE is a raw .bin (default 0x08000000).")
@click.option("--from", "fmt_in", type=FORMATS, help="Format of SOURCE (default: guessed from content/extension).")
@click.option("--to", "fmt_out", type=FORMATS, help="Format of DEST (default: from its extension).")
@click.option("--split", is_flag=True, help="With a .bin DEST: one file per segment, named DEST.0x08000000.bin.")
@click.option("--fill", type=ADDRESS, default=0xFF, show_default=True, help="Byte for holes in a .bin.")
@click.option("--vid", type=ADDRESS, help="USB vendor id in the DFU suffix (.dfu DEST, or adds a suffix to a .bin DEST).")
@click.option("--pid", type=ADDRESS, help="USB product id in the DFU suffix (.dfu DEST, or adds a suffix to a .bin DEST).")
@click.pass_obj
def convert_cmd(
    out: Output,
    source: str,
    dest: str,
    address: int | None,
    fmt_in: str | None,
    fmt_out: str | None,
    split: bool,
    fill: int,
    vid: int | None,
    pid: int | None,
) -> None:
    """Convert between DfuSe .dfu, Intel HEX, S-record, ELF and raw BIN.

    \b
    Examples:
      stflash convert firmware.dfu firmware.hex        for STM32CubeProgrammer
      stflash convert firmware.dfu out.bin --split     out.0x08000000.bin, ...
      stflash convert app.bin app.dfu --address 0x08004000
    """
    from ..errors import UsageError
    from ..image.io import load, save

    if fill > 0xFF:
        raise UsageError(f"--fill {fill:#x}: must be a byte (0..0xff)")
    loaded = load(source, format=fmt_in, address=address)
    written = save(loaded, dest, format=fmt_out, split=split, fill=fill, vendor_id=vid, product_id=pid)
    image = loaded.image
    data = {"source": source, "written": written, "segments": len(image), "bytes": image.size}
    out.result(data, "\n".join(f"wrote {p}" for p in written))


COMMANDS = [info_cmd, convert_cmd]
