"""What the endpoints do once the audio is read: choose a model, decode, predict.

Its methods are plain blocking functions: the app runs them in the thread pool of its
admission control (admission.py), so a long prediction never stalls the event loop and
requests are served side by side (a Recognizer is safe to call from several threads at once).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from serkit.audio import AudioLimits, open_audio
from serkit.errors import AudioError, ConfigError, SerkitError
from serkit.inference import recognizer as recognition
from serkit.inference.timeline import Segmenting
from serkit.server.errors import ApiError
from serkit.server.upload import Upload

if TYPE_CHECKING:
    from serkit.inference import Recognizer

log = logging.getLogger("serkit.server")


def silence_adapt_warnings() -> None:
    """Keep the recognizer's AdaptWarning for a small adapt batch out of the server log.

    The client gets it in the answer's ``warnings`` instead. A filter on this module alone
    (the warning names the caller of ``predict_features``): thread-safe, unlike
    ``warnings.catch_warnings`` around each call, and it leaves other callers' warnings be.
    """
    warnings.filterwarnings("ignore", category=recognition.AdaptWarning,
                            module=re.escape(__name__) + "$")


silence_adapt_warnings()


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
        """Predict once per model on a synthetic tone (:meth:`Recognizer.warm_up`).

        The first prediction in a process pays one-off costs (librosa's lazy imports of
        scipy and numba: several seconds); better at startup than on a client's request.
        """
        for name, recognizer in self.models.items():
            log.debug("model %s warmed up in %.2f s", name, recognizer.warm_up())

    def check_top_k(self, model: str, top_k: int | None) -> None:
        """A request's ``top_k`` (None: not asked) must be 1 to the model's number of
        labels, or a 422 ApiError."""
        if top_k is None:
            return
        count = len(self.models[model].labels)
        if not 1 <= top_k <= count:
            raise ApiError(422, "invalid_parameter", f"top_k must be between 1 and {count} (the "
                           f"number of labels of model {model!r}), not {top_k}")

    def describe(self) -> list[dict]:
        """Name, labels, sample rate and description of each served model."""
        return self._descriptions

    def predict(self, model: str, upload: Upload, *, top_k: int | None = None) -> dict:
        recognizer = self.models[model]
        prediction = recognizer.predict(self._checked(recognizer, upload), name=upload.name,
                                        **_top_k(top_k))
        return {**prediction.to_dict(), "model": model}

    def timeline(self, model: str, upload: Upload, *, window_s: float, hop_s: float,
                 segmenting: Segmenting | None = None) -> dict:
        recognizer = self.models[model]
        options = (segmenting or Segmenting()).to_dict()
        timeline = recognizer.timeline(self._checked(recognizer, upload), window_s=window_s, hop_s=hop_s,
                                       name=upload.name, **options)
        return {**timeline.to_dict(), "model": model}

    def predict_batch(self, model: str, uploads: Sequence[Upload], *, adapt: bool,
                      top_k: int | None = None) -> dict:
        """Each upload's prediction, or its error, in order: a clip that cannot be used does
        not stop the others.

        With ``adapt`` the features are standardised on the statistics of this request's
        usable clips (:meth:`Recognizer.predict_features`); nothing is kept for the next
        request. Under :data:`~serkit.inference.recognizer.ADAPT_MIN_FILES` usable clips
        the answer still comes, with a warning saying how many are needed.
        """
        recognizer = self.models[model]
        results: list[dict | None] = []
        usable: list[int] = []
        features: list[np.ndarray] = []
        durations: list[float] = []
        for i, upload in enumerate(uploads):
            outcome = self._raw_features(recognizer, upload)
            if isinstance(outcome, dict):
                results.append(outcome)
                continue
            results.append(None)
            usable.append(i)
            features.append(outcome[0])
            durations.append(outcome[1] / recognizer.sample_rate)
        notes: list[str] = []
        needed = recognition.ADAPT_MIN_FILES  # read now: tests may change it
        if adapt and len(usable) < needed:
            notes.append(f"adapt=true standardised on the {len(usable)} usable clip(s) of this "
                         f"request, too few for reliable statistics: send {needed} or more "
                         "from the same recording set-up")
        if usable:
            for i, prediction in zip(usable, self._predict_features(
                    model, recognizer, features, durations, adapt, top_k)):
                results[i] = {"name": uploads[i].name, **prediction.to_dict()}
        return {"model": model, "adapt": adapt, "results": results, "warnings": notes}

    def _raw_features(self, recognizer: Recognizer, upload: Upload) -> tuple[np.ndarray, int] | dict:
        """The unstandardised features and length of one clip of a batch, or its error entry."""
        if upload.error is not None:
            return _error_entry(upload.name, upload.error.code, upload.error.message)
        try:
            return recognizer.raw_features(self._checked(recognizer, upload), name=upload.name)
        except AudioError as exc:  # the codes /v1/predict answers with (errors.py)
            return _error_entry(upload.name, "invalid_audio", str(exc))
        except SerkitError as exc:
            return _error_entry(upload.name, "bad_request", str(exc))
        except Exception:  # a library failing on one odd clip must not fail the batch
            log.warning("%s: unexpected failure in a batch", upload.name, exc_info=True)
            return _error_entry(upload.name, "internal_error", f"{upload.name}: the server "
                                "failed on this clip; the server log has the details")

    @staticmethod
    def _predict_features(model: str, recognizer: Recognizer, features: list[np.ndarray],
                          durations: list[float], adapt: bool, top_k: int | None = None):
        try:
            return recognizer.predict_features(features, durations, adapt=adapt, **_top_k(top_k))
        except ConfigError:
            if not adapt:
                raise
            raise ApiError(422, "invalid_parameter",
                           f"model {model!r} reads unstandardised features, so adapt=true has "
                           "nothing to adapt; send the batch with adapt=false") from None

    def _checked(self, recognizer: Recognizer, upload: Upload) -> bytes:
        # The server's duration cap from the header, before anything is decoded; the
        # recognizer then streams the bytes block by block (memory does not grow with the
        # clip) and applies its own checks (too short, silent, the real duration).
        open_audio(upload.data, sample_rate=recognizer.sample_rate, limits=self.limits, name=upload.name)
        return upload.data


def _top_k(top_k: int | None) -> dict:
    """``top_k=`` for the recognizer only when asked: recognizers without it still serve."""
    return {} if top_k is None else {"top_k": top_k}


def _error_entry(name: str, code: str, message: str) -> dict:
    return {"name": name, "error": {"code": code, "message": message}}
