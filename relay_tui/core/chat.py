"""A conversation: stream an answer through the client and keep the history in step with it.

The answer is written to the history while it streams (at most every FLUSH_SECONDS), so a
crash or a kill -9 leaves the partial answer on disk; the finish state says how it ended.
Both the CLI and the TUI chat through this class.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from relay_tui.core import telemetry
from relay_tui.core.errors import RelayError
from relay_tui.core.events import Cost, Delta, Done, Event, Metrics, Reasoning, RetryNotice
from relay_tui.core.records import log_done, log_failure, metrics_dict, new_request_id

if TYPE_CHECKING:
    from relay_tui.core.client import RelayClient
    from relay_tui.store.history import History

FLUSH_SECONDS = 0.25


class Conversation:
    def __init__(self, client: RelayClient, history: History, conv_id: int, *, profile: str,
                 model: str, system_prompt: str | None = None, params: dict | None = None):
        self.client = client
        self.history = history
        self.id = conv_id
        self.profile = profile
        self.model = model
        self.system_prompt = system_prompt
        self.params = dict(params or {})
        self.metrics: Metrics | None = None  # the last answer's, filled while it streams

    @classmethod
    def start(cls, client: RelayClient, history: History, *, profile: str, model: str,
              title: str, system_prompt: str | None = None,
              params: dict | None = None) -> Conversation:
        conv_id = history.new_conversation(title=title[:80], profile=profile, model=model,
                                           system_prompt=system_prompt, params=params)
        return cls(client, history, conv_id, profile=profile, model=model,
                   system_prompt=system_prompt, params=params)

    def request_messages(self) -> list[dict]:
        """The OpenAI `messages` for the next request: system prompt, then the turns so far.

        Failed answers are left out; stopped or interrupted ones are sent as far as they got,
        since that is what the user saw and replied to.
        """
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        for row in self.history.messages(self.id):
            if row.role == "assistant" and (row.state == "error" or not row.content):
                continue
            messages.append({"role": row.role, "content": row.content})
        return messages

    async def send(self, prompt: str, *,
                   on_retry: Callable[[RetryNotice], None] | None = None) -> AsyncIterator[Event]:
        """Add the user's prompt and stream the answer to it."""
        self.history.add_message(self.id, "user", prompt)
        async for event in self.answer(on_retry=on_retry):
            yield event

    async def answer(self, *,
                     on_retry: Callable[[RetryNotice], None] | None = None) -> AsyncIterator[Event]:
        """Stream an answer to the conversation as it stands, writing it as it arrives."""
        history, model = self.history, self.model
        request_id = new_request_id()
        msg_id = history.begin_answer(self.id, model=model, request_id=request_id)
        text: list[str] = []
        reasoning: list[str] = []
        started_at = time.time()
        last_flush = time.monotonic()
        state, error = "stopped", None
        done: Done | None = None
        self.metrics = Metrics(request_id=request_id)  # live: a stopped answer keeps its figures
        messages = self.request_messages()
        try:
            async for event in self.client.stream_chat(
                    messages, model, request_id=request_id, on_retry=on_retry,
                    temperature=self.params.get("temperature"),
                    max_tokens=self.params.get("max_tokens"), metrics=self.metrics):
                if isinstance(event, Delta):
                    text.append(event.text)
                elif isinstance(event, Reasoning):
                    reasoning.append(event.text)
                elif isinstance(event, Done):
                    done = event
                now = time.monotonic()
                if now - last_flush >= FLUSH_SECONDS and (text or reasoning):
                    history.update_answer(msg_id, "".join(text), "".join(reasoning))
                    last_flush = now
                yield event
            state = "done"
        except RelayError as exc:
            state, error = "error", exc
            raise
        except (asyncio.CancelledError, GeneratorExit):
            state = "stopped"
            raise
        finally:
            self._finish(msg_id, state, error, "".join(text), "".join(reasoning), done,
                         request_id, started_at, messages)

    def _finish(self, msg_id: int, state: str, error: RelayError | None, text: str,
                reasoning: str, done: Done | None, request_id: str, started_at: float,
                messages: list[dict]) -> None:
        history = self.history
        if done is not None:
            history.finish_answer(
                msg_id, state="done", content=text, reasoning=reasoning,
                served_model=done.metrics.served_model, metrics=metrics_dict(done.metrics),
                cost_usd=done.cost.usd if done.cost else None,
                cost_source=done.cost.source if done.cost else None)
            log_done(history, profile=self.profile, model=self.model, kind="chat", done=done,
                     content=telemetry.content(messages, text))
            return
        history.finish_answer(msg_id, state=state, content=text, reasoning=reasoning,
                              error=str(error) if error else None)
        log_failure(history, profile=self.profile, model=self.model, kind="chat",
                    error=error or state, request_id=request_id, started_at=started_at,
                    metrics=getattr(error, "metrics", None) or self.metrics,
                    content=telemetry.content(messages, text))


def stored_done(row) -> Done | None:
    """Rebuild the Done of a finished answer from its stored row (a chat message or a compare
    column), so a reopened answer gets the same footer as a live one; None if it did not finish."""
    if row.state != "done" or not row.metrics:
        return None
    known = {k: v for k, v in row.metrics.items() if k in _METRIC_FIELDS}
    metrics = Metrics(request_id=row.request_id or "", served_model=row.served_model,
                      stored_tokens_per_s=row.metrics.get("tokens_per_s"), **known)
    cost = Cost(row.cost_usd, row.cost_source) if row.cost_usd is not None and row.cost_source else None
    return Done(finish_reason="unspecified", metrics=metrics, usage=None, cost=cost)


_METRIC_FIELDS = frozenset({"connect", "tls", "headers", "ttft", "ttfat", "total", "output_tokens",
                            "output_tokens_estimated", "prompt_tokens", "attempts"})
