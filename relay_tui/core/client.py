"""RelayClient: the one place that talks HTTP to a relay.

One `httpx.AsyncClient` (one connection pool) per profile. httpx is imported on first use, so
`import relay_tui.core.client` stays cheap for `relay-tui --help`. Every failure leaves as a
RelayError whose `str()` is the line a user sees, with our request id; the key never appears.

Timings are taken here, where the bytes arrive (perf_counter, relative to t0 just before the
request of the final attempt is sent; earlier attempts only show in `Metrics.attempts`).
Timeouts: the first-byte budget (headers + first chunk) is an asyncio deadline; the idle gap
between chunks is httpx's read timeout; each is named, with its figure, in the error.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field
from difflib import get_close_matches
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from relay_tui import __version__
from relay_tui.core import redact, retry
from relay_tui.core.crash import internal_error
from relay_tui.core.errors import (AuthError, BadRequest, BadResponse, ConnectionFailed, RelayError, RelayTimeout,
                                   ServerError, TLSFailure, UnknownModel, classify, error_fields,
                                   relay_text)
from relay_tui.core.events import Delta, Done, Metrics, Reasoning, RetryNotice, Usage
from relay_tui.core.records import new_request_id
from relay_tui.core.sanitize import neutralise_id
from relay_tui.store.profile import Profile

if TYPE_CHECKING:
    import httpx

    from relay_tui.core.sse import ChunkParser

MAX_BODY_BYTES = 4 * 1024 * 1024     # a JSON reply (models, quota, an error) larger than this is refused
# An answer (text and reasoning) past this is cut: a million-token answer is ~4 M characters, and a
# relay streaming without end would fill the memory and the disk before request_timeout ends it.
MAX_ANSWER_CHARS = 32 * 1024 * 1024
MAX_ID_CHARS = 200                   # a relay's request id is shown and stored up to this length
DRAIN_SECONDS = 0.25                 # how long to wait for the end of a body after [DONE]
_PROXY_FIX = "check the user and password in the proxy URL (user:password@host:port)"
RELAY_ID_HEADERS = ("x-oneapi-request-id", "x-generation-id", "x-litellm-call-id", "x-request-id")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    owned_by: str | None = None


@dataclass(frozen=True, slots=True)
class JsonReply:
    """A GET's outcome for quota dialects, whatever the status: they judge it themselves."""

    status: int
    body: dict | list | None
    is_html: bool
    headers: dict[str, str] = field(default_factory=dict)


class _RejectsStreamOptions(Exception):
    """The relay answered 400/422 about `stream_options`: resend once without it."""


async def one_by_one(chunks: AsyncIterator[list[Delta | Reasoning | Usage | Done]],
                     ) -> AsyncIterator[Delta | Reasoning | Usage | Done]:
    """The events of `stream_chat_chunks`' lists one at a time (what most callers want);
    closing this closes the chunk stream, and with it the connection."""
    async with aclosing(chunks):
        async for events in chunks:
            for event in events:
                yield event


