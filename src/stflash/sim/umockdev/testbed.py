"""The testbed side of ``stflash sim run``: umockdev's fake sysfs and usbdevfs for one program.

Runs in an interpreter that has umockdev's GObject bindings (Debian's ``/usr/bin/python3`` with
``python3-gi`` and ``gir1.2-umockdev-1.0``), which need not have stflash's dependencies: it imports
nothing but the standard library, ``gi`` and :mod:`.frames` / :mod:`.usbfs` (whose packages'
``__init__`` modules import only the standard library; a test keeps it so).

It plugs the bench's devices into a :class:`UMockdev.Testbed`, starts the program under
``umockdev-wrapper`` and answers the usbdevfs ioctls of the program on those nodes the way the
Linux kernel does, asking the bench side (over the frames of :mod:`.frames`) for each transfer:

* control and OUT URBs complete at once and wait to be reaped; bulk IN URBs stay pending until the
  device has data, or until the program discards them (its timeout: status -ENOENT);
* a reap with nothing to give answers EAGAIN, at once the first time and then after a growing
  pause (umockdev's node is always "ready" to ``poll``, so a program waiting for an answer that
  never comes would otherwise reap in a tight loop);
* GETDRIVER answers ENODATA (no kernel driver bound), claim/release/CLEAR_HALT succeed while the
  device is on the bus, RESET is a bus reset of the device model;
* when the bench's bus changes (the DFU bootloader starts or leaves), nodes are added or removed
  with a uevent, as udev would see it.

Usage (what :mod:`.run` starts): ``python3 -c ... FD -- PROGRAM [ARGS...]`` with FD the socket to
the bench side. The exit status is the program's (128 + N when a signal N ended it).
"""

from __future__ import annotations

import collections
import errno
import importlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from stflash.sim.umockdev import frames, usbfs

# EAGAIN pauses for a reap that finds nothing: none after progress, then doubling up to the cap
FIRST_IDLE_PAUSE_S = 0.0005
MAX_IDLE_PAUSE_S = 0.02
BUS_POLL_S = 1.0  # how often the bus is looked at while no program holds a node open
# POLICY: a synchronous USBDEVFS_BULK read without timeout (0 = forever on Linux) that nothing will
# ever answer (the caller is blocked) gives up after this long instead of hanging the program
SYNC_FOREVER_MS = 5000
TERM_GRACE_S = 5.0  # a program stopped by a signal (Ctrl-C, SIGTERM) is killed if still there after this
EXIT_NO_UMOCKDEV = 3  # the testbed cannot be built (checked by the launcher before any program runs)
TRACE = bool(os.environ.get("STFLASH_SIM_RUN_TRACE"))  # log each ioctl on stderr (for debugging)


def _trace(message: str) -> None:
    sys.stderr.write(f"[sim run] {message}\n")


def load_umockdev() -> Any:
    """umockdev's GObject bindings; ImportError/ValueError when the packages are missing."""
    gi = importlib.import_module("gi")
    gi.require_version("UMockdev", "1.0")
    return importlib.import_module("gi.repository.UMockdev")


class BenchLink:
    """The socket to the bench side; one request at a time from any thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.on_bus_changed: Any = None
        self.closed = False

    def finish(self, header: dict[str, Any]) -> None:
        """The last frame: the program's exit (no answer comes back)."""
        with self.lock:
            if not self.closed:
                frames.send(self.sock, header)
            self.closed = True

    def alive(self) -> bool:
        """Is the bench side still there? (It only ever answers, so between calls a readable
        socket means it has closed.)"""
        if self.closed or not self.lock.acquire(blocking=False):
            return not self.closed  # a call in flight finds out by itself
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if readable and not self.sock.recv(1, socket.MSG_PEEK):
                self.closed = True
        except OSError:
            self.closed = True
        finally:
            self.lock.release()
        return not self.closed

    def call(self, header: dict[str, Any], payload: bytes = b"") -> tuple[dict[str, Any], bytes]:
        with self.lock:
            if self.closed:  # the program has ended; late calls (a close on exit) find no bench
                return {"errno": errno.ENODEV}, b""
            try:
                frames.send(self.sock, header, payload)
                reply, data = frames.recv(self.sock)
            except (EOFError, OSError):  # the bench side is gone: the program is stopped (main)
                self.closed = True
                return {"errno": errno.ENODEV}, b""
        if reply.get("bus_changed") and self.on_bus_changed is not None:
            self.on_bus_changed()
        return reply, data


