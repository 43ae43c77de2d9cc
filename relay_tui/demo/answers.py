"""Deterministic markdown answers, cut into word-piece tokens of 1-6 characters.

Answers vary (headings, lists, a table, python/bash code, paragraphs) so the UI's markdown
renderer is exercised, but the same seed, model and prompt always give the same tokens, so tests
can assert exact counts. An answer is exactly the requested number of tokens long.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from functools import lru_cache

_PIECE = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]|\n+| +")
_MAX_PIECE = 6

_SENTENCES = (
    "Streaming keeps the first token fast while the rest of the answer is still being written.",
    "A relay forwards the request to an upstream channel and bills the key for every token.",
    "Measure the time to first token separately from the decode speed, they answer different questions.",
    "Retries are only safe before the first token has reached the user.",
    "Keep prompts short when latency matters, since every input token is read before the first output token.",
    "Cheaper models are often good enough for summaries, extraction and classification.",
    "Compare models on your own prompts instead of trusting a public leaderboard.",
    "The usage chunk at the end of the stream carries the exact token counts.",
    "Balances are reported in different units by different relays, so convert before comparing.",
    "When a stream is cut off, keep the partial answer and say clearly that it is incomplete.",
    "Backoff with jitter spreads retries out so a busy upstream can recover.",
    "Cache what you can, and log every request with its latency and cost.",
    "Reasoning tokens are billed as output tokens even though the user may never read them.",
    "A timeout on every network wait turns a hang into a clear error message.",
    "Rate limits are usually per key and per minute, counted in requests and in tokens.",
)
_THOUGHTS = (
    "The user wants a practical answer, so I should start with the main point.",
    "Let me check which details matter here: latency, cost and reliability.",
    "A short example in code would make this concrete.",
    "I should mention the trade-offs before recommending anything.",
    "A table could summarise the options compactly.",
    "Wait, I should also cover what happens when the request fails.",
)
_BULLETS = (
    "**Latency**: time to first token and tokens per second",
    "**Cost**: input and output prices per million tokens",
    "**Quality**: answers on your own test prompts",
    "**Limits**: context length, rate limits and quotas",
    "**Reliability**: error rate and retries over a day",
    "Use `stream=true` for interactive work",
    "Set `max_tokens` to bound the cost of one call",
    "Keep the API key in the OS keyring, never in a file",
)
_CODE = (
    ("python", "import time\n\nstart = time.monotonic()\nfor chunk in stream:\n    print(chunk, end=\"\")\n"
               "print(f\"\\n{time.monotonic() - start:.2f}s\")"),
    ("python", "def cost(prompt, completion, price_in, price_out):\n"
               "    return (prompt * price_in + completion * price_out) / 1_000_000"),
    ("bash", "curl -sN \"$BASE_URL/chat/completions\" \\\n  -H \"Authorization: Bearer $KEY\" \\\n"
             "  -d '{\"model\": \"gpt-4.1\", \"stream\": true, \"messages\": []}'"),
    ("bash", "for model in gpt-4.1 gemini-2.5-flash; do\n  relay-tui chat -m \"$model\" \"hello\"\ndone"),
)
# no commas, and words of at most 5 letters (one token each), so any cut reads as a sentence
_CLOSING = ("All in all the best model is the one that is fast and cheap for your job so test a few "
            "on your own data and keep an eye on cost and speed over time")
_TABLE_ROWS = (
    ("gpt-4.1", "0.80 s", "90/s", "$2.00"),
    ("claude-sonnet-4.5", "0.95 s", "70/s", "$3.00"),
    ("gemini-2.5-flash", "0.45 s", "180/s", "$0.30"),
    ("deepseek-v3.2", "0.60 s", "45/s", "$0.28"),
)


def tokenize(text: str) -> list[str]:
    """Split text into pieces of 1-6 characters that concatenate back to exactly `text`."""
    out: list[str] = []
    for piece in _PIECE.findall(text):
        while len(piece) > _MAX_PIECE:
            out.append(piece[:4])
            piece = piece[4:]
        out.append(piece)
    return out


def prompt_tokens(messages: list) -> int:
    """A deterministic estimate of the input: ceil(characters of all message text / 4)."""
    chars = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text", "")) for p in content if isinstance(p, dict)
                         and isinstance(p.get("text"), str))
    return math.ceil(chars / 4)


def last_user_text(messages: list) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict)
                                and isinstance(p.get("text"), str))
    return ""


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def answer_length(seed: int, model: str, prompt: str) -> int:
    """The varied default answer length (120-300 tokens) for this prompt."""
    return _rng(seed, model, prompt, "length").randint(120, 300)


def _title(prompt: str) -> str:
    words = re.findall(r"[A-Za-z0-9][\w.-]*", prompt)[:6]
    title = " ".join(words)
    return title[:1].upper() + title[1:] if title else "An overview"


def _paragraph(rng: random.Random, pool: tuple[str, ...] = _SENTENCES) -> str:
    return " ".join(rng.sample(pool, rng.randint(2, 3)))


def _block(rng: random.Random) -> str:
    kind = rng.choice(("paragraph", "bullets", "numbers", "table", "code", "heading"))
    if kind == "bullets":
        return "\n".join(f"- {b}" for b in rng.sample(_BULLETS, rng.randint(3, 5)))
    if kind == "numbers":
        return "\n".join(f"{i}. {s}" for i, s in enumerate(rng.sample(_SENTENCES, 3), 1))
    if kind == "table":
        rows = rng.sample(_TABLE_ROWS, 3)
        lines = ["| Model | TTFT | Speed | Input $/1M |", "|---|---|---|---|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    if kind == "code":
        lang, code = rng.choice(_CODE)
        return f"```{lang}\n{code}\n```"
    if kind == "heading":
        return "### " + rng.choice(("Details", "Trade-offs", "In practice", "Example", "Summary"))
    return _paragraph(rng)


def _prose(rng: random.Random, n: int, pool: tuple[str, ...] = _SENTENCES) -> list[str]:
    """Exactly n tokens of prose from `pool`."""
    pieces: list[str] = []
    while len(pieces) < n:
        pieces += tokenize((" " if pieces else "") + _paragraph(rng, pool))
    return pieces[:n]


def _tail(rng: random.Random, n: int) -> list[str]:
    """Exactly n tokens of closing prose: whole sentences while they fit, then the closing
    sentence cut at a word (the longest sentence is shorter than the closing one)."""
    pieces: list[str] = []
    for sentence in rng.sample(_SENTENCES, len(_SENTENCES)):
        words = tokenize((" " if pieces else "") + sentence)
        if len(pieces) + len(words) + 1 > n:
            break
        pieces += words
    room = n - len(pieces)
    if room == 0:
        return pieces
    words = tokenize((" " if pieces else "") + _CLOSING)
    return pieces + words[: room - 1] + ["."]


@lru_cache(maxsize=512)
def answer_tokens(seed: int, model: str, prompt: str, n: int) -> tuple[str, ...]:
    """Exactly n tokens of varied markdown answering `prompt`."""
    rng = _rng(seed, model, prompt, "answer")
    tokens = tokenize(f"## {_title(prompt)}\n\n{_paragraph(rng)}")[:n]
    while len(tokens) < n:
        block = tokenize("\n\n" + _block(rng))
        if len(tokens) + len(block) <= n:
            tokens += block
            continue
        room = n - len(tokens)
        tokens += ["\n\n"] + _tail(rng, room - 1) if room >= 3 else ["."] * room
    return tuple(tokens)


@lru_cache(maxsize=512)
def reasoning_tokens(seed: int, model: str, prompt: str, n: int) -> tuple[str, ...]:
    """Exactly n tokens of "thinking" prose streamed before the answer."""
    return tuple(_prose(_rng(seed, model, prompt, "reasoning"), n, _THOUGHTS))
