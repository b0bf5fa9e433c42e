"""What the loader's host side raises: LoaderUnavailable (use the register path; nothing was
programmed by the loader), LoaderFault (it stopped part-way), and the flash's own refusals as the
stflash errors the CLI maps to exit codes, each naming the address and the status flags."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import NotSupportedError, ProtectedError, StflashError, VerifyError


class LoaderUnavailable(NotSupportedError):
    """The loader cannot run on this target (too little RAM, a core that will not halt or run
    code from RAM); nothing was programmed by it: use the register path."""


class LoaderFault(LoaderUnavailable):
    """The loader stopped part-way without an answer (the core faulted, locked up or halted);
    ``written_upto`` says how much of the call's data was programmed before."""


class FlashProtectedError(ProtectedError):
    """The controller refused a unit because the sector (or the chip) is protected."""

    def __init__(self, message: str, *, address: int, sr: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.address = address
        self.sr = sr


class FlashProgramError(VerifyError):
    """The controller flagged an error after programming the unit at ``address``."""

    def __init__(self, message: str, *, address: int, sr: int, hint: str | None = None) -> None:
        super().__init__(message, address=address, hint=hint)
        self.sr = sr


@dataclass(frozen=True)
class Span:
    """One range a caller asked for, and the erased bytes put before it to reach a unit boundary."""

    address: int
    length: int
    front: int


def attach_written(exc: StflashError, parts: list[Span], chunks: list[tuple[int, int]]) -> None:
    """Turn the loader's count of programmed bytes (in stream order over ``chunks``, each a
    (segment index, length)) into ``written`` ranges of the caller's segments and the
    ``written_upto`` of the failing one."""
    left = exc.written_upto
    done = [0] * len(parts)
    failing = None
    for segment, length in chunks:
        step = min(left, length)
        done[segment] += step
        left -= step
        if step < length and failing is None:
            failing = segment
    written: list[tuple[int, int]] = []
    for index, part in enumerate(parts):
        n = max(0, min(part.length, done[index] - part.front))
        if n:
            written.append((part.address, n))
    upto = 0 if failing is None else max(0, min(parts[failing].length, done[failing] - parts[failing].front))
    exc.written_upto = upto
    exc.written = written
