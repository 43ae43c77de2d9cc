"""Split streamed markdown into top-level blocks and render each one to lines of segments.

Why: re-parsing and re-rendering a whole answer per frame makes streaming cost grow with the
answer. Here a block is *frozen* once the first line of the block after it is complete (so a
list cannot be continued any more), rendered once with Rich, and never looked at again; only
the still-growing tail is parsed per frame. An open code fence renders line by line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound
from rich.console import Console
from rich.markdown import Markdown
from rich.style import Style
from rich.syntax import Syntax
from rich.theme import Theme

from relay_tui.ui.packed_lines import Line, PackedLine, Palette

# The parser Rich's Markdown uses, so block boundaries agree with how Rich renders a block.
_PARSER = MarkdownIt("commonmark").enable("strikethrough").enable("table")


@dataclass
class Block:
    """One top-level markdown block: its source (ending at the next block) and its rendering."""

    source: str
    fence_lang: str | None = None  # set for a top-level ``` fence: rendered with Syntax
    lines: list[PackedLine] = field(default_factory=list)
    width: int = 0  # the width `lines` were rendered at; 0 = not rendered yet
    style_epoch: int = -1  # the renderer generation `lines` were rendered with
    first_line: int = 0  # line (in the parsed text) where markdown-it says the block starts
    tokens: list[Token] | None = None  # this block's share of the tail's parse; dropped once rendered


def parse(text: str) -> list[Token]:
    """markdown-it tokens of `text`, as the renderer sees them."""
    return _PARSER.parse(text)


def split_blocks(tail: str, final: bool) -> tuple[list[Block], list[Block], str]:
    """Parse `tail` once and cut the finished blocks off its front.

    Returns (frozen blocks, live blocks, the live blocks' source). All sources together equal
    `tail`. A block is finished when the first line of the next block is complete (so a list
    cannot continue any more); with `final`, every block is.
    """
    blocks = [_make_block(src, tokens) for src, tokens in _cut(tail)]
    if final:
        return blocks, [], ""
    complete_lines = tail.count("\n")
    count = 0
    while count < len(blocks) - 1 and blocks[count + 1].first_line < complete_lines:
        count += 1
    consumed = sum(len(block.source) for block in blocks[:count])
    return blocks[:count], blocks[count:], tail[consumed:]


def fence_is_open(block: Block) -> bool:
    """True while a fence block has no closing fence line yet."""
    lines = block.source.rstrip("\n").split("\n")
    opener = lines[0].lstrip()
    char = opener[0]
    width = len(opener) - len(opener.lstrip(char))
    if len(lines) < 2:
        return True
    closer = lines[-1].strip()
    return not (len(closer) >= width and closer == char * len(closer))


def fence_code(block: Block) -> str:
    """The code inside a fence block (without the fence lines)."""
    lines = block.source.rstrip("\n").split("\n")[1:]
    if not fence_is_open(block):
        lines = lines[:-1]
    return "\n".join(lines)


def _cut(tail: str) -> list[tuple[str, list[Token]]]:
    """(source, tokens) per top-level block; sources cover `tail` without gaps.

    Each block keeps its slice of this one parse, so rendering it does not parse it again.
    """
    tokens = _PARSER.parse(tail)
    starts = [
        index
        for index, tok in enumerate(tokens)
        if tok.level == 0 and tok.nesting >= 0 and tok.map is not None
    ]
    if not starts:
        return []
    offsets = [0]
    position = 0
    for line in tail.split("\n"):
        position += len(line) + 1
        offsets.append(position)
    cut_at = [0] + [offsets[tokens[i].map[0]] for i in starts[1:]] + [len(tail)]  # type: ignore[index]
    ends = starts[1:] + [len(tokens)]
    return [(tail[cut_at[i] : cut_at[i + 1]], tokens[starts[i] : ends[i]]) for i in range(len(starts))]


def _make_block(source: str, tokens: list[Token]) -> Block:
    token = tokens[0]
    first_line = token.map[0] if token.map else 0
    if token.type == "fence" and token.markup[:1] in ("`", "~"):
        info = token.info.strip()
        return Block(source, fence_lang=info.split()[0] if info else "", first_line=first_line)
    return Block(source, first_line=first_line, tokens=tokens)


def _is_blank(line: Line) -> bool:
    return all(
        not seg.text.strip() and not (seg.style and seg.style.bgcolor) for seg in line
    )


def _trim(lines: list[Line]) -> list[Line]:
    """Drop blank edge lines: Rich adds them around some blocks even when rendered alone."""
    start, end = 0, len(lines)
    while start < end and _is_blank(lines[start]):
        start += 1
    while end > start and _is_blank(lines[end - 1]):
        end -= 1
    return lines[start:end]


class _ParsedMarkdown(Markdown):
    """Rich's Markdown over tokens we already have, with our one parser.

    Why: `Markdown.__init__` builds a new MarkdownIt (and a linkify-it) and parses the source on
    every call; for the live block, once a frame per column, that was about a third of the
    frame's rendering time.
    """

    def __init__(self, markup: str, tokens: list[Token] | None, code_theme: str) -> None:
        self.markup = markup
        self.parsed = tokens if tokens is not None else _PARSER.parse(markup)
        self.code_theme = self.inline_code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None


class BlockRenderer:
    """Renders blocks with one set of styles (from the Textual theme) and one code theme.

    A new renderer (new `epoch`) is made when the theme changes, which marks every block stale.
    """

    _epochs = 0

    def __init__(self, styles: dict[str, Style], code_theme: str, code_background: Style,
                 palette: Palette):
        BlockRenderer._epochs += 1
        self.epoch = BlockRenderer._epochs
        self._console = Console(
            file=io.StringIO(),
            width=80,
            color_system="truecolor",
            force_terminal=True,
            legacy_windows=False,
            theme=Theme(styles, inherit=True),
            emoji=False,
            markup=False,
            highlight=False,
        )
        self._code_theme = Syntax.get_theme(code_theme)
        self._code_theme_name = code_theme
        self._code_bg = code_background.bgcolor
        self._lexers: dict[str, Lexer] = {}
        self._palette = palette

    def render(self, block: Block, width: int) -> list[PackedLine]:
        """Render a whole block at `width` (rich markup in the source stays literal text)."""
        if block.fence_lang is not None:
            return self._syntax(fence_code(block), block.fence_lang, width)
        tokens, block.tokens = block.tokens, None  # a re-flow parses the source again
        markdown = _ParsedMarkdown(block.source, tokens, self._code_theme_name)
        return self._pack(_trim(self._lines(markdown, width)))

    def render_code_line(self, line: str, lang: str, width: int) -> list[PackedLine]:
        """One line of an open fence: finished lines are rendered once, by the caller's cache."""
        return self._syntax(line, lang, width)

    def _syntax(self, code: str, lang: str, width: int) -> list[PackedLine]:
        syntax = Syntax(
            code,
            self._lexer(lang),
            theme=self._code_theme,
            background_color=self._code_bg.name if self._code_bg else None,
            word_wrap=True,
            padding=(0, 1),
        )
        return self._pack(self._lines(syntax, width))

    def _lexer(self, lang: str) -> Lexer:
        if lang not in self._lexers:
            try:
                self._lexers[lang] = get_lexer_by_name(lang) if lang else TextLexer()
            except ClassNotFound:
                self._lexers[lang] = TextLexer()
        return self._lexers[lang]

    def _pack(self, lines: list[Line]) -> list[PackedLine]:
        return [self._palette.pack(line) for line in lines]

    def _lines(self, renderable: object, width: int) -> list[Line]:
        options = self._console.options.update_width(max(1, width))
        return self._console.render_lines(renderable, options, pad=False)  # type: ignore[arg-type]
