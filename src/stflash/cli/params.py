"""Click parameter types: numbers the way embedded people write them (0x08000000, 64K, 1M)."""

from __future__ import annotations

from typing import Any

import click

_SUFFIX = {"k": 1024, "m": 1024 * 1024}
_DECIMAL = {"k": 1000, "m": 1000 * 1000}  # frequencies: 1800K is 1.8 MHz, not 1.84


def parse_number(text: str, suffix: dict[str, int] = _SUFFIX) -> int:
    t = text.strip().replace("_", "").lower()
    if t.endswith("hz"):
        t = t[:-2]
    scale = 1
    if t and t[-1] in suffix and not t.startswith("0x"):
        scale, t = suffix[t[-1]], t[:-1]
    elif t.endswith(("kib", "mib")):
        scale, t = _SUFFIX[t[-3]], t[:-3]
    value = int(t, 0)
    if value < 0:
        raise ValueError("negative")
    return value * scale


class Number(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    name = "NUMBER"

    def __init__(self, limit: int = 1 << 32, *, decimal: bool = False) -> None:
        self.limit = limit
        self.suffix = _DECIMAL if decimal else _SUFFIX

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            number = parse_number(str(value), self.suffix)
        except ValueError:
            self.fail(f"{value!r} is not a number (use 0x08000000, 65536 or 64K)", param, ctx)
        if number >= self.limit:
            self.fail(f"{value!r} is beyond the 4 GiB address space", param, ctx)
        return number


ADDRESS = Number()
LENGTH = Number(limit=(1 << 32) + 1)
FREQUENCY = Number(decimal=True)
