"""The demo relay's HTTP/1.1 server: h11 over asyncio streams, routing, and its own thread.

Keep-alive connections are served one exchange at a time (as HTTP/1.1 requires); every failure
of a client (disconnects, garbage) ends that connection quietly, and nothing is ever printed:
diagnostics go to the `relay_tui.demo` logger at debug level.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import json
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import h11

from relay_tui.demo import chat, faults as faults_mod, wire
from relay_tui.demo.books import DIALECTS, PATH_DIALECT, Books, render, with_used
from relay_tui.demo.catalog import AUTO, apply_overrides

log = logging.getLogger("relay_tui.demo")

DEMO_KEY = "sk-demo-relay-tui"
MAX_BODY = 32 * 1024 * 1024
_READ = 65536
_CREATED = 1626777600  # the fixed `created` one-api reports for every model


class _Exchange:
    """One request/response on a connection; raises ConnectionResetError once the client is gone."""

    def __init__(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.conn, self.reader, self.writer = conn, reader, writer
        self.received_at = asyncio.get_running_loop().time()   # the whole request has arrived
        self.closed = False
        self.status = 0

    async def _send(self, event: object) -> None:
        if self.writer.transport.is_closing():
            raise ConnectionResetError("client went away")
        self.writer.write(self.conn.send(event))
        await self.writer.drain()

    async def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status = status
        await self._send(h11.Response(status_code=status, headers=[("server", "relay-tui-demo"), *headers],
                                      reason=wire.reason(status)))

    async def data(self, chunk: bytes) -> None:
        if chunk:
            await self._send(h11.Data(data=chunk))

    async def end(self) -> None:
        await self._send(h11.EndOfMessage())

    def close(self) -> None:
        self.closed = True
        self.writer.close()

    async def until_client_leaves(self) -> None:
        try:
            while await self.reader.read(_READ):
                pass
        except ConnectionError:
            pass

    async def reply(self, reply: wire.Reply, rid: str) -> None:
        await self.head(reply.status, [("content-type", reply.content_type),
                                       ("content-length", str(len(reply.body))),
                                       ("x-oneapi-request-id", rid), *reply.headers])
        await self.data(reply.body)
        await self.end()


class DemoRelay:
    """An OpenAI-compatible relay on loopback with demo models, quota books and faults on demand."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, time_scale: float = 1.0,
                 accept_keys: Iterable[str] = (DEMO_KEY,), faults: Iterable[dict] | None = None,
                 quota_dialects: Iterable[str] | None = None, report_cost: bool = True, seed: int = 0,
                 model_overrides: dict[str, dict] | None = None, granted_usd: float = 25.0,
                 books_path: Path | None = None):
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.host, self.port = host, port
        self.accept_keys = tuple(accept_keys)
        self.models = apply_overrides(model_overrides)
        self.quota_dialects = set(DIALECTS) if quota_dialects is None else set(quota_dialects)
        unknown = self.quota_dialects - set(DIALECTS)
        if unknown:
            raise ValueError(f"unknown quota dialect(s) {', '.join(sorted(unknown))} (known: {', '.join(DIALECTS)})")
        self.account = (Books(granted_usd) if books_path is None
                        else Books.kept_in(books_path, granted_usd))
        self.settings = chat.Settings(seed, time_scale, report_cost, self.account)
        self.board = faults_mod.FaultBoard()
        for spec in faults or ():
            self.board.set(faults_mod.Fault.from_spec(spec))
        self._auto_count = 0
        self._delays = random.Random(seed)  # first-token delays: varied, the same every run
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    # ----- public API -------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def start(self) -> str:
        """Serve from a daemon thread with its own event loop; returns the base URL (…/v1)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            loop.set_exception_handler(_quiet)
            try:
                loop.run_until_complete(self.serve_forever(on_ready=lambda _url: ready.set()))
            except BaseException as exc:  # a bind failure is re-raised in the caller's thread
                failure.append(exc)
            finally:
                ready.set()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="demo-relay", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed in the meantime
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.account.save()

    async def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve on the caller's loop until cancelled (or `stop()`); `on_ready(base_url)` once listening."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024,
                                            limit=_READ)
        self.port = server.sockets[0].getsockname()[1]
        log.info("demo relay listening on %s", self.base_url)
        if on_ready is not None:
            on_ready(self.base_url)
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()

    def set_fault(self, name: str, *, model: str | None = None, times: int | None = None, **params) -> None:
        """Switch a fault on (thread-safe); raises ValueError for an unknown name or parameter."""
        self.board.set(faults_mod.Fault.from_spec({"name": name, "model": model, "times": times, **params}))

    def clear_faults(self) -> None:
        self.board.clear()

    def faults(self) -> list[dict]:
        return self.board.specs()

    def books(self) -> dict:
        return self.account.snapshot()

    def load_faults(self, path: str) -> list[dict]:
        """Switch on every fault of a JSON or TOML faults file (all or none: each is validated
        first); returns the specs. Raises ValueError (bad content) or OSError (unreadable)."""
        loaded = [faults_mod.Fault.from_spec(spec) for spec in faults_mod.read_faults(path)]
        for fault in loaded:
            self.board.set(fault)
        return [fault.spec() for fault in loaded]

    # ----- connections ------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read_request(conn, reader, writer)
                if request is None:
                    break
                ex = _Exchange(conn, reader, writer)
                await self._dispatch(ex, *request)
                if ex.closed or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, asyncio.CancelledError, h11.ProtocolError):
            pass
        except Exception:  # never a traceback on the user's terminal
            log.debug("demo relay: connection failed", exc_info=True)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> tuple[h11.Request, bytes] | None:
        request, body = None, bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                await _refuse(conn, writer, exc.error_status_hint, "malformed HTTP request")
                return None
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(_READ))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    await _refuse(conn, writer, 413, "request body too large")
                    return None
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            else:  # ConnectionClosed, or PAUSED after a protocol switch request
                return None

    # ----- routing ----------------------------------------------------------------------------

    async def _dispatch(self, ex: _Exchange, request: h11.Request, body: bytes) -> None:
        method = request.method.decode()
        path = request.target.decode("latin-1").split("?", 1)[0]
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
        rid = wire.request_id()
        try:
            if path.startswith("/_demo/"):
                await ex.reply(self._control(method, path, body), rid)
            elif method == "POST" and path == "/v1/chat/completions":
                await self._chat(ex, headers, body, rid)
            elif method == "GET" and path == "/v1/models":
                await ex.reply(self._authorized(headers, rid) or self._models(self.board.take_models()), rid)
            elif method == "GET" and PATH_DIALECT.get(path) in self.quota_dialects:
                await ex.reply(self._quota(path, headers, rid), rid)
            elif method == "GET" and path == "/":
                await ex.reply(wire.json_reply(200, {"name": "relay-tui demo relay", "base_url": self.base_url}), rid)
            else:
                await ex.reply(wire.not_found(path), rid)
        finally:
            log.debug("%s %s -> %s (x-request-id %s)", method, path, ex.status or "closed",
                      headers.get("x-request-id", "-"))

    def _key(self, headers: dict[str, str]) -> str | None:
        """The accepted key this request carries, or None."""
        scheme, _, key = headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        for candidate in (key, "sk-" + key):  # new-api accepts the key without its "sk-"
            if any(hmac.compare_digest(candidate.encode(), k.encode()) for k in self.accept_keys):
                return candidate
        return None

    def _authorized(self, headers: dict[str, str], rid: str) -> wire.Reply | None:
        return None if self._key(headers) else wire.invalid_key(rid)

    def _models(self, active: dict[str, dict]) -> wire.Reply:
        if "deep_json" in active:
            return wire.deep_json()
        data = [{"id": m.id, "object": "model", "created": _CREATED, "owned_by": m.owned_by}
                for m in self.models.values()]
        data.append({"id": AUTO, "object": "model", "created": _CREATED, "owned_by": "relay-tui"})
        return wire.json_reply(200, {"object": "list", "data": data})

    def _quota(self, path: str, headers: dict[str, str], rid: str) -> wire.Reply:
        dialect = PATH_DIALECT[path]
        key = self._key(headers)
        if key is None:
            if dialect == "newapi-token":
                return wire.json_reply(401, {"success": False, "message": "Invalid Bearer token"})
            return wire.invalid_key(rid)
        active = self.board.take_quota(dialect)
        if "deep_json" in active:
            return wire.deep_json()
        if "html_quota" in active:
            return wire.html_error(int(active["html_quota"]["status"]))
        if "quota_error_200" in active:
            return wire.json_reply(200, {"error": {
                "message": f"get user quota failed: database is locked (request id: {rid})",
                "type": "one_api_error"}})
        body = render(path, self.account.snapshot(), key, unlimited="unlimited_token" in active)
        if "impossible_quota" in active:
            body = with_used(body, path, wire.raw(str(active["impossible_quota"]["value"])))
        return wire.Reply(200, wire.dumps_raw(body))

    def _control(self, method: str, path: str, body: bytes) -> wire.Reply:
        if path == "/_demo/books" and method == "GET":
            return wire.json_reply(200, self.books())
        if path != "/_demo/faults":
            return wire.not_found(path)
        if method == "GET":
            return wire.json_reply(200, {"faults": self.faults()})
        if method == "DELETE":
            self.clear_faults()
            return wire.json_reply(200, {"faults": []})
        if method == "POST":
            try:
                self.board.set(faults_mod.Fault.from_spec(json.loads(body or b"null")))
            except (ValueError, UnicodeDecodeError) as exc:
                return wire.bad_request(str(exc).splitlines()[0])
            return wire.json_reply(200, {"faults": self.faults()})
        return wire.error(405, f"method {method} not allowed on {path}", "invalid_request_error")

    async def _chat(self, ex: _Exchange, headers: dict[str, str], body: bytes, rid: str) -> None:
        refused = self._authorized(headers, rid)
        data = refused or chat.parse(body)
        if isinstance(data, wire.Reply):
            return await ex.reply(data, rid)
        requested = data["model"]
        if requested == AUTO:
            pool = list(self.models.values())
            spec = pool[(self.settings.seed + self._auto_count) % len(pool)]
            self._auto_count += 1
        elif requested in self.models:
            spec = self.models[requested]
        else:
            return await ex.reply(wire.unknown_model(requested), rid)
        options = data.get("stream_options")
        stream = bool(data.get("stream"))
        active = self.board.take_chat({requested, spec.id}, stream=stream,
                                      has_stream_options=options is not None)
        if "slow_first_byte" in active:
            await asyncio.sleep(float(active["slow_first_byte"]["delay"]))
        if "drop_connection" in active:
            return ex.close()
        gate = _gate(active, spec.id, rid, headers)
        if gate is None and self.account.exhausted():
            gate = wire.no_credit("oneapi", rid)
        if gate is not None:
            return await ex.reply(gate, rid)
        req = chat.ChatRequest(requested, spec, data["messages"], stream,
                               bool(isinstance(options, dict) and options.get("include_usage")),
                               data.get("max_completion_tokens", data.get("max_tokens")),
                               spec.first_token_delay(self._delays))
        await (chat.stream if stream else chat.complete)(ex, req, active, self.settings, rid)


def _gate(active: dict, model: str, rid: str, headers: dict[str, str]) -> wire.Reply | None:
    """The error reply a gate fault answers with, if one is active."""
    if "deep_json" in active:
        return wire.deep_json()
    if "hostile_error" in active:
        return wire.hostile_error(int(active["hostile_error"]["status"]))
    if "echo_headers" in active:
        return wire.echo_headers(int(active["echo_headers"]["status"]), headers)
    if "rate_limit" in active:
        return wire.rate_limited(model, float(active["rate_limit"]["retry_after"]))
    if "server_error" in active:
        return wire.error(500, "The server had an error while processing your request. Sorry about that!",
                          "server_error")
    if "unavailable" in active:
        return wire.error(503, "The engine is currently overloaded, please try again later.", "server_error")
    if "html_error" in active:
        return wire.html_error(int(active["html_error"]["status"]))
    if "auth" in active:
        return wire.invalid_key(rid)
    if "no_credit" in active:
        return wire.no_credit(str(active["no_credit"]["style"]), rid)
    if "forbidden" in active:
        return wire.forbidden(model, rid)
    if "stacked_request_ids" in active:
        return wire.stacked_ids(model, int(active["stacked_request_ids"]["hops"]))
    if "reject_stream_options" in active:
        return wire.error(400, "Unknown parameter: 'stream_options'.", "invalid_request_error",
                          "unknown_parameter", "stream_options")
    return None


async def _refuse(conn: h11.Connection, writer: asyncio.StreamWriter, status: int, message: str) -> None:
    """Answer a request we cannot read, if the protocol state still allows an answer."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    body = wire.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})
    try:
        writer.write(conn.send(h11.Response(status_code=status, headers=[
            ("content-type", "application/json"), ("content-length", str(len(body))),
            ("x-oneapi-request-id", wire.request_id()), ("connection", "close")], reason=wire.reason(status))))
        writer.write(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
        await writer.drain()
    except (ConnectionError, h11.LocalProtocolError):
        pass


def _quiet(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Loop-level errors go to the debug log, never to the terminal."""
    log.debug("demo relay loop: %s", context.get("message"), exc_info=context.get("exception"))