@dataclass
class Urb:
    """One submitted URB: the program's struct (``IoctlData``) and buffer, and what we know of it."""

    addr: int
    struct_data: Any
    buffer: Any
    kind: int
    endpoint: int
    length: int
    flags: int


@dataclass
class ClientState:
    """One open file descriptor of the program on a node. Holding the client's Python wrapper
    keeps it alive, so later callbacks get the same wrapper (and ``id``) for the same client."""

    client: Any
    pending: list[Urb] = field(default_factory=list)  # bulk/interrupt IN waiting for data
    done: collections.deque[Urb] = field(default_factory=collections.deque)
    idle_reaps: int = 0


class Node:
    """A device node of the testbed, answered by one device of the bench."""

    def __init__(self, bed: Testbed, record: dict[str, Any]) -> None:
        self.bed = bed
        self.key = str(record["key"])
        self.syspath = str(record["syspath"])
        self.devnode = str(record["devnode"])
        self.record = record
        self.gone = False
        self.clients: dict[int, ClientState] = {}
        self.handler = bed.UMockdev.IoctlBase()
        self.handler.connect("handle-ioctl", self._on_ioctl)
        self.handler.connect("client-connected", self._on_connect)

    # -- clients -----------------------------------------------------------------------------------
    def _on_connect(self, handler: Any, client: Any) -> None:
        self.clients[id(client)] = ClientState(client)
        client.connect("notify::connected", self._on_disconnect)
        self.bed.link.call({"op": "open", "key": self.key})

    def _on_disconnect(self, client: Any, _pspec: Any) -> None:
        if client.get_connected() or self.clients.pop(id(client), None) is None:
            return
        self.bed.link.call({"op": "close", "key": self.key})

    # -- ioctls ------------------------------------------------------------------------------------
    def _on_ioctl(self, handler: Any, client: Any) -> bool:
        state = self.clients.get(id(client))
        if state is None:
            state = self.clients[id(client)] = ClientState(client)
        try:
            answer = self._ioctl(client, state, int(client.get_request()))
        except Exception as exc:  # a fault here must not hang the program: it gets EIO
            sys.stderr.write(f"stflash sim run: ioctl {client.get_request():#x} failed: {exc}\n")
            answer = (-1, errno.EIO)
        if answer is not None:
            client.complete(answer[0], answer[1])
        return True

    def _ioctl(self, client: Any, state: ClientState, req: int) -> tuple[int, int] | None:
        arg = client.get_arg()
        if TRACE:
            _trace(f"ioctl {req:#x} on {self.devnode}: {len(state.pending)} pending, {len(state.done)} done")
        if req == usbfs.SUBMITURB:
            return self._submit(arg, state)
        if req in (usbfs.REAPURBNDELAY, usbfs.REAPURB):  # libusb only uses the non-blocking one
            return self._reap(client, arg, state)
        if req == usbfs.DISCARDURB:
            return self._discard(arg, state)
        if self.gone:
            return -1, errno.ENODEV
        if req == usbfs.GET_CAPABILITIES:
            arg.resolve(0, 4).update(0, usbfs.CAPABILITIES.to_bytes(4, sys.byteorder))
            return 0, 0
        if req in (usbfs.GETDRIVER, usbfs.IOCTL):
            return -1, errno.ENODATA  # no kernel driver is bound to any interface
        if req in (usbfs.CLAIMINTERFACE, usbfs.RELEASEINTERFACE, usbfs.DISCONNECT_CLAIM):  # interface first
            interface = int.from_bytes(bytes(arg.resolve(0, 4).retrieve()), sys.byteorder)
            return self._simple({"op": "check", "key": self.key, "interface": interface})
        if req == usbfs.SETINTERFACE_REQ:
            interface, alt = usbfs.SETINTERFACE.unpack(bytes(arg.resolve(0, usbfs.SETINTERFACE.size).retrieve()))
            return self._standard(0x01, 11, alt, interface, errno.EINVAL)
        if req == usbfs.SETCONFIGURATION:
            value = int.from_bytes(bytes(arg.resolve(0, 4).retrieve()), sys.byteorder, signed=True)
            return self._standard(0x00, 9, max(value, 0), 0, errno.EINVAL)
        if req == usbfs.RESET:
            return self._simple({"op": "reset", "key": self.key})
        if req in (usbfs.CLEAR_HALT, usbfs.RESETEP):
            return self._simple({"op": "check", "key": self.key})
        if req in (usbfs.DROP_PRIVILEGES, usbfs.DISCONNECT, usbfs.CONNECT):
            return 0, 0
        if req == usbfs.GET_SPEED:
            return usbfs.KERNEL_SPEED.get(int(self.record["speed"]), 2), 0
        if req == usbfs.CONNECTINFO_REQ:
            arg.resolve(0, usbfs.CONNECTINFO.size).update(
                0, usbfs.CONNECTINFO.pack(int(self.record["address"]), 0).ljust(usbfs.CONNECTINFO.size, b"\0"))
            return 0, 0
        size = usbfs.conninfo_ex_size(req)
        if size is not None:
            ports = [int(p) for p in self.record["ports"]][:7]
            info = usbfs.CONNINFO_EX.pack(usbfs.CONNINFO_EX.size, int(self.record["bus"]), int(self.record["address"]),
                                          usbfs.KERNEL_SPEED.get(int(self.record["speed"]), 2), len(ports),
                                          *(ports + [0] * (7 - len(ports))))
            arg.resolve(0, size).update(0, info[:size])
            return 0, 0
        if req == usbfs.CONTROL:
            return self._sync_control(arg)
        if req == usbfs.BULK:
            return self._sync_bulk(client, arg)
        return -1, errno.ENOTTY

    def _simple(self, request: dict[str, Any]) -> tuple[int, int]:
        reply, _ = self.bed.link.call(request)
        if "errno" in reply:
            return -1, int(reply["errno"])
        return 0, 0

    def _standard(self, request_type: int, request: int, value: int, index: int, stall_errno: int) -> tuple[int, int]:
        """A request the kernel makes on the program's behalf (SET_INTERFACE, SET_CONFIGURATION)."""
        reply, _ = self.bed.link.call({"op": "control", "key": self.key,
                                       "setup": _setup_hex(request_type, request, value, index, 0)})
        if "errno" in reply:
            return -1, int(reply["errno"])
        return (-1, stall_errno) if reply.get("status") else (0, 0)

    # -- URBs --------------------------------------------------------------------------------------
    def _submit(self, arg: Any, state: ClientState) -> tuple[int, int]:
        if self.gone:
            return -1, errno.ENODEV
        data = arg.resolve(0, usbfs.URB.size)
        kind, endpoint, _status, flags, _buf, length, *_ = usbfs.URB.unpack(bytes(data.retrieve()))
        buffer = data.resolve(usbfs.URB_BUFFER, length) if length > 0 else None
        urb = Urb(int(data.client_addr), data, buffer, kind, endpoint, length, flags)
        state.idle_reaps = 0
        if kind == usbfs.URB_TYPE_CONTROL:
            raw = bytes(buffer.retrieve()) if buffer is not None else b""
            if len(raw) < 8:
                return -1, errno.EINVAL
            reply, answer = self.bed.link.call({"op": "control", "key": self.key, "setup": raw[:8].hex()}, raw[8:])
            if "errno" in reply:
                return -1, int(reply["errno"])
            self._finish(urb, int(reply["status"]), answer if raw[0] & 0x80 else None,
                         int(reply.get("actual", len(answer))), offset=8)
            state.done.append(urb)
            return 0, 0
        if kind not in (usbfs.URB_TYPE_BULK, usbfs.URB_TYPE_INTERRUPT):
            return -1, errno.EINVAL  # isochronous: no bench device has such endpoints
        if endpoint & 0x80:
            if not self._try_in(urb):
                state.pending.append(urb)
            else:
                state.done.append(urb)
            return 0, 0
        out = bytes(buffer.retrieve()) if buffer is not None else b""
        reply, _ = self.bed.link.call({"op": "bulk_out", "key": self.key, "ep": endpoint}, out)
        if "errno" in reply:
            return -1, int(reply["errno"])
        self._finish(urb, int(reply["status"]), None, int(reply.get("actual", 0)))
        state.done.append(urb)
        self._poll_pending(state)  # a command may have produced the reply a pending IN waits for
        return 0, 0

    def _try_in(self, urb: Urb) -> bool:
        """Ask the device for a pending IN URB's data; False while it has none."""
        reply, answer = self.bed.link.call({"op": "bulk_in", "key": self.key, "ep": urb.endpoint,
                                            "length": urb.length})
        if TRACE:
            _trace(f"bulk IN {urb.endpoint:#04x}: {reply} {answer.hex()}")
        if reply.get("pending"):
            return False
        if "errno" in reply:
            self._finish(urb, usbfs.STATUS_GONE, None, 0)
            return True
        self._finish(urb, int(reply["status"]), answer, len(answer))
        return True

    def _poll_pending(self, state: ClientState) -> bool:
        progressed = False
        for urb in list(state.pending):
            if self.gone:
                self._finish(urb, usbfs.STATUS_GONE, None, 0)
            elif not self._try_in(urb):
                continue
            state.pending.remove(urb)
            state.done.append(urb)
            progressed = True
        return progressed

    @staticmethod
    def _finish(urb: Urb, status: int, data: bytes | None, actual: int, offset: int = 0) -> None:
        """Write the outcome into the program's URB (and IN data into its buffer)."""
        if data is not None and urb.buffer is not None:
            data = data[: max(0, urb.length - offset)]
            urb.buffer.update(offset, data)
            actual = len(data)
            if status == 0 and urb.flags & usbfs.URB_SHORT_NOT_OK and actual < urb.length - offset:
                status = usbfs.STATUS_SHORT
        urb.struct_data.update(usbfs.URB_STATUS, status.to_bytes(4, sys.byteorder, signed=True))
        urb.struct_data.update(usbfs.URB_ACTUAL, actual.to_bytes(4, sys.byteorder, signed=True))

    def _reap(self, client: Any, arg: Any, state: ClientState) -> tuple[int, int] | None:
        if not state.done and state.pending:
            self._poll_pending(state)
        if state.done:
            urb = state.done.popleft()
            arg.resolve(0, usbfs.PTR_SIZE).set_ptr(0, urb.struct_data)
            state.idle_reaps = 0
            return 0, 0
        if self.gone:
            return -1, errno.ENODEV
        pause = 0.0 if state.idle_reaps == 0 else min(FIRST_IDLE_PAUSE_S * 2 ** min(state.idle_reaps - 1, 16),
                                                      MAX_IDLE_PAUSE_S)
        state.idle_reaps += 1
        if pause <= 0:
            return -1, errno.EAGAIN
        timer = threading.Timer(pause, client.complete, (-1, errno.EAGAIN))
        timer.daemon = True
        timer.start()
        return None

    def _discard(self, arg: Any, state: ClientState) -> tuple[int, int]:
        addr = int.from_bytes(bytes(arg.retrieve())[:8], sys.byteorder)
        for urb in state.pending:
            if urb.addr == addr:
                state.pending.remove(urb)
                if not self.gone:
                    self.bed.link.call({"op": "discard", "key": self.key, "ep": urb.endpoint})
                self._finish(urb, usbfs.STATUS_CANCELLED, None, 0)
                state.done.append(urb)
                return 0, 0
        return -1, errno.EINVAL

    # -- synchronous transfers (USBDEVFS_CONTROL / USBDEVFS_BULK) ------------------------------------
    def _sync_control(self, arg: Any) -> tuple[int, int]:
        data = arg.resolve(0, usbfs.CTRLTRANSFER.size)
        rtype, req, value, index, length, _timeout, _ptr = usbfs.CTRLTRANSFER.unpack(bytes(data.retrieve()))
        buffer = data.resolve(usbfs.CTRL_DATA, length) if length else None
        out = b"" if rtype & 0x80 or buffer is None else bytes(buffer.retrieve())
        reply, answer = self.bed.link.call({"op": "control", "key": self.key,
                                            "setup": _setup_hex(rtype, req, value, index, length)}, out)
        if "errno" in reply:
            return -1, int(reply["errno"])
        if reply.get("status"):
            return -1, errno.EPIPE
        if rtype & 0x80:
            if buffer is not None and answer:
                buffer.update(0, answer[:length])
            return min(len(answer), length), 0
        return length, 0

    def _sync_bulk(self, client: Any, arg: Any) -> tuple[int, int] | None:
        data = arg.resolve(0, usbfs.BULKTRANSFER.size)
        endpoint, length, timeout, _ptr = usbfs.BULKTRANSFER.unpack(bytes(data.retrieve()))
        buffer = data.resolve(usbfs.BULK_DATA, length) if length else None
        if endpoint & 0x80:
            reply, answer = self.bed.link.call({"op": "bulk_in", "key": self.key, "ep": endpoint, "length": length})
            if reply.get("pending"):  # the device never answers a blocked caller: its timeout
                self.bed.link.call({"op": "discard", "key": self.key, "ep": endpoint})
                wait_s = (timeout or SYNC_FOREVER_MS) / 1000
                timer = threading.Timer(wait_s, client.complete, (-1, errno.ETIMEDOUT))
                timer.daemon = True
                timer.start()
                return None
            if "errno" in reply:
                return -1, int(reply["errno"])
            if reply.get("status"):
                return -1, errno.EPIPE
            if buffer is not None and answer:
                buffer.update(0, answer)
            return len(answer), 0
        out = bytes(buffer.retrieve()) if buffer is not None else b""
        reply, _ = self.bed.link.call({"op": "bulk_out", "key": self.key, "ep": endpoint}, out)
        if "errno" in reply:
            return -1, int(reply["errno"])
        return (-1, errno.EPIPE) if reply.get("status") else (len(out), 0)


