"""Embeddings: one feature vector per clip, for users' own classifiers, search or plots.

:func:`embed` loads each source as a Recognizer does (files, bytes of a file, arrays with
their ``sample_rate``; the same checks and :class:`~serkit.errors.AudioError` messages,
through :func:`serkit.inference.recognizer.open_source`) and returns one row per source.
The default is the voice encoder's 256-d utterance embedding (Resemblyzer's speaker
encoder, :mod:`serkit.features.voice_encoder`, ``pooling="embedding"``): unit length,
so cosine similarity is a dot product. Any registered feature set that gives one vector
per clip works (``features="fusion107"``, ``params={"pooling": "both"}``, ...); clips
go through the extractor's batched ``embed_many`` where it has one, else one by one.

Example::

    import serkit

    X = serkit.embed(["a.wav", "b.flac", open("c.wav", "rb").read()])   # (3, 256) float32
    X = serkit.embed([signal], sample_rate=44_100, params={"pooling": "both"})  # (1, 768)

``serkit embed FILES_OR_FOLDERS --output emb.npz`` (:mod:`serkit.commands.embed`) writes
them for many files with :func:`embed_files`, leaving out (and reporting) bad ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from serkit.audio import AudioLimits, AudioSource, is_tensor
from serkit.errors import AudioError, ConfigError
from serkit.inference.recognizer import (
    DEFAULT_LIMITS,
    _describe,
    features_of_many,
    open_source,
    source_names,
)
from serkit.progress import progress_bar

#: The feature set :func:`embed` uses unless told otherwise.
DEFAULT_FEATURES = "voice_encoder"
#: Its parameters unless told otherwise: the 256-d utterance embedding.
DEFAULT_PARAMS: Mapping[str, Mapping[str, Any]] = {"voice_encoder": {"pooling": "embedding"}}
#: Clips loaded and featurised together (one ``embed_many`` call): bounds the audio held.
BATCH_SIZE = 32


def embedding_extractor(features: str = DEFAULT_FEATURES, params: Mapping[str, Any] | None = None):
    """The feature extractor :func:`embed` uses: ``make_features(features, **params)``, where
    the voice encoder's ``pooling`` defaults to ``"embedding"``.

    Raises:
        ConfigError: unknown features or parameters, or features that give more than one
            vector per clip (frame sequences: use :func:`serkit.features.make_features`).
    """
    from serkit.features import make_features

    if not isinstance(features, str):
        raise ConfigError(f"features must be the name of a feature set, not {features!r}")
    merged = {**DEFAULT_PARAMS.get(features, {}), **dict(params or {})}
    extractor = make_features(features, **merged)
    if extractor.spec.kind != "vector":
        raise ConfigError(
            f"features {features!r} with {extractor.params} give {extractor.spec.kind!r}, not one "
            "vector per clip; embed returns one row per clip (for voice_encoder use pooling "
            "'embedding', 'states' or 'both'; for frame sequences call "
            "serkit.features.make_features(...) on the audio yourself)")
    return extractor


def embed(
    sources: Sequence[AudioSource] | AudioSource,
    *,
    sample_rate: int | None = None,
    features: str = DEFAULT_FEATURES,
    params: Mapping[str, Any] | None = None,
    names: Sequence[str] | None = None,
    batch_size: int = BATCH_SIZE,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> np.ndarray:
    """One feature vector per clip, ``(n, dim)`` float32, in the order of ``sources``.

    Args:
        sources: file paths, bytes of audio files and arrays ``(samples,)`` or
            ``(samples, channels)``, mixed as you like; a single one gives one row.
        sample_rate: the rate of the array sources (required for arrays; files say theirs).
        features: a registered feature set giving one vector per clip (default
            ``"voice_encoder"``).
        params: its parameters; for the voice encoder ``pooling`` is ``"embedding"`` (256,
            the default here), ``"states"`` (512) or ``"both"`` (768).
        names: how error messages call each source (e.g. upload file names).
        batch_size: clips loaded and featurised together.
        limits: the audio accepted; default a Recognizer's (0.25 s to one hour, not silent).

    Raises:
        AudioError: for the first bad clip, naming it (missing, empty, corrupt, not audio,
            silent, too short or too long, an array without its sample rate).
        ConfigError: unknown features or parameters, features that give frames, or
            ``names`` of another length.
    """
    extractor = embedding_extractor(features, params)
    if isinstance(sources, (str, Path, bytes, bytearray, np.ndarray)) or is_tensor(sources):
        sources = [sources]
    sources = list(sources)
    labels = source_names(sources, names, what="embed")
    out = np.empty((len(sources), extractor.dim), dtype=np.float32)
    step = _positive(batch_size)
    for start in range(0, len(sources), step):
        stop = min(start + step, len(sources))
        signals = [load_clip(sources[i], sample_rate, rate=extractor.sample_rate, limits=limits,
                             name=labels[i]) for i in range(start, stop)]
        out[start:stop] = compute(extractor, signals,
                                  [labels[i] or _describe(sources[i]) for i in range(start, stop)])
    return out


def load_clip(source: AudioSource, sample_rate: int | None, *, rate: int,
              limits: AudioLimits = DEFAULT_LIMITS, name: str | None = None) -> np.ndarray:
    """One source as mono float32 at ``rate``, checked as a Recognizer checks it.

    Raises:
        AudioError: bad audio, or an array without ``sample_rate``.
    """
    return open_source(source, sample_rate, rate=rate, limits=limits, name=name).read()


def compute(extractor, signals: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """``(len(signals), dim)`` float32 features, batched through ``extractor.embed_many``
    when it has one (:func:`serkit.inference.recognizer.features_of_many`).

    Raises:
        AudioError: the extractor failed on a clip; the message names it (``labels``).
    """
    out = np.empty((len(signals), extractor.dim), dtype=np.float32)
    for i, features in enumerate(features_of_many(extractor, signals, labels)):
        if isinstance(features, AudioError):
            raise features
        out[i] = np.asarray(features, dtype=np.float32)
    return out


# --- many files, bad ones left out ------------------------------------------------------

@dataclass
class EmbeddedFiles:
    """What :func:`embed_files` returns: the rows of the files that worked, in input order,
    and ``(file, message)`` for each that did not."""

    embeddings: np.ndarray
    paths: list[Path]
    failed: list[tuple[Path, str]] = field(default_factory=list)


def embed_files(files: Sequence[str | Path], extractor, *, batch_size: int = BATCH_SIZE,
                limits: AudioLimits = DEFAULT_LIMITS, progress: bool = False,
                on_error: Callable[[Path, str], None] | None = None) -> EmbeddedFiles:
    """Features of audio files, leaving out (never raising for) the ones that fail.

    Args:
        files: audio files (e.g. from :func:`serkit.inference.batch.find_audio_files`).
        extractor: from :func:`embedding_extractor`.
        batch_size: files loaded and featurised together.
        limits: the audio accepted.
        progress: progress on stderr (a bar on a terminal, log lines otherwise).
        on_error: called with ``(file, message)`` for each file left out, as it happens.

    Raises:
        ConfigError: the extractor cannot compute at all (e.g. its weights are missing).
    """
    files = [Path(f) for f in files]
    rows: list[np.ndarray] = []
    kept: list[Path] = []
    failed: list[tuple[Path, str]] = []

    def fail(path: Path, message: str) -> None:
        message = message.removeprefix(f"{path}: ")
        failed.append((path, message))
        if on_error is not None:
            on_error(path, message)

    bar = progress_bar(total=len(files), unit="file", desc=f"{extractor.name} embeddings",
                       enabled=progress)
    try:
        for batch in _chunks(files, _positive(batch_size)):
            loaded: list[tuple[Path, np.ndarray]] = []
            for path in batch:
                try:
                    loaded.append((path, load_clip(path, None, rate=extractor.sample_rate,
                                                   limits=limits, name=str(path))))
                except AudioError as exc:
                    fail(path, str(exc))
            try:
                values = compute(extractor, [s for _, s in loaded], [str(p) for p, _ in loaded])
                good = list(zip(loaded, values))
            except AudioError:
                good = []  # one clip broke the batch: compute them one by one to name it
                for path, signal in loaded:
                    try:
                        good.append(((path, signal), compute(extractor, [signal], [str(path)])[0]))
                    except AudioError as exc:
                        fail(path, str(exc))
            for (path, _), value in good:
                kept.append(path)
                rows.append(value)
            bar.update(len(batch))
    finally:
        bar.close()
    embeddings = (np.stack(rows).astype(np.float32, copy=False) if rows
                  else np.zeros((0, extractor.dim), dtype=np.float32))
    return EmbeddedFiles(embeddings, kept, failed)


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _positive(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, not {batch_size!r}")
    return batch_size

