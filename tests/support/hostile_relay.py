"""A hostile relay: a real loopback HTTP server that sends exactly the bytes a test asks for.

The demo relay is a well-behaved relay with faults; this one is an attacker. Each route maps
"METHOD /path" (no query) to a `Reply`: any status, any raw header lines (names and values as
bytes, unchecked), and a body given as pieces, with pauses between them (a float is a pause in
seconds) so keep-alive-only or trickling streams can be played. Bodies end by closing the
connection (no Content-Length), as many streaming relays do. `Reply.raw` instead gives the whole
response, status line and headers included, for what no well-formed response holds (1xx,
duplicate or folded headers, bare LF, chunked framing gone wrong); RESET in the pieces resets the
connection (TCP RST) at that point. Every request is recorded with its headers in `requests`.
Unknown routes get a 404 JSON error.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_proxy import _LoopbackServer


RESET = "reset"  # in a reply's pieces: reset the connection there


@dataclass
class Reply:
    status: int = 200
    body: list[bytes | float] | bytes | str | dict | list = b""
    content_type: str = "application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    reason: bytes = b"OK"
    raw: list[bytes | float | str] | None = None  # the whole response as sent (RESET allowed)

    def pieces(self) -> list[bytes | float]:
        body = self.body
        if isinstance(body, list) and all(isinstance(p, (bytes, float, int)) for p in body) and body \
                and any(isinstance(p, bytes) for p in body):
            return [float(p) if isinstance(p, int) else p for p in body]
        if isinstance(body, (dict, list)):
            return [json.dumps(body).encode()]
        return [body.encode() if isinstance(body, str) else body]


def sse(*payloads: Any, done: bool = True) -> list[bytes | float]:
    """An event stream of these payloads (dicts as JSON; bytes and pauses as they are)."""
    out: list[bytes | float] = []
    for p in payloads:
        if isinstance(p, (bytes, float)):
            out.append(p)
        else:
            out.append(b"data: " + (p.encode() if isinstance(p, str) else json.dumps(p).encode()) + b"\n\n")
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def chunk(text: str | None = None, **delta: Any) -> dict:
    """A chat.completion.chunk carrying `text` as content (or the given delta fields)."""
    if text is not None:
        delta["content"] = text
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


class HostileRelay(_LoopbackServer):
    def __init__(self, routes: dict[str, Reply] | None = None):
        super().__init__()
        self.routes: dict[str, Reply] = dict(routes or {})
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __enter__(self) -> HostileRelay:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            size = int(headers.get("content-length", "0") or 0)
            if size:
                await reader.readexactly(size)
            path = target.split("?")[0]
            self.requests.append((f"{method} {path}", headers))
            reply = self.routes.get(f"{method} {path}") or Reply(
                404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
            if reply.raw is None:
                head = [b"HTTP/1.1 %d %s" % (reply.status, reply.reason),
                        b"Content-Type: " + reply.content_type.encode(), b"Connection: close",
                        *(name + b": " + value for name, value in reply.headers), b"", b""]
                pieces = [b"\r\n".join(head), *reply.pieces()]
            else:
                pieces = reply.raw
            for piece in pieces:
                if piece == RESET:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if isinstance(piece, (float, int)):
                    await asyncio.sleep(piece)
                else:
                    writer.write(piece)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
