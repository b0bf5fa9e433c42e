"""Start the testbed side for one program and serve it the bench until the program ends.

The testbed side needs an interpreter with umockdev's GObject bindings. This process's own
interpreter is tried first, then Debian's ``/usr/bin/python3`` (where ``python3-gi`` installs
them); the testbed side imports stflash's stdlib-only modules from the same source tree as this
process (its root is put first on that interpreter's ``sys.path`` while they load), so the two
always match.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ...errors import NotSupportedError, StflashError
from . import frames
from .bridge import BenchBridge

PACKAGES = ("umockdev", "gir1.2-umockdev-1.0", "python3-gi")
INSTALL_HINT = "install Debian's packages: sudo apt-get install " + " ".join(PACKAGES)
SYSTEM_PYTHON = "/usr/bin/python3"
SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the directory that holds the stflash package
# stflash's root is on the path only while the testbed module loads, so that gi then comes from
# that interpreter's own packages even when the root is another interpreter's site-packages
_LAUNCH = ("import sys; root = sys.argv.pop(1); sys.path.insert(0, root); "
           "from stflash.sim.umockdev.testbed import main; sys.path.remove(root); sys.exit(main())")


def interpreters() -> list[str]:
    """Interpreters to try for the testbed side, this one first."""
    out: list[str] = []
    for candidate in (sys.executable, SYSTEM_PYTHON):
        if candidate and os.path.exists(candidate) and candidate not in out:
            out.append(candidate)
    return out


def check_platform() -> None:
    if not sys.platform.startswith("linux"):
        raise NotSupportedError("sim run needs Linux (umockdev fakes Linux's sysfs and usbdevfs)")
    if shutil.which("umockdev-wrapper") is None:
        raise NotSupportedError("sim run needs umockdev, which is not installed", hint=INSTALL_HINT)


def run(directory: str | os.PathLike[str], command: Sequence[str]) -> int:
    """Run ``command`` with the bench's USB devices; returns its exit status (128 + N for a
    program killed by signal N)."""
    check_platform()
    reasons: list[str] = []
    for python in interpreters():
        code = _attempt(python, directory, command, reasons)
        if code is not None:
            return code
    raise NotSupportedError(
        "sim run needs umockdev's Python bindings (gi with UMockdev 1.0), found in no interpreter: "
        + "; ".join(reasons), hint=INSTALL_HINT)


def _attempt(python: str, directory: str | os.PathLike[str], command: Sequence[str],
             reasons: list[str]) -> int | None:
    """Serve one testbed side started with ``python``; None when it has no umockdev bindings."""
    ours, theirs = socket.socketpair()
    bridge = BenchBridge(directory)
    try:
        helper = subprocess.Popen(
            # under umockdev's preload too, so that the uevents it sends for hot-plugged devices
            # find the testbed's sysfs (libudev resolves the device there)
            ["umockdev-wrapper", python, "-c", _LAUNCH, str(SOURCE_ROOT), str(theirs.fileno()), "--", *command],
            pass_fds=(theirs.fileno(),),
        )
    except OSError as exc:
        reasons.append(f"{python}: {exc.strerror}")
        ours.close()
        theirs.close()
        return None
    theirs.close()
    try:
        with _signals_reach_the_program(helper):
            outcome, code = _serve(ours, bridge, python, reasons)
    finally:
        bridge.close()
        ours.close()
        status = helper.wait()
    if outcome == "unavailable":
        return None
    if outcome == "lost":
        raise StflashError(f"sim run: the testbed process ({python}) ended unexpectedly (status {status})")
    return code


def _serve(sock: socket.socket, bridge: BenchBridge, python: str, reasons: list[str]) -> tuple[str, int]:
    """Answer requests until the program's exit frame: ("exit", status), ("unavailable", 0) when
    that interpreter has no umockdev bindings, ("lost", 0) when the testbed side vanished."""
    while True:
        try:
            header, payload = frames.recv(sock)
        except (EOFError, ConnectionError):
            return "lost", 0
        op = header.get("op")
        if op == "exit":
            return "exit", int(header.get("code", 1))
        if op == "unavailable":
            reasons.append(f"{python}: {header.get('reason', 'no umockdev bindings')}")
            return "unavailable", 0
        reply, data = bridge.handle(header, payload)
        frames.send(sock, reply, data)


@contextmanager
def _signals_reach_the_program(helper: subprocess.Popen[bytes]) -> Iterator[None]:
    """Ctrl-C reaches the program itself (same process group), and SIGTERM/SIGHUP sent to this
    process are passed on to it (through the testbed side); this side keeps serving the program
    until it ends, then saves the bench (a bench loaded while the program held a device would
    otherwise lose what the program did)."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        if helper.poll() is None:
            helper.send_signal(signum)

    wanted: dict[signal.Signals, Any] = {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: forward,
                                         signal.SIGHUP: forward}
    previous: dict[signal.Signals, Any] = {}
    try:
        for signum, handler in wanted.items():
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: signals stay as they are
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
