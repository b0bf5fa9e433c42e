"""Development-board names and the part each one carries.

Keys are lower-case with '-' separators; ``board_part`` also accepts '_' or spaces and any case.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_BOARDS: dict[str, str] = {
    # Nucleo-32/64
    "nucleo-f030r8": "stm32f030r8",
    "nucleo-f072rb": "stm32f072rb",
    "nucleo-f103rb": "stm32f103rb",
    "nucleo-f303re": "stm32f303re",
    "nucleo-f401re": "stm32f401re",
    "nucleo-f411re": "stm32f411re",
    "nucleo-f446re": "stm32f446re",
    "nucleo-g070rb": "stm32g070rb",
    "nucleo-g071rb": "stm32g071rb",
    "nucleo-g474re": "stm32g474re",
    "nucleo-l053r8": "stm32l053r8",
    "nucleo-l152re": "stm32l152re",
    "nucleo-l476rg": "stm32l476rg",
    # Nucleo-144
    "nucleo-f412zg": "stm32f412zg",
    "nucleo-f429zi": "stm32f429zi",
    "nucleo-f722ze": "stm32f722ze",
    "nucleo-f746zg": "stm32f746zg",
    "nucleo-f767zi": "stm32f767zi",
    "nucleo-h723zg": "stm32h723zg",
    "nucleo-h743zi": "stm32h743zi",
    "nucleo-h743zi2": "stm32h743zi",
    "nucleo-h745zi-q": "stm32h745zi",
    "nucleo-h753zi": "stm32h753zi",
    "nucleo-h755zi-q": "stm32h755zi",
    "nucleo-h7a3zi-q": "stm32h7a3zi",
    "nucleo-l4r5zi": "stm32l4r5zi",
    # Nucleo-68 / other ST kits
    "nucleo-wb55": "stm32wb55rg",
    "nucleo-wb55rg": "stm32wb55rg",
    "p-nucleo-wb55": "stm32wb55rg",
    "stm32f4-discovery": "stm32f407vg",
    "stm32f4discovery": "stm32f407vg",
    "stm32f407g-disc1": "stm32f407vg",
    "stm32f429i-disco": "stm32f429zi",
    "32f429idiscovery": "stm32f429zi",
    "stm32f3-discovery": "stm32f303vc",
    "stm32f3discovery": "stm32f303vc",
    "stm32f746g-disco": "stm32f746ng",
    "stm32f769i-disco": "stm32f769ni",
    "stm32h747i-disco": "stm32h747xi",
    "b-l475e-iot01a": "stm32l475vg",
    "stm32mp157c-dk2": "stm32mp157c",
    "stm32mp157a-dk1": "stm32mp157a",
    "stm32mp157f-dk2": "stm32mp157f",
    # Hobby boards
    "bluepill": "stm32f103c8",
    "blue-pill": "stm32f103c8",
    "blackpill-f401cc": "stm32f401cc",
    "blackpill-f411ce": "stm32f411ce",
}

BOARDS: Mapping[str, str] = MappingProxyType(_BOARDS)


def normalize_board(name: str) -> str:
    return "-".join(name.strip().lower().replace("_", "-").split())


def board_part(name: str) -> str | None:
    """The part name on board ``name``, or None if it is not a known board."""
    return BOARDS.get(normalize_board(name))