class RelayClient:
    def __init__(self, profile: Profile, api_key: str | None, key_source: str | None = None):
        self.profile = profile
        self.key_source = key_source  # where the key came from ("env NAME", "keyring", …): for advice
        self._key = api_key.strip() if api_key else None  # a pasted key often ends in a newline
        redact.remember_profile(profile, self._key)
        self._http: httpx.AsyncClient | None = None
        self._send_stream_options = True  # cleared for good once the relay rejects it
        split = urlsplit(profile.base_url)
        self._hostport = f"{split.hostname}:{split.port or (443 if split.scheme == 'https' else 80)}"

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- plumbing --------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            from relay_tui.store.config import header_problem

            p = self.profile
            for name, value in p.headers.items():
                problem = header_problem(name, value)
                if problem:  # the profile's fault: said once, not sent, not retried
                    raise BadRequest(f"profile {p.name}'s header {neutralise_id(name)!r} {problem} — "
                                     f"fix it in config.toml")
            headers = {"User-Agent": f"relay-tui/{__version__}", **p.headers}
            if self._key:
                if not (self._key.isascii() and self._key.isprintable() and " " not in self._key):
                    raise AuthError(f"the key for profile {p.name} contains spaces, line breaks or "
                                    f"non-ASCII characters (a bad paste?) — run "
                                    f"`relay-tui keys set {p.name}`").with_key_source(self.key_source)
                headers["Authorization"] = f"Bearer {self._key}"
            try:
                self._http = httpx.AsyncClient(
                    headers=headers, proxy=p.proxy, mounts=self._loopback_bypass(),
                    # redirects are reported, not followed (a POST would turn GET)
                    # read: waiting for headers; a stream switches to idle_timeout for its body.
                    # pool=None: bench concurrency is bounded by the caller, not by a pool queue.
                    timeout=httpx.Timeout(connect=p.connect_timeout, read=p.first_byte_timeout,
                                          write=p.connect_timeout, pool=None),
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=200))
            except (ValueError, httpx.InvalidURL):  # the profile's proxy is checked when read
                err = ConnectionFailed(f"the proxy URL in {self._proxy_source()} is not usable (a "
                                       f"scheme other than http, https, socks5 or socks5h, or a "
                                       f"malformed address) — fix or unset it")
                err.retryable = False
                raise err from None
        return self._http

    def _loopback_bypass(self) -> dict[str, None] | None:
        """A relay on loopback is reached directly unless the profile names a proxy: a proxy from
        the environment is for leaving the machine (it cannot reach our 127.0.0.1), and httpx,
        unlike browsers, sends loopback through it when NO_PROXY does not list it."""
        from relay_tui.core.target import is_loopback

        host = urlsplit(self.profile.base_url).hostname or ""
        if self.profile.proxy or not is_loopback(host):
            return None
        return {f"all://{f'[{host}]' if ':' in host else host}": None}

    def _url(self, path: str, root: bool = False) -> str:
        base = (self.profile.root_url if root else self.profile.base_url).rstrip("/")
        return base + "/" + path.lstrip("/")

    def classify_reply(self, status: int, body: object, request_id: str, headers: Any,
                  model: str | None = None) -> RelayError:
        """The RelayError for a failed reply, in this profile's words and with the key masked."""
        if status == 407:  # from the proxy in front of an http:// relay, not from the relay
            err = ConnectionFailed(f"the proxy {self._proxy_hostport() or ''} wants credentials "
                                   f"(HTTP 407): {_PROXY_FIX}", status=status, request_id=request_id)
            err.retryable = False
            return err
        err = classify(status, body, profile=self.profile.name, request_id=request_id,
                       retry_after=retry.retry_after(headers), secret=self._key, model=model)
        return err.with_key_source(self.key_source) if isinstance(err, AuthError) else err

    async def _get(self, url: str, request_id: str) -> tuple[httpx.Response, bytes]:
        """GET with the first-byte deadline over the whole reply; network errors -> RelayError."""
        import httpx

        try:
            async with asyncio.timeout(self.profile.first_byte_timeout):
                async with self._client().stream(
                        "GET", url, headers={"X-Request-ID": request_id}) as response:
                    return response, await _read_capped(response, request_id)
        except TimeoutError:
            raise self._first_byte_timeout(request_id) from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request_id, chunks=None) from None

    # -- public API ------------------------------------------------------------------------

    async def get_json(self, path: str, *, root: bool = False) -> JsonReply:
        """GET base_url+path (root_url+path when `root`); never raises for an HTTP status."""
        with _internal_errors():
            return await self._get_json(path, root)

    async def _get_json(self, path: str, root: bool) -> JsonReply:
        request_id = new_request_id()
        response, raw = await self._get(self._url(path, root), request_id)
        ctype = response.headers.get("content-type", "")
        is_html = "html" in ctype or raw.lstrip()[:1] == b"<"
        body = None if is_html else _json_or_none(raw, response.status_code, request_id)
        return JsonReply(response.status_code, body, is_html, dict(response.headers))

    async def models(self) -> list[ModelInfo]:
        """The relay's model list (GET {base_url}/models), in the relay's order."""
        with _internal_errors():
            return await self._models()

    async def _models(self) -> list[ModelInfo]:
        request_id = new_request_id()
        url = self._url("models")
        response, raw = await self._get(url, request_id)
        try:
            body = self._json_reply(response, raw, request_id)
        except UnknownModel as exc:  # a 404 here is no such endpoint, not no such model
            if exc.status != 404:
                raise
            raise BadResponse(f"the relay has no /models endpoint at {relay_text(url)} (HTTP 404): "
                              f"check the profile's base URL (it usually ends in /v1)",
                              status=exc.status, request_id=request_id) from None
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise BadResponse("the relay's /models reply has no model list — is the base URL right?",
                              status=response.status_code, request_id=request_id)
        # Ids are shown everywhere (status bar, pickers, panes, history): neutralised once here, so
        # a relay cannot drive the terminal through one. Real ids have no controls and stay as sent.
        # Only string ids: a number or a list is no model name (and would print as a Python value).
        return [ModelInfo(neutralise_id(m["id"]),
                          neutralise_id(m["owned_by"]) if isinstance(m.get("owned_by"), str) else None)
                for m in items if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"].strip()]

    def _json_reply(self, response: httpx.Response, raw: bytes, request_id: str,
                    model: str | None = None) -> Any:
        """The JSON body of a reply, or the RelayError it amounts to (HTML, HTTP error, error body)."""
        status = response.status_code
        if 300 <= status < 400:
            where = relay_text(response.headers.get("location", "elsewhere"))
            raise BadResponse(f"the relay redirects (HTTP {status}) to {where} — put that address in "
                              f"the profile's base URL", status=status, request_id=request_id)
        if "html" in response.headers.get("content-type", "") or raw.lstrip()[:1] == b"<":
            if status >= 500:  # nginx/Cloudflare in front of the relay: its upstream failed, retry
                raise ServerError(f"the relay returned an HTML error page (HTTP {status}): the gateway in "
                                  f"front of it failed — try again later", status=status,
                                  request_id=request_id)
            page = "an HTML error page" if status >= 400 else "an HTML page, not JSON"
            raise BadResponse(f"the relay returned {page} (HTTP {status}) — is the base URL right? "
                              f"({self.profile.base_url})", status=status, request_id=request_id)
        body = _json_or_none(raw, status, request_id)
        if status >= 400 or error_fields(body) is not None:
            text = body if body is not None else raw[:500].decode("utf-8", "replace")
            raise self.classify_reply(status, text, request_id, response.headers, model)
        if body is None:
            raise BadResponse(f"the relay's reply (HTTP {status}) is not JSON — is the base URL right?",
                              status=status, request_id=request_id)
        return body

    def stream_chat(self, messages: list[dict], model: str, **params: Any,
                    ) -> AsyncIterator[Delta | Reasoning | Usage | Done]:
        """Stream one chat completion, event by event (see `stream_chat_chunks`)."""
        return one_by_one(self.stream_chat_chunks(messages, model, **params))

    async def stream_chat_chunks(self, messages: list[dict], model: str, *,
                                 temperature: float | None = None, max_tokens: int | None = None,
                                 request_id: str | None = None,
                                 on_retry: Callable[[RetryNotice], None] | None = None,
                                 on_first_token: Callable[[float], None] | None = None,
                                 max_retries: int | None = None,
                                 metrics: Metrics | None = None,
                                 ) -> AsyncIterator[list[Delta | Reasoning | Usage | Done]]:
        """Stream one chat completion: the events of each received chunk as one list (one async
        hop per chunk, not per token: what bench uses; a whole answer can be one chunk).
        Retries only before the first token (announced through `on_retry`; `max_retries`
        overrides the profile's); after that any failure is raised, the partial text having
        been yielded. `metrics`, when given, is filled as the request goes, so a caller that
        stops it still has its TTFT and served model."""
        retries = self.profile.max_retries if max_retries is None else max_retries
        request_id = request_id or new_request_id()
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if metrics is None:
            metrics = Metrics(request_id=request_id)
        metrics.request_id, metrics.started_at = request_id, time.time()
        metrics.base_url, metrics.temperature, metrics.max_tokens = (
            self.profile.base_url, temperature, max_tokens)
        attempt = 1
        while True:
            run = _Attempt(metrics, on_first_token)
            try:
                async for events in self._attempt(body, model, run):
                    yield events
                return
            except _RejectsStreamOptions:
                self._send_stream_options = False
                continue
            except RelayError as err:
                delay = None if run.chunks else retry.delay_for(err, attempt, retries)
                if delay is None:
                    err.metrics = metrics
                    if attempt > 1:
                        err.message += f" (gave up after {attempt} attempts)"
                        err.args = (err._line(),)
                    raise
                if on_retry is not None:
                    on_retry(RetryNotice(attempt, delay, str(err)))
                await asyncio.sleep(delay)
                attempt += 1
                metrics.attempts = attempt
            except Exception as exc:  # a bug met on this reply: one line and a report, not a hang
                err = internal_error(exc, request_id)
                err.metrics = metrics
                raise err from None

    # -- one attempt -----------------------------------------------------------------------

    async def _attempt(self, body: dict, model: str, run: _Attempt) -> AsyncIterator[list[Any]]:
        """One request; yields the events of each received chunk as one list (one async hop per
        chunk rather than per token: at time_scale 0 a whole answer is one chunk)."""
        import httpx

        from relay_tui.core.sse import ChunkParser, StreamDecoder  # imports httpx-sse (and httpx)

        m = run.metrics
        request_id = m.request_id
        payload = dict(body)
        if self._send_stream_options:
            payload["stream_options"] = {"include_usage": True}
        http = self._client()
        t0 = perf_counter()
        run.t0 = t0
        run.end = t0 + self.profile.request_timeout
        m.started_at = time.time()
        m.connect = m.tls = m.headers = m.ttft = m.ttfat = m.total = None
        m.gaps = []

        async def trace(name: str, info: dict) -> None:
            if name == "connection.connect_tcp.complete":
                m.connect = perf_counter() - t0
            elif name == "connection.start_tls.complete":
                m.tls = perf_counter() - t0

        request = http.build_request(
            "POST", self._url("chat/completions"), json=payload,
            headers={"X-Request-ID": request_id, "Accept": "text/event-stream"},
            extensions={"trace": trace})
        loop = asyncio.get_running_loop()
        first_byte_deadline = loop.time() + self.profile.first_byte_timeout
        response = chunks = None
        try:
            try:
                async with asyncio.timeout_at(first_byte_deadline):
                    response = await http.send(request, stream=True)
            except TimeoutError:
                raise self._first_byte_timeout(request_id) from None
            m.headers = perf_counter() - t0
            m.status = response.status_code
            relay_id = next((response.headers[h] for h in RELAY_ID_HEADERS
                             if h in response.headers and response.headers[h] != request_id), None)
            m.relay_request_id = neutralise_id(relay_id[:MAX_ID_CHARS]) if relay_id else None
            parser = ChunkParser(request_id, self._key, self.profile.name)
            decoder = StreamDecoder(parser)
            ctype = response.headers.get("content-type", "")
            if response.status_code != 200 or "json" in ctype or "html" in ctype:
                whole = await self._non_stream_reply(response, request_id, payload, model,
                                                     first_byte_deadline)
                chunks = _once(b"data: " + whole + b"\n\ndata: [DONE]\n\n")
            else:
                chunks = self._deadlined(response, first_byte_deadline, request_id, run)
            async for chunk in chunks:
                events = decoder.feed(chunk)
                if events:
                    if not run.chunks:  # known from the first chunk on, for a request stopped early
                        m.served_model = parser.served_model
                    run.arrived(events)
                    if run.last > run.end:
                        raise self._overall_timeout(request_id, run.chunks)
                    if parser.text_chars > MAX_ANSWER_CHARS:
                        raise BadResponse(f"the answer passed {MAX_ANSWER_CHARS / 2**20:g} M characters "
                                          f"after {run.chunks} tokens; stopped reading it — the relay "
                                          f"or its upstream is misbehaving", request_id=request_id)
                    yield events
                else:  # keep-alives, empty deltas, part of an event: the idle clock runs on
                    run.quiet = True
                if decoder.error:
                    raise decoder.error
                if parser.done:
                    break
            else:
                events = decoder.end()
                if events:
                    run.arrived(events)
                    yield events
                if decoder.error:
                    raise decoder.error
            self._check_complete(parser, run)
            done = await self._done(parser, model, body, response, run)
            await _drain(chunks)
            yield [done] if parser.usage is None else [parser.usage, done]
        except httpx.ReadTimeout:
            if response is None or run.chunks == 0:
                raise self._first_byte_timeout(request_id) from None
            raise self._silent_timeout(request_id, run) from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request_id, chunks=run.chunks) from None
        finally:
            if chunks is not None:
                await chunks.aclose()
            if response is not None:
                await response.aclose()

    async def _deadlined(self, response: httpx.Response, first_deadline: float,
                         request_id: str, run: _Attempt) -> AsyncIterator[bytes]:
        """The body's bytes, under three clocks: the first text must come within what is left of
        the first-byte budget, later text within `idle_timeout` of the last text, and all of it
        within `request_timeout` of the request. Keep-alive comments and empty deltas count as
        nothing: a relay sending only those is timed out like a silent one.

        A silent relay is caught by httpx's socket read timeout (set to the idle gap before the
        body is read), which costs nothing per chunk. Only reads that follow bytes without text
        (`run.quiet`), those before the first text and those near the overall deadline are put
        under an asyncio deadline, ~5 us each: a stream whose every chunk carries text (nearly
        all of them) pays none, unless idle_timeout is below first_byte_timeout."""
        p = self.profile
        # The socket's timeout is fixed for the whole body: it must not cut the first-byte budget
        # short (a relay slow to its first text, idle_timeout < first_byte_timeout); when that
        # makes it longer than idle_timeout, every read is guarded instead.
        socket = min(max(p.idle_timeout, p.first_byte_timeout), p.request_timeout)
        response.request.extensions["timeout"]["read"] = socket
        socket_is_idle = socket <= p.idle_timeout
        loop = asyncio.get_running_loop()
        first_due = perf_counter() + first_deadline - loop.time()  # on the perf_counter clock
        source = response.aiter_bytes()
        while True:
            # the socket's idle timeout cannot see the overall deadline: near it, a read is guarded
            guarded = (run.chunks == 0 or run.quiet or not socket_is_idle
                       or run.end - perf_counter() < p.idle_timeout)
            if guarded:
                due = min(first_due if run.chunks == 0 else run.last + p.idle_timeout, run.end)
                left = due - perf_counter()
                try:
                    if left <= 0:
                        raise TimeoutError
                    async with asyncio.timeout(left):
                        chunk = await anext(source)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise self._quiet_timeout(request_id, run, due) from None
            else:
                try:
                    chunk = await anext(source)
                except StopAsyncIteration:
                    return
            run.quiet = False
            run.bytes_seen = True
            yield chunk

    def _quiet_timeout(self, request_id: str, run: _Attempt, due: float) -> RelayTimeout:
        """The timeout that `due` stood for: overall, first byte, or idle after some text."""
        if due >= run.end:
            return self._overall_timeout(request_id, run.chunks)
        if run.chunks == 0:
            if run.metrics.headers is None or not run.bytes_seen:
                return self._first_byte_timeout(request_id)
            return RelayTimeout(f"no answer from {self._hostport} within "
                                f"{self.profile.first_byte_timeout:g} s, only keep-alives or empty "
                                f"chunks (first-byte timeout; raise first_byte_timeout in the profile "
                                f"for slow models)", request_id=request_id)
        return self._silent_timeout(request_id, run)

    def _silent_timeout(self, request_id: str, run: _Attempt) -> RelayTimeout:
        """No text for idle_timeout after some text: silence, or only bytes without text."""
        if perf_counter() >= run.end:  # the socket's timeout fired as the overall deadline passed
            return self._overall_timeout(request_id, run.chunks)
        what = (f"sent no text for {self.profile.idle_timeout:g} s mid-answer after {run.chunks} "
                f"tokens, only keep-alives or empty chunks" if run.quiet else
                f"went silent for {self.profile.idle_timeout:g} s mid-answer after {run.chunks} tokens")
        return RelayTimeout(f"the relay {what} (idle timeout; raise idle_timeout in the profile if "
                            f"this model thinks long)", request_id=request_id)

    def _overall_timeout(self, request_id: str, tokens: int) -> RelayTimeout:
        err = RelayTimeout(f"the answer took longer than {self.profile.request_timeout:g} s in all "
                           f"after {tokens} tokens (request timeout; raise request_timeout in the "
                           f"profile for very long answers)", request_id=request_id)
        err.retryable = False  # the budget is spent: a retry would start another one
        return err

    async def _non_stream_reply(self, response: httpx.Response, request_id: str, payload: dict,
                                model: str, deadline: float) -> bytes:
        """A reply that is not an event stream: an error (raised), or a whole completion from a
        relay that ignored `stream`, returned as JSON for the stream parser to read as one chunk."""
        try:
            async with asyncio.timeout_at(deadline):
                raw = await _read_capped(response, request_id)
        except TimeoutError:
            raise self._first_byte_timeout(request_id) from None
        status = response.status_code
        if (status in (400, 422) and "stream_options" in payload
                and b"stream_options" in raw):
            raise _RejectsStreamOptions
        try:
            body = self._json_reply(response, raw, request_id, model)
        except UnknownModel as err:
            raise await self._suggest_model(err, model) from None
        if status != 200:
            raise self.classify_reply(status, body, request_id, response.headers, model)
        return json.dumps(body).encode()

    @staticmethod
    def _check_complete(parser: ChunkParser, run: _Attempt) -> None:
        """Raise if the stream ended before `[DONE]` (a finish_reason counts as an ending)."""
        if parser.done or parser.finish_reason is not None:
            return
        if run.chunks:
            raise _cut_off(run.chunks, parser.request_id)
        raise ServerError("the relay closed the stream before sending any answer",
                          request_id=parser.request_id)

    async def _done(self, parser: ChunkParser, model: str, body: dict, response: httpx.Response,
                    run: _Attempt) -> Done:
        from relay_tui.core.pricing import cost_for

        m = run.metrics
        m.total = perf_counter() - run.t0
        m.served_model = parser.served_model
        m.text_chars = parser.text_chars
        usage = parser.usage
        if usage is not None and usage.completion_tokens is not None:
            m.output_tokens = usage.completion_tokens
            m.output_tokens_estimated = False
        else:
            m.output_tokens = _estimate_tokens(parser.text_chars)
            m.output_tokens_estimated = True
        m.prompt_tokens = usage.prompt_tokens if usage is not None else None
        priced = usage
        if usage is None or usage.completion_tokens is None:
            prompt_chars = sum(len(str(msg.get("content", ""))) for msg in body["messages"])
            priced = Usage(prompt_tokens=m.prompt_tokens or _estimate_tokens(prompt_chars),
                           completion_tokens=m.output_tokens,
                           relay_cost=usage.relay_cost if usage is not None else None)
        cost = cost_for(self.profile, parser.served_model or model, priced, response.headers)
        return Done(parser.finish_reason or "unspecified", m, usage, cost)

    # -- errors ----------------------------------------------------------------------------

    def _first_byte_timeout(self, request_id: str) -> RelayTimeout:
        return RelayTimeout(f"no answer from {self._hostport} within {self.profile.first_byte_timeout:g} s "
                            f"(first-byte timeout; raise first_byte_timeout in the profile for slow "
                            f"models)", request_id=request_id)

    def _proxy_hostport(self) -> str | None:
        """host:port of the proxy this relay is reached through (the profile's, else the
        environment's, as httpx picks it), so a failing proxy is not mistaken for the relay.
        Only host and port: a proxy URL may hold a password."""
        from urllib.request import getproxies_environment, proxy_bypass_environment

        url = self.profile.proxy
        if not url:
            proxies = getproxies_environment()
            split = urlsplit(self.profile.base_url)
            url = proxies.get(split.scheme) or proxies.get("all")
            if not url or self._loopback_bypass() or proxy_bypass_environment(split.hostname or "", proxies):
                return None
        proxy = urlsplit(url if "://" in url else "http://" + url)
        return f"{proxy.hostname}:{proxy.port or (443 if proxy.scheme == 'https' else 80)}"

    def _transport_error(self, exc: Exception, request_id: str, chunks: int | None) -> RelayError:
        """httpx's exception -> the taxonomy; `chunks` is None for non-stream requests."""
        import httpx

        host = self._hostport
        proxy = self._proxy_hostport()
        cause = _root_cause(exc)
        if isinstance(exc, httpx.ConnectTimeout):
            return RelayTimeout(f"could not connect to {host} within {self.profile.connect_timeout:g} s "
                                f"(connect timeout)", request_id=request_id)
        if isinstance(cause, ssl.SSLError):
            return TLSFailure(f"TLS handshake with {host} failed: {self._reason(cause)} — check the base URL "
                              f"(https vs http) or your CA bundle (SSL_CERT_FILE)", request_id=request_id)
        if isinstance(exc, httpx.ProxyError):
            reason = self._reason(cause)
            # 407 from an HTTP proxy, "Invalid username/password" from a SOCKS5 one (RFC 1929)
            credentials = "407" in reason or "password" in reason.lower()
            err = ConnectionFailed(f"the proxy {proxy or ''} failed on the way to {host}: {reason}"
                                   + (f" — {_PROXY_FIX}" if credentials else ""), request_id=request_id)
            err.retryable = not credentials
            return err
        if isinstance(exc, httpx.ConnectError) and proxy is not None:
            refused = isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower()
            why = "connection refused (is the proxy running?" if refused else self._reason(cause) + " ("
            return ConnectionFailed(f"could not connect to the proxy {proxy} on the way to {host}: {why} "
                                    f"it comes from {self._proxy_source()})", request_id=request_id)
        if isinstance(exc, httpx.ConnectError):
            if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
                why = "connection refused (is the relay running, is the port right?)"
            elif "name" in str(cause).lower() or "getaddrinfo" in str(cause).lower():
                why = "the host name does not resolve (check the base URL, or your network)"
            else:
                why = self._reason(cause)
            return ConnectionFailed(f"could not connect to {host}: {why}", request_id=request_id)
        if isinstance(exc, httpx.TimeoutException):
            return RelayTimeout(f"the relay at {host} timed out ({type(exc).__name__})",
                                request_id=request_id)
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            err = ConnectionFailed(f"the base URL {self.profile.base_url!r} is not a usable http(s) URL",
                                   request_id=request_id)
            err.retryable = False
            return err
        if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc).lower():
            # httpx builds the next request of a redirect even when it will not follow it
            return BadResponse("the relay redirects to a malformed address (its Location header is "
                               "not a URL) — check the profile's base URL", request_id=request_id)
        if chunks:
            return _cut_off(chunks, request_id)
        via = f" (through the proxy {proxy})" if proxy else ""
        return ConnectionFailed(f"the relay at {host}{via} closed the connection without answering "
                                f"({self._reason(cause)})", request_id=request_id)

    def _proxy_source(self) -> str:
        if self.profile.proxy:
            return f"profile {self.profile.name}'s proxy setting"
        return f"{'HTTPS' if self.profile.base_url.startswith('https') else 'HTTP'}_PROXY/ALL_PROXY"

    def _reason(self, exc: BaseException) -> str:
        """An exception's own words, one line, the key masked should it quote a header."""
        text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        return relay_text(str(text or type(exc).__name__), self._key)

    async def _suggest_model(self, err: UnknownModel, model: str) -> UnknownModel:
        """Add "did you mean …?" from /models (best effort: the original error stands alone)."""
        try:
            ids = [m.id for m in await asyncio.wait_for(self.models(), 5.0)]
        except (RelayError, TimeoutError):
            hint = "is the base URL right? (`relay-tui models` lists what it serves)"
        else:
            close = get_close_matches(model, ids, n=1, cutoff=0.5)
            hint = (f"did you mean {close[0]}?" if close else
                    "`relay-tui models` lists the models it serves")
        return UnknownModel(f"{err.message} — {hint}", status=err.status, request_id=err.request_id)


