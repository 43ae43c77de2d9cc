"""`relay-tui screenshots` shows the product in use, and its SVGs render: each is rasterised to
PNG with cairosvg (in a monospace font, as a terminal draws it) and the pictures are checked for
what a reader of the README must see: many requests over several models with real percentiles,
spend on every model, a legend drawn like the bars, distinct conversations, a help scrollbar
that is not a black hole."""

from __future__ import annotations

import html
import os
import re
import struct
from pathlib import Path

import pytest

from relay_tui.cli import main
from relay_tui.demo import MODELS

pytestmark = pytest.mark.xdist_group("screenshots")  # one worker takes the shots, once

MONOSPACE = "DejaVu Sans Mono"  # fonts-dejavu-core; Textual's SVG asks for Fira Code


def cairosvg():
    try:
        import cairosvg as module
    except OSError as exc:  # the package is there, the cairo library is not
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cairosvg cannot load the cairo library ({exc}); Debian: apt-get install "
                    f"libcairo2 fonts-dejavu-core")
    return module


def svg_rows(svg: str) -> list[str]:
    """The screen's rows as text: Textual's SVG holds one <text> per run of a row, by y."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in re.findall(r'<text[^>]* x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return ["".join(text for _x, text in sorted(runs)) for _y, runs in sorted(rows.items())]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shots")
    assert main(["screenshots", str(folder)]) == 0
    return {path.stem: path.read_text(encoding="utf-8") for path in folder.glob("*.svg")}


def test_every_screenshot_renders_to_a_png(shots, tmp_path):
    render = cairosvg()
    assert set(shots) == {"compare-4-columns", "compare-blind-vote", "quota", "latency", "help",
                          "chat-mid-stream", "chat-light-theme"}
    for name, svg in shots.items():
        svg = re.sub(r'font-family:\s*"?Fira Code"?(,\s*monospace)?', f"font-family: {MONOSPACE}", svg)
        png = render.svg2png(bytestring=svg.encode())
        (tmp_path / f"{name}.png").write_bytes(png)
        width, height = png_size(png)
        assert width > 1000 and height > 600, (name, width, height)
        assert len(png) > 50_000, name  # a screen of text, not an empty frame


def test_the_latency_shot_shows_many_requests_and_real_percentiles(shots):
    rows = [cells for cells in map(str.split, svg_rows(shots["latency"]))
            if cells[:1] == ["demo"] and len(cells) > 2 and cells[2].isdigit()]  # the table's rows
    assert sorted(row[1] for row in rows) == sorted(MODELS)  # every model, and no `auto` row
    assert all(int(row[2]) >= 30 for row in rows), rows
    spreads = [len(set(row[5].split("/"))) for row in rows]  # TTFT p50/p95/p99
    assert max(spreads) == 3, rows  # three different percentiles, not one request's figure


def test_the_quota_shot_shows_spend_on_every_model_with_a_legend_drawn_like_the_bars(shots):
    text = "\n".join(svg_rows(shots["quota"]))
    assert "relay-reported ███ · estimated ▒▒▒" in text
    spend = text.split("Spend by model")[1].split("Spend by day")[0]
    assert all(model in spend for model in MODELS)
    assert "runs out in" not in text and "· " * 3 not in text  # no guessed date, no rows of dots


def test_the_chat_shots_list_distinct_conversations_and_the_help_scrollbar_is_not_black(shots):
    for name in ("chat-mid-stream", "chat-light-theme"):
        sidebar = [row.split("│")[0].strip(" ▎▏▊\n") for row in svg_rows(shots[name])[3:20]]
        titles = [t for t in sidebar if t and t not in (*MODELS, "auto") and "search" not in t]
        assert len(titles) >= 5 and len(set(titles)) == len(titles), (name, titles)
    fills = set(re.findall(r'fill="#([0-9a-f]{6})"', shots["help"]))
    assert not any(sum(int(f[i:i + 2], 16) for i in (0, 2, 4)) < 30 for f in fills), fills
