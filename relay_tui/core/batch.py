"""Batch compare: every prompt of a file × every model, each prompt saved as one comparison.

The CLI (`relay-tui compare --prompts FILE`) and the TUI's batch mode read prompt files and run
them through here, so both accept the same files and save the same history.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from relay_tui.core.bounded_json import loads
from relay_tui.core.compare import Column, ComparisonResult, run_comparison

if TYPE_CHECKING:
    from relay_tui.core.client import RelayClient
    from relay_tui.store.history import History


class PromptFileError(ValueError):
    """A prompt file cannot be read or has no prompts; `str()` is one line naming the file."""


def read_prompt_file(path: str | Path) -> list[str]:
    """Prompts from a file: one per line, or JSONL lines with a "prompt" field; blank lines skipped."""
    try:
        # split at \n only (\r\n ends a line too, its \r stripped below): universal newlines and
        # splitlines() would also cut at a lone \r, form feeds, U+2028 and six more, none of
        # which ends a line in a prompt file
        lines = Path(path).read_bytes().decode("utf-8").split("\n")
    except OSError as exc:
        raise PromptFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PromptFileError(f"{path} is not UTF-8 text") from None
    prompts = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                prompt = loads(line)["prompt"]
            except (ValueError, KeyError, TypeError):
                prompt = None
            if not isinstance(prompt, str) or not prompt.strip():
                raise PromptFileError(f"{path}:{number}: a JSONL line needs a \"prompt\" field "
                                      f"holding text") from None
            line = prompt
        prompts.append(line)
    if not prompts:
        raise PromptFileError(f"{path} has no prompts")
    return prompts


async def run_batch(client: RelayClient, history: History, *, profile: str, models: list[str],
                    prompts: list[str], system_prompt: str | None = None,
                    max_tokens: int | None = None,
                    on_result: Callable[[int, Column], None] | None = None,
                    on_progress: Callable[[int, int], None] | None = None) -> list[ComparisonResult]:
    """Run the prompts one after the other, all models at once for each.

    `on_result(prompt_index, column)` runs as each column finishes (or fails), then
    `on_progress(finished, total)` with total = prompts × models.
    """
    total = len(prompts) * len(models)
    finished = 0
    results = []
    for index, prompt in enumerate(prompts):
        def column_done(column: Column, index: int = index) -> None:
            nonlocal finished
            finished += 1
            if on_result:
                on_result(index, column)
            if on_progress:
                on_progress(finished, total)

        results.append(await run_comparison(client, history, profile=profile, models=models,
                                            prompt=prompt, system_prompt=system_prompt,
                                            max_tokens=max_tokens, on_column_done=column_done))
    return results
