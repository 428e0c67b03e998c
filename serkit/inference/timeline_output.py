"""Timelines for people and spreadsheets: the csv rows, the table's summary line, the plot.

``serkit predict --timeline`` writes through these (:mod:`serkit.inference.batch` calls
them); they read the result line of a file (a dict, as ``Timeline.to_dict()`` makes its
``timeline``), so they work the same on results that came from worker processes.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from serkit.errors import ConfigError
from serkit.inference.timeline import NON_SPEECH

#: The columns of ``--timeline --format csv``: one row per segment (a failed file: one row
#: with its error).
CSV_COLUMNS = ["path", "start_s", "end_s", "label", "confidence", "error"]


class TimelineCsvWriter:
    """One row per segment of each file's timeline (:data:`CSV_COLUMNS`)."""

    def __init__(self, stream: IO[str], labels: Sequence[str]):
        self.stream = stream
        self._csv = csv.writer(stream, lineterminator="\n")

    def header(self) -> None:
        self._csv.writerow(CSV_COLUMNS)
        self.stream.flush()

    def write(self, record: dict) -> None:
        if "error" in record:
            self._csv.writerow([record["path"], "", "", "", "", " ".join(str(record["error"]).splitlines())])
        else:
            self._csv.writerows([record["path"], f"{s['start_s']:.3f}", f"{s['end_s']:.3f}", s["label"],
                                 f"{s['confidence']:.4f}", ""] for s in record["timeline"]["segments"])
        self.stream.flush()


def summary_line(summary: dict) -> str:
    """The summary of a timeline in one line: speech time and each label's share of it,
    largest first (labels without any time left out).

    Example:
        >>> summary_line({"speech_s": 40.0, "non_speech_s": 12.0, "label": "anger",
        ...               "shares": {"anger": 0.75, "neutral": 0.25, "sadness": 0.0}})
        'speech 40.0 s of 52.0 s: anger 75%, neutral 25%'
    """
    total = summary["speech_s"] + summary["non_speech_s"]
    ranked = sorted(((v, k) for k, v in summary["shares"].items() if v > 0), reverse=True)
    shares = ", ".join(f"{k} {v:.0%}" for v, k in ranked) or "no speech found"
    return f"speech {summary['speech_s']:.1f} s of {total:.1f} s: {shares}"


def plot_path(template: str | Path, audio: str | Path, *, single: bool) -> Path:
    """Where the plot of ``audio`` goes: ``template`` itself for a single file, else
    ``<template stem>-<audio stem>.png`` beside it (files with the same stem share a name:
    the last one wins).

    Example:
        >>> plot_path("out/plot.png", "calls/a.wav", single=False).as_posix()
        'out/plot-a.png'
    """
    template = Path(template)
    if single:
        return template
    return template.with_name(f"{template.stem}-{Path(audio).stem}{template.suffix or '.png'}")


def check_plot(template: str | Path) -> None:
    """ConfigError unless a plot can be written at ``template``: matplotlib installed, a
    .png/.pdf/.svg name, in a folder that exists."""
    template = Path(template)
    if template.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"--plot {template}: name a .png (or .pdf, .svg) file, e.g. timeline.png")
    if not template.absolute().parent.is_dir():
        raise ConfigError(f"--plot {template}: the folder {template.absolute().parent} does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install matplotlib") from None


def plot_timeline(record: dict, path: str | Path) -> Path:
    """Draw the timeline of a result line: each label's window probabilities over time
    (non-speech shaded), and under it the segments as a strip of colours.

    matplotlib is imported here, only when a plot is asked for, with the Agg backend (no
    display needed; safe in worker processes).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timeline = record["timeline"]
    labels = list(timeline["windows"][0]["probabilities"]) if timeline["windows"] else []
    colours = {label: plt.get_cmap("tab10")(i % 10) for i, label in enumerate(labels)}
    colours[NON_SPEECH] = (0.85, 0.85, 0.85, 1.0)
    fig, (top, strip) = plt.subplots(2, 1, figsize=(11, 4), sharex=True,
                                     gridspec_kw={"height_ratios": [4, 1]})
    centres = [(w["start_s"] + w["end_s"]) / 2 for w in timeline["windows"]]
    for label in labels:
        top.plot(centres, [w["probabilities"][label] for w in timeline["windows"]],
                 color=colours[label], label=label, lw=1.5)
    for s in timeline["segments"]:
        if s["label"] == NON_SPEECH:
            top.axvspan(s["start_s"], s["end_s"], color=colours[NON_SPEECH], alpha=0.6, lw=0)
        strip.broken_barh([(s["start_s"], s["end_s"] - s["start_s"])], (0, 1),
                          color=colours[s["label"]])
    top.set_ylim(0, 1)
    top.set_ylabel("probability")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    summary = timeline.get("summary")
    top.set_title(Path(record["path"]).name + (f"  ({summary_line(summary)})" if summary else ""),
                  fontsize="small")
    strip.set_yticks([])
    strip.set_xlim(0, timeline["duration_s"])
    strip.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