@dataclass(slots=True)
class _Attempt:
    """Per-attempt stream state: text events so far (`chunks`), and the timing bookkeeping.

    Times are taken once per received chunk: the events of one chunk arrived together.
    """

    metrics: Metrics
    on_first_token: Callable[[float], None] | None  # called with the TTFT, as it will be stored
    t0: float = 0.0
    end: float = float("inf")  # t0 + request_timeout: the whole answer is due by then
    chunks: int = 0
    last: float = 0.0          # when the last text arrived
    quiet: bool = False        # bytes without text arrived since the last text
    bytes_seen: bool = False

    def arrived(self, events: list[Delta | Reasoning]) -> None:
        now = perf_counter()
        m = self.metrics
        if self.chunks == 0:
            m.ttft = now - self.t0
            if self.on_first_token is not None:
                self.on_first_token(m.ttft)
        else:
            m.gaps.append(now - self.last)
        if m.ttfat is None and any(type(e) is Delta for e in events):
            m.ttfat = now - self.t0
        self.chunks += len(events)
        self.last = now


def _cut_off(tokens: int, request_id: str | None) -> BadResponse:
    """The stream ended (cleanly or by a dropped connection) after text but before `[DONE]`."""
    return BadResponse(f"the stream was cut off after {tokens} tokens (no [DONE]); the answer is "
                       f"incomplete", request_id=request_id)


