"""PNG figures of a report: confusion matrices, per-class and per-group bars, learning curves.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so nothing touches the
global backend or the pyplot figure registry, and each figure is freed once saved.
matplotlib is imported inside the functions so that ``import serkit.evaluation`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    figure.clear()
    return path


def confusion_matrix_figure(matrix: np.ndarray, labels: Sequence[str], path: str | Path, *,
                            normalized: bool = False, title: str = "") -> Path:
    """Heat map of a confusion matrix ``(classes, classes)``, rows = truth, with cell values."""
    matrix = np.asarray(matrix, dtype=float)
    size = 2.0 + 0.6 * len(labels)
    figure = _new_figure(size + 1.0, size)
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalized else None)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=45, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("confusion matrix (row-normalised)" if normalized else "confusion matrix (counts)"))
    threshold = (matrix.max() or 1) / 2
    for (r, c), value in np.ndenumerate(matrix):
        text = f"{value:.2f}" if normalized else f"{int(value)}"
        ax.text(c, r, text, ha="center", va="center", fontsize=8,
                color="white" if value > threshold else "black")
    return _save(figure, path)


def bars_figure(rows: Mapping[str, Mapping[str, float]], keys: Sequence[str], path: str | Path, *,
                title: str, errors: Mapping[str, Mapping[str, float]] | None = None) -> Path:
    """Grouped bars: one group per row name, one bar per key (values in [0, 1]).

    A bar whose value is 0 gets a short mark and a "0" at its base, so that 0 is told apart
    from a missing value (no bar, no mark).

    Args:
        rows: ``{name: {key: value}}``, e.g. per-class ``{"anger": {"precision": .8, ...}}``.
        keys: which keys to draw, in order.
        path: the PNG to write.
        title: the figure title.
        errors: optional ``{name: {key: std}}`` drawn as error bars.
    """
    return _save(draw_bars(rows, keys, title=title, errors=errors), path)


def draw_bars(rows: Mapping[str, Mapping[str, float]], keys: Sequence[str], *, title: str,
              errors: Mapping[str, Mapping[str, float]] | None = None):
    """The figure of :func:`bars_figure`, not saved (a matplotlib ``Figure``)."""
    names = list(rows)
    width = 0.8 / max(len(keys), 1)
    figure = _new_figure(min(4.0 + 0.5 * len(names) * len(keys) ** 0.5, 40.0), 4.0)
    ax = figure.add_subplot()
    x = np.arange(len(names))
    for k, key in enumerate(keys):
        values = [_nan(rows[n].get(key)) for n in names]
        err = [_nan((errors or {}).get(n, {}).get(key)) for n in names] if errors else None
        positions = x + (k - (len(keys) - 1) / 2) * width
        bars = ax.bar(positions, values, width, yerr=err, label=key, capsize=2)
        colour = bars.patches[0].get_facecolor() if bars.patches else None
        for position, value in zip(positions, values):
            if value == 0:  # a zero-height bar would look like a missing one
                ax.plot([position], [0], marker="_", markersize=max(4.0, 40 * width), markeredgewidth=3,
                        color=colour, clip_on=False, gid="zero-bar")
                ax.text(position, 0.01, "0", ha="center", va="bottom", fontsize=7, gid="zero-bar")
    ax.set_xticks(x, names, rotation=45 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    ax.set_ylim(0, 1.15)  # headroom for the legend above the bars
    ax.set_title(title)
    ax.legend(loc="upper center", ncol=len(keys), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return figure


def learning_curves_figure(curves: Mapping[str, Mapping[str, np.ndarray]], path: str | Path) -> Path:
    """Loss and accuracy per epoch, one colour per run; train solid, validation dashed.

    The chosen epoch(s) of each run (its ``selected`` entry) get a dotted vertical line and a
    star on the validation curve; epoch ticks are integers.

    Args:
        curves: ``{run name: {"epoch": (E,), "train_loss": (E,), "val_loss": (E,),
            "train_acc": (E,), "val_acc": (E,), "selected": (S,)}}``; missing series are skipped.
        path: the PNG to write.
    """
    return _save(draw_learning_curves(curves), path)


def draw_learning_curves(curves: Mapping[str, Mapping[str, np.ndarray]]):
    """The figure of :func:`learning_curves_figure`, not saved (a matplotlib ``Figure``)."""
    from matplotlib.ticker import MaxNLocator

    figure = _new_figure(10.0, 4.0)
    axes = {"loss": figure.add_subplot(1, 2, 1), "acc": figure.add_subplot(1, 2, 2)}
    for n, (name, curve) in enumerate(curves.items()):
        colour = f"C{n % 10}"
        for kind, ax in axes.items():
            for split, style in (("train", "-"), ("val", "--")):
                values = curve.get(f"{split}_{kind}")
                if values is not None and np.isfinite(values).any():
                    ax.plot(curve["epoch"], values, style, color=colour, label=f"{name} {split}")
            _mark_chosen_epochs(ax, curve, kind, colour, label=f"{name} chosen epoch")
    for kind, ax in axes.items():
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title("loss" if kind == "loss" else "accuracy")
        ax.grid(alpha=0.3)
    if len(curves) <= 6:
        axes["acc"].legend(fontsize=7)
    return figure


def _mark_chosen_epochs(ax, curve: Mapping[str, np.ndarray], kind: str, colour: str, *, label: str) -> None:
    """A dotted line at each chosen epoch, and a star where it meets the validation curve."""
    chosen = [float(e) for e in np.asarray(curve.get("selected", []), dtype=float) if np.isfinite(e)]
    epochs = np.asarray(curve["epoch"], dtype=float)
    values = curve.get(f"val_{kind}")
    for n, epoch in enumerate(chosen):
        ax.axvline(epoch, color=colour, linestyle=":", linewidth=1, alpha=0.7, gid="chosen-epoch")
        at = np.flatnonzero(epochs == epoch)
        if values is not None and at.size and np.isfinite(values[at[0]]):
            ax.plot([epoch], [values[at[0]]], marker="*", markersize=11, linestyle="none", color=colour,
                    label=label if n == 0 else "_nolegend_", gid="chosen-epoch")
        elif n == 0:
            ax.plot([], [], marker="*", linestyle="none", color=colour, label=label)


def _nan(value) -> float:
    return float("nan") if value is None else float(value)
