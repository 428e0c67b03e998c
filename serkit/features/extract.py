"""Features for a whole corpus (cached, on all cores) and their standardisation.

Example (``train_paths`` and ``test_paths`` being lists of audio files)::

    from serkit.features import FeatureCache, Standardizer, extract_corpus, make_features

    fusion = make_features("fusion107")
    cache = FeatureCache()
    train = extract_corpus(train_paths, fusion, cache=cache)
    scaler = Standardizer().fit(train)              # the training side only
    test = scaler.transform(extract_corpus(test_paths, fusion, cache=cache))
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from serkit.audio import AudioLimits, load_audio
from serkit.errors import AudioError, ConfigError
from serkit.features.cache import CachedArray, FeatureCache
from serkit.progress import progress_bar
from serkit.workers import one_thread_per_worker, process_pool, usable_cores

log = logging.getLogger(__name__)

#: Corpus extraction accepts silent files (their features are defined and finite) and
#: otherwise the default limits; deciding which utterances to use is the corpus's job.
CORPUS_LIMITS = AudioLimits(reject_silence=False)

#: Imported once by the fork server, so that workers start with them loaded (librosa's
#: lazy imports of scipy.signal etc. take seconds per process otherwise).
_WORKER_PRELOAD = ["serkit.features", "librosa.feature", "librosa.core.audio",
                   "librosa.core.pitch", "scipy.signal"]


#: Fewer misses than this are computed in-process.
MIN_FILES_PER_POOL = 64


def extract_corpus(
    paths: Sequence[str | Path],
    extractor: Any,
    *,
    cache: FeatureCache | None = None,
    n_jobs: int = -1,
    progress: bool = True,
    limits: AudioLimits = CORPUS_LIMITS,
    lazy: bool = False,
) -> list[np.ndarray]:
    """Features of every file in ``paths``, in order, reusing and filling ``cache``.

    Files are loaded with :func:`serkit.audio.load_audio` at ``extractor.sample_rate``.
    Cache misses are computed in worker processes (one BLAS/OpenMP thread each) and
    written to the cache as they finish, so an interrupted run keeps what it computed.

    Args:
        paths: audio files.
        extractor: a feature extractor (see :mod:`serkit.features`); it must be picklable.
        cache: where features are looked up and stored; ``None`` computes everything.
        n_jobs: worker processes; ``-1`` uses every core available to this process, ``1``
            works in this process.
        progress: show progress on stderr (a bar on a terminal, log lines otherwise).
        limits: what audio is accepted (default: anything but silence is checked).
        lazy: return :class:`~serkit.features.cache.CachedArray` items that read the
            cache when used instead of arrays held in memory (for features too large to
            hold for a whole corpus, such as waveforms); needs ``cache``.

    Returns:
        One float32 array per path, shaped as ``extractor.spec`` says.

    Raises:
        AudioError: a file that cannot be loaded or featurised; the message names it.
        ConfigError: ``n_jobs`` is 0 or below -1.
    """
    if lazy and cache is None:
        raise ConfigError("lazy feature loading reads the feature cache; pass cache=FeatureCache()")
    paths = [Path(p) for p in paths]
    results: list[np.ndarray | None] = [None] * len(paths)
    hashes: list[str | None] = [None] * len(paths)
    if cache is not None:
        for i, path in enumerate(paths):
            hashes[i] = _hash(path, cache)
            results[i] = cache.get(hashes[i], extractor, lazy=lazy)
    todo = [i for i, r in enumerate(results) if r is None]
    workers = min(_resolve_jobs(n_jobs), len(todo))
    if len(todo) < MIN_FILES_PER_POOL:
        workers = 1  # starting worker processes (~3 s of imports) costs more than it saves
    log.info("%s features: %d files, %d cached, %d to compute on %d worker(s)",
             extractor.name, len(paths), len(paths) - len(todo), len(todo), max(workers, 1))

    bar = progress_bar(total=len(paths), initial=len(paths) - len(todo), unit="file",
                       desc=f"{extractor.name} features", enabled=progress)

    def finish(index: int, features: np.ndarray) -> None:
        results[index] = features
        if cache is not None:
            written = cache.put(hashes[index], extractor, features)
            if lazy:
                results[index] = CachedArray(written)
        bar.update(1)

    try:
        if workers <= 1:
            for i in todo:
                finish(i, _extract_one(paths[i], extractor, limits))
        else:
            try:
                _run_pool(todo, paths, extractor, limits, workers, finish)
            except BrokenProcessPool as exc:
                # A worker died (out of memory, or a __main__ it cannot re-import, such
                # as a script without an ``if __name__ == "__main__":`` guard). What
                # finished is kept; finish the rest here rather than fail.
                log.warning("feature workers failed (%s); computing the remaining files "
                            "in this process", exc)
                for i in todo:
                    if results[i] is None:
                        finish(i, _extract_one(paths[i], extractor, limits))
    finally:
        bar.close()
    return results  # type: ignore[return-value]


def _run_pool(todo, paths, extractor, limits, workers, finish) -> None:
    # Chunks of a few files amortise inter-process traffic; small enough that the last
    # ones keep every worker busy and that Ctrl-C loses little.
    chunksize = max(1, min(16, math.ceil(len(todo) / (4 * workers))))
    chunks = [todo[k : k + chunksize] for k in range(0, len(todo), chunksize)]
    executor = process_pool(workers, _WORKER_PRELOAD, one_thread_per_worker)
    try:
        pending = {
            executor.submit(_extract_chunk, [(i, str(paths[i])) for i in chunk], extractor,
                            limits)
            for chunk in chunks
        }
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                for index, features in future.result():
                    finish(index, features)
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _extract_chunk(items: list[tuple[int, str]], extractor: Any,
                   limits: AudioLimits) -> list[tuple[int, np.ndarray]]:
    return [(i, _extract_one(Path(p), extractor, limits)) for i, p in items]


def _extract_one(path: Path, extractor: Any, limits: AudioLimits) -> np.ndarray:
    signal = load_audio(path, sample_rate=extractor.sample_rate, limits=limits)
    try:
        return extractor(signal)
    except Exception as exc:
        raise AudioError(
            f"{path}: {extractor.name} features failed ({type(exc).__name__}: {exc})"
        ) from exc


def _hash(path: Path, cache: FeatureCache) -> str:
    try:
        return cache.audio_hash(path)
    except OSError as exc:
        raise AudioError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _resolve_jobs(n_jobs: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ConfigError(f"n_jobs must be a positive number of processes or -1 (all cores), "
                          f"not {n_jobs!r}")
    return usable_cores() if n_jobs == -1 else n_jobs


class Standardizer:
    """Per-dimension standardisation ``(x - mean) / scale``, fitted on training data only.

    Frame sequences are fitted over all their frames (each frame counts once). A
    dimension constant on the training side gets scale 1, so it maps to 0 rather than
    dividing by zero.

    The state is two plain arrays, saved in model bundles with :meth:`state_dict` and
    restored with :meth:`from_state`.

    Example:
        >>> import numpy as np
        >>> train = np.array([[1.0, 5.0], [3.0, 5.0]])
        >>> s = Standardizer().fit(train)
        >>> s.mean.tolist(), s.scale.tolist()
        ([2.0, 5.0], [1.0, 1.0])
        >>> s.transform(np.array([4.0, 6.0])).tolist()
        [2.0, 1.0]
    """

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def fit(self, features: np.ndarray | Sequence[np.ndarray]) -> Standardizer:
        """Learn mean and scale from training features.

        Args:
            features: ``(n, dim)`` array, or a sequence of ``(dim,)`` vectors or of
                ``(frames, dim)`` arrays.

        Returns:
            ``self``.

        Raises:
            ConfigError: no rows, or rows of different dimensions.
        """
        self.mean, std, varies = _spread(features)
        self.scale = np.where(varies, std, 1.0)
        return self

    def adapted(self, features: np.ndarray | Sequence[np.ndarray]) -> Standardizer:
        """A standardizer fitted on ``features`` (the clips of one call or one recording
        set-up), keeping this one's statistics in the dimensions that do not vary there
        (a scale of 1 around a one-off value would make them meaningless). What
        ``--adapt`` and the ``adapt`` protocol standardise with.

        Raises:
            ConfigError: no rows, or rows of different dimensions.
        """
        mean, std, varies = _spread(features)
        out = Standardizer()
        out.mean = np.where(varies, mean, self.mean)
        out.scale = np.where(varies, std, self.scale)
        return out

    def transform(self, features: np.ndarray | Sequence[np.ndarray]):
        """Standardise features of the same layout as :meth:`fit` takes.

        Returns:
            float32, in the layout given: one array for an array, a list for a sequence.

        Raises:
            ConfigError: not fitted, or features of another dimension.
        """
        if self.mean is None or self.scale is None:
            raise ConfigError("Standardizer is not fitted; call fit() on training features first")
        if isinstance(features, np.ndarray):
            return self._apply(features)
        return [self._apply(np.asarray(f)) for f in features]

    def fit_transform(self, features: np.ndarray | Sequence[np.ndarray]):
        """:meth:`fit` then :meth:`transform` on the same (training) features."""
        return self.fit(features).transform(features)

    def state_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "scale": [...]}``: JSON-ready plain lists."""
        if self.mean is None or self.scale is None:
            raise ConfigError("Standardizer is not fitted; there is no state to save")
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Standardizer:
        """Rebuild from :meth:`state_dict` output (lists or arrays)."""
        try:
            mean = np.asarray(state["mean"], dtype=np.float64)
            scale = np.asarray(state["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"a Standardizer state needs 'mean' and 'scale' number lists "
                              f"({exc})") from None
        if mean.ndim != 1 or mean.shape != scale.shape or np.any(scale <= 0):
            raise ConfigError(
                f"a Standardizer state needs 1-D 'mean' and positive 'scale' of one length, "
                f"not shapes {mean.shape} and {scale.shape}"
            )
        out = cls()
        out.mean, out.scale = mean, scale
        return out

    def _apply(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1:] != self.mean.shape:
            raise ConfigError(
                f"Standardizer was fitted on {self.mean.shape[0]}-d features, "
                f"not {x.shape[-1] if x.ndim else 0}-d (shape {x.shape})"
            )
        return ((x - self.mean) / self.scale).astype(np.float32)

    def __repr__(self) -> str:
        dim = "unfitted" if self.mean is None else f"dim={self.mean.shape[0]}"
        return f"Standardizer({dim})"


def _spread(features: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per dimension: mean, std, and whether it varies (float64)."""
    rows = _rows(features).astype(np.float64)
    if rows.shape[0] == 0:
        raise ConfigError("Standardizer.fit needs at least one training vector, got none")
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    # Below float32 resolution of the mean a "spread" is rounding, not variation.
    tiny = np.finfo(np.float32).eps * np.maximum(np.abs(mean), 1.0)
    return mean, std, std > tiny


def _rows(features: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    if isinstance(features, np.ndarray):
        return features.reshape(-1, features.shape[-1]) if features.ndim > 1 else features[None]
    arrays = [np.asarray(f) for f in features]
    if not arrays:
        return np.empty((0, 0))
    dims = {a.shape[-1] for a in arrays}
    if len(dims) != 1:
        raise ConfigError(f"Standardizer.fit got features of different dimensions {sorted(dims)}")
    return np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays], axis=0)
