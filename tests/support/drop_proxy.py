"""A forward proxy that drops the connection in the middle of a response.

`HttpProxy` (tests/support/http_proxy.py) can drop a connection before answering; this one carries
the request and the response head, forwards the first `cut_after` SSE blocks of the body, then
closes the connection to the client, as a proxy that times out or restarts mid-answer does.
Counting blocks (not bytes) makes the number of tokens the client received exact.
"""

from __future__ import annotations

import asyncio

from tests.support.http_proxy import HttpProxy


class DropProxy(HttpProxy):
    def __init__(self) -> None:
        super().__init__()
        self.cut_after: int | None = None  # SSE blocks ("\n\n"-ended) to forward; None: forward all

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_after is not None:
            writer = _Cutter(writer, self.cut_after)  # type: ignore[assignment]
        await super()._connection(reader, writer)


class _Cutter:
    """A StreamWriter stand-in that closes the client's connection after `blocks` SSE blocks."""

    def __init__(self, writer: asyncio.StreamWriter, blocks: int):
        self._writer, self._left, self._last = writer, blocks, b""

    def __getattr__(self, name: str):
        return getattr(self._writer, name)

    def write(self, data: bytes) -> None:
        if self._left <= 0:
            raise ConnectionResetError("cut by the proxy")
        seen = self._last + data  # a "\n\n" may straddle two writes
        offset, end = len(self._last), 0
        while self._left > 0 and (at := seen.find(b"\n\n", end)) >= 0:
            self._left -= 1
            end = at + 2
        self._last = data[-1:]
        if self._left > 0:
            self._writer.write(data)
            return
        self._writer.write(data[:end - offset])
        self._writer.close()  # a clean close: the bytes before it still reach the client
