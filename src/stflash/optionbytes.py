"""Option bytes by name: parse ``FIELD=VALUE``, show a diff, refuse values that brick a part.

Links read and write raw option registers; everything a person sees (names, meanings, the dry
run, the refusal of RDP level 2 or of both H7 cores disabled) is decided here from chip data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .chips.model import Chip, FlashKind, OptionField
from .errors import UnsafeOperationError, UsageError


@dataclass(frozen=True)
class OptionChange:
    field: OptionField
    old: int | None
    new: int

    def render(self) -> str:
        old = "?" if self.old is None else _fmt(self.field, self.old)
        meaning = self.field.meaning(self.new)
        tail = f"  ({meaning})" if meaning else ""
        return f"{self.field.name}: {old} -> {_fmt(self.field, self.new)}{tail}"

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field.name, "old": self.old, "new": self.new}


def _fmt(f: OptionField, value: int) -> str:
    return str(value) if f.width == 1 else f"{value:#0{2 + (f.width + 3) // 4}x}"


def parse_assignments(chip: Chip, items: Iterable[str]) -> dict[str, int]:
    """``["RDP=0xBB", "nBOOT0=0"]`` -> {"RDP": 0xBB, "nBOOT0": 0}; names are case-insensitive,
    values may be numbers or the named values of the field (e.g. ``RDP=level0`` if the table says so)."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name or not text:
            raise UsageError(f"option {item!r}: write FIELD=VALUE, e.g. nBOOT0=1")
        f = chip.option_field(name.strip())
        if f is None:
            known = ", ".join(x.name for x in chip.option_fields) or "none"
            raise UsageError(f"option {name!r} is not a field of {chip.name}", hint=f"fields: {known}")
        value = _parse_value(f, text.strip())
        if value >> f.width:
            raise UsageError(f"option {f.name}={text}: does not fit in {f.width} bit(s)")
        out[f.name] = value
    return out


def _parse_value(f: OptionField, text: str) -> int:
    for value, label in f.values:
        if text.lower() == label.lower() or text.lower() == label.lower().replace(" ", "-"):
            return value
    try:
        return int(text, 0)
    except ValueError:
        names = ", ".join(label for _, label in f.values)
        raise UsageError(
            f"option {f.name}={text}: not a number" + (f" or one of: {names}" if names else "")
        ) from None


def plan_changes(chip: Chip, current: Mapping[str, int], wanted: Mapping[str, int]) -> list[OptionChange]:
    """The fields that actually change, in table order."""
    changes = []
    for f in chip.option_fields:
        if f.name in wanted and current.get(f.name) != wanted[f.name]:
            changes.append(OptionChange(f, current.get(f.name), wanted[f.name]))
    return changes


def check_safety(
    chip: Chip, current: Mapping[str, int], changes: Iterable[OptionChange], *, allow_permanent: bool = False
) -> None:
    """Refuse a change that bricks the part (a dangerous value, or a forbidden combination of
    the resulting values) unless the user passed the explicit flag for permanent changes."""
    result = dict(current)
    for c in changes:
        result[c.field.name] = c.new
        reason = c.field.danger(c.new)
        if reason and not allow_permanent:
            raise UnsafeOperationError(
                f"refusing {c.field.name}={_fmt(c.field, c.new)} on {chip.name}: {reason}",
                hint="if you really mean it, add --allow-permanent (there is no way back)",
            )
    for combo in chip.forbidden:
        if all(result.get(name) == value for name, value in combo.fields) and not allow_permanent:
            desc = " and ".join(f"{n}={v}" for n, v in combo.fields)
            raise UnsafeOperationError(
                f"refusing option bytes with {desc} on {chip.name}: {combo.reason}",
                hint="change the other field too, or add --allow-permanent if you really mean it",
            )


def regression_erases_flash(chip: Chip, current: Mapping[str, int], changes: Iterable[OptionChange]) -> bool:
    """True when the change, made at RDP level 1, mass-erases the flash: lowering RDP to level 0
    (the field's factory default on every family) does; on F0/F1/F3 any change does, because the
    controller erases the whole option page first (RM0008 2.4)."""
    rdp = chip.option_field("RDP")
    if rdp is None or rdp.name not in current or rdp.rdp_level(current[rdp.name]) != 1:
        return False
    changes = list(changes)
    if chip.flash_kind is FlashKind.F0_F1_F3:
        return bool(changes)
    return any(c.field.name == rdp.name and c.new == rdp.default for c in changes)
