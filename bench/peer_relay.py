"""The mock relay of the peer table: one stream, sent on one schedule, in each peer's protocol.

relay-tui and elia (through litellm) read OpenAI's `/v1/chat/completions` SSE; oterm (0.26)
lists its models over Ollama's own API (`/api/tags`, `/api/show`, `/api/ps`) and streams its
chats from Ollama's OpenAI-compatible `/v1/chat/completions` (pydantic-ai's OpenAI model), so
one server answers all three. The model name is the scenario: `stream-N-at-R` sends the N chunks
of `chunks(N)` at R chunks per second from the moment the request has arrived (no first-token
delay), each due chunk written and flushed as soon as it is due; a chunk that falls behind is
sent with the next.

Runs in a process of its own (the app being measured must not share its CPU or GIL), prints its
base URL, then one JSON line per streamed answer: the model and the times (`time.monotonic()`,
the system-wide clock the driver also reads) when the first and the last chunk were written.

    python bench/peer_relay.py stream-800-at-400 [...] [--verbose]   # until killed
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay_tui.demo import answers  # noqa: E402
from relay_tui.demo.wire import dumps, sse  # noqa: E402

SCENARIO = re.compile(r"stream-(\d+)-at-(\d+)$")
CREATED = 1767225600


def model_name(chunks: int, rate: int) -> str:
    return f"stream-{chunks}-at-{rate}"


def end_marker(chunks: int) -> str:
    """The last chunk's text: a word found nowhere else on any app's screen."""
    return f"Zq{chunks}end"


def chunks(n: int) -> list[str]:
    """N chunks of the demo relay's varied markdown (headings, lists, tables, code), as bench/
    stream_render.py streams, the last one a paragraph of its own holding `end_marker(n)`."""
    return [*answers.answer_tokens(0, "peer-bench", "A long technical report.", n - 1),
            f"\n\n{end_marker(n)}"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "relay-tui-bench"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        if self.server.verbose:  # stdout carries the results; requests go to stderr
            print(f"peer_relay: {format % args}", file=sys.stderr, flush=True)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/models"):
            return self.reply({"object": "list", "data": [
                {"id": model, "object": "model", "created": CREATED, "owned_by": "bench"}
                for model in self.server.models]})
        if path == "/api/tags":
            return self.reply({"models": [ollama_model(model) for model in self.server.models]})
        if path == "/api/ps":
            return self.reply({"models": []})
        if path == "/api/version":
            return self.reply({"version": "0.12.0"})
        self.reply({"error": f"no route {path}"}, 404)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        path = self.path.split("?")[0].rstrip("/")
        if path == "/api/show":
            return self.reply({"modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
                               "details": ollama_model(body.get("model", ""))["details"],
                               "model_info": {"general.architecture": "llama",
                                              "llama.context_length": 131072},
                               "capabilities": ["completion"]})
        if not path.endswith("/chat/completions"):
            return self.reply({"error": f"no route {path}"}, 404)
        match = SCENARIO.match(str(body.get("model", "")))
        if not match:
            return self.reply({"error": {"message": "unknown model", "type": "invalid_request_error"}},
                              404)
        if not body.get("stream"):  # a title or summary request: a short answer at once
            return self.reply({"id": "chatcmpl-bench", "object": "chat.completion", "created": CREATED,
                               "model": body["model"], "choices": [{
                                   "index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": "Bench"}}],
                               "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                         "total_tokens": 2}})
        self.stream(body, int(match[1]), int(match[2]))

    def reply(self, obj: object, status: int = 200) -> None:
        data = dumps(obj)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, body: dict, n: int, rate: int) -> None:
        arrived = time.monotonic()
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body["model"]}

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            return sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.write(chunk({"role": "assistant", "content": ""}))
        pieces = chunks(n)
        first = last = 0.0
        i = 0
        while i < n:
            due = arrived + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            batch = bytearray()
            while i < n and arrived + i / rate <= now:  # every chunk due by now, in one write
                batch += chunk({"content": pieces[i]})
                i += 1
            self.write(bytes(batch))
            last = time.monotonic()
            first = first or last
        tail = chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            tail += sse({**head, "choices": [], "usage": {
                "prompt_tokens": 8, "completion_tokens": n, "total_tokens": n + 8}})
        self.write(tail + b"data: [DONE]\n\n")
        self.write(b"")  # the last chunk of the chunked body
        report = {"model": body["model"], "first_sent": first, "last_sent": last, "chunks": n}
        with self.server.lock:
            print(json.dumps(report), flush=True)

    def write(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def ollama_model(model: str) -> dict:
    return {"name": model, "model": model, "modified_at": "2026-01-01T00:00:00Z", "size": 1,
            "digest": "0" * 64, "details": {"format": "gguf", "family": "llama",
                                             "parameter_size": "8B", "quantization_level": "Q4_0"}}


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """An app killed at the end of its run drops its connection: not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __init__(self, models: list[str], verbose: bool) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.models, self.verbose = models, verbose
        self.lock = threading.Lock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="the scenarios offered, e.g. stream-800-at-400")
    parser.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = parser.parse_args()
    server = Server(args.models, args.verbose)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
