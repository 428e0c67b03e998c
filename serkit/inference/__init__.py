"""Inference: model bundles and the Recognizer that predicts emotions with them.

Example::

    from serkit.inference import load_model

    rec = load_model()                    # the bundled default model, or a bundle folder
    rec.predict("clip.wav").label         # also bytes of a file, or an array + sample_rate
    rec.timeline("call.wav", window_s=3.0, hop_s=1.0).segments
    embed(["a.wav", "b.wav"])             # (2, 256) voice-encoder embeddings (serkit.embed)

Bundles (:mod:`serkit.inference.bundle`) are folders with bundle.json and tensors-only
weights; ``serkit bundle RUN_DIR`` makes one from a finished experiment.
"""

from serkit.inference.bundle import bundle_from_run, read_bundle, save_bundle
from serkit.inference.embedding import embed
from serkit.inference.recognizer import (
    MIN_DURATION_S,
    Prediction,
    Recognizer,
    list_models,
    load_model,
)
from serkit.inference.timeline import Segment, Timeline, TimelineWindow, merge_segments

__all__ = [
    "MIN_DURATION_S",
    "Prediction",
    "Recognizer",
    "Segment",
    "Timeline",
    "TimelineWindow",
    "bundle_from_run",
    "embed",
    "list_models",
    "load_model",
    "merge_segments",
    "read_bundle",
    "save_bundle",
]
