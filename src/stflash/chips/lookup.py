"""Finding rows in the chip table by part name, board name or device id.

``find_chip`` accepts, in this order:

1. a board name from ``BOARDS`` (``nucleo-f401re``) -> the part on that board;
2. a DEV_ID in hex (``0x413``, ``413`` or ``0x0413``) -> ``identify(dev_id)``;
3. a row name or alias exactly (``STM32F401xE``);
4. a part name (``stm32f401re``, ``STM32F401RET6``, ``f401re``): rows whose pattern is a prefix of it
   ('x' in a pattern matches any character); when several match, the longest pattern wins
   (``STM32L152xBxxA`` beats ``STM32L152xB`` for ``STM32L152RBT6A``).

Anything else raises ``UnknownChipError`` with the closest names as a suggestion.

``identify`` picks one row among those sharing a DEV_ID from what a probe can read: the
flash-size register (KiB) and the core type. See its docstring for the tie-breaking rules.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from ..errors import UnknownChipError
from .boards import BOARDS, board_part, normalize_board
from .model import Chip, pattern_matches

_DEV_ID_RE = re.compile(r"^(?:0x)?0?([0-9a-f]{3})$")  # 0x413, 413, 0x0413

# (DEV_ID read, core) -> DEV_ID to use: early STM32F4 (rev A) report the F2 id 0x411.
_DEV_ID_QUIRKS: dict[tuple[int, str], int] = {(0x411, "cortex-m4"): 0x413}

_CORE_ALIASES = {
    "m0": "cortex-m0",
    "m0+": "cortex-m0+",
    "m0plus": "cortex-m0+",
    "m3": "cortex-m3",
    "m4": "cortex-m4",
    "m7": "cortex-m7",
    "a7": "cortex-a7",
}


@lru_cache(maxsize=1)
def all_chips() -> tuple[Chip, ...]:
    """Every row of the chip table (loaded on first use)."""
    from .data import CHIPS

    return CHIPS


@lru_cache(maxsize=1)
def _by_dev_id() -> dict[int, tuple[Chip, ...]]:
    out: dict[int, list[Chip]] = {}
    for chip in all_chips():
        out.setdefault(chip.dev_id, []).append(chip)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, Chip], ...]:
    """(pattern as written, row) for every row name and alias."""
    return tuple((p, chip) for chip in all_chips() for p in (chip.name, *chip.aliases))


def chips_for_dev_id(dev_id: int) -> list[Chip]:
    """Rows with this DEV_ID, in table order (empty if unknown)."""
    return list(_by_dev_id().get(dev_id & 0xFFF, ()))


def _normalize_core(core: str) -> str:
    c = core.strip().lower().replace("_", "-").replace(" ", "-")
    c = c.removeprefix("arm-")
    return _CORE_ALIASES.get(c.removeprefix("cortex-"), c)


def identify(dev_id: int, flash_size_kib: int | None = None, core: str | None = None) -> Chip | None:
    """The row that best fits what a probe read, or None if the DEV_ID is unknown.

    * ``core`` (e.g. ``"cortex-m4"``, the CPUID of the core being talked to) removes rows that do not
      have that core. DEV_ID 0x450 seen from a Cortex-M4 (AP3) therefore gives the dual-core
      H745/H747/H755/H757 row; from the Cortex-M7 single- and dual-core rows both fit and the
      single-core H74x/H75x row is preferred, because the DEV_ID cannot tell them apart. A caller
      that finds a Cortex-M4 on AP3 should say so with ``core="cortex-m4"``. 0x411 seen on a
      Cortex-M4 is an early F4 and is looked up as 0x413.
    * ``flash_size_kib`` (the flash-size register; 0 and 0xFFFF count as unreadable) picks the row
      with exactly that flash size; failing that, the smallest row that is larger, failing that the
      largest row.
    * Without a size, the row with the largest flash wins (fewer cores first).
    """
    dev_id &= 0xFFF
    core_name = _normalize_core(core) if core else None
    if core_name is not None:
        dev_id = _DEV_ID_QUIRKS.get((dev_id, core_name), dev_id)
    candidates = chips_for_dev_id(dev_id)
    if core_name is not None:
        candidates = [c for c in candidates if core_name in c.cores]
    if not candidates:
        return None
    if flash_size_kib in (0, 0xFFFF):
        flash_size_kib = None

    if flash_size_kib is None:
        return min(candidates, key=lambda c: (len(c.cores), -c.flash_size))
    size = flash_size_kib * 1024

    def rank(c: Chip) -> tuple[int, int, int]:
        if c.flash_size == size:
            return (0, len(c.cores), 0)
        if c.flash_size > size:
            return (1, c.flash_size - size, len(c.cores))
        return (2, size - c.flash_size, len(c.cores))

    return min(candidates, key=rank)


def _normalize_part(name: str) -> str:
    p = "".join(name.split()).lower()
    if not p.startswith("stm32"):
        p = "stm32" + p
    return p


def _match_part(part: str) -> list[tuple[str, Chip]]:
    """Rows whose pattern matches ``part`` (lower case, normalised), longest pattern first."""
    hits = [(p.lower(), chip) for p, chip in _patterns() if pattern_matches(p.lower(), part)]
    if not hits:
        return []
    longest = max(len(p) for p, _ in hits)
    best: dict[int, tuple[str, Chip]] = {}
    for p, chip in hits:
        if len(p) == longest:
            best.setdefault(id(chip), (p, chip))
    return list(best.values())


def _suggest(name: str) -> list[str]:
    key = name.strip().lower()
    names = {p.lower(): chip.name for p, chip in _patterns()}
    part_key = _normalize_part(name)
    close = difflib.get_close_matches(part_key, list(names), n=4, cutoff=0.6)
    parts = [names[c] for c in close]
    # a bare line name ("stm32f401") is a prefix of several rows: list those too
    parts += [chip.name for p, chip in _patterns() if p.lower().startswith(part_key) and len(part_key) >= 7]
    boards = difflib.get_close_matches(normalize_board(key), list(BOARDS), n=3, cutoff=0.7)
    out = boards + parts if "-" in normalize_board(key) else parts + boards
    seen: list[str] = []
    for s in out:
        if s not in seen:
            seen.append(s)
    return seen[:6]


def _unknown(name: str, what: str = "chip") -> UnknownChipError:
    suggestions = _suggest(name)
    if suggestions:
        hint = "did you mean " + ", ".join(suggestions) + "?"
        return UnknownChipError(f"unknown {what} '{name}'; {hint}", hint=hint)
    return UnknownChipError(
        f"unknown {what} '{name}'", hint="give a part name such as stm32f401re, a board name or a DEV_ID"
    )


def resolve_part(name: str) -> tuple[Chip, str]:
    """The row for ``name`` and the normalised part name (upper case, e.g. ``STM32F401RET6``).

    For a board the part is the board's chip; for a DEV_ID or a row name it is the row name.
    """
    text = name.strip()
    if not text:
        raise UnknownChipError("empty chip name", hint="give a part name such as stm32f401re")

    part = board_part(text)
    if part is not None:
        hits = _match_part(_normalize_part(part))
        if len(hits) != 1:  # a board whose part is missing from the table is a table bug
            raise UnknownChipError(f"board '{text}' carries {part.upper()}, which is not in the chip table")
        return hits[0][1], part.upper()

    m = _DEV_ID_RE.match(text.lower())
    if m:
        chip = identify(int(m.group(1), 16))
        if chip is None:
            raise _unknown(text, "device id")
        return chip, chip.name

    lowered = text.lower()
    for p, chip in _patterns():
        if p.lower() == lowered:
            return chip, p

    normalized = _normalize_part(text)
    hits = _match_part(normalized)
    if len(hits) == 1:
        return hits[0][1], normalized.upper()
    if len(hits) > 1:
        names = ", ".join(chip.name for _, chip in hits)
        raise UnknownChipError(f"chip name '{text}' is ambiguous: {names}", hint=f"one of {names}")
    raise _unknown(text)


def find_chip(name: str) -> Chip:
    """The row for a part name, row name, board name or DEV_ID; ``UnknownChipError`` otherwise."""
    return resolve_part(name)[0]
