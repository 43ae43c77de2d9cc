"""A small real SOCKS5 proxy on 127.0.0.1 (RFC 1928, with RFC 1929 user/password auth), so a
`socks5://` / `socks5h://` profile can be shown to reach the relay through it.

`auth=(user, password)` demands credentials (a client offering none, or wrong ones, is refused);
`hosts` maps names to loopback addresses, so a `socks5h://` profile can name a host that only the
proxy resolves. Every CONNECT it carried is in `connects` as (host as asked, port).
"""

from __future__ import annotations

import asyncio
import socket
import struct

from tests.support.http_proxy import _LoopbackServer, _pipe


class SocksProxy(_LoopbackServer):
    scheme = "socks5"

    def __init__(self, auth: tuple[str, str] | None = None, hosts: dict[str, str] | None = None):
        super().__init__()
        self.auth = auth
        self.hosts = hosts or {}
        self.connects: list[tuple[str, int]] = []

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not await self._greet(reader, writer):
                return
            version, command, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            (port,) = struct.unpack("!H", await reader.readexactly(2))
            self.connects.append((host, port))
            target = self.hosts.get(host, host)
            if command != 1 or not (target.startswith("127.") or target in ("::1", "localhost")):
                writer.write(b"\x05\x02\x00\x01" + bytes(6))  # not allowed: loopback only, always
                return
            up_reader, up_writer = await asyncio.open_connection(target, port)
            writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
            await writer.drain()
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _greet(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Method negotiation and, with `auth`, the user/password sub-negotiation."""
        _, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        want = 2 if self.auth else 0
        if want not in methods:
            writer.write(b"\x05\xff")
            return False
        writer.write(bytes([5, want]))
        if not self.auth:
            return True
        _, size = await reader.readexactly(2)
        user = (await reader.readexactly(size)).decode()
        password = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        ok = (user, password) == self.auth
        writer.write(b"\x01\x00" if ok else b"\x01\x01")
        return ok
