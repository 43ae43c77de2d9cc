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
# Short closing sentences of different token counts: an answer's last few tokens are filled
# with whole ones (a cut sentence read "All in all the best model is." or "..").
_CLOSERS = ("Try it on a few of your own prompts first.", "That is usually enough to decide.",
            "Keep an eye on the cost.", "Check the error rate too.", "Measure, then decide.",
            "Then measure again.", "Start small.", "Test it.")  # the longest are tried first
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
    """The prompt's first sentence as a heading, whole when short (its first six words read "How
    should a client retry a"), else its first ten words and "…"."""
    first = re.split(r"(?<=[.?!])\s", prompt.strip(), maxsplit=1)[0]
    words = re.findall(r"[A-Za-z0-9][\w.'-]*", first)
    title = " ".join(words[:10]).rstrip(".")
    if len(words) > 10:
        title += "…"
    elif first.rstrip().endswith("?"):
        title += "?"
    return title[:1].upper() + title[1:] if title else "An overview"


def _fresh(items: list[str], used: set[str]) -> list[str]:
    """`items` less those this answer already said (an answer repeated its sentences and bullets);
    all of them if every one was said."""
    fresh = [item for item in items if item not in used]
    used.update(fresh)
    return fresh or items


def _paragraph(rng: random.Random, pool: tuple[str, ...] = _SENTENCES,
               used: set[str] | None = None) -> str:
    chosen = rng.sample(pool, rng.randint(2, 3))
    return " ".join(chosen if used is None else _fresh(chosen, used))


def _block(rng: random.Random, used: set[str]) -> str:
    kind = rng.choice(("paragraph", "bullets", "numbers", "table", "code", "heading"))
    if kind == "bullets":
        return "\n".join(f"- {b}" for b in _fresh(rng.sample(_BULLETS, rng.randint(3, 5)), used))
    if kind == "numbers":
        return "\n".join(f"{i}. {s}" for i, s in enumerate(_fresh(rng.sample(_SENTENCES, 3), used), 1))
    if kind == "table":
        rows = rng.sample(_TABLE_ROWS, 3)
        lines = ["| Model | TTFT | Speed | Input $/1M |", "|---|---|---|---|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    if kind == "code":
        lang, code = rng.choice(_CODE)
        return f"```{lang}\n{code}\n```"
    if kind == "heading":
        return "### " + rng.choice(("Details", "Trade-offs", "In practice", "Example", "Summary"))
    return _paragraph(rng, used=used)


def _prose(rng: random.Random, n: int, pool: tuple[str, ...] = _SENTENCES) -> list[str]:
    """Exactly n tokens of prose from `pool`."""
    pieces: list[str] = []
    while len(pieces) < n:
        pieces += tokenize((" " if pieces else "") + _paragraph(rng, pool))
    return pieces[:n]


def _tail(rng: random.Random, n: int, used: set[str]) -> list[str]:
    """Exactly n tokens of closing prose: whole sentences not said yet while they fit, then
    short closing sentences that fill the rest exactly (newlines, which show as nothing, for
    the one or two tokens no sentence fits)."""
    pieces: list[str] = []
    for sentence in rng.sample(_SENTENCES, len(_SENTENCES)):
        words = tokenize((" " if pieces else "") + sentence)
        if sentence in used or len(pieces) + len(words) > n - 2:
            continue
        pieces += words
    return pieces + _closers(n - len(pieces), first=not pieces)


def _closers(room: int, *, first: bool) -> list[str]:
    """Closing sentences whose tokens number exactly `room` (each used once), padded with
    newline tokens when no set of them adds up."""
    best: list[list[str]] = []
    reach = {0: best}
    for closer in _CLOSERS:
        words = tokenize(" " + closer)
        for total, chosen in list(reach.items()):
            if total + len(words) <= room and total + len(words) not in reach:
                reach[total + len(words)] = chosen + [words]
    total = max(reach)
    pieces = [piece for words in reach[total] for piece in words]
    if first and pieces:
        pieces[0] = pieces[0].lstrip()
    return pieces + ["\n"] * (room - total)


@lru_cache(maxsize=512)
def answer_tokens(seed: int, model: str, prompt: str, n: int) -> tuple[str, ...]:
    """Exactly n tokens of varied markdown answering `prompt`."""
    rng = _rng(seed, model, prompt, "answer")
    used: set[str] = set()
    tokens = tokenize(f"## {_title(prompt)}\n\n{_paragraph(rng, used=used)}")[:n]
    while len(tokens) < n:
        block = tokenize("\n\n" + _block(rng, used))
        if len(tokens) + len(block) <= n:
            tokens += block
            continue
        room = n - len(tokens)
        tokens += ["\n\n"] + _tail(rng, room - 1, used) if room >= 3 else ["\n"] * room
    return tuple(tokens)


@lru_cache(maxsize=512)
def reasoning_tokens(seed: int, model: str, prompt: str, n: int) -> tuple[str, ...]:
    """Exactly n tokens of "thinking" prose streamed before the answer."""
    return tuple(_prose(_rng(seed, model, prompt, "reasoning"), n, _THOUGHTS))
