"""What the endpoints do once the audio is read: choose a model, decode, predict.

Its methods are plain blocking functions: the app runs them in the thread pool of its
admission control (admission.py), so a long prediction never stalls the event loop and
requests are served side by side (a Recognizer is safe to call from several threads at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from serkit.audio import AudioLimits, open_audio
from serkit.errors import ConfigError
from serkit.server.errors import ApiError
from serkit.server.upload import Upload

if TYPE_CHECKING:
    from serkit.inference import Recognizer


class ModelService:
    """The served recognizers by name (the first is the default) and the duration cap."""

    def __init__(self, models: Mapping[str, Recognizer], *, max_duration_s: float | None):
        if not models:
            raise ConfigError("the server needs at least one model to serve")
        self.models = dict(models)
        self.default = next(iter(self.models))
        self.limits = AudioLimits(max_duration_s=max_duration_s, min_duration_s=None)
        self._descriptions = [
            {"name": name, "labels": list(rec.labels), "sample_rate": int(rec.sample_rate),
             "description": str(rec.info.get("description", ""))}
            for name, rec in self.models.items()]

    def resolve(self, name: str | None) -> str:
        """The served name for a request's ``model`` (the default for None), or a 404 ApiError."""
        if name is None:
            return self.default
        if name not in self.models:
            raise ApiError(404, "unknown_model", f"no model {name!r} on this server; "
                           f"served models: {', '.join(self.models)} (see GET /v1/models)")
        return name

    def warm_up(self) -> None:
        """Predict once per model on a synthetic tone.

        The first prediction in a process pays one-off costs (librosa's lazy imports of
        scipy and numba: several seconds); better at startup than on a client's request.
        """
        for recognizer in self.models.values():
            rate = recognizer.sample_rate
            tone = 0.3 * np.sin(2 * np.pi * 220.0 * np.arange(rate) / rate)
            recognizer.predict(tone.astype(np.float32), sample_rate=rate, name="warm-up tone")

    def describe(self) -> list[dict]:
        """Name, labels, sample rate and description of each served model."""
        return self._descriptions

    def predict(self, model: str, upload: Upload) -> dict:
        recognizer = self.models[model]
        prediction = recognizer.predict(self._checked(recognizer, upload), name=upload.name)
        return {**prediction.to_dict(), "model": model}

    def timeline(self, model: str, upload: Upload, *, window_s: float, hop_s: float) -> dict:
        recognizer = self.models[model]
        timeline = recognizer.timeline(self._checked(recognizer, upload), window_s=window_s, hop_s=hop_s,
                                       name=upload.name)
        return {**timeline.to_dict(), "model": model}

    def _checked(self, recognizer: Recognizer, upload: Upload) -> bytes:
        # The server's duration cap from the header, before anything is decoded; the
        # recognizer then streams the bytes block by block (memory does not grow with the
        # clip) and applies its own checks (too short, silent, the real duration).
        open_audio(upload.data, sample_rate=recognizer.sample_rate, limits=self.limits, name=upload.name)
        return upload.data
