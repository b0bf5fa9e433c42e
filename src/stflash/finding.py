"""A finding of ``stflash doctor``, in a module of its own: the target checks in ``recover`` build
them, and ``doctor`` must not import the recover package (and the ST-LINK link with it) for checks
that never look at a target (``stflash udev-rules``, a missing libusb)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One line of ``stflash doctor``."""

    check: str
    status: str  # "ok" | "warn" | "fail" | "info"
    detail: str
    fix: str | None = None
    cause: str | None = None  # target findings: the diagnosis code (recover.diagnose), "ok" when fine

    def as_dict(self) -> dict[str, str]:
        out = {"check": self.check, "status": self.status, "detail": self.detail}
        if self.fix:
            out["fix"] = self.fix
        if self.cause:
            out["cause"] = self.cause
        return out