def _setup_hex(request_type: int, request: int, value: int, index: int, length: int) -> str:
    """The 8 setup bytes of a control transfer the kernel sends for the program, as the bench side
    takes them."""
    return struct.pack("<BBHHH", request_type, request, value, index, length).hex()


class Testbed:
    """The umockdev testbed holding the bench's devices, kept in step with the bench's bus."""

    def __init__(self, link: BenchLink) -> None:
        self.UMockdev = load_umockdev()
        self.bed = self.UMockdev.Testbed.new()
        self.link = link
        self.nodes: dict[str, Node] = {}
        self.lock = threading.RLock()
        link.on_bus_changed = self.sync

    def sync(self) -> None:
        """Plug in the devices the bench has on its bus, unplug those it no longer has."""
        with self.lock:
            link_callback, self.link.on_bus_changed = self.link.on_bus_changed, None
            try:
                reply, _ = self.link.call({"op": "devices"})
            finally:
                self.link.on_bus_changed = link_callback
            records = {str(r["key"]): r for r in reply.get("devices", [])}
            for key in [k for k in self.nodes if k not in records]:
                self._unplug(self.nodes.pop(key))
            for key, record in records.items():
                if key not in self.nodes:
                    self.nodes[key] = self._plug(record)

    def _plug(self, record: dict[str, Any]) -> Node:
        taken = [n for n in self.nodes.values() if n.devnode == record["devnode"] or n.syspath == record["syspath"]]
        for old in taken:  # a re-enumerated device may come back at the same place
            self._unplug(old)
            del self.nodes[old.key]
        node = Node(self, record)
        self.bed.attach_ioctl(node.devnode, node.handler)
        self.bed.add_from_string(str(record["record"]))  # announced with an "add" uevent
        return node

    def _unplug(self, node: Node) -> None:
        node.gone = True
        self.bed.uevent(node.syspath, "remove")
        self.bed.detach_ioctl(node.devnode)
        self.bed.remove_device(node.syspath)

    def any_open(self) -> bool:
        return any(node.clients for node in self.nodes.values())

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["UMOCKDEV_DIR"] = str(self.bed.get_root_dir())
        return env

    def remove(self) -> None:
        """Delete the testbed's directory (the bindings may never finalize the object)."""
        shutil.rmtree(str(self.bed.get_root_dir()), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write("usage: testbed FD -- PROGRAM [ARGS...]\n")
        return 2
    sock = socket.socket(fileno=int(args[0]))
    link = BenchLink(sock)
    try:
        bed = Testbed(link)
    except (ImportError, ValueError) as exc:
        frames.send(sock, {"op": "unavailable", "reason": str(exc)})
        return EXIT_NO_UMOCKDEV
    try:
        bed.sync()
        child = subprocess.Popen(["umockdev-wrapper", *args[2:]], env=bed.environment())
        kill_at: list[float] = []
        interrupts: list[int] = []

        def stop(signum: int, _frame: object) -> None:
            """SIGTERM/SIGHUP passed on by the bench side, or a second Ctrl-C (the terminal sends
            each to the program too, whose business the first one is): the program's to handle,
            then SIGKILL if it has not ended after a grace period (a handler can hang, as
            st-flash 1.7.0's cleanup handler does)."""
            if signum == signal.SIGINT:
                interrupts.append(signum)
                if len(interrupts) < 2:
                    return
            if child.poll() is None:
                if signum != signal.SIGINT:
                    child.send_signal(signum)
                kill_at.append(time.monotonic() + TERM_GRACE_S)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        while True:
            try:
                code = child.wait(timeout=BUS_POLL_S / 4 if kill_at else BUS_POLL_S)
                break
            except subprocess.TimeoutExpired:
                if not link.alive() or (kill_at and time.monotonic() > kill_at[0]):
                    child.kill()  # no bench any more, or a program that does not stop
                elif not bed.any_open():
                    bed.sync()  # someone else may have changed the bench (sim set, another program)
    finally:
        bed.remove()
    status = 128 - code if code < 0 else code  # as a shell reports a program a signal ended
    link.finish({"op": "exit", "code": status})
    return status
