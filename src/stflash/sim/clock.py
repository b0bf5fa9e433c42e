"""Virtual time for the bench, in integer nanoseconds.

Nothing in the simulator ever sleeps: a flash operation records when it will end on this clock,
status reads compare against it, and whoever drives the bench (a link simulator charging for USB
frames or UART bits, or a test) moves it forward.
"""

from __future__ import annotations

NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000


class VirtualClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, now: int = 0) -> None:
        if now < 0:
            raise ValueError("the clock starts at 0 or later")
        self._now = int(now)

    @property
    def now(self) -> int:
        """Current time in nanoseconds."""
        return self._now

    def advance(self, ns: int) -> int:
        """Move forward by ``ns`` nanoseconds (never backwards); returns the new time."""
        if ns < 0:
            raise ValueError(f"cannot move the clock backwards ({ns} ns)")
        self._now += int(ns)
        return self._now

    def advance_to(self, t: int) -> int:
        """Move forward to ``t`` if it lies in the future; a past ``t`` leaves the clock alone."""
        if t > self._now:
            self._now = int(t)
        return self._now

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now})"
