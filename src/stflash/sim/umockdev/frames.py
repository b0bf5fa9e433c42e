"""The messages between the bench side and the testbed side: a JSON header and raw bytes.

One frame is two big-endian 32-bit lengths (header, payload), the UTF-8 JSON header, then the
payload. Each request gets exactly one answer, in order. Stdlib only: the testbed side imports this
from an interpreter that has nothing but the standard library and ``gi``.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

_LENGTHS = struct.Struct(">II")


def send(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_LENGTHS.pack(len(head), len(payload)) + head + payload)


def recv(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    """The next frame; EOFError when the other side closed the socket."""
    head_len, payload_len = _LENGTHS.unpack(_exact(sock, _LENGTHS.size))
    header = json.loads(_exact(sock, head_len)) if head_len else {}
    return header, _exact(sock, payload_len)


def _exact(sock: socket.socket, n: int) -> bytes:
    parts: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)
