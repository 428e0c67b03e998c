"""Worker processes for parallel work (feature extraction, batch prediction)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence


def process_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """A multiprocessing context whose workers start with ``preload`` modules imported.

    fork is unsafe once the parent runs threads (torch, tqdm's monitor); forkserver forks
    workers from a clean server that imported the heavy modules once. Spawn where there is
    no forkserver (macOS without it, Windows).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        return context
    return multiprocessing.get_context("spawn")
