"""Virtual time for the bench, in integer nanoseconds.

Nothing in the simulator ever sleeps: a flash operation records when it will end on this clock,
status reads compare against it, and whoever drives the bench (a link simulator charging for USB
frames or UART bits, or a test) moves it forward.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000

# Set to 1, the flash operations, USB transfers and ST-LINK probe work cost no virtual time (the
# simulated cores still take their cycles): what is left of a run's wall time is the host's and
# the simulator's own work (bench/zero_cost.py). Read at each use, so it also reaches
# ``sim serve`` and ``sim run`` started with it.
ZERO_COSTS_ENV = "STFLASH_SIM_ZERO_COSTS"


def zero_costs() -> bool:
    return os.environ.get(ZERO_COSTS_ENV, "") == "1"


# Set to 1, the simulator takes none of its shortcuts (a core's idle loop executed iteration by
# iteration, every word of a probe's block access through TAR/DRW). The shortcuts give the same
# virtual time and the same bus effects; this switch exists to show that (tests/sim/test_exact_*).
EXACT_ENV = "STFLASH_SIM_EXACT"


def exact() -> bool:
    return os.environ.get(EXACT_ENV, "") == "1"


class VirtualClock:
    """A monotonic clock that only moves when told to.

    ``behind(t)`` lets code that belongs to an earlier moment (a core catching up with the clock
    before a debug access) see the time as it was then: what it starts (a flash operation) is
    timed from that moment, and the time it spends moves that view forward. Afterwards the clock
    reads the later of the two."""

    def __init__(self, now: int = 0) -> None:
        if now < 0:
            raise ValueError("the clock starts at 0 or later")
        self._now = int(now)
        self._view: int | None = None

    @property
    def now(self) -> int:
        """Current time in nanoseconds."""
        return self._now if self._view is None else self._view

    def advance(self, ns: int) -> int:
        """Move forward by ``ns`` nanoseconds (never backwards); returns the new time."""
        if ns < 0:
            raise ValueError(f"cannot move the clock backwards ({ns} ns)")
        if self._view is not None:
            self._view += int(ns)
            return self._view
        self._now += int(ns)
        return self._now

    def advance_to(self, t: int) -> int:
        """Move forward to ``t`` if it lies in the future; a past ``t`` leaves the clock alone."""
        if self._view is not None:
            if t > self._view:
                self._view = int(t)
            return self._view
        if t > self._now:
            self._now = int(t)
        return self._now

    @contextmanager
    def behind(self, t: int) -> Iterator[None]:
        if self._view is not None or t >= self._now:
            yield
            return
        self._view = int(t)
        try:
            yield
        finally:
            self._now = max(self._now, self._view)
            self._view = None

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now})"
