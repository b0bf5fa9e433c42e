"""``stflash sim``: the virtual bench (simulated probe, bootloaders and chip)."""

from __future__ import annotations

import click


@click.group("sim")
def sim_group() -> None:
    """The virtual bench: simulated STM32 boards to try stflash (and your scripts) without hardware.

    \b
    Example:
      stflash sim new bench --chip nucleo-f401re
      STFLASH_SIM=bench stflash list
    """


@sim_group.command("new", context_settings={"ignore_unknown_options": True})
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--chip", "chip_name", required=True, metavar="PART", help="Part or board, e.g. nucleo-f401re.")
def sim_new_cmd(directory: str, chip_name: str) -> None:
    """Create a bench in DIRECTORY.

    \b
    Example:
      stflash sim new bench --chip nucleo-f401re
    """
    from ..errors import NotSupportedError

    raise NotSupportedError("the virtual bench is not part of this version yet")


COMMANDS = [sim_group]
