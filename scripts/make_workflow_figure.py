"""Draw the workflow picture at the top of the web demo: audio → features → model → emotions.

Run from the repository root; it rewrites ``serkit/demo/workflow.png`` (committed, so the
demo needs no drawing at start-up):

    python scripts/make_workflow_figure.py [--out PATH]

Each stage is a rounded box with a small sketch of what it holds: a waveform, a feature
matrix, a network, and a bar per emotion. The sketches are drawn from fixed seeds, so the
picture is the same on every run.
"""

from __future__ import annotations

import argparse
import io
from itertools import pairwise
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from serkit.fileio import atomic_write_bytes

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "serkit" / "demo" / "workflow.png"

#: (title, subtitle) of each stage, left to right.
STAGES = (
    ("Audio", "wav / flac / ogg, resampled to 16 kHz"),
    ("Features", "e.g. MFCC, chroma, pitch (fusion107)"),
    ("Model", "e.g. SpeechNet"),
    ("Emotions", "a probability per class, summing to 1"),
)
BOX_WIDTH, BOX_HEIGHT, GAP = 2.6, 1.9, 0.7
BOX_COLOUR, EDGE_COLOUR, INK = "#eef3fb", "#3b6cb7", "#1f2d3d"
EMOTIONS = ("anger", "fear", "happiness", "neutral", "sadness")


def draw_workflow() -> Figure:
    """The whole picture as a matplotlib figure (not yet saved)."""
    figure = Figure(figsize=(10.0, 2.3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    total = len(STAGES) * BOX_WIDTH + (len(STAGES) - 1) * GAP
    axes.set_axis_off()
    sketches = (_sketch_waveform, _sketch_features, _sketch_network, _sketch_bars)
    for index, ((title, subtitle), sketch) in enumerate(zip(STAGES, sketches, strict=True)):
        left = index * (BOX_WIDTH + GAP)
        _draw_box(axes, left, title, subtitle)
        sketch(axes, left + 0.25, 0.55, BOX_WIDTH - 0.5, 0.85)
        if index:
            _draw_arrow(axes, left - GAP + 0.05, left - 0.05)
    # imshow rescales the axes to its image; put the whole picture back in view.
    axes.set_xlim(-0.1, total + 0.1)
    axes.set_ylim(-0.15, BOX_HEIGHT + 0.15)
    return figure


def _draw_box(axes, left: float, title: str, subtitle: str) -> None:
    axes.add_patch(FancyBboxPatch((left, 0), BOX_WIDTH, BOX_HEIGHT, boxstyle="round,pad=0,rounding_size=0.15",
                                  facecolor=BOX_COLOUR, edgecolor=EDGE_COLOUR, linewidth=1.5))
    centre = left + BOX_WIDTH / 2
    axes.text(centre, BOX_HEIGHT - 0.22, title, ha="center", va="center", fontsize=12,
              fontweight="bold", color=INK)
    axes.text(centre, 0.25, subtitle, ha="center", va="center", fontsize=7.5, color=INK)


def _draw_arrow(axes, start: float, end: float) -> None:
    axes.add_patch(FancyArrowPatch((start, BOX_HEIGHT / 2), (end, BOX_HEIGHT / 2),
                                   arrowstyle="-|>", mutation_scale=18, linewidth=2, color=EDGE_COLOUR))


def _sketch_waveform(axes, left, bottom, width, height) -> None:
    # A burst of speech-like sound: a few harmonics under a syllable-shaped envelope.
    t = np.linspace(0, 1, 600)
    envelope = np.sin(np.pi * t) ** 2 * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2)
    wave = envelope * (np.sin(2 * np.pi * 23 * t) + 0.4 * np.sin(2 * np.pi * 61 * t)) / 1.4
    axes.plot(left + width * t, bottom + height / 2 + wave * height / 2, color=EDGE_COLOUR, linewidth=0.8)


def _sketch_features(axes, left, bottom, width, height) -> None:
    # A coefficient-by-frame matrix: smooth along time, as real frame features are.
    rows, frames = np.mgrid[0:8, 0:16]
    noise = np.random.default_rng(3).random((8, 16))
    values = np.sin(frames / 2.5 + rows * 0.9) + 0.5 * noise
    # zorder above the box, whose fill would otherwise hide the image.
    axes.imshow(values, extent=(left, left + width, bottom, bottom + height), aspect="auto",
                cmap="viridis", interpolation="nearest", zorder=2)


def _sketch_network(axes, left, bottom, width, height) -> None:
    layers = (4, 6, 6, 5)
    positions = [
        [(left + width * i / (len(layers) - 1), bottom + height * (j + 0.5) / n) for j in range(n)]
        for i, n in enumerate(layers)
    ]
    for here, after in pairwise(positions):
        for x0, y0 in here:
            for x1, y1 in after:
                axes.plot((x0, x1), (y0, y1), color="#9db4d9", linewidth=0.4, zorder=1)
    for layer in positions:
        xs, ys = zip(*layer)
        axes.scatter(xs, ys, s=22, color=EDGE_COLOUR, zorder=2)


def _sketch_bars(axes, left, bottom, width, height) -> None:
    probabilities = np.array([0.08, 0.05, 0.62, 0.17, 0.08])
    slot = width / len(EMOTIONS)
    for index, (emotion, p) in enumerate(zip(EMOTIONS, probabilities, strict=True)):
        colour = EDGE_COLOUR if p == probabilities.max() else "#9db4d9"
        x = left + index * slot + 0.1 * slot
        axes.add_patch(FancyBboxPatch((x, bottom + 0.12), 0.8 * slot, (height - 0.12) * p / probabilities.max(),
                                      boxstyle="square,pad=0", facecolor=colour, edgecolor="none"))
        axes.text(x + 0.4 * slot, bottom + 0.02, emotion[:3], ha="center", va="bottom", fontsize=6.5, color=INK)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    buffer = io.BytesIO()
    draw_workflow().savefig(buffer, format="png")
    atomic_write_bytes(args.out, buffer.getvalue())
    print(f"wrote {args.out} ({len(buffer.getvalue()) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