async def _read_capped(response: httpx.Response, request_id: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadResponse(f"the relay's reply is over {MAX_BODY_BYTES // 2**20} MB; refused",
                              status=response.status_code, request_id=request_id)
        parts.append(chunk)
    return b"".join(parts)


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what follows `[DONE]` (normally just the end of the chunked body) so the connection
    goes back to the pool instead of being closed: reconnecting would cost bench a third of
    its throughput. A relay that keeps talking is cut off after a moment."""
    import httpx

    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass
    except (TimeoutError, httpx.HTTPError, RelayError):
        pass


@contextmanager
def _internal_errors():
    """Any exception that is not a RelayError (a bug) leaves as one: see crash.internal_error."""
    try:
        yield
    except RelayError:
        raise
    except Exception as exc:
        raise internal_error(exc) from None


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _json_or_none(raw: bytes, status: int, request_id: str) -> Any:
    """The reply's JSON, None if it is not JSON; BadResponse if it nests past MAX_DEPTH."""
    from relay_tui.core.bounded_json import MAX_DEPTH, JsonRefused, loads

    try:
        return loads(raw)
    except JsonRefused as exc:
        if not exc.too_deep:
            return None
        raise BadResponse(f"the relay's reply (HTTP {status}) is JSON nested over {MAX_DEPTH} levels "
                          f"deep; refused — the relay is misbehaving", status=status,
                          request_id=request_id) from None


def _estimate_tokens(chars: int) -> int:
    """About four characters a token (English-ish text); good enough to flag as an estimate."""
    return (chars + 3) // 4


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen
