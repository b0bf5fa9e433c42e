"""Register blocks whose words live in the chip's generic peripheral stub (the "peripherals"
``RegisterFile``): what they store is saved with the bench, cleared by every reset and read back by
the firmware-scenario checks exactly as before; the subclasses add reset values, read-only bits and
a notice to the peripherals that depend on them (the USARTs on their clocks and pins)."""

from __future__ import annotations

from typing import Protocol

from ..bus import Region, RegisterFile, lane_value, sub_word


class Listener(Protocol):
    def touch(self) -> None:
        """Bring time-driven peripherals up to now (before a register they depend on changes)."""

    def changed(self) -> None:
        """A register they depend on changed."""


class StoredBlock(Region):
    """A block of 32-bit registers stored in ``store`` (at this block's address there)."""

    def __init__(self, name: str, start: int, size: int, store: RegisterFile, listener: Listener) -> None:
        super().__init__(name, start, size)
        self.store = store
        self.listener = listener

    # -- storage ------------------------------------------------------------------------------
    def reset_value(self, offset: int) -> int:
        return 0

    def stored(self, offset: int) -> int:
        """The word at ``offset`` as written (or its reset value)."""
        return self.store.words.get(self.start + offset - self.store.start, self.reset_value(offset))

    def keep(self, offset: int, value: int) -> None:
        self.store.words[self.start + offset - self.store.start] = value & 0xFFFF_FFFF

    # -- what the bus sees ------------------------------------------------------------------------
    def view(self, offset: int) -> int:
        """The word a read returns (status bits computed)."""
        return self.stored(offset)

    def accept(self, offset: int, value: int) -> int:
        """The word kept after software writes ``value`` (read-only bits put back)."""
        return value

    def read(self, address: int, size: int, master: str) -> int:
        off = address - self.start
        return sub_word(self.view(off & ~3), off & 3, size)

    def write(self, address: int, size: int, value: int, master: str) -> None:
        off = address - self.start
        lane, mask = lane_value(value, off & 3, size)
        word = off & ~3
        self.listener.touch()
        self.keep(word, self.accept(word, (self.view(word) & ~mask) | lane))
        self.listener.changed()
