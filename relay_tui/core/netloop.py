"""The TUI's relay I/O on a thread of its own, so rendering never delays reading.

Textual renders on the asyncio loop it runs on. A RelayClient on that loop reads a chunk only
once the frame in progress is done, so the reader waited on rendering and its timings (TTFT,
gaps) came out 5-12 ms late. `NetworkThread` runs a second event loop in a daemon thread;
`ThreadedClient` keeps a RelayClient entirely on it and offers RelayClient's async API on the
caller's loop, so core code that takes a `client` (chat, compare, bench, quota) is unchanged.
Timings are still taken where the bytes arrive, now on the network thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import Future
from contextlib import aclosing
from typing import Any, TypeVar

from relay_tui.core.client import JsonReply, ModelInfo, RelayClient, one_by_one
from relay_tui.core.events import Delta, Done, Reasoning, RetryNotice, Usage
from relay_tui.store.profile import Profile

T = TypeVar("T")
# The network thread needs the GIL for each chunk; while the UI thread renders, CPython hands
# it over only after the switch interval (5 ms by default), and a request takes several
# hand-overs. The app sets this at start (DESIGN-NOTES: "Network thread" has the figures).
SWITCH_INTERVAL = 0.001
CLOSE_SECONDS = 2.0   # how long a closed stream waits for its network side to let go


class NetworkThread:
    """An asyncio loop in a daemon thread, started on first use and stopped by `stop()`."""

    def __init__(self, name: str = "relay-net"):
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def loop(self) -> asyncio.AbstractEventLoop:
        """The network loop, starting the thread if it is not running."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._run, args=(loop,), name=self.name,
                                                daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def call(self, fn: Callable[..., object], *args: object) -> None:
        """Run `fn(*args)` on the network loop (calls made from one thread run in order)."""
        self.loop().call_soon_threadsafe(fn, *args)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop())

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` run on the network loop; cancelling the caller cancels it there."""
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs on the network loop, let it finish, and end the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if thread is threading.current_thread():
            raise RuntimeError("the network thread cannot stop itself")
        try:
            asyncio.run_coroutine_threadsafe(_wind_down(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    async def astop(self) -> None:
        """`stop()`, letting the network side wind down without blocking the caller's loop."""
        if self._loop is not None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_wind_down(), self._loop))
        self.stop()  # quick now: nothing is left to cancel


async def _wind_down() -> None:
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


class _Inbox:
    """Items crossing from the network loop to one consumer on another loop.

    Items put while a wake-up is already on its way ride along with it, so a burst of events
    (one network chunk, or every chunk that came in while the consumer's loop was rendering)
    costs the consumer one wake-up.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._woken = False
        self._ready = asyncio.Event()
        self.ended = False
        self.error: BaseException | None = None

    def put(self, item: Any) -> None:
        """From the network thread."""
        with self._lock:
            self._items.append(item)
            if self._woken:
                return
            self._woken = True
        self._wake()

    def end(self, error: BaseException | None) -> None:
        """From the network thread, once: no more items; the consumer raises `error` if any."""
        with self._lock:
            self.error = error
            self.ended = True
            self._woken = True
        self._wake()

    def _wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the consumer's loop is closed: nobody is left to tell
            pass

    async def take(self) -> tuple[list[Any], bool]:
        """Everything put since the last call, and whether the stream has ended."""
        await self._ready.wait()
        with self._lock:
            items, self._items = self._items, []
            self._woken = False
            self._ready.clear()
            return items, self.ended


class ThreadedClient:
    """RelayClient's API for a caller on one loop, with the RelayClient on a NetworkThread.

    Duck-typed: it has what core code uses of a client (`profile`, `models`, `get_json`,
    `stream_chat`, `stream_chat_chunks`, `classify_reply`, `aclose`). Callbacks run on the
    caller's loop; a RelayError arrives as the same exception object (type, message, metrics).
    """

    def __init__(self, profile: Profile, api_key: str | None, key_source: str | None = None, *,
                 name: str = "relay-net"):
        self._client = RelayClient(profile, api_key, key_source)
        self._net = NetworkThread(name)

    @property
    def profile(self) -> Profile:
        return self._client.profile

    @property
    def thread(self) -> NetworkThread:
        return self._net

    async def __aenter__(self) -> ThreadedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def classify_reply(self, *args: Any, **kwargs: Any):
        return self._client.classify_reply(*args, **kwargs)

    async def models(self) -> list[ModelInfo]:
        return await self._net.run(self._client.models())

    async def get_json(self, path: str, *, root: bool = False) -> JsonReply:
        return await self._net.run(self._client.get_json(path, root=root))

    async def aclose(self) -> None:
        """Close the connection pool on the network loop, then end the thread (a later call
        starts a new one, as a closed RelayClient opens a new pool)."""
        if self._net.running:
            try:
                await self._net.run(self._client.aclose())
            finally:
                await self._net.astop()

    def stream_chat(self, messages: list[dict], model: str, **params: Any,
                    ) -> AsyncIterator[Delta | Reasoning | Usage | Done]:
        """RelayClient.stream_chat read on the network loop, event by event."""
        return one_by_one(self.stream_chat_chunks(messages, model, **params))

    async def stream_chat_chunks(self, messages: list[dict], model: str, *,
                                 on_retry: Callable[[RetryNotice], None] | None = None,
                                 on_first_token: Callable[[float], None] | None = None,
                                 **params: Any) -> AsyncIterator[list[Delta | Reasoning | Usage | Done]]:
        """RelayClient.stream_chat_chunks read on the network loop. Closing or cancelling this
        generator cancels the network side and waits (briefly) until it has let go of the
        connection, as the direct client does."""
        caller = asyncio.get_running_loop()
        inbox = _Inbox(caller)
        if on_retry is not None:
            params["on_retry"] = lambda notice: caller.call_soon_threadsafe(on_retry, notice)
        if on_first_token is not None:
            params["on_first_token"] = lambda ttft: caller.call_soon_threadsafe(on_first_token, ttft)
        started: list[asyncio.Task] = []

        async def pump() -> None:
            async with aclosing(self._client.stream_chat_chunks(messages, model, **params)) as stream:
                async for events in stream:
                    inbox.put(events)

        def begin() -> None:  # on the network loop
            task = asyncio.get_running_loop().create_task(pump())
            task.add_done_callback(lambda t: inbox.end(
                asyncio.CancelledError() if t.cancelled() else t.exception()))
            started.append(task)

        self._net.call(begin)
        try:
            while True:
                items, ended = await inbox.take()
                for item in items:
                    yield item
                if ended:
                    if inbox.error is not None:
                        raise inbox.error
                    return
        finally:
            if not inbox.ended:
                self._net.call(lambda: started[0].cancel())  # begin() ran first: calls keep order
                try:
                    async with asyncio.timeout(CLOSE_SECONDS):
                        while not inbox.ended:
                            await inbox.take()
                except TimeoutError:
                    pass

