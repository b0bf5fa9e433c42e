"""Where things go: results on stdout (one JSON document with --json), everything else on stderr."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Output:
    json_mode: bool = False
    verbose: int = 0
    quiet: bool = False
    connect: str | None = None  # global -c, used when a verb has none
    _progress_start: dict[str, float] = field(default_factory=dict)
    _progress_drawn: bool = False

    def result(self, data: dict[str, Any], text: str | None = None) -> None:
        """The verb's answer: JSON on stdout, or the human text on stdout."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")
        elif text:
            sys.stdout.write(text.rstrip("\n") + "\n")
        sys.stdout.flush()

    def info(self, message: str) -> None:
        """Narration for a person; silent with -q (never on stdout, so --json stays clean)."""
        if not self.quiet:
            self._end_progress()
            sys.stderr.write(message + "\n")

    def debug(self, message: str, level: int = 1) -> None:
        if self.verbose >= level:
            self._end_progress()
            sys.stderr.write(message + "\n")

    def progress(self, phase: str, done: int, total: int) -> None:
        """Bytes and rate on stderr when it is a terminal; silent with -q or --json."""
        if self.quiet or self.json_mode or not sys.stderr.isatty():
            return
        now = time.monotonic()
        start = self._progress_start.setdefault(phase, now)
        rate = done / (now - start) if now > start else 0.0
        pct = 100 * done // total if total else 100
        sys.stderr.write(f"\r{phase:>7}: {pct:3d}% {done}/{total} bytes {rate / 1024:8.1f} KiB/s")
        self._progress_drawn = True
        if done >= total:
            self._end_progress()

    def _end_progress(self) -> None:
        if self._progress_drawn:
            sys.stderr.write("\n")
            self._progress_drawn = False

    def error(self, payload: dict[str, Any], line: str, hint: str | None) -> None:
        self._end_progress()
        if self.json_mode:
            sys.stdout.write(json.dumps({"error": payload}, indent=2, default=_json_default) + "\n")
            sys.stdout.flush()
        sys.stderr.write(f"stflash: error: {line}\n")
        if hint:
            sys.stderr.write(f"  hint: {hint}\n")


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)
