"""One exception hierarchy for the library; the CLI maps each class to one exit code.

Every error carries a stable machine-readable ``code`` (used in ``--json`` output), an
``exit_code`` (documented in docs/exit-codes.md) and an optional ``hint``: the next thing the
user should try, in their words, not ours.
"""

from __future__ import annotations


class StflashError(Exception):
    """Base of every error stflash raises on purpose."""

    code = "error"
    exit_code = 1
    # set by a link whose program() failed part-way: how many bytes of that call are known written
    written_upto = 0

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # set by a link that streams several ranges at once: the (address, length) ranges that landed
        self.written: list[tuple[int, int]] = []
        # what a caller higher up adds for --json (recover's report, probe's diagnosis)
        self.details: dict[str, object] = {}

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out.update(self.details)
        return out


class UsageError(StflashError):
    """An option, argument or value the user gave cannot be used."""

    code = "usage"
    exit_code = 2


class NoDeviceError(StflashError):
    """Nothing to talk to: no probe, no bootloader, no serial port answered discovery."""

    code = "no-device"
    exit_code = 3


class MultipleDevicesError(StflashError):
    """More than one candidate and the user did not say which one (``-c``)."""

    code = "multiple-devices"
    exit_code = 4


class DeviceBusyError(StflashError):
    """The device exists but cannot be opened: another process, or missing permission."""

    code = "device-busy"
    exit_code = 5


class TargetNotRespondingError(StflashError):
    """The link is up but the chip behind it does not answer."""

    code = "target-not-responding"
    exit_code = 6


class ImageError(StflashError):
    """A firmware file is unreadable, truncated, inconsistent or of an unknown format."""

    code = "image-invalid"
    exit_code = 7

    def __init__(
        self, message: str, *, path: str | None = None, offset: int | None = None, hint: str | None = None
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}: "
            if offset is not None:
                where = f"{path} at offset {offset:#x}: "
        super().__init__(where + message, hint=hint)
        self.path = path
        self.offset = offset


class ImageDoesNotFitError(StflashError):
    """The image is valid but does not fit the chip's memory (outside flash, over OTP/bootloader)."""

    code = "image-does-not-fit"
    exit_code = 8


class ProtectedError(StflashError):
    """Read-out (RDP) or write protection (WRP) stops the operation."""

    code = "protected"
    exit_code = 9


class VerifyError(StflashError):
    """What the chip holds differs from what was written."""

    code = "verify-mismatch"
    exit_code = 10

    def __init__(self, message: str, *, address: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.address = address


class OperationTimeoutError(StflashError):
    """The chip or the link did not finish in the time the datasheet allows."""

    code = "timeout"
    exit_code = 11


class UnsafeOperationError(StflashError):
    """Refused because it could brick the part or destroy data without consent."""

    code = "refused-unsafe"
    exit_code = 12


class ConsentRequiredError(UnsafeOperationError):
    """A step that erases or changes option bytes was reached without consent; the hint is the
    command that goes on from there."""

    code = "needs-consent"
    exit_code = 17


class NotSupportedError(StflashError):
    """The verb or option is not available on this link or chip (yet)."""

    code = "not-supported"
    exit_code = 13


class LinkError(StflashError):
    """The wire protocol broke: unexpected answer, lost device, corrupted frame."""

    code = "link-error"
    exit_code = 14


class UnknownChipError(StflashError):
    """A chip name or device id is not in the chip database."""

    code = "unknown-chip"
    exit_code = 15


class PartialWriteError(StflashError):
    """The device was left half-written; ``written`` names the ranges that did land."""

    code = "partial-write"
    exit_code = 16

    def __init__(
        self, message: str, *, written: list[tuple[int, int]] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.written = written or []

    def as_dict(self) -> dict[str, object]:
        out = super().as_dict()
        out["written"] = [{"address": a, "length": n} for a, n in self.written]
        return out


ALL_ERRORS: tuple[type[StflashError], ...] = (
    StflashError,
    UsageError,
    NoDeviceError,
    MultipleDevicesError,
    DeviceBusyError,
    TargetNotRespondingError,
    ImageError,
    ImageDoesNotFitError,
    ProtectedError,
    VerifyError,
    OperationTimeoutError,
    UnsafeOperationError,
    ConsentRequiredError,
    NotSupportedError,
    LinkError,
    UnknownChipError,
    PartialWriteError,
)
